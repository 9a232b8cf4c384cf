"""The candidate's ``monitoring.yaml``: schema, loading with every problem at once, and pinning.

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
:func:`resolve` pins per column (method, threshold, direction) from the reference data,
so a decision never flips silently when a reference crosses Evidently's 1,000-row
boundary. A method must be an Evidently stattest name (:mod:`lab.monitoring.methods`);
a threshold is read in its method's direction: a p-value method drifts when the score
is *below* it (so 0 < threshold < 1), a distance drifts when the score is *above* it
(threshold > 0). A threshold without a method is refused: whether it is a p-value or a
distance would depend on the default method, which changes at 1,000 reference rows.

``load_monitoring_config`` reports every problem in one :class:`ConfigError`, each with
its location and line:

>>> try:
...     load_monitoring_config("window: {size: 0}\\ndata_drift: {default: {method: kss}}\\n")
... except ConfigError as exc:
...     print(exc.problems[0])
...     print(exc.problems[1].loc, exc.problems[1].line)
monitoring.yaml:1: window.size: must be a positive number of rows, got 0
data_drift.default.method 2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, ValidationError, ValidationInfo
from pydantic import field_validator, model_validator

from lab.errors import ConfigError  # re-exported: where callers have always imported it
from lab.core import safe_yaml as _yaml
from lab.monitoring.methods import (
    KINDS,
    METHODS,
    ColumnKind,
    Direction,
    EvidentlyType,
    evidently_default,
    evidently_type,
    methods_for,
)

MAX_BYTES = _yaml.MAX_BYTES
EVIDENTLY_DRIFT_SHARE = 0.5  # Evidently's DataDriftPreset default
Metric = Literal["roc_auc", "average_precision", "accuracy", "balanced_accuracy", "f1", "precision", "recall", "brier_score"]
#: Metrics where lower is better: ``max_drop`` is the largest allowed rise above the reference, ``min`` does not apply.
LOWER_IS_BETTER = frozenset({"brier_score"})
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


# --------------------------------------------------------------------------- schema


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class AlertingSpec(_Frozen):
    consecutive_windows: StrictInt = 1

    @field_validator("consecutive_windows")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be at least 1, got {v}")
        return v


class MonitoringConfig(_Frozen):
    """A validated ``monitoring.yaml``. Build it with :func:`load_monitoring_config`."""

    window: WindowSpec | None = None
    data_drift: DataDriftSpec = DataDriftSpec()
    prediction_drift: PredictionDriftSpec | None = None
    performance: PerformanceSpec | None = None
    alerting: AlertingSpec = AlertingSpec()

    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr("monitoring config")

    @model_validator(mode="after")
    def _semantics(self, info: ValidationInfo) -> "MonitoringConfig":
        if info.context and info.context.get("skip_semantics"):
            return self  # the loader checks these itself, with line numbers
        problems = semantic_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(f"{_dotted(loc)}: {msg}" for loc, msg in problems))
        return self


# --------------------------------------------------------------------------- semantic rules


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _valid_list(kinds: Sequence[ColumnKind] | None) -> str:
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
            out.append((loc + ("method",), f"unknown method {method!r}{for_what}; {_valid_list(kinds)}"))
        elif kinds is not None and not any(info.applies_to(k) for k in kinds):
            out.append((loc + ("method",), f"method {method!r} does not apply to {target}; {_valid_list(kinds)}"))
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


# --------------------------------------------------------------------------- loading


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        index = isinstance(part, int) and not isinstance(part, bool)
        out += f"[{part}]" if index else (f".{part}" if out else str(part))
    return out


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model whose keys a pydantic location points into (for 'unknown key' messages)."""
    ann: Any = MonitoringConfig
    for part in loc:
        while get_origin(ann) is Union or type(ann).__name__ == "UnionType":
            ann = next(a for a in get_args(ann) if a is not type(None))
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            ann = field.annotation
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        else:
            return None
    while get_origin(ann) is Union or type(ann).__name__ == "UnionType":
        ann = next(a for a in get_args(ann) if a is not type(None))
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _schema_problems(exc: ValidationError) -> list[tuple[Loc, str]]:
    out = []
    for err in exc.errors(include_url=False):
        loc, msg = tuple(err["loc"]), err["msg"]
        if err["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            valid = ", ".join(model.model_fields) if model else "none"
            msg = f"unknown key {loc[-1]!r}; valid keys here: {valid}"
        elif err["type"] == "missing":
            msg = "required key missing"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        out.append((loc, msg))
    return out


def _read(path_or_text: str | Path) -> tuple[str, str]:
    """(text, source name). A ``Path``, or a one-line str ending .yaml/.yml, is a file."""
    is_path = isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and path_or_text.strip().endswith((".yaml", ".yml"))
    )
    if not is_path:
        return str(path_or_text), "monitoring.yaml"
    path = Path(path_or_text)
    source = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError([Problem("", None, f"cannot read {path}: {exc.strerror}", source)], source) from None
    if size > MAX_BYTES:
        raise ConfigError(
            [Problem("", None, f"file is {size:,} bytes; the limit is {MAX_BYTES:,} (1 MiB)", source)], source
        )
    try:
        return path.read_bytes().decode("utf-8"), source
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem("", None, f"not UTF-8 text ({exc.reason})", source)], source) from None


def load_monitoring_config(
    path_or_text: str | Path,
    columns: Mapping[str, ColumnKind] | None = None,
    data_rows: int | None = None,
) -> MonitoringConfig:
    """Read and validate a monitoring config; raise :class:`ConfigError` listing every problem.

    ``columns`` (name -> kind) enables the column checks (unknown names, methods that do
    not fit a column's kind); ``data_rows`` enables the window-size check.
    """
    if columns is not None:
        bad = {k: v for k, v in columns.items() if v not in KINDS}
        if bad:
            raise ValueError(f"unknown column kind(s) {bad}; known: {', '.join(KINDS)}")
    text, source = _read(path_or_text)
    try:
        doc = _yaml.parse(text)
    except _yaml.YamlProblem as exc:
        raise ConfigError([Problem("", exc.line, exc.message, source)], source) from None
    if not isinstance(doc.data, Mapping):
        found = "an empty document" if doc.data is None else f"a {type(doc.data).__name__}"
        msg = f"the top level must be a mapping with keys {', '.join(MonitoringConfig.model_fields)}; found {found}"
        raise ConfigError([Problem("", doc.line(()) or 1, msg, source)], source)

    found_problems: list[tuple[Loc, str]] = [
        (loc, f"duplicate key {loc[-1]!r}: only its last value would count") for loc, _ in doc.duplicates
    ]
    config = None
    try:
        config = MonitoringConfig.model_validate(doc.data, context={"skip_semantics": True})
    except ValidationError as exc:
        found_problems += _schema_problems(exc)
    found_problems += semantic_problems(doc.data, columns, data_rows)
    if found_problems:
        problems = []
        for loc, msg in found_problems:
            line = next((ln for d, ln in doc.duplicates if d == loc), None) or doc.line(loc)
            problems.append(Problem(_dotted(loc), line, msg, source))
        raise ConfigError(problems, source)
    assert config is not None
    config._lines = dict(doc.lines)
    config._source = source
    return config


# --------------------------------------------------------------------------- resolution


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
            [Problem(_dotted(loc), _line(config._lines, loc), msg, src) for loc, msg in problems], src
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
            msg = f"method {spec.method!r} does not apply to {kind} column {pred_col!r}; {_valid_list([kind])}"
            raise ConfigError([Problem(_dotted(loc), _line(config._lines, loc), msg, config._source)], config._source)
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


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
