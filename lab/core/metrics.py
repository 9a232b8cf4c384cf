"""Model metrics on labelled rows, one definition for every stage that computes them (the
live monitor and its replay, the release gate).

Rows without a label yet (NaN) are ignored. ``y_score`` may be probabilities (needed for
``roc_auc``, ``average_precision`` and ``brier_score``) or hard 0/1 predictions; label
metrics and ``selection_rate`` threshold them at ``decision_threshold``. numpy and
scikit-learn are imported on the first call, so importing this module costs nothing.

>>> metric_value("roc_auc", [0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
0.75
>>> metric_value("selection_rate", [0, 1, None], [0.2, 0.7, 0.9], 0.5)
0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_NEEDS_SCORES = frozenset({"roc_auc", "average_precision"})
#: Metrics where a lower value is better (a drop is a rise).
LOWER_IS_BETTER = frozenset({"brier_score"})


def metric_value(metric: str, y_true: Sequence[float | None] | Any, y_score: Sequence[float] | Any,
                 decision_threshold: float = 0.5) -> float | None:
    """The metric on labelled rows, or None when it is undefined there (no labels, one class
    for a ranking metric, scores outside [0, 1] for the Brier score)."""
    import numpy as np
    from sklearn import metrics as skm  # here, not at the top: a cached replay never calls it

    y = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    keep = ~np.isnan(y)
    y, s = y[keep].astype(int), s[keep]
    if y.size == 0:
        return None
    if metric == "selection_rate":
        return float(np.mean(s >= decision_threshold))
    if metric == "brier_score":  # calibration: mean squared error of the probabilities, defined for one class too
        return float(skm.brier_score_loss(y, s, pos_label=1)) if np.all((s >= 0) & (s <= 1)) else None
    if metric in _NEEDS_SCORES:
        if np.unique(y).size < 2:
            return None
        fn = skm.roc_auc_score if metric == "roc_auc" else skm.average_precision_score
        return float(fn(y, s))
    pred = (s >= decision_threshold).astype(int)
    fns = {
        "accuracy": skm.accuracy_score,
        "balanced_accuracy": skm.balanced_accuracy_score,
        "f1": skm.f1_score,
        "precision": skm.precision_score,
        "recall": skm.recall_score,
    }
    kwargs = {} if metric in ("accuracy", "balanced_accuracy") else {"zero_division": 0}
    return float(fns[metric](y, pred, **kwargs))


__all__ = ["LOWER_IS_BETTER", "metric_value"]
