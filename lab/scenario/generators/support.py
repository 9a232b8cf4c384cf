"""Where a numeric feature's values may lie, so that drift keeps them physically valid.

A generator may declare ``support = {"skills_match": Support(0, 1, decimals=3), ...}``.
The drift engine shifts numeric features and then puts the values back on their
support: clipped to ``[low, high]`` and rounded to ``decimals`` places (``0`` for
counts, ``-2`` for amounts kept in hundreds, ``None`` for continuous values).
Rounding is *stochastic* (up with probability equal to the remainder), so a shift
smaller than the grid step still moves the mean by the right amount instead of
rounding away.

>>> import numpy as np
>>> s = Support(0, 10, decimals=0)
>>> s.project(np.array([-2.0, 3.0, 12.5]), np.random.default_rng(0)).tolist()
[0.0, 3.0, 10.0]
>>> Support(0, 1, decimals=3).contains(np.array([0.25, 1.0]))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Support:
    """Valid values of a numeric feature: ``[low, high]`` on a grid of ``10**-decimals``."""

    low: float = 0.0
    high: float = math.inf
    decimals: int | None = None

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"support [{self.low}, {self.high}] is empty: low must be below high")

    def project(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Clip to ``[low, high]`` and round stochastically onto the grid."""
        x = np.clip(np.asarray(x, dtype=float), self.low, self.high)
        if self.decimals is not None:
            scale = 10.0**self.decimals
            scaled = x * scale
            floor = np.floor(scaled)
            up = rng.random(x.shape) < (scaled - floor)
            x = np.clip((floor + up) / scale, self.low, self.high)
        return x

    def contains(self, x: np.ndarray) -> bool:
        """True when every value is inside ``[low, high]`` and on the grid."""
        x = np.asarray(x, dtype=float)
        if np.isnan(x).any() or (x < self.low).any() or (x > self.high).any():
            return False
        if self.decimals is None:
            return True
        scaled = x * 10.0**self.decimals
        return bool(np.allclose(scaled, np.round(scaled), atol=1e-6))
