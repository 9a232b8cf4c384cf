"""Business KPIs and service objectives, window by window: one judge for the live monitor and the replay.

The live monitor (lab.monitoring.runner) and the replay evaluator
(lab.monitoring.observability_replay) both call :class:`ObservabilityJudge` once per
window, with

* the most recent rows whose outcomes have arrived (``label``, ``prediction`` and the
  KPI weight columns): each of the scenario's KPIs is computed on them
  (lab.scenario.business.kpi_value) and held to ``business.kpis``' bounds;
* the requests the window's rows came in (``latency_ms``, ``status``): the window's p99
  latency and error rate, held to ``system``'s objectives.

Each section has its own run of breaching windows and its own ``consecutive_windows``:
a business alarm never waits for a latency breach, nor the reverse. With no ``business:``
section the KPIs are still computed (the exporter and the dashboard show them) and never
alarm; likewise the system figures without ``system:``.

>>> import numpy as np, pandas as pd
>>> from lab.scenario.business import Business, Kpi
>>> from lab.monitoring.observability_config import BusinessSpec, SystemSpec
>>> biz = Business(kpis=[Kpi(name="bad_rate", description="bad approved", decision="negative",
...                          direction="lower_is_better")])
>>> judge = ObservabilityJudge(biz, BusinessSpec(kpis={"bad_rate": {"max": 0.2}}),
...                            SystemSpec(p99_latency_ms={"max": 300}), threshold=0.5, reference={"bad_rate": 0.1})
>>> rows = pd.DataFrame({"label": [1, 0, 0, 0] * 20, "prediction": [0.1] * 80})
>>> out = judge.window(rows, latencies=np.full(100, 20.0), failed=0)
>>> out["business"]["bad_rate"]["value"], out["business"]["bad_rate"]["breach"], out["alarms"]
(0.25, True, ['business'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lab.core.stats import p99
from lab.monitoring.observability_config import BusinessSpec, SystemSpec
from lab.scenario.business import MIN_KPI_ROWS, Business, kpi_value

LABEL = "label"
PREDICTION = "prediction"


def weight_columns(business: Business | None) -> list[str]:
    """The input columns the KPIs weigh outcomes by."""
    return sorted({k.weight for k in business.kpis if k.weight}) if business else []


def kpi_values(business: Business, rows: pd.DataFrame, threshold: float) -> dict[str, tuple[float | None, int]]:
    """Each KPI on ``rows`` (``label``, ``prediction``, weight columns): name -> (value, decided rows)."""
    y = rows[LABEL].to_numpy(dtype=float)
    s = rows[PREDICTION].to_numpy(dtype=float)
    return {k.name: kpi_value(k, y, s, threshold, rows[k.weight].to_numpy(dtype=float) if k.weight else None,
                              MIN_KPI_ROWS)
            for k in business.kpis}


class ObservabilityJudge:
    """Judges windows against ``business:`` and ``system:``, keeping each section's run of breaches."""

    def __init__(self, business: Business | None, business_spec: BusinessSpec | None,
                 system_spec: SystemSpec | None, threshold: float, reference: Mapping[str, float | None]) -> None:
        self.business = business
        self.business_spec = business_spec if business is not None else None
        self.system_spec = system_spec
        self.threshold = threshold
        self.reference = dict(reference)
        self.runs = {"business": 0, "system": 0}

    def kpis(self, rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
        """Each KPI's figures on ``rows``: value, rows, reference, bounds (absolute) and breach."""
        if self.business is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        values = kpi_values(self.business, rows, self.threshold) if len(rows) else {}
        for k in self.business.kpis:
            value, n = values.get(k.name, (None, 0))
            ref = self.reference.get(k.name)
            bound = self.business_spec.kpis.get(k.name) if self.business_spec else None
            hi, lo = bound.absolute(ref) if bound else (None, None)
            out[k.name] = {"value": value, "rows": n, "reference": ref, "max": hi, "min": lo,
                           "breach": bool(bound is not None and value is not None and bound.breached(value, ref))}
        return out

    def system(self, latencies: np.ndarray, failed: int) -> dict[str, Any]:
        n_ok = int(len(latencies))
        total = n_ok + int(failed)
        p = p99(latencies)
        rate = (failed / total) if total else None
        breaches = self.system_spec.breaches(p, rate) if self.system_spec else []
        return {"requests": total, "p99_ms": p, "error_rate": rate, "breaches": breaches}

    def window(self, labelled: pd.DataFrame, latencies: np.ndarray, failed: int) -> dict[str, Any]:
        """One window's figures, the sections that breach (``signals``) and those that alarm (``alarms``)."""
        business = self.kpis(labelled)
        system = self.system(latencies, failed)
        breach = {"business": any(v["breach"] for v in business.values()), "system": bool(system["breaches"])}
        need = {"business": self.business_spec.consecutive_windows if self.business_spec else None,
                "system": self.system_spec.consecutive_windows if self.system_spec else None}
        signals, alarms = [], []
        for section in ("business", "system"):
            self.runs[section] = self.runs[section] + 1 if breach[section] else 0
            if breach[section]:
                signals.append(section)
                if need[section] is not None and self.runs[section] >= need[section]:
                    alarms.append(section)
        return {"business": business, "system": system, "signals": signals, "alarms": alarms}


def write_latest(home: Any, record: Mapping[str, Any]) -> None:
    """The latest window's figures, for the KPI exporter (lab.monitoring.exporter), written atomically."""
    from lab.core.home import write_json_atomic
    from lab.monitoring.exporter import latest_path

    write_json_atomic(latest_path(home), {k: record.get(k) for k in (
        "index", "first_day", "last_day", "champion_version", "business", "system", "signals", "alarm")})
