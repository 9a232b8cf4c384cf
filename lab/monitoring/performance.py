"""The performance check on labelled feedback: a metric against a floor and the reference value.

Rows without a label yet (NaN) are ignored. ``y_score`` may be probabilities (needed for
``roc_auc`` and ``average_precision``; label metrics threshold them at
``decision_threshold``) or hard 0/1 predictions. ``max_drop`` is in metric units below
the reference value: reference 0.82 with ``max_drop: 0.05`` alarms under 0.77. For
``brier_score`` (calibration; lower is better) it is the largest allowed rise: reference
0.088 with ``max_drop: 0.03`` alarms above 0.118.

>>> from lab.monitoring.config_schema import PerformanceSpec
>>> spec = PerformanceSpec(metric="accuracy", min=0.7, max_drop=0.05)
>>> r = check_performance([1, 0, 1, 1, None], [0.9, 0.2, 0.4, 0.8, 0.5], spec, reference_value=0.9)
>>> r.n_labelled, r.value, r.below_min, r.dropped, r.alarm
(4, 0.75, False, True, True)
>>> b = check_performance([1, 0, 0, 0], [0.1, 0.1, 0.1, 0.1], PerformanceSpec(metric="brier_score", max_drop=0.03),
...                       reference_value=0.1)
>>> round(b.value, 4), b.dropped, b.alarm
(0.21, True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lab.core.frozen import Frozen
from lab.core.metrics import metric_value  # one definition; lab.monitoring exports it too
from lab.monitoring.config_schema import LOWER_IS_BETTER, Metric, PerformanceSpec


class PerformanceResult(Frozen):
    metric: Metric
    value: float | None  # None when undefined (no labels, or one class only for a ranking metric)
    reference_value: float
    n_labelled: int
    below_min: bool
    dropped: bool
    alarm: bool


def check_performance(
    y_true: Sequence[float | None] | np.ndarray,
    y_score: Sequence[float] | np.ndarray,
    spec: PerformanceSpec,
    reference_value: float,
    decision_threshold: float = 0.5,
) -> PerformanceResult:
    """Alarm when the metric is below ``spec.min`` or more than ``spec.max_drop`` worse than the reference
    (below it; above it for a lower-is-better metric such as ``brier_score``)."""
    y = np.asarray([np.nan if v is None else v for v in y_true], dtype=float)
    value = metric_value(spec.metric, y, y_score, decision_threshold)
    below = value is not None and spec.min is not None and value < spec.min
    # a drop of exactly max_drop is allowed; the tolerance absorbs float error in ref - value
    worse = None if value is None else (value - reference_value if spec.metric in LOWER_IS_BETTER else reference_value - value)
    dropped = worse is not None and spec.max_drop is not None and worse > spec.max_drop + 1e-12
    return PerformanceResult(
        metric=spec.metric,
        value=value,
        reference_value=reference_value,
        n_labelled=int((~np.isnan(y)).sum()),
        below_min=bool(below),
        dropped=bool(dropped),
        alarm=bool(below or dropped),
    )
