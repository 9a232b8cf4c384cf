"""Small statistics the stages share, so a figure is computed one way everywhere.

>>> percentile([1.0, 2.0, 3.0, 4.0], 50), p99([]), p99(range(101))
(2.5, None, 99.0)
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
