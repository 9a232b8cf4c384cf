"""The schema of the candidate's ``monitoring.yaml``, and the rules that need Evidently's method table.

::

    window: {size: 500}                              # rows per monitoring window
    data_drift:
      default: {method: wasserstein, threshold: 0.1} # applies to columns the method fits
      columns:
        years_experience: {method: ks, threshold: 0.01}
      dataset_drift_share: 0.3                       # alarm when >= this share drifts
    prediction_drift: {method: psi, threshold: 0.2}
    performance: {metric: roc_auc, min: 0.75, max_drop: 0.05}
    alerting: {consecutive_windows: 1}

Every part may be omitted; what is omitted falls back to Evidently's defaults, which
:func:`lab.monitoring.pinning.resolve` pins per column (method, threshold, direction) from the reference data,
so a decision never flips silently when a reference crosses Evidently's 1,000-row
boundary. A method must be an Evidently stattest name (:mod:`lab.monitoring.methods`);
a threshold is read in its method's direction: a p-value method drifts when the score
is *below* it (so 0 < threshold < 1), a distance drifts when the score is *above* it
(threshold > 0). A threshold without a method is refused: whether it is a p-value or a
distance would depend on the default method, which changes at 1,000 reference rows.

This module is the format: the models, the semantic rules (:func:`semantic_problems`,
which run on the raw mapping so every problem is found at once) and :class:`Problem`.
Reading a file with line numbers is :mod:`lab.monitoring.config`; pinning a config
against reference data is :mod:`lab.monitoring.pinning`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, StrictInt, ValidationInfo
from pydantic import field_validator, model_validator

from lab.core.frozen import Frozen as _Frozen
from lab.core.metrics import LOWER_IS_BETTER  # lower is better: max_drop is the largest allowed rise, min does not apply
from lab.monitoring.observability_config import BusinessSpec, ConsecutiveWindows, SystemSpec
from lab.monitoring.methods import KINDS, METHODS, ColumnKind, evidently_type, methods_for

EVIDENTLY_DRIFT_SHARE = 0.5  # Evidently's DataDriftPreset default
Metric = Literal["roc_auc", "average_precision", "accuracy", "balanced_accuracy", "f1", "precision", "recall", "brier_score"]
Number = Annotated[float, Field(strict=True)]
Loc = tuple[Any, ...]


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (dotted location and 1-based line) and why."""

    loc: str
    line: int | None
    message: str
    source: str = "monitoring.yaml"

    def __str__(self) -> str:
        if self.line is None:  # the whole file: unreadable or too large
            return f"{self.source}: {self.loc or '(file)'}: {self.message}"
        return f"{self.source}:{self.line}: {self.loc or '(top level)'}: {self.message}"


def dotted(loc: Loc) -> str:
    """A pydantic location as written in the YAML: ``data_drift.columns.salary``, ``a[0]``."""
    out = ""
    for part in loc:
        index = isinstance(part, int) and not isinstance(part, bool)
        out += f"[{part}]" if index else (f".{part}" if out else str(part))
    return out


def line_at(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, or of its nearest parent that has one."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# --------------------------------------------------------------------------- schema


class DriftTest(_Frozen):
    """A drift test for a column: an Evidently stattest name and its threshold."""

    method: str | None = None
    threshold: Number | None = None


class DataDriftSpec(_Frozen):
    default: DriftTest = DriftTest()
    columns: dict[str, DriftTest] = {}
    dataset_drift_share: Number = EVIDENTLY_DRIFT_SHARE

    @field_validator("dataset_drift_share")
    @classmethod
    def _share(cls, v: float) -> float:
        if not (0 < v <= 1):
            raise ValueError(f"must be in (0, 1] (a share of columns), got {v}")
        return v


class PredictionDriftSpec(DriftTest):
    column: str = "prediction"
    kind: ColumnKind | None = None


class PerformanceSpec(_Frozen):
    """Performance on labelled feedback, against an absolute floor and the reference value."""

    metric: Metric = "roc_auc"
    min: Number | None = None
    max_drop: Number | None = Field(None, description="largest allowed fall below the reference value, in metric units")
    label_column: str = "label"

    @model_validator(mode="after")
    def _direction(self) -> "PerformanceSpec":
        if self.metric in LOWER_IS_BETTER and self.min is not None:
            raise ValueError(f"{self.metric} is lower-is-better: `min` does not apply; give max_drop "
                             "(the largest allowed rise above the reference value)")
        return self
    score_column: str = "prediction"

    @field_validator("min", "max_drop")
    @classmethod
    def _unit(cls, v: float | None) -> float | None:
        if v is not None and not (0 <= v <= 1):
            raise ValueError(f"must be in [0, 1] (the metric's range), got {v}")
        return v


class WindowSpec(_Frozen):
    size: StrictInt

    @field_validator("size")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"must be a positive number of rows, got {v}")
        return v


class AlertingSpec(ConsecutiveWindows):
    """The drift sections' alerting rule (``business:`` and ``system:`` keep their own)."""


class MonitoringConfig(_Frozen):
    """A validated ``monitoring.yaml``. Build it with :func:`load_monitoring_config`."""

    window: WindowSpec | None = None
    data_drift: DataDriftSpec = DataDriftSpec()
    prediction_drift: PredictionDriftSpec | None = None
    performance: PerformanceSpec | None = None
    alerting: AlertingSpec = AlertingSpec()
    business: BusinessSpec | None = None
    system: SystemSpec | None = None

    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr("monitoring config")

    @model_validator(mode="after")
    def _semantics(self, info: ValidationInfo) -> "MonitoringConfig":
        if info.context and info.context.get("skip_semantics"):
            return self  # the loader checks these itself, with line numbers
        problems = semantic_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(f"{dotted(loc)}: {msg}" for loc, msg in problems))
        return self


# --------------------------------------------------------------------------- semantic rules


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def valid_methods(kinds: Sequence[ColumnKind] | None) -> str:
    if kinds is not None and len({evidently_type(k) for k in kinds}) == 1:
        return f"valid for {'/'.join(kinds)} columns: {', '.join(methods_for(kinds[0]))}"
    return (
        f"valid for numeric columns: {', '.join(methods_for('numeric'))}; "
        f"for categorical and binary columns: {', '.join(methods_for('categorical'))}"
    )


def _test_problems(loc: Loc, spec: Any, kinds: Sequence[ColumnKind] | None, target: str) -> list[tuple[Loc, str]]:
    """Rules for one ``{method, threshold}``; it must fit one of ``kinds``, described by ``target``."""
    if not isinstance(spec, Mapping):
        return []
    out: list[tuple[Loc, str]] = []
    method, threshold = spec.get("method"), spec.get("threshold")
    info = METHODS.get(method) if isinstance(method, str) else None
    if isinstance(method, str):
        if info is None:
            for_what = f" for {target}" if target else ""
            out.append((loc + ("method",), f"unknown method {method!r}{for_what}; {valid_methods(kinds)}"))
        elif kinds is not None and not any(info.applies_to(k) for k in kinds):
            out.append((loc + ("method",), f"method {method!r} does not apply to {target}; {valid_methods(kinds)}"))
    if _is_number(threshold):
        if not math.isfinite(threshold):
            out.append((loc + ("threshold",), f"must be a finite number, got {threshold}"))
        elif method is None:
            out.append(
                (
                    loc + ("threshold",),
                    "a threshold needs a method: whether it is a p-value or a distance depends on "
                    "the method, and Evidently's default method changes at 1,000 reference rows",
                )
            )
        elif info is not None and info.direction == "p_value" and not (0 < threshold < 1):
            out.append(
                (
                    loc + ("threshold",),
                    f"{threshold} is out of range for {method!r}: its score is a p-value "
                    f"(drift when {info.drift_when}), so it needs 0 < threshold < 1",
                )
            )
        elif (info is None or info.direction == "distance") and threshold <= 0:
            kind = f"for {method!r}: its score is a distance (drift when {info.drift_when}), so" if info else ":"
            out.append((loc + ("threshold",), f"{threshold} is out of range {kind} it needs threshold > 0"))
    return out


def semantic_problems(
    raw: Any, columns: Mapping[str, ColumnKind] | None = None, data_rows: int | None = None
) -> list[tuple[Loc, str]]:
    """Rules that need Evidently's method table or the data: methods, thresholds, columns, window.

    Works on the raw mapping (so it runs even when other parts fail the schema) and
    skips anything whose type is wrong, which the schema reports.
    """
    if not isinstance(raw, Mapping):
        return []
    out: list[tuple[Loc, str]] = []
    dd = raw.get("data_drift")
    if isinstance(dd, Mapping):
        present = sorted(set(columns.values()), key=KINDS.index) if columns else None
        target = f"any monitored column (kinds: {', '.join(present)})" if present else ""
        out += _test_problems(("data_drift", "default"), dd.get("default"), present, target)
        specs = dd.get("columns")
        if isinstance(specs, Mapping):
            for name, spec in specs.items():
                kind = None
                if columns is not None:
                    if name not in columns:
                        out.append(
                            (("data_drift", "columns", name), f"unknown column {name!r}; valid: {', '.join(columns)}")
                        )
                    kind = columns.get(name)
                target = f"{kind} column {name!r}" if kind else ""
                out += _test_problems(("data_drift", "columns", name), spec, [kind] if kind else None, target)
    pdrift = raw.get("prediction_drift")
    if isinstance(pdrift, Mapping):
        col = pdrift.get("column", "prediction")
        kind = pdrift.get("kind") if pdrift.get("kind") in KINDS else None
        if kind is None and columns is not None and isinstance(col, str):
            kind = columns.get(col)
        target = f"{kind} column {col!r}" if kind else ""
        out += _test_problems(("prediction_drift",), pdrift, [kind] if kind else None, target)
    window = raw.get("window")
    if data_rows is not None and isinstance(window, Mapping):
        size = window.get("size")
        if _is_number(size) and size > data_rows:
            out.append((("window", "size"), f"window of {size} rows is larger than the data ({data_rows} rows)"))
    return out
