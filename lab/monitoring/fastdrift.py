"""Drift decisions for one window, by calling Evidently's stattests directly (fast) or via a Report.

Both paths apply a :class:`~lab.monitoring.config.ResolvedConfig` (every column's method
and threshold pinned) and return the same :class:`WindowResult`. The fast path does what
Evidently's Report does per column and nothing else: drop NaN and +-inf, then call the
registered StatTest with the pinned threshold. It skips the Report's histograms,
correlations and widgets, which is where a Report spends its time.
``tests/test_fastdrift_parity.py`` pins the two paths to identical decisions and scores.

>>> import numpy as np
>>> from lab.scenario.generators.hiring import HiringGenerator
>>> from lab.monitoring.config import load_monitoring_config, resolve
>>> gen, kinds = HiringGenerator(), {"skills_match": "numeric", "source_channel": "categorical"}
>>> reference = gen.sample(np.random.default_rng(0), 500)
>>> current = gen.sample(np.random.default_rng(1), 500)
>>> current["skills_match"] += 0.1
>>> resolved = resolve(load_monitoring_config("data_drift: {dataset_drift_share: 0.5}"), reference, kinds)
>>> result = window_drift(reference, current, resolved)
>>> result.columns["skills_match"].method, result.columns["skills_match"].drifted
('ks', True)
>>> result.drift_share, result.dataset_drift
(0.5, True)
"""

from __future__ import annotations

import math
import warnings

import pandas as pd
from lab.core.frozen import Frozen
from lab.monitoring.pinning import ResolvedColumn, ResolvedConfig
from lab.monitoring.methods import ColumnKind, Direction, fast_stattest, finite, stattest


class ColumnDrift(Frozen):
    """One column's decision in one window. ``score`` is a p-value or a distance (see ``direction``)."""

    column: str
    kind: ColumnKind
    method: str
    threshold: float
    direction: Direction
    score: float
    drifted: bool


class WindowResult(Frozen):
    """Per-column decisions for the monitored features, their drift share, and the prediction's."""

    columns: dict[str, ColumnDrift]
    drifted_columns: int
    drift_share: float
    dataset_drift: bool
    dataset_drift_share: float
    prediction: ColumnDrift | None = None

    def decisions(self) -> dict[str, bool]:
        """Every drift flag by name (``prediction`` under its column name), and ``dataset_drift``."""
        out = {name: c.drifted for name, c in self.columns.items()}
        if self.prediction is not None:
            out[self.prediction.column] = self.prediction.drifted
        out["dataset_drift"] = self.dataset_drift
        return out


def _column_drift(pin: ResolvedColumn, score: float, drifted: bool) -> ColumnDrift:
    # every field comes typed from a validated pin or is converted here: skip re-validation
    return ColumnDrift.model_construct(
        column=pin.column,
        kind=pin.kind,
        method=pin.method,
        threshold=pin.threshold,
        direction=pin.direction,
        score=float(score),
        drifted=bool(drifted),
    )


def column_drift(reference: pd.Series, current: pd.Series, pin: ResolvedColumn) -> ColumnDrift:
    """One column's test, exactly as Evidently's Report runs it (Evidently's code for the common
    tests copied in :mod:`lab.monitoring.stattests`, so the fast path does not import Evidently)."""
    ref, cur = finite(reference), finite(current)
    if ref.empty or cur.empty:
        side = "reference" if ref.empty else "current"
        raise ValueError(f"column {pin.column!r} has no finite values in the {side} data")
    score, drifted = fast_stattest(pin.method)(ref, cur, pin.evidently_type, pin.threshold)
    return _column_drift(pin, score, drifted)


def _summarise(
    columns: dict[str, ColumnDrift], prediction: ColumnDrift | None, resolved: ResolvedConfig
) -> WindowResult:
    drifted = sum(c.drifted for c in columns.values())
    share = drifted / len(columns) if columns else 0.0
    return WindowResult(
        columns=columns,
        drifted_columns=drifted,
        drift_share=share,
        dataset_drift=bool(columns) and share >= resolved.dataset_drift_share,
        dataset_drift_share=resolved.dataset_drift_share,
        prediction=prediction,
    )


def window_drift(reference: pd.DataFrame, current: pd.DataFrame, resolved: ResolvedConfig) -> WindowResult:
    """Drift of ``current`` against ``reference`` under ``resolved``: the fast path.

    Dataset drift follows Evidently: the share of drifted feature columns is at least
    ``dataset_drift_share``. The prediction column is tested when ``resolved.prediction``
    is set and ``current`` has it; it does not count towards the share.
    """
    missing = [name for name in resolved.columns if name not in current.columns or name not in reference.columns]
    if missing:
        raise ValueError(f"monitored column(s) missing from the data: {', '.join(missing)}")
    with warnings.catch_warnings():  # scipy's notes (e.g. anderson's capped p-value), as the Report path
        warnings.simplefilter("ignore")
        columns = {name: column_drift(reference[name], current[name], pin) for name, pin in resolved.columns.items()}
        pin = resolved.prediction
        prediction = (
            column_drift(reference[pin.column], current[pin.column], pin)
            if pin is not None and pin.column in current.columns
            else None
        )
    return _summarise(columns, prediction, resolved)


def build_report(reference: pd.DataFrame, current: pd.DataFrame, resolved: ResolvedConfig):
    """Run the Evidently Report for a window (see :func:`window_drift_report`); returns the Report."""
    from evidently.legacy.metric_preset import DataDriftPreset
    from evidently.legacy.metrics import ColumnDriftMetric
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report

    pins = dict(resolved.columns)
    pred = resolved.prediction if resolved.prediction and resolved.prediction.column in current.columns else None
    every = list(pins.values()) + ([pred] if pred else [])
    mapping = ColumnMapping(
        target=None,
        prediction=None,
        datetime=None,
        id=None,
        numerical_features=[p.column for p in every if p.evidently_type == "num"],
        categorical_features=[p.column for p in every if p.evidently_type == "cat"],
    )
    metrics: list = [
        DataDriftPreset(
            columns=list(pins),
            drift_share=resolved.dataset_drift_share,
            per_column_stattest={name: stattest(p.method) for name, p in pins.items()},
            per_column_stattest_threshold={name: p.threshold for name, p in pins.items()},
        )
    ]
    if pred is not None:
        metrics.append(ColumnDriftMetric(pred.column, stattest=stattest(pred.method), stattest_threshold=pred.threshold))
    names = [p.column for p in every]
    report = Report(metrics=metrics)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.run(reference_data=reference[names], current_data=current[names], column_mapping=mapping)
    return report


def window_drift_report(reference: pd.DataFrame, current: pd.DataFrame, resolved: ResolvedConfig) -> WindowResult:
    """The same decisions from an Evidently Report (legacy API, which takes StatTest objects).

    Builds ``Report([DataDriftPreset(columns=features, per_column_stattest=...,
    per_column_stattest_threshold=..., drift_share=...), ColumnDriftMetric(prediction)])``
    with an explicit column mapping (binary columns as categorical), runs it and reads
    the per-column scores and flags and the dataset decision back from ``as_dict()``.
    StatTest objects rather than names are passed because Evidently's own default may pin
    ``chisquare``/``z`` on a numerical column, which Evidently refuses by name.
    """
    pins = dict(resolved.columns)
    pred = resolved.prediction if resolved.prediction and resolved.prediction.column in current.columns else None
    report = build_report(reference, current, resolved)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = report.as_dict()

    columns: dict[str, ColumnDrift] = {}
    dataset_drift = None
    prediction = None
    for entry in out["metrics"]:
        result = entry["result"]
        if entry["metric"] == "DataDriftTable":
            for name, col in result["drift_by_columns"].items():
                columns[name] = _column_drift(pins[name], col["drift_score"], col["drift_detected"])
        elif entry["metric"] == "DatasetDriftMetric":
            dataset_drift = bool(result["dataset_drift"])
        elif entry["metric"] == "ColumnDriftMetric" and pred is not None:
            prediction = _column_drift(pred, result["drift_score"], result["drift_detected"])
    summary = _summarise({name: columns[name] for name in pins}, prediction, resolved)
    if dataset_drift is not None and dataset_drift != summary.dataset_drift:
        raise AssertionError("Evidently's dataset drift differs from the share rule it documents")
    return summary


def same_decisions(a: WindowResult, b: WindowResult, score_tol: float = 1e-9) -> bool:
    """True when two results flag the same columns and dataset, with scores within ``score_tol``."""
    if a.decisions() != b.decisions():
        return False
    pairs = [(a.columns[n], b.columns[n]) for n in a.columns]
    if a.prediction is not None and b.prediction is not None:
        pairs.append((a.prediction, b.prediction))
    return all(
        (math.isnan(x.score) and math.isnan(y.score)) or abs(x.score - y.score) <= score_tol for x, y in pairs
    )
