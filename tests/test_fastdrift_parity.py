"""The fast path and an Evidently Report make identical drift decisions, window by window.

240 seeded windows of hiring data against two references (600 and 1,200 rows, either
side of Evidently's 1,000-row default switch). Each window shifts some numeric columns
by 0 to 1 reference standard deviations, moves some category shares, sometimes adds
NaN and inf, and assigns every column a method from a rotation (or leaves it to
Evidently's default) with its default or a custom threshold. ``empirical_mmd`` is left
out: it draws from numpy's global random state, so no two runs agree.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from lab.scenario.generators.hiring import HiringGenerator
from lab.monitoring import (
    DataDriftSpec,
    DriftTest,
    MonitoringConfig,
    PredictionDriftSpec,
    ResolvedConfig,
    WindowResult,
    resolve,
    window_drift,
    window_drift_report,
)

SEED = 20240611
N_WINDOWS = 240
KINDS = {f.name: f.kind for f in HiringGenerator.features}
NUMERIC = [c for c, k in KINDS.items() if k == "numeric"]
NUM_METHODS = ["ks", "wasserstein", "psi", "jensenshannon", "kl_div", "hellinger", "ed", "mannw", "t_test",
               "anderson", "cramer_von_mises", "es", None]  # fmt: skip
CAT_METHODS = ["chisquare", "z", "psi", "jensenshannon", "kl_div", "hellinger", None]
PRED_METHODS = ["psi", "ks", "wasserstein", "jensenshannon", None]
CUSTOM = {"p_value": (0.01, 0.05, 0.1), "distance": (0.05, 0.1, 0.2)}


def _custom_threshold(method: str, rng: np.random.Generator) -> float | None:
    from lab.monitoring import METHODS

    return None if rng.random() < 0.5 else float(rng.choice(CUSTOM[METHODS[method].direction]))


def make_window(
    i: int, gen: HiringGenerator, references: list[pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame, ResolvedConfig]:
    rng = np.random.default_rng([SEED, i])
    reference = references[i % 2]
    equal_size = i % 10 == 3  # g_test and fisher_exact need windows as long as the reference
    current = gen.sample(rng, len(reference) if equal_size else 500)
    for col in NUMERIC:
        delta = rng.choice([0, 0, 0, 0.05, 0.1, 0.2, 0.5, 1.0])
        current[col] = current[col] + delta * reference[col].std()
    if rng.random() < 0.35:
        rows = rng.random(len(current)) < rng.uniform(0.05, 0.3)
        current.loc[rows, "source_channel"] = "agency"
    if rng.random() < 0.35:
        rows = rng.random(len(current)) < rng.uniform(0.05, 0.3)
        current.loc[rows, "education_level"] = "phd"
    if rng.random() < 0.3:
        current.loc[rng.random(len(current)) < rng.uniform(0.02, 0.15), "referral"] = 1
    current["prediction"] = gen.label_probability(current)
    if not equal_size and rng.random() < 0.15:  # dirty values, dropped before testing
        col = str(rng.choice(NUMERIC))
        current.loc[current.index[:5], col] = np.nan
        current.loc[current.index[5], col] = np.inf

    columns: dict[str, DriftTest] = {}
    for j, (col, kind) in enumerate(KINDS.items()):
        if equal_size and kind != "numeric":
            method = "fisher_exact" if kind == "binary" else "g_test"
        elif i in (7, 117) and kind == "binary":
            method = "TVD"  # a 1,000-draw permutation test: slow, so twice only
        else:
            pool = NUM_METHODS if kind == "numeric" else CAT_METHODS
            method = pool[(i + 3 * j) % len(pool)]
        if method is not None:
            columns[col] = DriftTest(method=method, threshold=_custom_threshold(method, rng))
    pred_method = PRED_METHODS[i % len(PRED_METHODS)]
    config = MonitoringConfig(
        data_drift=DataDriftSpec(columns=columns, dataset_drift_share=float(rng.choice([0.2, 0.3, 0.5]))),
        prediction_drift=PredictionDriftSpec(
            method=pred_method, threshold=_custom_threshold(pred_method, rng) if pred_method else None
        ),
    )
    return reference, current, resolve(config, reference, KINDS)


@pytest.fixture(scope="module")
def runs() -> list[tuple[ResolvedConfig, WindowResult, WindowResult]]:
    gen = HiringGenerator()
    references = []
    for n, seed in ((600, 1), (1200, 2)):
        ref = gen.sample(np.random.default_rng([SEED, seed]), n)
        ref["prediction"] = gen.label_probability(ref)
        references.append(ref)
    out = []
    for i in range(N_WINDOWS):
        reference, current, resolved = make_window(i, gen, references)
        out.append((resolved, window_drift(reference, current, resolved), window_drift_report(reference, current, resolved)))
    return out


def test_identical_decisions(runs) -> None:
    assert len(runs) >= 200
    mismatches = [
        (i, fast.decisions(), report.decisions())
        for i, (_, fast, report) in enumerate(runs)
        if fast.decisions() != report.decisions()
    ]
    assert not mismatches, mismatches[:3]


def test_identical_scores(runs) -> None:
    worst = 0.0
    for _, fast, report in runs:
        pairs = [(fast.columns[n], report.columns[n]) for n in fast.columns] + [(fast.prediction, report.prediction)]
        for a, b in pairs:
            assert a is not None and b is not None and (a.method, a.threshold) == (b.method, b.threshold)
            worst = max(worst, abs(a.score - b.score))
    assert worst <= 1e-9


def test_results_follow_the_pins(runs) -> None:
    for resolved, fast, _ in runs:
        for name, pin in resolved.columns.items():
            got = fast.columns[name]
            assert (got.method, got.threshold, got.direction) == (pin.method, pin.threshold, pin.direction)


def test_windows_cover_methods_and_both_outcomes(runs) -> None:
    used = Counter(c.method for _, fast, _ in runs for c in [*fast.columns.values(), fast.prediction] if c)
    expected = {*NUM_METHODS, *CAT_METHODS, *PRED_METHODS, "g_test", "fisher_exact", "TVD"} - {None}
    assert expected <= set(used), expected - set(used)
    flags = [c.drifted for _, fast, _ in runs for c in fast.columns.values()]
    assert 0.15 < sum(flags) / len(flags) < 0.85
    dataset = Counter(fast.dataset_drift for _, fast, _ in runs)
    assert dataset[True] >= 20 and dataset[False] >= 20, dataset
    predicted = Counter(fast.prediction.drifted for _, fast, _ in runs if fast.prediction)
    assert predicted[True] >= 10 and predicted[False] >= 10, predicted


def test_the_written_down_registry_is_evidentlys() -> None:
    from lab.monitoring import METHODS
    from lab.monitoring.methods import registry_methods

    ours = {m.name: (m.display_name, m.evidently_types, m.default_threshold) for m in METHODS.values()}
    assert ours == registry_methods()


def test_copied_stattests_and_default_choice_are_evidentlys_bit_for_bit() -> None:
    """Each copy in lab.monitoring.stattests gives Evidently's exact score and flag, and the
    default choice Evidently's, on numeric, few-valued, categorical and binary columns."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    from lab.monitoring.methods import stattest
    from lab.monitoring.stattests import TESTS, default_method

    rng = np.random.default_rng([SEED, 99])
    cases = []
    for n_ref in (300, 1500):
        for shift in (0.0, 0.3):
            cases += [
                ("num", pd.Series(rng.normal(0, 1, n_ref)), pd.Series(rng.normal(shift, 1, 400))),
                ("num", pd.Series(rng.integers(0, 4, n_ref).astype(float)), pd.Series(rng.integers(0, 4, 400) + shift)),
                ("cat", pd.Series(rng.choice(list("abcd"), n_ref)), pd.Series(rng.choice(list("abcde"), 400))),
                ("cat", pd.Series(rng.integers(0, 2, n_ref)), pd.Series((rng.random(400) < 0.5 + shift).astype(int))),
            ]
    cases.append(("cat", pd.Series(["x"] * 50), pd.Series(["x"] * 30)))  # z's one-value shortcut
    checked = 0
    for kind, ref, cur in cases:
        assert default_method(ref, cur, kind) == get_stattest(ref, cur, ColumnType(kind), None).name
        for name, ours in TESTS.items():
            if kind not in METHODS_TYPES[name] or (name == "z" and pd.concat([ref, cur]).nunique() > 2):
                continue
            for threshold in (0.05, 0.1):
                theirs = stattest(name)(ref, cur, ColumnType(kind), threshold)
                score, drifted = ours(ref, cur, kind, threshold)
                same = score == theirs.drift_score or (np.isnan(score) and np.isnan(theirs.drift_score))  # nan: both
                assert same and drifted == theirs.drifted, (name, kind, score, theirs)
                checked += 1
    assert checked >= 60


METHODS_TYPES = {"ks": ("num",), "wasserstein": ("num",), "psi": ("num", "cat"), "jensenshannon": ("num", "cat"),
                 "chisquare": ("cat",), "z": ("cat",)}


def test_the_fast_path_does_not_import_evidently() -> None:
    import subprocess
    import sys

    code = """
import sys
import numpy as np
from lab.scenario.generators.hiring import HiringGenerator
from lab.monitoring import load_monitoring_config, resolve, window_drift
gen = HiringGenerator()
kinds = {f.name: f.kind for f in gen.features}
ref, cur = gen.sample(np.random.default_rng(0), 1500), gen.sample(np.random.default_rng(1), 500)
resolved = resolve(load_monitoring_config("data_drift: {columns: {referral: {method: z}}}"), ref, kinds)
window_drift(ref, cur, resolved)
print(sorted(m for m in ("evidently", "sklearn") if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
