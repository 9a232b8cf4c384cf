"""Evidently's common drift tests, as Evidently computes them, without importing Evidently.

Importing Evidently costs ~10 s (its package imports its UI, LLM and SDK parts), more than
a whole replay. The tests Evidently's default selection picks (``ks``, ``wasserstein``,
``jensenshannon``, ``chisquare``, ``z``) and ``psi`` are copied here line for line from
``evidently/legacy/calculations/stattests/*.py`` (0.7.23): the same pandas, numpy and scipy
calls in the same order, so scores are bit-identical. Every other method is run by
Evidently's own StatTest (:func:`lab.monitoring.methods.stattest`), imported then.
``tests/test_fastdrift_parity.py`` pins each copy to Evidently's result.

Each function takes ``(reference, current, evidently_type, threshold)`` (``"num"`` or
``"cat"``) and returns ``(score, drifted)``.

>>> import pandas as pd
>>> score, drifted = TESTS["wasserstein"](pd.Series([0.0, 1.0, 2.0]), pd.Series([1.0, 2.0, 3.0]), "num", 0.1)
>>> round(float(score), 4), bool(drifted)
(1.2247, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

StatTestFunc = Callable[[pd.Series, pd.Series, str, float], tuple[float, bool]]


def _unique_not_nan(current: pd.Series, reference: pd.Series) -> list:
    return list(set(reference.dropna().unique()) | set(current.dropna().unique()))


def _binned(reference: pd.Series, current: pd.Series, kind: str, n: int, fill_zeroes: bool = True):
    """Evidently's ``get_binned_data``: shares per Sturges bin (numeric, > 20 values) or per value."""
    n_vals = reference.nunique()
    if kind == "num" and n_vals > 20:
        combined = np.asarray(pd.concat([reference, current], axis=0).values)
        bins = np.histogram_bin_edges(combined, bins="sturges")
        ref_pct = np.histogram(reference, bins)[0] / len(reference)
        cur_pct = np.histogram(current, bins)[0] / len(current)
    else:
        keys = _unique_not_nan(current, reference)
        ref_counts = {**dict.fromkeys(keys, 0), **dict(reference.value_counts())}
        cur_counts = {**dict.fromkeys(keys, 0), **dict(current.value_counts())}
        ref_pct = np.array([ref_counts[key] / len(reference) for key in keys])
        cur_pct = np.array([cur_counts[key] / len(current) for key in keys])
    if fill_zeroes:
        for pct in (ref_pct, cur_pct):
            low = min(pct[pct != 0])
            np.place(pct, pct == 0, low / 10**6 if low <= 0.0001 else 0.0001)
    return ref_pct, cur_pct


def ks(reference: pd.Series, current: pd.Series, kind: str, threshold: float) -> tuple[float, bool]:
    from scipy.stats import ks_2samp

    p_value = ks_2samp(reference, current)[1]
    return p_value, p_value <= threshold


def wasserstein(reference: pd.Series, current: pd.Series, kind: str, threshold: float) -> tuple[float, bool]:
    from scipy import stats

    norm = max(float(np.std(reference)), 0.001)
    value = stats.wasserstein_distance(reference, current) / norm
    return value, value >= threshold


def psi(reference: pd.Series, current: pd.Series, kind: str, threshold: float) -> tuple[float, bool]:
    ref_pct, cur_pct = _binned(reference, current, kind, 30)
    value = np.sum((ref_pct - cur_pct) * np.log(ref_pct / cur_pct))
    return value, value >= threshold


def jensenshannon(reference: pd.Series, current: pd.Series, kind: str, threshold: float) -> tuple[float, bool]:
    from scipy.spatial import distance

    ref_pct, cur_pct = _binned(reference, current, kind, 30, False)
    value = distance.jensenshannon(ref_pct, cur_pct, None)
    return value, value >= threshold


def chisquare(reference: pd.Series, current: pd.Series, kind: str, threshold: float) -> tuple[float, bool]:
    from scipy.stats import chisquare as scipy_chisquare

    keys = _unique_not_nan(current, reference)
    ref_counts = {**dict.fromkeys(keys, 0), **dict(reference.value_counts())}
    cur_counts = {**dict.fromkeys(keys, 0), **dict(current.value_counts())}
    k_norm = current.shape[0] / reference.shape[0]
    f_exp = [ref_counts[key] * k_norm for key in keys]
    f_obs = [cur_counts[key] for key in keys]
    p_value = scipy_chisquare(f_obs, f_exp)[1]
    return p_value, p_value < threshold


def z(reference: pd.Series, current: pd.Series, kind: str, threshold: float) -> tuple[float, bool]:
    from scipy.stats import norm

    if reference.nunique() == 1 and current.nunique() == 1 and reference.unique()[0] == current.unique()[0]:
        p_value = 1
    else:
        key = sorted(_unique_not_nan(current, reference))[0]
        ref = reference.apply(lambda x: 0 if x == key else 1)
        cur = current.apply(lambda x: 0 if x == key else 1)
        n1, n2 = len(ref), len(cur)
        p1, p2 = float(sum(ref)) / n1, float(sum(cur)) / n2
        pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
        z_stat = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        p_value = 2 * (1 - norm.cdf(np.abs(z_stat)))
    return p_value, p_value < threshold


TESTS: dict[str, StatTestFunc] = {"ks": ks, "wasserstein": wasserstein, "psi": psi, "jensenshannon": jensenshannon,
                                  "chisquare": chisquare, "z": z}


def default_method(reference: pd.Series, current: pd.Series, kind: str) -> str:
    """Evidently's ``_get_default_stattest`` for a numerical or categorical column: the method's name."""
    n_values = pd.concat([reference, current]).nunique()
    if reference.shape[0] <= 1000:
        if kind == "num" and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "num":
        return "jensenshannon" if n_values <= 5 else "wasserstein"
    return "jensenshannon"
