"""Pinning a monitoring config against reference data: every column's method, threshold and direction.

What a config leaves out falls back to Evidently's defaults, which depend on the
reference (its row count, types and unique values); :func:`resolve` fixes them once, so
the same :class:`ResolvedConfig` judges every window the same way, whatever the size of
the reference it is later applied with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pandas as pd
from pydantic import Field

from lab.errors import ConfigError
from lab.monitoring.config_schema import (
    AlertingSpec,
    DriftTest,
    MonitoringConfig,
    PerformanceSpec,
    Problem,
    dotted,
    line_at,
    semantic_problems,
    valid_methods,
)
from lab.core.frozen import Frozen as _Frozen
from lab.monitoring.methods import METHODS, ColumnKind, Direction, EvidentlyType, evidently_default, evidently_type


class ResolvedColumn(_Frozen):
    """One column's pinned test: method, threshold and how to read the score."""

    column: str
    kind: ColumnKind
    evidently_type: EvidentlyType
    method: str
    threshold: float
    direction: Direction
    comparison: str = Field(description="Evidently's comparison: drift when `score <comparison> threshold`")
    source: Literal["columns", "default", "prediction_drift", "evidently_default"]


class ResolvedConfig(_Frozen):
    """A config with every decision pinned: apply it to any window, of any reference size."""

    window_size: int | None
    columns: dict[str, ResolvedColumn]
    prediction: ResolvedColumn | None
    dataset_drift_share: float
    performance: PerformanceSpec | None
    alerting: AlertingSpec
    reference_rows: int
    evidently_version: str


def _pin(
    name: str, kind: ColumnKind, reference: pd.Series, chosen: DriftTest | None, source: str
) -> ResolvedColumn:
    if chosen is not None and chosen.method:
        method, threshold = chosen.method, chosen.threshold
    else:
        method, threshold, source = evidently_default(reference, kind), None, "evidently_default"
    info = METHODS[method]
    return ResolvedColumn(
        column=name,
        kind=kind,
        evidently_type=evidently_type(kind),
        method=method,
        threshold=info.default_threshold if threshold is None else float(threshold),
        direction=info.direction,
        comparison=info.comparison,
        source=source,  # type: ignore[arg-type]
    )


def _infer_kind(values: pd.Series) -> ColumnKind:
    if pd.api.types.is_bool_dtype(values):
        return "binary"
    return "numeric" if pd.api.types.is_numeric_dtype(values) else "categorical"


def resolve(
    config: MonitoringConfig, reference: pd.DataFrame, column_kinds: Mapping[str, ColumnKind]
) -> ResolvedConfig:
    """Pin method, threshold and direction for every monitored column (and the prediction).

    Per column: its own ``data_drift.columns`` entry, else ``data_drift.default`` when that
    method fits the column's kind, else the method Evidently would pick for this
    reference (by finite row count, type and unique values; see
    :func:`lab.monitoring.methods.evidently_default`) with its default threshold. The
    prediction column (``prediction_drift.column``, default ``prediction``) is pinned when
    configured or present in the reference. Raises :class:`ConfigError` when the config
    names columns or methods that do not fit ``column_kinds``.
    """
    from lab.monitoring.methods import EVIDENTLY as evidently  # its version, without importing it

    problems = semantic_problems(config.model_dump(exclude_unset=True), dict(column_kinds))
    if problems:
        src = config._source
        raise ConfigError(
            [Problem(dotted(loc), line_at(config._lines, loc), msg, src) for loc, msg in problems], src
        )
    missing = [c for c in column_kinds if c not in reference.columns]
    if missing:
        raise ValueError(f"reference data lacks monitored column(s): {', '.join(missing)}")
    dd = config.data_drift
    columns = {}
    for name, kind in column_kinds.items():
        own = dd.columns.get(name)
        if own is not None and own.method:
            columns[name] = _pin(name, kind, reference[name], own, "columns")
        elif dd.default.method and METHODS[dd.default.method].applies_to(kind):
            columns[name] = _pin(name, kind, reference[name], dd.default, "default")
        else:
            columns[name] = _pin(name, kind, reference[name], None, "evidently_default")

    spec = config.prediction_drift
    pred_col = spec.column if spec else "prediction"
    prediction = None
    if pred_col in reference.columns:
        kind = (spec.kind if spec else None) or column_kinds.get(pred_col) or _infer_kind(reference[pred_col])
        prediction = _pin(pred_col, kind, reference[pred_col], spec, "prediction_drift")
        if spec is not None and spec.method and not METHODS[spec.method].applies_to(kind):
            loc = ("prediction_drift", "method")
            msg = f"method {spec.method!r} does not apply to {kind} column {pred_col!r}; {valid_methods([kind])}"
            raise ConfigError([Problem(dotted(loc), line_at(config._lines, loc), msg, config._source)], config._source)
    elif spec is not None:
        raise ValueError(f"prediction_drift is configured but the reference has no {pred_col!r} column")

    return ResolvedConfig(
        window_size=config.window.size if config.window else None,
        columns=columns,
        prediction=prediction,
        dataset_drift_share=dd.dataset_drift_share,
        performance=config.performance,
        alerting=config.alerting,
        reference_rows=len(reference),
        evidently_version=evidently.__version__,
    )
