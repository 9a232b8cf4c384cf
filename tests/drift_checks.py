"""Property checks that tell a drift injector from a broken one.

Each check compares a base frame (the undrifted population) with a drifted frame and
returns the problems it finds, as sentences; an empty list means the drift is of the
kind it claims. They are statistical tests, so they need large frames (tens of
thousands of rows) and fixed seeds to be repeatable:

* a marginal is "unchanged" unless its test (two-sample KS for numeric columns,
  chi-square on the contingency table for categorical and binary ones) gives
  ``p < alpha / number of tests`` (Bonferroni: ``alpha`` is family-wise);
* a marginal has "moved" when its test gives ``p < moved_alpha``;
* labels are "calibrated" to probabilities ``p`` when neither the overall z-score
  ``sum(y - p) / sqrt(sum p (1 - p))`` nor the binned chi-square over ``bins``
  equal-count bins of ``p`` rejects at ``alpha``.

>>> import numpy as np
>>> from lab.scenario.generators.hiring import HiringGenerator
>>> g = HiringGenerator()
>>> base = g.sample(np.random.default_rng(1), 20000)
>>> calibration_problems(base["label"].to_numpy(), g.label_probability(base), "p0")
[]
>>> shifted = base.assign(skills_match=base.skills_match * 0.9)
>>> marginal_problems(base, shifted, g, ["skills_match"])  # doctest: +ELLIPSIS
['skills_match: marginal changed (KS p=...)']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from lab.scenario.generators.base import Feature, Generator

ALPHA = 1e-3
MOVED_ALPHA = 1e-6
BINS = 10


def _columns(generator: Generator) -> list[Feature]:
    return [*generator.features, *generator.sensitive]


def _kind(generator: Generator, column: str) -> str:
    for f in _columns(generator):
        if f.name == column:
            return f.kind
    raise ValueError(
        f"unknown column {column!r}; generator {generator.name!r} has: "
        f"{', '.join(f.name for f in _columns(generator))}"
    )


def marginal_test(a: pd.Series, b: pd.Series, kind: str) -> tuple[str, float]:
    """Two-sample test of one column: ``("KS", p)`` for numeric, ``("chi2", p)`` otherwise."""
    if kind == "numeric":
        return "KS", float(stats.ks_2samp(a.to_numpy(dtype=float), b.to_numpy(dtype=float)).pvalue)
    table = pd.crosstab(
        np.r_[np.zeros(len(a), dtype=int), np.ones(len(b), dtype=int)], np.r_[a.to_numpy(), b.to_numpy()]
    )
    if table.shape[1] < 2:
        return "chi2", 1.0
    return "chi2", float(stats.chi2_contingency(table.to_numpy(), correction=False).pvalue)


def marginal_problems(
    base: pd.DataFrame,
    drifted: pd.DataFrame,
    generator: Generator,
    columns: Sequence[str],
    *,
    alpha: float = ALPHA,
    where: str = "",
) -> list[str]:
    """Columns whose marginal differs between ``base`` and ``drifted`` (family-wise ``alpha``)."""
    problems = []
    for c in columns:
        test, p = marginal_test(base[c], drifted[c], _kind(generator, c))
        if p < alpha / max(len(columns), 1):
            problems.append(f"{c}{where}: marginal changed ({test} p={p:.2g})")
    return problems


def moved_problems(
    base: pd.DataFrame,
    drifted: pd.DataFrame,
    generator: Generator,
    columns: Sequence[str],
    *,
    alpha: float = MOVED_ALPHA,
) -> list[str]:
    """Columns that should have moved but whose marginal did not (test ``p >= alpha``)."""
    problems = []
    for c in columns:
        test, p = marginal_test(base[c], drifted[c], _kind(generator, c))
        if p >= alpha:
            problems.append(f"{c}: marginal did not move ({test} p={p:.2g})")
    return problems


def calibration_problems(
    y: np.ndarray, p: np.ndarray, name: str, *, alpha: float = ALPHA, bins: int = BINS
) -> list[str]:
    """Whether labels ``y`` look like Bernoulli(``p``) draws, overall and in bins of ``p``."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    problems = []
    var = p * (1 - p)
    z = float((y - p).sum() / np.sqrt(var.sum()))
    p_overall = float(2 * stats.norm.sf(abs(z)))
    if p_overall < alpha / 2:
        problems.append(f"labels not calibrated to {name}: mean(y - p) = {np.mean(y - p):+.4f} (z={z:.1f})")
    order = np.argsort(p, kind="stable")
    chi = 0.0
    for idx in np.array_split(order, bins):
        v = var[idx].sum()
        if v > 0:
            chi += float((y[idx] - p[idx]).sum() ** 2 / v)
    p_bins = float(stats.chi2.sf(chi, bins))
    if p_bins < alpha / 2:
        problems.append(f"labels not calibrated to {name} within {bins} bins (chi2={chi:.1f}, p={p_bins:.2g})")
    return problems


def check_covariate_drift(
    base: pd.DataFrame,
    drifted: pd.DataFrame,
    generator: Generator,
    features: Sequence[str],
    *,
    alpha: float = ALPHA,
) -> list[str]:
    """Data drift on ``features``: they move, nothing else does, labels still follow ``p0``."""
    target = generator.target
    others = [f.name for f in _columns(generator) if f.name not in features]
    return [
        *moved_problems(base, drifted, generator, features),
        *marginal_problems(base, drifted, generator, others, alpha=alpha),
        *calibration_problems(drifted[target].to_numpy(), generator.label_probability(drifted), "p0", alpha=alpha),
    ]


def check_concept_drift(
    base: pd.DataFrame,
    drifted: pd.DataFrame,
    generator: Generator,
    expected: np.ndarray,
    *,
    alpha: float = ALPHA,
    require_moved: bool = True,
) -> list[str]:
    """Concept drift: no input moves; labels follow ``expected`` (the mixed rule), not ``p0``."""
    target = generator.target
    y = drifted[target].to_numpy()
    problems = [
        *marginal_problems(base, drifted, generator, [f.name for f in _columns(generator)], alpha=alpha),
        *calibration_problems(y, expected, "the drifted rule", alpha=alpha),
    ]
    if require_moved and not calibration_problems(y, generator.label_probability(drifted), "p0", alpha=alpha):
        problems.append("P(y|x) did not move: labels are still calibrated to p0")
    return problems


def check_label_drift(
    base: pd.DataFrame,
    drifted: pd.DataFrame,
    generator: Generator,
    expected_prior: float,
    *,
    alpha: float = ALPHA,
) -> list[str]:
    """Prior drift: the positive rate is ``expected_prior``; each class's inputs are unchanged."""
    target = generator.target
    y = drifted[target].to_numpy(dtype=float)
    n = len(y)
    problems = []
    se = np.sqrt(expected_prior * (1 - expected_prior) / n)
    z = (y.mean() - expected_prior) / se
    if 2 * stats.norm.sf(abs(z)) < alpha:
        problems.append(f"positive rate {y.mean():.4f}, expected {expected_prior:.4f} (z={z:.1f})")
    columns = [f.name for f in _columns(generator)]
    for cls in (0, 1):
        problems += marginal_problems(
            base[base[target] == cls],
            drifted[drifted[target] == cls],
            generator,
            columns,
            alpha=alpha / 2,
            where=f" | y={cls}",
        )
    return problems


__all__ = [
    "ALPHA",
    "MOVED_ALPHA",
    "calibration_problems",
    "check_concept_drift",
    "check_covariate_drift",
    "check_label_drift",
    "marginal_problems",
    "marginal_test",
    "moved_problems",
]
