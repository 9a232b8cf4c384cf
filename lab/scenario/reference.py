"""The undrifted population of a generator, summarised once: the yardstick every drift is measured in.

A data-drift ``magnitude`` is a shift in reference standard deviations, a categorical
tilt moves the reference shares, and label drift starts from the reference prior; all of
these come from one large fixed-seed sample per generator class and parameters
(:func:`reference`, cached), so every stream of a run agrees on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lab.scenario.generators.base import Generator
from lab.scenario.generators.support import Support

#: The reference sample every stream's statistics come from (fixed, so cached values agree).
REFERENCE_SEED = 20_240_601
REFERENCE_ROWS = 200_000


@dataclass(frozen=True)
class Reference:
    """The undrifted population, summarised from one large fixed-seed sample.

    ``prior`` is ``E[P(y=1 | x)]`` over the sample (hiring about 0.37, credit about
    0.10, churn about 0.22 with default parameters); ``std`` holds each numeric
    feature's standard deviation (the unit of a data-drift ``magnitude``);
    ``categories``/``frequencies`` each categorical or binary feature's categories, in
    declared order, and their shares; ``support`` where each numeric feature may lie.
    """

    prior: float
    std: dict[str, float]
    categories: dict[str, tuple[object, ...]]
    frequencies: dict[str, np.ndarray]
    support: dict[str, Support]


def reference(generator: Generator) -> Reference:
    """Statistics of ``generator``'s undrifted population (cached per class and parameters).

    >>> from lab.scenario.generators.hiring import HiringGenerator
    >>> ref = reference(HiringGenerator())
    >>> round(ref.prior, 2), round(ref.std["skills_match"], 2), ref.categories["referral"]
    (0.36, 0.18, (0, 1))
    """
    return _reference(type(generator), tuple(sorted(generator.params.items())))


@lru_cache(maxsize=32)
def _reference(cls: type[Generator], params: tuple[tuple[str, float], ...]) -> Reference:
    generator = cls(**dict(params))
    X = generator.sample_inputs(np.random.default_rng(REFERENCE_SEED), REFERENCE_ROWS)
    declared: dict[str, Support] = getattr(cls, "support", {})
    std: dict[str, float] = {}
    categories: dict[str, tuple[object, ...]] = {}
    frequencies: dict[str, np.ndarray] = {}
    support: dict[str, Support] = {}
    for f in cls.features:
        col = X[f.name]
        if f.kind == "numeric":
            values = col.to_numpy(dtype=float)
            std[f.name] = float(values.std())
            support[f.name] = declared.get(f.name) or _inferred_support(values)
        else:
            cats: tuple[object, ...] = (0, 1) if f.kind == "binary" else (f.categories or tuple(sorted(col.unique())))
            counts = col.value_counts()
            categories[f.name] = cats
            frequencies[f.name] = np.array([counts.get(c, 0) for c in cats], dtype=float) / len(col)
    return Reference(
        prior=float(generator.label_probability(X).mean()),
        std=std,
        categories=categories,
        frequencies=frequencies,
        support=support,
    )


def _inferred_support(values: np.ndarray) -> Support:
    """For generators that declare none: non-negative if the sample is, integers if it is."""
    low = 0.0 if values.min() >= 0 else -math.inf
    integral = bool(np.all(values == np.round(values)))
    return Support(low, math.inf, decimals=0 if integral else None)


__all__ = ["REFERENCE_ROWS", "REFERENCE_SEED", "Reference", "reference"]
