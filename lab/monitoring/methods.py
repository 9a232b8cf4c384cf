"""Evidently's drift methods, with the direction each score is read in.

Every name here is an Evidently (0.7) stattest name, with its display name, column types
and default threshold as Evidently's registry has them (:data:`_REGISTRY`, written down
so that checking a config does not import Evidently, ~10 s; ``tests/test_fastdrift_parity.py``
keeps it equal to the registry); we add what the registry does not say: whether the
score is a p-value (drift when *below* the threshold) or a distance (drift when
*above*), the exact comparison Evidently uses, and whether the test is reproducible.

Column kinds are the lab's (``numeric``, ``categorical``, ``binary``); a binary column
is tested as Evidently's categorical type, so ``z`` and ``chisquare`` apply to it and
``ks`` does not.

>>> METHODS["ks"].direction, METHODS["ks"].drift_when
('p_value', 'score <= threshold')
>>> METHODS["wasserstein"].direction, METHODS["wasserstein"].default_threshold
('distance', 0.1)
>>> "ks" in methods_for("categorical"), "z" in methods_for("binary")
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

ColumnKind = Literal["numeric", "categorical", "binary"]
Direction = Literal["p_value", "distance"]
EvidentlyType = Literal["num", "cat"]

class _Evidently:
    """Evidently's installed version (``EVIDENTLY.__version__``), read from its metadata, not by importing it."""

    @property
    def __version__(self) -> str:
        from importlib.metadata import version

        return version("evidently")


EVIDENTLY = _Evidently()

KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical", "binary")
_EVIDENTLY_TYPE: dict[str, EvidentlyType] = {"numeric": "num", "categorical": "cat", "binary": "cat"}

# What Evidently's registry does not record: read from each implementation's return
# statement in evidently/legacy/calculations/stattests/*.py (0.7.23).
_SCORE: dict[str, tuple[Direction, str]] = {
    "anderson": ("p_value", "<"),
    "chisquare": ("p_value", "<"),
    "cramer_von_mises": ("p_value", "<="),
    "empirical_mmd": ("p_value", "<"),
    "es": ("p_value", "<"),
    "fisher_exact": ("p_value", "<"),
    "g_test": ("p_value", "<"),
    "ks": ("p_value", "<="),
    "mannw": ("p_value", "<"),
    "t_test": ("p_value", "<"),
    "TVD": ("p_value", "<"),  # a permutation p-value, despite its name
    "z": ("p_value", "<"),
    "ed": ("distance", ">"),
    "hellinger": ("distance", ">="),
    "jensenshannon": ("distance", ">="),
    "kl_div": ("distance", ">="),
    "psi": ("distance", ">="),
    "wasserstein": ("distance", ">="),
}
# empirical_mmd permutes with numpy's global random state, so its p-value changes
# from call to call. TVD reseeds the global state (np.random.seed(0)) on every call:
# reproducible, but it resets other code's global randomness.
_NONDETERMINISTIC = frozenset({"empirical_mmd"})


@dataclass(frozen=True)
class MethodInfo:
    """One Evidently stattest as the lab reads it."""

    name: str
    display_name: str
    evidently_types: frozenset[EvidentlyType]
    direction: Direction
    comparison: str
    default_threshold: float
    deterministic: bool

    @property
    def drift_when(self) -> str:
        return f"score {self.comparison} threshold"

    def applies_to(self, kind: ColumnKind) -> bool:
        return evidently_type(kind) in self.evidently_types

    def drifted(self, score: float, threshold: float) -> bool:
        """The decision Evidently makes for ``score`` at ``threshold``."""
        return {
            "<": score < threshold,
            "<=": score <= threshold,
            ">": score > threshold,
            ">=": score >= threshold,
        }[self.comparison]


# Evidently's registry (0.7.23), numerical/categorical tests only: (name, display name, types, default threshold).
_REGISTRY: tuple[tuple[str, str, str, float], ...] = (
    ("anderson", "Anderson-Darling", "num", 0.1),
    ("chisquare", "chi-square p_value", "cat", 0.05),
    ("cramer_von_mises", "Cramer-von Mises", "num", 0.1),
    ("ed", "Energy-distance", "num", 0.1),
    ("empirical_mmd", "empirical_mmd", "num", 0.1),
    ("es", "Epps-Singleton", "num", 0.05),
    ("fisher_exact", "Fisher's Exact test", "cat", 0.1),
    ("g_test", "g_test", "cat", 0.1),
    ("hellinger", "Hellinger distance", "cat num", 0.1),
    ("jensenshannon", "Jensen-Shannon distance", "cat num", 0.1),
    ("kl_div", "Kullback-Leibler divergence", "cat num", 0.1),
    ("ks", "K-S p_value", "num", 0.05),
    ("mannw", "Mann-Whitney U-rank test", "num", 0.05),
    ("psi", "PSI", "cat num", 0.1),
    ("t_test", "t_test", "num", 0.05),
    ("TVD", "Total-Variation-Distance", "cat", 0.1),
    ("wasserstein", "Wasserstein distance (normed)", "num", 0.1),
    ("z", "Z-test p_value", "cat", 0.05),
)


def _build() -> dict[str, MethodInfo]:
    out: dict[str, MethodInfo] = {}
    for name, display_name, types, default_threshold in _REGISTRY:
        direction, comparison = _SCORE[name]
        out[name] = MethodInfo(
            name=name,
            display_name=display_name,
            evidently_types=frozenset(types.split()),  # type: ignore[arg-type]
            direction=direction,
            comparison=comparison,
            default_threshold=default_threshold,
            deterministic=name not in _NONDETERMINISTIC,
        )
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def registry_methods() -> dict[str, tuple[str, frozenset[str], float]]:
    """What Evidently's own registry says (imports Evidently): ``{name: (display name, types,
    default threshold)}`` for its numerical and categorical tests; tests compare it with :data:`METHODS`."""
    from evidently.legacy.calculations.stattests import registry

    out = {}
    for name, by_type in registry._registered_stat_tests.items():
        types = frozenset(t.value for t in by_type if t.value in ("num", "cat"))
        if types:
            st = next(iter(by_type.values()))
            out[name] = (st.display_name, types, float(st.default_threshold))
    return out


METHODS: dict[str, MethodInfo] = _build()


def evidently_type(kind: ColumnKind) -> EvidentlyType:
    """The Evidently column type a lab column kind is tested as."""
    try:
        return _EVIDENTLY_TYPE[kind]
    except KeyError:
        raise ValueError(f"unknown column kind {kind!r}; known: {', '.join(KINDS)}") from None


def methods_for(kind: ColumnKind) -> list[str]:
    """Evidently stattest names that apply to a column of this kind, sorted."""
    return [m.name for m in METHODS.values() if m.applies_to(kind)]


def stattest(name: str) -> Any:
    """Evidently's StatTest object for ``name`` (whatever the column type).

    Evidently's own default selection gives ``chisquare`` or ``z`` to a numerical
    column with few values, though neither is registered for numerical columns by
    name; passing the object, not the name, lets a pinned default run as Evidently ran it.
    Imports Evidently (~10 s): the fast path uses :func:`fast_stattest`.
    """
    from evidently.legacy.calculations.stattests import registry as _registry

    by_type = _registry._registered_stat_tests.get(name)
    if not by_type:
        raise ValueError(f"unknown Evidently stattest {name!r}; known: {', '.join(METHODS)}")
    return next(iter(by_type.values()))


def finite(values: pd.Series) -> pd.Series:
    """Drop NaN and +-inf, as Evidently's Report does before every drift test.

    A column with nothing to drop is returned as is (the common case, and a sizeable
    part of the fast path's time otherwise).
    """
    array = values.to_numpy()
    if values.dtype.kind in "biuf":
        if np.isfinite(array).all():
            return values
    elif values.dtype == object and pd.api.types.infer_dtype(array, skipna=False) == "string":
        return values  # all str: nothing is NaN or inf
    return values.replace([-np.inf, np.inf], np.nan).dropna()


def evidently_default(reference: pd.Series, kind: ColumnKind, current: pd.Series | None = None) -> str:
    """The stattest name Evidently would pick for this column.

    Evidently chooses by the number of (finite) reference rows, the column type and the
    number of unique values in reference and current together. With ``current`` omitted,
    only the reference's unique values count: that is how a method is pinned before any
    window is seen.

    >>> evidently_default(pd.Series(range(999), dtype=float), "numeric")
    'ks'
    >>> evidently_default(pd.Series(range(1001), dtype=float), "numeric")
    'wasserstein'
    >>> evidently_default(pd.Series(["a", "b"] * 10), "categorical")
    'z'
    """
    from lab.monitoring.stattests import default_method

    ref = finite(reference)
    cur = finite(current) if current is not None else ref.iloc[:0]
    return default_method(ref, cur, evidently_type(kind))


def fast_stattest(name: str) -> Callable[[pd.Series, pd.Series, EvidentlyType, float], tuple[float, bool]]:
    """``(reference, current, evidently_type, threshold) -> (score, drifted)`` for ``name``, as Evidently
    computes it: a copy of Evidently's code for the common tests (:mod:`lab.monitoring.stattests`,
    no Evidently import), else Evidently's own StatTest."""
    from lab.monitoring.stattests import TESTS

    if name in TESTS:
        return TESTS[name]
    st = stattest(name)
    from evidently.legacy.core import ColumnType

    def run(reference: pd.Series, current: pd.Series, kind: EvidentlyType, threshold: float) -> tuple[float, bool]:
        result = st(reference, current, ColumnType(kind), threshold)
        return result.drift_score, result.drifted

    return run
