"""Model recipes: the scikit-learn pipelines a scenario's versions are built from,
the metrics logged for them (overall and per sensitive group), and the defects a
'defective' version carries.

Pure scikit-learn; MLflow registration lives in lab.train.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lab.generators.base import Generator

_METRIC_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_key(*parts: str) -> str:
    """A name MLflow accepts: ``selection_rate.age_band.50plus`` for group "50+"."""
    return ".".join(_METRIC_UNSAFE.sub("_", str(p).replace("+", "plus")) for p in parts)

#: Decision threshold: a row is "selected" (advanced, approved, flagged) at p >= 0.5.
THRESHOLD = 0.5


def build_pipeline(gen: type[Generator], estimator: str, params: dict) -> Pipeline:
    numeric = [f.name for f in gen.features if f.kind == "numeric"]
    categorical = [f.name for f in gen.features if f.kind == "categorical"]
    binary = [f.name for f in gen.features if f.kind == "binary"]
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ("bin", "passthrough", binary),
        ]
    )
    if estimator == "logistic_regression":
        clf = LogisticRegression(max_iter=2000, **params)
    elif estimator == "hist_gradient_boosting":
        clf = HistGradientBoostingClassifier(random_state=0, **params)
    elif estimator == "random_forest":
        clf = RandomForestClassifier(random_state=0, n_jobs=1, **params)
    else:  # the scenario schema only allows the names above
        raise ValueError(f"unknown estimator {estimator!r}")
    return Pipeline([("prep", pre), ("clf", clf)])


def apply_defect(df: pd.DataFrame, defect: str | None) -> pd.DataFrame:
    """What a broken feature pipeline did to the data a defective version saw.

    * ``skills_scaled_to_percent``: an upstream migration started emitting
      ``skills_match`` as 0..100 instead of 0..1. Training and offline evaluation
      both went through it, so offline metrics look fine; serving still sends 0..1.
    * ``swapped_columns``: the first two numeric inputs were swapped by a column
      reordering bug in training and evaluation.
    """
    if defect is None:
        return df
    out = df.copy()
    if defect == "skills_scaled_to_percent":
        col = "skills_match" if "skills_match" in out else out.select_dtypes("number").columns[0]
        out[col] = out[col] * 100.0
    elif defect == "swapped_columns":
        a, b = [c for c in out.select_dtypes("number").columns if c not in ("label", "day")][:2]
        out[a], out[b] = df[b].to_numpy(), df[a].to_numpy()
    else:
        raise ValueError(f"unknown defect {defect!r}")
    return out


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    pred = (p >= THRESHOLD).astype(int)
    out = {
        "accuracy": accuracy_score(y, pred),
        "f1": f1_score(y, pred, zero_division=0),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "selection_rate": float(pred.mean()),
        "positive_rate": float(np.mean(y)),
    }
    out["roc_auc"] = roc_auc_score(y, p) if len(np.unique(y)) == 2 else float("nan")
    return {k: round(float(v), 6) for k, v in out.items()}


def group_metrics(df: pd.DataFrame, p: np.ndarray, sensitive: list[str], target: str = "label") -> dict[str, float]:
    """Per-group selection rate and TPR, keyed ``selection_rate.<attr>.<group>``.

    Also the disparate-impact ratio per attribute (lowest selection rate divided by
    the highest; the US "four-fifths rule" flags values below 0.8).
    """
    out: dict[str, float] = {}
    pred = (p >= THRESHOLD).astype(int)
    y = df[target].to_numpy()
    for attr in sensitive:
        rates = []
        for group in sorted(df[attr].unique()):
            mask = (df[attr] == group).to_numpy()
            rate = float(pred[mask].mean())
            rates.append(rate)
            out[metric_key("selection_rate", attr, group)] = round(rate, 6)
            pos = mask & (y == 1)
            if pos.any():
                out[metric_key("tpr", attr, group)] = round(float(pred[pos].mean()), 6)
        if rates and max(rates) > 0:
            out[metric_key("disparate_impact", attr)] = round(min(rates) / max(rates), 6)
    return out
