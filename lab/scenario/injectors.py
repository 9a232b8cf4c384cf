"""The drift injectors: how far an event has progressed on a day, and what it does to rows.

Each injector changes one half of the joint distribution and keeps the other
(:mod:`lab.scenario.drift` explains how a :class:`~lab.scenario.drift.Stream` composes
them per day): :func:`shift_numeric` and :func:`tilt_categories` move ``P(x)`` (data
drift), :func:`mix_concept` moves ``P(y | x)`` (concept drift), :func:`resample_prior`
moves ``P(y)`` (label drift); :func:`intensity` says how much of an event applies on day
``t``. They are pure functions of their arguments and the ``rng`` they are given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
import pandas as pd

from lab.scenario.generators.support import Support
from lab.scenario.schema import ConceptDriftEvent, DataDriftEvent, LabelDriftEvent

DriftEvent: TypeAlias = DataDriftEvent | ConceptDriftEvent | LabelDriftEvent
DRIFT_TYPES = ("data_drift", "concept_drift", "label_drift")

_SNAP = 1e-6


@runtime_checkable
class ConceptDriftable(Protocol):
    """A generator that knows the rule concept drift moves towards."""

    def drifted_label_probability(self, X: pd.DataFrame) -> np.ndarray: ...


# --------------------------------------------------------------------------- intensity


def intensity(event: DriftEvent, t: float) -> float:
    """How far ``event`` has progressed on day ``t``, in ``[0, 1]``.

    Abrupt (``width_days == 0``): 0 before ``day``, 1 from it. Gradual: the sigmoid
    ``1 / (1 + exp(-4 (t - day) / width_days))`` of river's ``ConceptDriftStream``:
    0.5 on ``day``, rising from 0.12 to 0.88 across ``width_days`` centred on it, and
    snapped to exactly 0 or 1 within 1e-6 of them (beyond about 3.5 widths from the
    onset), so days far from it are exactly undrifted.

    >>> from lab.scenario.schema import ConceptDriftEvent
    >>> e = ConceptDriftEvent(name="c", type="concept_drift", day=10, magnitude=1, width_days=4)
    >>> [round(intensity(e, t), 2) for t in (0, 8, 10, 12, 20)]
    [0.0, 0.12, 0.5, 0.88, 1.0]
    >>> intensity(e.model_copy(update={"width_days": 0}), 9.99), intensity(e.model_copy(update={"width_days": 0}), 10)
    (0.0, 1.0)
    """
    width = float(event.width_days)
    if not (math.isfinite(width) and width >= 0):
        raise ValueError(f"event {event.name!r} ({event.type}): width_days must be >= 0, got {width}")
    if width == 0:
        return 1.0 if t >= event.day else 0.0
    z = -4.0 * (t - event.day) / width
    value = 1.0 / (1.0 + math.exp(min(z, 700.0)))
    return 0.0 if value < _SNAP else 1.0 if value > 1 - _SNAP else value


# --------------------------------------------------------------------------- injectors


def shift_numeric(x: np.ndarray, shift: float, std: float, support: Support, rng: np.random.Generator) -> np.ndarray:
    """Covariate drift on a numeric feature: add ``shift x std``, then project onto ``support``.

    Values stay physically valid (clipped to the support, stochastically rounded to its
    grid), so the mean moves by ``shift x std`` except where the bounds clip it.

    >>> rng = np.random.default_rng(0)
    >>> jobs = np.array([0.0, 1.0, 2.0, 3.0] * 1000)
    >>> moved = shift_numeric(jobs, -0.5, 2.0, Support(0, decimals=0), rng)
    >>> bool(moved.min() >= 0), bool(np.all(moved == np.round(moved)))
    (True, True)
    >>> round(float(moved.mean() - jobs.mean()), 1)
    -0.8
    """
    return support.project(np.asarray(x, dtype=float) + shift * std, rng)


def tilt_categories(
    values: np.ndarray,
    categories: Sequence[object],
    frequencies: np.ndarray,
    shift: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Covariate drift on a categorical or binary feature: move probability mass.

    Categories are scored by their standardised position in ``categories`` (declared
    order; ``(0, 1)`` for binary features): ``z_k = (k - mean) / sd`` under the
    reference ``frequencies`` ``q``. The new shares are the exponential tilt
    ``q'_k ∝ q_k exp(shift z_k)``, which to first order moves the mean score by
    ``shift`` standard deviations, the same unit as a numeric shift (a binary feature's
    log-odds move by ``shift / sd``). Rows move by the smallest coupling: a row in a
    shrinking category leaves with probability ``1 - q'_k / q_k`` and lands in a
    growing one in proportion to its gain; every other feature keeps its value.

    >>> rng = np.random.default_rng(1)
    >>> q = np.array([0.5, 0.3, 0.2])
    >>> cats = ("high_school", "bachelor", "phd")
    >>> x = np.asarray(cats, dtype=object)[rng.choice(3, size=20000, p=q)]
    >>> moved = tilt_categories(x, cats, q, 1.0, rng)
    >>> [round(float(np.mean(moved == c)), 2) for c in cats]
    [0.12, 0.26, 0.62]
    """
    frequencies = np.asarray(frequencies, dtype=float)
    k = np.arange(len(categories), dtype=float)
    mean = float(frequencies @ k)
    sd = math.sqrt(float(frequencies @ (k - mean) ** 2))
    if sd == 0:
        raise ValueError(f"cannot tilt a feature with a single category; categories: {list(categories)}")
    target = frequencies * np.exp(shift * (k - mean) / sd)
    target /= target.sum()
    codes = pd.Categorical(values, categories=list(categories)).codes
    if (codes < 0).any():
        strays = sorted({str(v) for v, c in zip(values, codes) if c < 0})
        raise ValueError(f"values {strays} are not among the categories {list(categories)}")
    with np.errstate(divide="ignore", invalid="ignore"):
        leave = np.where(frequencies > 0, np.clip(1 - target / frequencies, 0, 1), 0.0)
    gain = np.clip(target - frequencies, 0, None)
    move = rng.random(len(codes)) < leave[codes]
    new_codes = codes.astype(np.int64)
    if move.any():
        new_codes[move] = rng.choice(len(categories), size=int(move.sum()), p=gain / gain.sum())
    out = np.asarray(categories, dtype=object)[new_codes]
    return out.astype(np.asarray(values).dtype) if np.asarray(values).dtype.kind in "iub" else out


def mix_concept(p0: np.ndarray, p1: np.ndarray, weight: float) -> np.ndarray:
    """Concept drift: ``(1 - weight) p0 + weight p1``, the new rule's share being ``weight``.

    >>> mix_concept(np.array([0.2, 0.8]), np.array([0.6, 0.0]), 0.25).round(3).tolist()
    [0.3, 0.6]
    """
    if not 0 <= weight <= 1:
        raise ValueError(f"concept weight must lie in [0, 1], got {weight}")
    return (1 - weight) * np.asarray(p0, dtype=float) + weight * np.asarray(p1, dtype=float)


def resample_prior(
    pool: pd.DataFrame, n: int, prior: float, rng: np.random.Generator, target: str = "label"
) -> pd.DataFrame:
    """Label drift: ``n`` rows from ``pool`` whose positive rate is ``prior`` in expectation.

    The number of positives is Binomial(``n``, ``prior``); positives and negatives are
    drawn without replacement from the pool's own, so ``P(x | y)`` is the pool's.
    The pool must hold enough of each class (:class:`Stream` sizes it).

    >>> rng = np.random.default_rng(0)
    >>> pool = pd.DataFrame({"x": rng.normal(size=4000), "label": rng.random(4000) < 0.3})
    >>> out = resample_prior(pool, 1000, 0.6, rng)
    >>> len(out), round(float(out.label.mean()), 1)
    (1000, 0.6)
    """
    if not 0 <= prior <= 1:
        raise ValueError(f"prior must lie in [0, 1], got {prior}")
    return pick_per_class(pool, int(rng.binomial(n, prior)), n, rng, target)


def pick_per_class(pool: pd.DataFrame, k: int, n: int, rng: np.random.Generator, target: str) -> pd.DataFrame:
    """``k`` positives and ``n - k`` negatives drawn without replacement, in random order."""
    y = pool[target].to_numpy()
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if k > len(positives) or n - k > len(negatives):
        raise ValueError(
            f"pool too small: need {k} positives and {n - k} negatives, has {len(positives)} and {len(negatives)}"
        )
    chosen = np.concatenate(
        [rng.choice(positives, size=k, replace=False), rng.choice(negatives, size=n - k, replace=False)]
    )
    return pool.iloc[rng.permutation(chosen)].reset_index(drop=True)


__all__ = [
    "DRIFT_TYPES",
    "ConceptDriftable",
    "DriftEvent",
    "intensity",
    "mix_concept",
    "resample_prior",
    "shift_numeric",
    "tilt_categories",
]
