"""``monitoring.yaml``'s ``business:`` and ``system:`` sections: business KPIs apart from service objectives.

::

    business:
      rows: 2000                 # each KPI on the most recent 2,000 rows with outcomes (default: the window size)
      consecutive_windows: 1     # alarm after this many breaching windows in a row
      kpis:                      # the scenario's KPIs (its `business.kpis`), each with bounds
        approved_default_rate: {max: 0.095}      # absolute
        loss_rate: {max_rise: 0.02}              # above its value on the reference window
    system:
      p99_latency_ms: {max: 300}                 # p99 of the window's request latencies
      error_rate: {max: 0.01}                    # share of the window's requests that failed
      consecutive_windows: 2

A KPI is computed from outcomes, which arrive ``label_delay_days`` after the decision, on
the most recent ``rows`` served rows whose outcomes are in (lab.scenario.business.kpi_value).
Its bounds: ``max`` and ``min`` are absolute; ``max_rise`` and ``max_drop`` are the largest
allowed move above and below the KPI's value on the reference window, in the KPI's units.
A KPI breaches when any bound is broken. System objectives are judged per monitoring
window on the requests the window's rows came in (every request, failed ones included).

Both sections are optional and independent of the drift sections; their alarms are the
signals ``business`` and ``system`` (lab.monitoring.alerts), each with its own
``consecutive_windows``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field, StrictInt, field_validator, model_validator

from lab.core.frozen import Frozen as _Frozen

Number = Annotated[float, Field(strict=True)]
Loc = tuple[Any, ...]
BOUNDS = ("max", "min", "max_rise", "max_drop")


def _finite(v: float | None) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError(f"must be a finite number, got {v}")
    return v


class KpiBound(_Frozen):
    """Bounds on one KPI: absolute (``max``, ``min``) or relative to the reference value."""

    max: Number | None = None
    min: Number | None = None
    max_rise: Number | None = Field(None, description="largest allowed rise above the reference value")
    max_drop: Number | None = Field(None, description="largest allowed fall below the reference value")

    @field_validator("max_rise", "max_drop")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        _finite(v)
        if v is not None and v <= 0:
            raise ValueError(f"must be above 0 (a largest allowed move), got {v}")
        return v

    @field_validator("max", "min")
    @classmethod
    def _absolute(cls, v: float | None) -> float | None:
        return _finite(v)

    @model_validator(mode="after")
    def _some(self) -> "KpiBound":
        if all(getattr(self, b) is None for b in BOUNDS):
            raise ValueError(f"give at least one bound: {', '.join(BOUNDS)}")
        if self.max is not None and self.min is not None and self.min >= self.max:
            raise ValueError(f"min {self.min} is not below max {self.max}: every value would breach")
        return self

    def breached(self, value: float, reference: float | None) -> bool:
        if self.max is not None and value > self.max:
            return True
        if self.min is not None and value < self.min:
            return True
        if reference is not None:
            if self.max_rise is not None and value - reference > self.max_rise:
                return True
            if self.max_drop is not None and reference - value > self.max_drop:
                return True
        return False

    def absolute(self, reference: float | None) -> tuple[float | None, float | None]:
        """The tightest (max, min) these bounds set, the relative ones read against ``reference``."""
        highs = [self.max] + ([reference + self.max_rise] if reference is not None and self.max_rise else [])
        lows = [self.min] + ([reference - self.max_drop] if reference is not None and self.max_drop else [])
        hi = [h for h in highs if h is not None]
        lo = [x for x in lows if x is not None]
        return (min(hi) if hi else None, max(lo) if lo else None)


class ConsecutiveWindows(_Frozen):
    """Alarm once this many windows in a row breach (the drift sections' ``alerting`` too)."""

    consecutive_windows: StrictInt = 1

    @field_validator("consecutive_windows")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be at least 1, got {v}")
        return v


class BusinessSpec(ConsecutiveWindows):
    rows: StrictInt | None = Field(None, description="rows with outcomes each KPI is computed on (default: window size)")
    kpis: dict[str, KpiBound] = Field(min_length=1)

    @field_validator("rows")
    @classmethod
    def _rows(cls, v: int | None) -> int | None:
        if v is not None and v < 50:
            raise ValueError(f"must be at least 50 rows (a rate on fewer is noise), got {v}")
        return v


class LatencySlo(_Frozen):
    max: Number = Field(description="milliseconds")

    @field_validator("max")
    @classmethod
    def _max(cls, v: float) -> float:
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"must be above 0 milliseconds, got {v}")
        return v


class ErrorRateSlo(_Frozen):
    max: Number = Field(description="a share of requests")

    @field_validator("max")
    @classmethod
    def _max(cls, v: float) -> float:
        if not 0 <= v < 1:
            raise ValueError(f"is a share of requests: 0 <= max < 1 (0.01 = 1%), got {v}")
        return v


class SystemSpec(ConsecutiveWindows):
    p99_latency_ms: LatencySlo | None = None
    error_rate: ErrorRateSlo | None = None

    @model_validator(mode="after")
    def _some(self) -> "SystemSpec":
        if self.p99_latency_ms is None and self.error_rate is None:
            raise ValueError("give p99_latency_ms, error_rate or both")
        return self

    def breaches(self, p99_ms: float | None, error_rate: float | None) -> list[str]:
        """The objectives a window with these figures breaks (``p99_latency_ms``, ``error_rate``)."""
        out = []
        if self.p99_latency_ms is not None and p99_ms is not None and p99_ms > self.p99_latency_ms.max:
            out.append("p99_latency_ms")
        if self.error_rate is not None and error_rate is not None and error_rate > self.error_rate.max:
            out.append("error_rate")
        return out


def kpi_problems(raw: Any, kpis: Sequence[str] | None) -> list[tuple[Loc, str]]:
    """KPI names the scenario does not compute (``kpis``: its KPI names; None: unchecked)."""
    if kpis is None or not isinstance(raw, Mapping):
        return []
    business = raw.get("business")
    if not isinstance(business, Mapping):
        return []
    if not kpis:
        return [(("business",), "this scenario computes no business KPIs (its file has no `business.kpis`)")]
    named = business.get("kpis")
    if not isinstance(named, Mapping):
        return []
    return [(("business", "kpis", name), f"unknown KPI {name!r}; this scenario computes: {', '.join(kpis)}")
            for name in named if name not in kpis]
