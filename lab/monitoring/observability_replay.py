"""Replaying ``business:`` and ``system:`` over hidden streams: does the KPI drop page, does noise not?

Two kinds of hidden stream, both seeded from the replay seed and never served live:

* **Business streams** (lab.scenario.drift, stream ids 3000+): the scenario's own
  segment-confined concept drift at onsets and magnitudes drawn from the scenario's
  ranges, plus streams without drift. Rows arrive at the live rate (``lab up``'s default
  speed); the champion (trained as the lab trains it) scores them; outcomes arrive
  ``label_delay_days`` later. Each window of ``window.size`` rows, every KPI is computed on
  the most recent ``business.rows`` rows whose outcomes have arrived and held to its bounds,
  with ``business.consecutive_windows`` (lab.monitoring.business.ObservabilityJudge, the
  live monitor's own judge).
* **System streams** (synthetic request latencies and failures per window, from the
  scenario's ``service_level``): *noise* streams, where the service is healthy but a few
  windows carry a garbage-collection pause or a handful of failed requests (a restart, a
  client timeout), and *incident* streams, where from a hidden window latency rises to
  several times the objective, or a share of requests fails, and stays so. The noise model
  is the lab's, stated in :data:`NOISE` and in the README, not a law of serving systems.

Figures, per section (:class:`SectionResult`): the share of incidents alarmed on within
the budget and how late; alarm episodes (pages) per week where nothing was wrong; and the
share a random alarm at the config's own false-alarm rate would have caught by luck (its
``chance``), so an always-alarming config gains nothing (as in lab.monitoring.evaluate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lab.monitoring.business import LABEL, PREDICTION, ObservabilityJudge, kpi_values, weight_columns
from lab.monitoring.config_schema import MonitoringConfig
from lab.monitoring.observability_config import BusinessSpec, SystemSpec
from lab.monitoring.suite import DEFAULT_WINDOW_SIZE, _scenario, live_rows_per_day, replay_inputs
from lab.scenario.drift import Stream
from lab.scenario.generators import generator_class
from lab.scenario.schema import ConceptDriftEvent, Scenario

BUSINESS_STREAM_BASE = 3000
_SYSTEM_KEY = 4_721
#: Business detection budget beyond the label delay, in days: the KPI needs rows with outcomes to move.
GRACE_DAYS = 5.0
#: System detection budget, in windows after the incident begins.
SYSTEM_BUDGET_WINDOWS = 3
#: The lab's noise model for a healthy service (per window): typical latency is a tenth of the
#: p99 objective, log-normal (sigma 0.45); with probability ``pause`` a window has a pause that
#: delays 3% of its requests by 1-2 objectives; each request fails with probability ``base_error``,
#: and with probability ``blip`` a window has 1-3 extra failures. An incident: latency x 2-5
#: objectives, or 5-20% of requests failing, for the rest of the stream.
NOISE = {"typical_share": 0.1, "sigma": 0.45, "pause": 0.04, "pause_share": 0.03, "base_error": 0.0002,
         "blip": 0.03}


@dataclass(frozen=True)
class ObservabilitySuite:
    magnitudes: int = 3  # drift magnitudes spread over the scenario's range
    episodes_per_magnitude: int = 2
    quiet_streams: int = 2  # business streams without drift; also the system noise streams
    incidents_per_kind: int = 2  # system incidents of each kind (latency, errors)


@dataclass
class Episode:
    id: str
    kind: str  # business: drift, none; system: latency, errors, noise
    onset_day: float | None
    alarm_days: list[float] = field(default_factory=list)  # the day of each window that alarmed
    page_days: list[float] = field(default_factory=list)  # the first window of each run of alarms
    windows: int = 0
    days: float = 0.0
    detected_day: float | None = None
    figures: list[dict[str, Any]] = field(default_factory=list)  # per window: day, values, alarm


@dataclass
class SectionResult:
    section: str
    configured: bool
    budget_days: float
    episodes: list[Episode]

    @property
    def incidents(self) -> list[Episode]:
        return [e for e in self.episodes if e.onset_day is not None]

    @property
    def hit_rate(self) -> float:
        inc = self.incidents
        return sum(e.detected_day is not None for e in inc) / len(inc) if inc else 0.0

    @property
    def delays(self) -> list[float]:
        return [e.detected_day - e.onset_day for e in self.incidents if e.detected_day is not None]  # type: ignore[operator]

    @property
    def quiet_days(self) -> float:
        """Days of stream where nothing was wrong: the quiet streams, and incidents before their onset."""
        return sum(e.days if e.onset_day is None else e.onset_day for e in self.episodes)

    @property
    def false_pages(self) -> int:
        return sum(sum(1 for d in e.page_days if e.onset_day is None or d < e.onset_day) for e in self.episodes)

    @property
    def false_pages_per_week(self) -> float:
        return 7.0 * self.false_pages / self.quiet_days if self.quiet_days else 0.0

    @property
    def false_window_rate(self) -> float:
        quiet = [(d, e) for e in self.episodes for d in _window_days(e) if e.onset_day is None or d < e.onset_day]
        alarms = sum(1 for e in self.episodes for d in e.alarm_days if e.onset_day is None or d < e.onset_day)
        return alarms / len(quiet) if quiet else 0.0

    @property
    def chance(self) -> float:
        """What luck catches: the share of moments where nothing was wrong from which the config
        alarms within the budget anyway (measured on the quiet streams and before each onset, where
        the whole budget fits). An always-alarming config scores 1."""
        starts = hits = 0
        for e in self.episodes:
            days = _window_days(e)
            alarms = [w["alarm"] for w in e.figures]
            end = e.onset_day if e.onset_day is not None else e.days
            for i, d in enumerate(days):
                if d + self.budget_days > end:
                    break
                starts += 1
                hits += any(a for a, x in zip(alarms[i:], days[i:]) if x <= d + self.budget_days)
        return hits / starts if starts else 0.0

    @property
    def windows_per_day(self) -> float:
        days = sum(e.days for e in self.episodes)
        return sum(e.windows for e in self.episodes) / days if days else 1.0

    def summary(self) -> dict[str, Any]:
        return {"section": self.section, "configured": self.configured, "incidents": len(self.incidents),
                "hit_rate": round(self.hit_rate, 4), "chance": round(self.chance, 4),
                "mean_delay_days": round(float(np.mean(self.delays)), 3) if self.delays else None,
                "budget_days": round(self.budget_days, 3), "false_pages": self.false_pages,
                "false_pages_per_week": round(self.false_pages_per_week, 3), "quiet_days": round(self.quiet_days, 2)}


def _window_days(e: Episode) -> list[float]:
    return [w["day"] for w in e.figures]


@dataclass
class ObservabilityResult:
    business: SectionResult
    system: SectionResult
    label_delay_days: float
    window_size: int
    rows_per_day: int

    def summary(self) -> dict[str, Any]:
        return {"business": self.business.summary(), "system": self.system.summary(),
                "label_delay_days": self.label_delay_days, "window_size": self.window_size,
                "rows_per_day": self.rows_per_day}


# --------------------------------------------------------------------------- business


def _drift_event(sc: Scenario) -> ConceptDriftEvent:
    events = [e for e in sc.timeline.events if isinstance(e, ConceptDriftEvent)]
    if not events:
        raise ValueError(f"scenario {sc.id!r} has no concept drift to replay the business KPIs against")
    return events[0]


def _ranges(scenario: Scenario, event: ConceptDriftEvent) -> dict[str, tuple[float, float]]:
    """The event's day, magnitude and width ranges, as the scenario randomises them (else the value itself)."""
    out = {"day": (event.day, event.day), "magnitude": (event.magnitude, event.magnitude),
           "width_days": (event.width_days, event.width_days)}
    for r in scenario.randomised:
        parts = r.path.split(".")
        if parts[:3] == ["timeline", "events", event.name] and len(parts) == 4 and r.range and parts[3] in out:
            out[parts[3]] = (float(r.range[0]), float(r.range[1]))
    return out


def _business_plan(scenario: Scenario, seed: int, suite: ObservabilitySuite) -> list[dict[str, Any]]:
    event = _drift_event(scenario)
    ranges = _ranges(scenario, event)
    rng = np.random.default_rng([seed, BUSINESS_STREAM_BASE])
    lo, hi = ranges["magnitude"]
    mags = np.linspace(lo, hi, suite.magnitudes) if hi > lo else [lo]
    plans = []
    for m in mags:
        for _ in range(suite.episodes_per_magnitude):
            d_lo, d_hi = ranges["day"]
            w_lo, w_hi = ranges["width_days"]
            plans.append({"kind": "drift", "day": float(rng.integers(int(d_lo), int(d_hi) + 1)),
                          "magnitude": float(round(m, 3)), "width_days": float(rng.integers(int(w_lo), int(w_hi) + 1))})
    plans += [{"kind": "none"} for _ in range(suite.quiet_streams)]
    return plans


def _business_frames(scenario: Scenario, seed: int, suite: ObservabilitySuite, rpd: int) -> list[tuple[dict, pd.DataFrame]]:
    replay = replay_inputs(scenario, seed)
    sc = replay.scenario
    event = _drift_event(sc)
    gen = generator_class(sc.generator.name)(**sc.generator.params)
    out = []
    for k, plan in enumerate(_business_plan(sc, seed, suite)):
        events = [] if plan["kind"] == "none" else [event.model_copy(update={
            "day": plan["day"], "magnitude": plan["magnitude"], "width_days": plan["width_days"]})]
        stream = Stream(gen, events, seed, stream_id=BUSINESS_STREAM_BASE + k)
        frame = pd.concat([stream.day(d, rpd) for d in range(int(sc.timeline.days))], ignore_index=True)
        frame[PREDICTION] = replay.model.predict_proba(frame[replay.features])[:, 1]
        out.append((plan, frame))
    return out


_FRAMES: dict[tuple[str, int, ObservabilitySuite, int], list[tuple[dict, pd.DataFrame]]] = {}


def _run_business(sc: Scenario, seed: int, spec: BusinessSpec | None, size: int, suite: ObservabilitySuite,
                  rpd: int) -> SectionResult:
    delay = float(sc.timeline.label_delay_days)
    if sc.business is None or not any(isinstance(e, ConceptDriftEvent) for e in sc.timeline.events):
        return SectionResult("business", spec is not None, delay + GRACE_DAYS, [])  # no KPIs, or nothing to drop them
    key = (sc.model_dump_json(), int(seed), suite, rpd)
    if key not in _FRAMES:
        _FRAMES.clear()  # one scenario at a time: frames are large
        _FRAMES[key] = _business_frames(sc, seed, suite, rpd)
    replay = replay_inputs(sc, seed)
    threshold = sc.model.decision_threshold.value
    reference = {k: v for k, (v, _) in kpi_values(sc.business, replay.reference, threshold).items()} \
        if sc.business else {}
    cols = [LABEL, PREDICTION, *weight_columns(sc.business)]
    rows = (spec.rows if spec and spec.rows else size)
    episodes = []
    for k, (plan, frame) in enumerate(_FRAMES[key]):
        judge = ObservabilityJudge(sc.business, spec, None, threshold, reference)
        ep = Episode(f"business-{k}", plan["kind"], plan.get("day"), days=float(sc.timeline.days))
        day = frame["day"].to_numpy()
        data = frame[cols]
        running = False
        for start in range(0, len(frame) - size + 1, size):
            now = float(day[start + size - 1])
            arrived = int(np.searchsorted(day, now - delay, side="right"))  # rows whose outcomes are in
            labelled = data.iloc[max(0, arrived - rows):arrived]
            out = judge.window(labelled, np.empty(0), 0)
            alarm = "business" in out["alarms"]
            ep.windows += 1
            ep.figures.append({"day": now, "alarm": alarm,
                               "values": {n: v["value"] for n, v in out["business"].items()}})
            if alarm:
                ep.alarm_days.append(now)
                if not running:
                    ep.page_days.append(now)
            running = alarm
        ep.detected_day = _detected(ep, delay + GRACE_DAYS)
        episodes.append(ep)
    return SectionResult("business", spec is not None, delay + GRACE_DAYS, episodes)


def _detected(ep: Episode, budget_days: float) -> float | None:
    if ep.onset_day is None:
        return None
    return next((d for d in ep.alarm_days if ep.onset_day <= d <= ep.onset_day + budget_days), None)


# --------------------------------------------------------------------------- system


def _system_windows(rng: np.random.Generator, kind: str, n_windows: int, requests: int, slo_ms: float,
                    onset: int | None) -> list[tuple[np.ndarray, int]]:
    typical = NOISE["typical_share"] * slo_ms
    factor = float(rng.uniform(2, 5))
    failing = float(rng.uniform(0.05, 0.2))
    out = []
    for w in range(n_windows):
        lat = typical * np.exp(rng.normal(0, NOISE["sigma"], requests))
        failed = int(rng.binomial(requests, NOISE["base_error"]))
        if rng.random() < NOISE["pause"]:
            hit = rng.random(requests) < NOISE["pause_share"]
            lat[hit] += rng.uniform(1, 2, int(hit.sum())) * slo_ms
        if rng.random() < NOISE["blip"]:
            failed += int(rng.integers(1, 4))
        if onset is not None and w >= onset:
            if kind == "latency":
                lat = lat / typical * (factor * slo_ms / math.exp(2.33 * NOISE["sigma"]))
            else:
                failed += int(rng.binomial(requests, failing))
        failed = min(failed, requests)
        out.append((lat[: requests - failed], failed))
    return out


def _run_system(sc: Scenario, seed: int, spec: SystemSpec | None, size: int, suite: ObservabilitySuite,
                rpd: int) -> SectionResult:
    slo_ms = sc.service_level.p99_ms if sc.service_level else 300.0
    windows_per_day = rpd / size
    n_windows = max(10, int(sc.timeline.days * windows_per_day))
    requests = max(20, int(round(size / sc.traffic.batch_size)))
    rng = np.random.default_rng([seed, _SYSTEM_KEY])
    kinds = ["latency"] * suite.incidents_per_kind + ["errors"] * suite.incidents_per_kind + ["noise"] * suite.quiet_streams
    episodes = []
    for k, kind in enumerate(kinds):
        onset = None if kind == "noise" else int(rng.integers(n_windows // 4, n_windows // 2))
        judge = ObservabilityJudge(None, None, spec, 0.5, {})
        ep = Episode(f"system-{k}", kind, None if onset is None else onset / windows_per_day,
                     days=n_windows / windows_per_day)
        running = False
        for w, (lat, failed) in enumerate(_system_windows(rng, kind, n_windows, requests, slo_ms, onset)):
            out = judge.window(pd.DataFrame(), lat, failed)
            alarm = "system" in out["alarms"]
            now = (w + 1) / windows_per_day
            ep.windows += 1
            ep.figures.append({"day": now, "alarm": alarm, "p99_ms": out["system"]["p99_ms"],
                               "error_rate": out["system"]["error_rate"]})
            if alarm:
                ep.alarm_days.append(now)
                if not running:
                    ep.page_days.append(now)
            running = alarm
        ep.detected_day = _detected(ep, SYSTEM_BUDGET_WINDOWS / windows_per_day)
        episodes.append(ep)
    return SectionResult("system", spec is not None, SYSTEM_BUDGET_WINDOWS / windows_per_day, episodes)


# --------------------------------------------------------------------------- entry


def replay_observability(config: MonitoringConfig, scenario: Scenario | str, seed: int = 0,
                         suite: ObservabilitySuite = ObservabilitySuite(), rows_per_day: int | None = None
                         ) -> ObservabilityResult:
    """Replay ``config``'s ``business:`` and ``system:`` over the hidden streams of ``scenario`` at ``seed``."""
    sc = _scenario(scenario, seed)
    size = (config.window.size if config.window else None) or DEFAULT_WINDOW_SIZE
    rpd = rows_per_day or live_rows_per_day(sc)
    business = _run_business(sc, seed, config.business, size, suite, rpd)
    system = _run_system(sc, seed, config.system, size, suite, rpd)
    return ObservabilityResult(business, system, float(sc.timeline.label_delay_days), size, rpd)
