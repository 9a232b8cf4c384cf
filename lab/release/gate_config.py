"""The release gate's file, ``release_gate.yaml``: its schema and loader (light: no pandas,
so a bad file is reported before any heavy import). The checks are in :mod:`lab.release.gate`.

>>> load_gate("metrics: {roc_auc: {min: 0.7}}\\n").metrics["roc_auc"].min
0.7
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from lab.core.frozen import Frozen
from lab.core.metrics import LOWER_IS_BETTER
from lab.core.yaml_model import validate_yaml

GateMetric = Literal["roc_auc", "average_precision", "brier_score", "accuracy", "balanced_accuracy", "f1",
                     "precision", "recall", "selection_rate"]


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
    slices: list[SliceSpec] = []  # one mapping, or a list of them (one check each)
    invariance: InvarianceSpec | None = None
    directional: list[DirectionalSpec] = []
    schema_check: bool = Field(default=True, alias="schema")
    latency: LatencySpec | None = None

    @field_validator("slices", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, dict) else v


def load_gate(text: str, source: str = "release_gate.yaml") -> GateConfig:
    """The gate in ``text``; a UsageError naming the file, each key and its line otherwise."""
    return validate_yaml(text, GateConfig, source, hint="the format is in the README, section Release gate")


__all__ = ["Bound", "DirectionalSpec", "GateConfig", "GateMetric", "InvarianceSpec", "LOWER_IS_BETTER", "LatencySpec",
           "SliceSpec", "load_gate"]
