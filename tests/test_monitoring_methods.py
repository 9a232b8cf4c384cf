"""The method table agrees with Evidently's registry and implementations; the performance check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evidently.legacy.calculations.stattests import registry
from evidently.legacy.core import ColumnType

import lab.monitoring as monitoring
from lab.monitoring import METHODS, PerformanceSpec, check_performance, methods_for, metric_value
from lab.monitoring.methods import stattest


def test_exported_members() -> None:
    assert sorted(monitoring.__all__) == monitoring.__all__
    assert all(hasattr(monitoring, name) for name in monitoring.__all__)


def test_table_covers_every_evidently_tabular_stattest() -> None:
    tabular = {
        name
        for name, by_type in registry._registered_stat_tests.items()
        if {t.value for t in by_type} & {"num", "cat"}
    }
    assert set(METHODS) == tabular
    assert "ks" in methods_for("numeric") and "ks" not in methods_for("binary")
    assert methods_for("binary") == methods_for("categorical")


def _samples(kind: str, shift: float, rng: np.random.Generator, n: int) -> tuple[pd.Series, pd.Series]:
    if kind == "num":
        return pd.Series(rng.normal(0, 1, n)), pd.Series(rng.normal(shift, 1, n))
    p = 0.5 + shift / 4
    return pd.Series(rng.random(n) < 0.5).astype(int), pd.Series(rng.random(n) < p).astype(int)


@pytest.mark.parametrize("name", [m for m in METHODS if METHODS[m].deterministic])
def test_direction_and_comparison_match_evidently(name: str) -> None:
    """Evidently's own flag equals our reading of the score, including a threshold equal to it."""
    info, rng = METHODS[name], np.random.default_rng(0)
    kind = "num" if "num" in info.evidently_types else "cat"
    n = 60 if name == "TVD" else 300  # TVD runs a 1,000-draw permutation test per call
    for shift in (0.0, 1.0):
        ref, cur = _samples(kind, shift, rng, n)
        score = stattest(name)(ref, cur, ColumnType(kind), info.default_threshold).drift_score
        for threshold in (score * 0.5, score, score * 1.5, info.default_threshold):
            if threshold <= 0 or (info.direction == "p_value" and threshold >= 1):
                continue
            result = stattest(name)(ref, cur, ColumnType(kind), threshold)
            assert bool(result.drifted) == info.drifted(result.drift_score, threshold), (name, shift, threshold)
    # a big shift must read as drift in the stated direction
    ref, cur = _samples(kind, 1.0, rng, n)
    big = stattest(name)(ref, cur, ColumnType(kind), info.default_threshold).drift_score
    same = stattest(name)(ref, ref, ColumnType(kind), info.default_threshold).drift_score
    assert (big < same) if info.direction == "p_value" else (big > same)


def test_performance_check() -> None:
    spec = PerformanceSpec(metric="roc_auc", min=0.75, max_drop=0.05)
    y = [0, 0, 1, 1, None, None]
    s = [0.1, 0.6, 0.4, 0.9, 0.3, 0.8]
    r = check_performance(y, s, spec, reference_value=0.85)
    assert (r.value, r.n_labelled, r.below_min, r.dropped, r.alarm) == (0.75, 4, False, True, True)
    ok = check_performance(y, s, spec, reference_value=0.80)  # a drop of exactly max_drop is allowed
    assert not ok.alarm
    one_class = check_performance([1, 1, None], [0.2, 0.9, 0.4], spec, reference_value=0.8)
    assert one_class.value is None and not one_class.alarm
    assert metric_value("recall", [1, 1, 0], [0.9, 0.2, 0.7]) == 0.5
    assert metric_value("f1", [1, 1, 0], [1, 0, 1]) == 0.5
