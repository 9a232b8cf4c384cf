"""Model recipes: the scikit-learn pipelines a scenario's versions are built from,
the metrics logged for them (overall and per sensitive group), and the defects a
'defective' version carries.

Label metrics and fairness slices take the scenario's decision threshold
(``model.decision_threshold``): a row is "selected" (advanced, flagged as a likely
default, offered retention) when its score is at or above it.

Pure scikit-learn (:func:`fit_version` fits one version of a scenario); MLflow
registration lives in lab.release.train.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lab.scenario.generators.base import Generator

if TYPE_CHECKING:
    from lab.scenario.schema import DefectSlice, ModelVersionSpec, Scenario

_METRIC_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_key(*parts: str) -> str:
    """A name MLflow accepts: ``selection_rate.age_band.50plus`` for group "50+"."""
    return ".".join(_METRIC_UNSAFE.sub("_", str(p).replace("+", "plus")) for p in parts)


#: What ``renamed_input`` appends to the renamed column's name (the feature store's new view).
RENAMED_SUFFIX = "_v2"


def renamed_column(gen: type[Generator]) -> str:
    """The input ``renamed_input`` renames: the generator's first numeric feature (the first
    numeric column of its frames, whose features come first)."""
    return next(f.name for f in gen.features if f.kind == "numeric")


def model_inputs(gen: type[Generator], defect: str | None = None) -> list[str]:
    """The columns a version is fitted on: the generator's features (one renamed for ``renamed_input``)."""
    names = gen.feature_names()
    if defect == "renamed_input":
        old = renamed_column(gen)
        names = [n + RENAMED_SUFFIX if n == old else n for n in names]
    return names


def build_pipeline(gen: type[Generator], estimator: str, params: dict, defect: str | None = None) -> Pipeline:
    rename = {renamed_column(gen): renamed_column(gen) + RENAMED_SUFFIX} if defect == "renamed_input" else {}
    numeric = [rename.get(f.name, f.name) for f in gen.features if f.kind == "numeric"]
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


def _first_numeric(df: pd.DataFrame) -> str:
    """The first numeric input of a scenario frame (features come first; see :func:`renamed_column`)."""
    return next(c for c in df.select_dtypes("number").columns if c not in ("label", "day"))


def slice_mask(df: pd.DataFrame, where: "DefectSlice") -> np.ndarray:
    """The rows of ``df`` a slice defect touches, before its ``rate``."""
    col = df[where.column]
    return (col < where.below).to_numpy() if where.below is not None else col.isin(where.values or []).to_numpy()


def apply_defect(df: pd.DataFrame, defect: str | None, where: "DefectSlice | None" = None, *,
                 training: bool = True) -> pd.DataFrame:
    """What a broken feature pipeline did to the data a defective version saw.

    * ``skills_scaled_to_percent``: an upstream migration started emitting
      ``skills_match`` as 0..100 instead of 0..1. Training and offline evaluation
      both went through it, so offline metrics look fine; serving still sends 0..1.
    * ``swapped_columns``: the first two numeric inputs were swapped by a column
      reordering bug in training and evaluation.
    * ``renamed_input``: the feature store's new view renamed the first numeric input
      (credit: ``age`` -> ``age_v2``) in training and evaluation; serving's requests
      keep the old name, so the version cannot score them (an input schema break).
    * ``slice_labels_inverted`` (training rows only): a broken join flipped the outcome flag
      of the rows of ``where`` (a share ``where.rate`` of them), so the version ranks that
      group backwards; overall it scores about as well as before (the group is small).
    * ``slice_labels_biased`` (training rows only): labels of ``where``'s rows (a share
      ``where.rate``) came from a legacy process that declined them as a rule: set positive.
      The version then penalises the group for who it is (changing only that column changes
      decisions).

    Label defects leave evaluation rows alone (``training=False``): the offline metrics are true.
    The rows a ``rate`` below 1 touches are drawn from a fixed seed: the same rows give the same defect.
    """
    if defect is None:
        return df
    out = df.copy()
    if defect in ("slice_labels_inverted", "slice_labels_biased"):
        if not training:
            return df
        assert where is not None  # the scenario schema requires it
        rng = np.random.default_rng(20261201)
        hit = slice_mask(df, where) & (rng.random(len(df)) < where.rate)
        labels = out["label"].to_numpy().copy()
        labels[hit] = 1 - labels[hit] if defect == "slice_labels_inverted" else 1
        out["label"] = labels
        return out
    if defect == "renamed_input":
        old = _first_numeric(out)
        return out.rename(columns={old: old + RENAMED_SUFFIX})
    if defect == "skills_scaled_to_percent":
        col = "skills_match" if "skills_match" in out else out.select_dtypes("number").columns[0]
        out[col] = out[col] * 100.0
    elif defect == "swapped_columns":
        a, b = [c for c in out.select_dtypes("number").columns if c not in ("label", "day")][:2]
        out[a], out[b] = df[b].to_numpy(), df[a].to_numpy()
    else:
        raise ValueError(f"unknown defect {defect!r}")
    return out


def classification_metrics(y: np.ndarray, p: np.ndarray, *, threshold: float) -> dict[str, float]:
    """Overall metrics of scores ``p`` against labels ``y``, decisions at ``p >= threshold``.

    ``selection_rate`` is the share decided positive; ``base_rate`` the share of positive
    labels (``positive_rate`` is the same number under its older name, kept for readers
    of earlier runs); ``brier_score`` the mean squared error of ``p`` (calibration: lower
    is better, and predicting the base rate everywhere scores ``base_rate (1 - base_rate)``).

    >>> m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.2, 0.6]), threshold=0.25)
    >>> m["selection_rate"], m["recall"], m["precision"], m["base_rate"], m["brier_score"]
    (0.5, 0.5, 0.5, 0.5, 0.225)
    """
    pred = (p >= threshold).astype(int)
    out = {
        "accuracy": accuracy_score(y, pred),
        "f1": f1_score(y, pred, zero_division=0),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "selection_rate": float(pred.mean()),
        "base_rate": float(np.mean(y)),
        "positive_rate": float(np.mean(y)),
        "brier_score": brier_score_loss(y, p),
        "decision_threshold": threshold,
    }
    out["roc_auc"] = roc_auc_score(y, p) if len(np.unique(y)) == 2 else float("nan")
    return {k: round(float(v), 6) for k, v in out.items()}


def group_metrics(
    df: pd.DataFrame, p: np.ndarray, sensitive: list[str], *, threshold: float, target: str = "label"
) -> dict[str, float]:
    """Per-group selection rate and TPR at ``p >= threshold``, keyed ``selection_rate.<attr>.<group>``.

    Also the disparate-impact ratio per attribute (lowest selection rate divided by
    the highest; the US "four-fifths rule" flags values below 0.8).
    """
    out: dict[str, float] = {}
    pred = (p >= threshold).astype(int)
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


@dataclass(frozen=True)
class FittedVersion:
    """One version fitted, with the metrics registered for it."""

    pipeline: Pipeline
    train: pd.DataFrame  # the rows it was fitted on (defect applied)
    evaluate: pd.DataFrame  # the evaluation rows (defect applied)
    scores: np.ndarray  # P(positive) on ``evaluate``
    metrics: dict[str, float]


def fit_version(scenario: "Scenario", spec: "ModelVersionSpec", train: pd.DataFrame, evaluation: pd.DataFrame) -> FittedVersion:
    """Fit ``spec`` on ``train`` and measure it on ``evaluation`` (both before its defect).

    Label metrics and the per-group fairness slices are taken at the scenario's decision
    threshold (``model.decision_threshold``), where the live service's decisions are.
    """
    from lab.scenario.generators import generator_class

    gen = generator_class(scenario.generator.name)
    features = model_inputs(gen, spec.defect)
    threshold = scenario.model.decision_threshold.value
    train = apply_defect(train, spec.defect, spec.defect_slice)
    evaluate = apply_defect(evaluation, spec.defect, spec.defect_slice, training=False)
    pipe = build_pipeline(gen, spec.estimator, dict(spec.params), spec.defect)
    started = time.perf_counter()
    pipe.fit(train[features], train["label"])
    fit_seconds = time.perf_counter() - started
    p = pipe.predict_proba(evaluate[features])[:, 1]
    metrics = classification_metrics(evaluate["label"].to_numpy(), p, threshold=threshold)
    metrics.update(group_metrics(evaluate, p, gen.sensitive_names(), threshold=threshold))
    metrics["fit_seconds"] = round(fit_seconds, 3)
    return FittedVersion(pipe, train, evaluate, p, metrics)
