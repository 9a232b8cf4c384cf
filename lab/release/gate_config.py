"""The release gate's file, ``release_gate.yaml``: its schema and loader (light: no pandas,
so a bad file is reported before any heavy import). The checks are in :mod:`lab.release.gate`.

>>> load_gate("metrics: {roc_auc: {min: 0.7}}\\n").metrics["roc_auc"].min
0.7
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, model_validator

from lab.core import safe_yaml
from lab.core.frozen import Frozen
from lab.errors import UsageError

GateMetric = Literal["roc_auc", "average_precision", "brier_score", "accuracy", "balanced_accuracy", "f1",
                     "precision", "recall", "selection_rate"]
LOWER_IS_BETTER = frozenset({"brier_score"})


class Bound(Frozen):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one(self) -> "Bound":
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self


class SliceSpec(Frozen):
    column: str
    metric: GateMetric = "roc_auc"
    max_drop: float = Field(ge=0)
    min_rows: int = Field(default=200, ge=1)


class InvarianceSpec(Frozen):
    columns: list[str] = Field(min_length=1)
    max_flip_rate: float = Field(default=0.0, ge=0, le=1)


class DirectionalSpec(Frozen):
    column: str
    direction: Literal["increasing", "decreasing"]
    delta: float = Field(gt=0)
    max_violation_rate: float = Field(default=0.0, ge=0, le=1)


class LatencySpec(Frozen):
    p99_ms: float = Field(gt=0)
    calls: int = Field(default=200, ge=20, le=5000)


class GateConfig(Frozen):
    metrics: dict[GateMetric, Bound] = {}
    slices: SliceSpec | None = None
    invariance: InvarianceSpec | None = None
    directional: list[DirectionalSpec] = []
    schema_check: bool = Field(default=True, alias="schema")
    latency: LatencySpec | None = None


def load_gate(text: str, source: str = "release_gate.yaml") -> GateConfig:
    """The gate in ``text``; a UsageError naming the file, the key and its line otherwise."""
    try:
        doc = safe_yaml.parse(text)
    except safe_yaml.YamlProblem as exc:
        where = f" line {exc.line}" if exc.line else ""
        raise UsageError(f"{source}{where}: {exc.message}") from None
    if doc.duplicates:
        loc, line = doc.duplicates[0]
        raise UsageError(f"{source} line {line}: {'.'.join(str(p) for p in loc)} is written twice")
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a mapping of checks (metrics, slices, invariance, directional, "
                         "schema, latency)")
    try:
        return GateConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = doc.line(loc)
            where = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{where}{f' (line {line})' if line else ''}: {err['msg']}")
        raise UsageError(f"{source}: " + "; ".join(problems),
                         hint="the format is in the README, section Release gate") from None


__all__ = ["Bound", "DirectionalSpec", "GateConfig", "GateMetric", "InvarianceSpec", "LOWER_IS_BETTER", "LatencySpec",
           "SliceSpec", "load_gate"]
