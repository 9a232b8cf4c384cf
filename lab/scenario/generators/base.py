"""What every synthetic data generator provides.

A generator describes one domain's population: how inputs are drawn (``P(x)``, plus the
sensitive attributes kept for fairness slices) and the true labelling function
(``P(y=1 | x)``). Keeping the two apart is what lets the drift engine change one
without touching the other.

Randomness is local: every method takes a ``numpy.random.Generator`` and nothing
touches global state, so the same seed always gives the same rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from lab.scenario.generators.support import Support

FeatureKind = Literal["numeric", "categorical", "binary"]


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind
    description: str
    categories: tuple[str, ...] | None = None


class Generator(ABC):
    """A seeded population with a known labelling function."""

    name: ClassVar[str]
    features: ClassVar[tuple[Feature, ...]]
    sensitive: ClassVar[tuple[Feature, ...]]
    target: ClassVar[str] = "label"
    #: Parameters a scenario may set, with their defaults.
    defaults: ClassVar[dict[str, float]] = {}
    #: Valid range and rounding of each numeric feature (drift keeps values inside it).
    support: ClassVar[dict[str, "Support"]] = {}

    def __init__(self, **params: float) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for generator {self.name!r}; "
                f"known: {', '.join(sorted(self.defaults)) or 'none'}"
            )
        self.params = {**self.defaults, **params}

    @classmethod
    def feature_names(cls) -> list[str]:
        return [f.name for f in cls.features]

    @classmethod
    def sensitive_names(cls) -> list[str]:
        return [f.name for f in cls.sensitive]

    @classmethod
    def feature(cls, name: str) -> Feature:
        for f in cls.features:
            if f.name == name:
                return f
        raise KeyError(name)

    @abstractmethod
    def sample_inputs(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        """``n`` rows of model inputs and sensitive attributes, drawn from ``P(x)``."""

    @abstractmethod
    def label_probability(self, X: pd.DataFrame) -> np.ndarray:
        """The true ``P(y=1 | x)`` for each row; depends on model inputs only."""

    def drifted_label_probability(self, X: pd.DataFrame) -> np.ndarray:
        """The labelling rule concept drift moves towards (e.g. after an economic shock)."""
        raise NotImplementedError(f"generator {self.name!r} defines no concept drift")

    def sample(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        """Inputs, sensitive attributes and a Bernoulli label drawn from the true function."""
        X = self.sample_inputs(rng, n)
        p = self.label_probability(X)
        X[self.target] = (rng.random(n) < p).astype(np.int64)
        return X


def categorical(rng: np.random.Generator, n: int, probs: dict[str, float]) -> np.ndarray:
    """Draw ``n`` labels from a ``{category: probability}`` table (normalised)."""
    cats = list(probs)
    p = np.asarray([probs[c] for c in cats], dtype=float)
    return np.asarray(cats, dtype=object)[rng.choice(len(cats), size=n, p=p / p.sum())]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))
