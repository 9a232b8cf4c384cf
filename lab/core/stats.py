"""Small statistics the stages share, so a figure is computed one way everywhere.

>>> percentile([1.0, 2.0, 3.0, 4.0], 50), p99([]), p99(range(101))
(2.5, None, 99.0)
>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), roc_auc([0, 1, 0, 1], [0.5] * 4), roc_auc([1, 1], [0.2, 0.3])
(0.75, 0.5, None)
>>> above_chance(1.0, 0.3), above_chance(0.5, 0.5), above_chance(1.0, 1.0)
(1.0, 0.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile with numpy's default linear interpolation; ``None`` for no values."""
    data = list(values)
    return float(np.percentile(data, q)) if data else None


def p99(values: Iterable[float]) -> float | None:
    """The 99th percentile: the latency figure the shadow grader and the benchmarks compare."""
    return percentile(values, 99)


def above_chance(rate: float, chance: float) -> float:
    """A detection rate above what alarming at random would reach: ``max(0, (rate - chance) / (1 -
    chance))``, 0 when ``chance`` is 1 (a detector that always alarms). The drift and observability
    graders score detection so."""
    if chance >= 1.0:
        return 0.0
    return max(0.0, (rate - chance) / (1.0 - chance))


def roc_auc(y: Iterable[int] | np.ndarray, scores: Iterable[float] | np.ndarray) -> float | None:
    """ROC AUC by the rank-sum (Mann-Whitney) formula with mid-ranks for ties: scikit-learn's
    ``roc_auc_score`` value, without its per-call validation (~6 ms) or its import; ``None``
    without both classes."""
    from scipy.stats import rankdata

    y = np.asarray(y)
    pos = y == 1
    n1 = int(pos.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    return float((rankdata(np.asarray(scores, dtype=float))[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
