"""Loading the candidate's ``monitoring.yaml``: every problem at once, each with its location and line.

The format (models and rules) is :mod:`lab.monitoring.config_schema`, pinning against
reference data :mod:`lab.monitoring.pinning`; both are re-exported here, where callers
have always imported them.

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

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from lab.core import safe_yaml as _yaml
from lab.errors import ConfigError  # re-exported: where callers have always imported it
from lab.monitoring.config_schema import (
    EVIDENTLY_DRIFT_SHARE,
    LOWER_IS_BETTER,
    AlertingSpec,
    DataDriftSpec,
    DriftTest,
    Loc,
    Metric,
    MonitoringConfig,
    PerformanceSpec,
    PredictionDriftSpec,
    Problem,
    WindowSpec,
    dotted,
    semantic_problems,
)
from lab.monitoring.methods import KINDS, ColumnKind
from lab.monitoring.observability_config import kpi_problems
from lab.monitoring.pinning import ResolvedColumn, ResolvedConfig, resolve

MAX_BYTES = _yaml.MAX_BYTES


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


def read_config_text(path_or_text: str | Path) -> tuple[str, str]:
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
    kpis: Sequence[str] | None = None,
) -> MonitoringConfig:
    """Read and validate a monitoring config; raise :class:`ConfigError` listing every problem.

    ``columns`` (name -> kind) enables the column checks (unknown names, methods that do
    not fit a column's kind); ``data_rows`` enables the window-size check; ``kpis`` (the
    scenario's business KPI names) the check of ``business.kpis``.
    """
    if columns is not None:
        bad = {k: v for k, v in columns.items() if v not in KINDS}
        if bad:
            raise ValueError(f"unknown column kind(s) {bad}; known: {', '.join(KINDS)}")
    text, source = read_config_text(path_or_text)
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
    found_problems += kpi_problems(doc.data, kpis)
    if found_problems:
        problems = []
        for loc, msg in found_problems:
            line = next((ln for d, ln in doc.duplicates if d == loc), None) or doc.line(loc)
            problems.append(Problem(dotted(loc), line, msg, source))
        raise ConfigError(problems, source)
    assert config is not None
    config._lines = dict(doc.lines)
    config._source = source
    return config


__all__ = [
    "EVIDENTLY_DRIFT_SHARE", "LOWER_IS_BETTER", "MAX_BYTES", "AlertingSpec", "ConfigError", "DataDriftSpec", "DriftTest",
    "Metric", "MonitoringConfig", "PerformanceSpec", "PredictionDriftSpec", "Problem", "ResolvedColumn",
    "ResolvedConfig", "WindowSpec", "load_monitoring_config", "read_config_text", "resolve", "semantic_problems",
]
