"""The run a lab home holds: its scenario resolved with the seed, plus facilitator overrides.

``lab inject`` can fire an event before its scheduled day; the new onset is kept in
``<home>/timeline_overrides.json`` ({event name: day}) so the drift engine, the traffic
and the answer key all agree on when it really began.

``lab pause`` / ``lab resume`` freeze and restart the run's scenario clock
(:func:`pause`, :func:`resume`); a drill's facilitator can also end it early (:func:`end`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lab.errors import StateError
from lab.core.home import Clock, Home, read_json, write_json_atomic
from lab.core.journal import Journal
from lab.scenario.schema import Scenario, load_scenario, resolve


def overrides_path(home: Home):
    return home.root / "timeline_overrides.json"


def read_overrides(home: Home) -> dict[str, float]:
    """The event days `lab inject` moved ({event name: day}); empty when none moved."""
    return {str(k): float(v) for k, v in (read_json(overrides_path(home)) or {}).items()}


def apply_overrides(scenario: Scenario, overrides: Mapping[str, float]) -> Scenario:
    """``scenario`` with the days of the events named in ``overrides`` moved (other names are ignored)."""
    if not overrides:
        return scenario
    data = scenario.model_dump(mode="python")
    for event in data["timeline"]["events"]:
        if event["name"] in overrides:
            event["day"] = float(overrides[event["name"]])
    return Scenario.model_validate(data)


def effective_scenario(home: Home) -> tuple[Scenario, int]:
    """The scenario this home runs: resolved with its seed, event days overridden."""
    cfg = home.config()
    seed = cfg.seed
    scenario, _ = resolve(load_scenario(cfg.scenario_file), seed)
    return apply_overrides(scenario, read_overrides(home)), seed


def set_override(home: Home, event: str, day: float) -> None:
    """Record that ``event`` began on ``day`` (rounded to 1e-4 day, as every reader sees it)."""
    overrides: dict[str, Any] = read_json(overrides_path(home)) or {}
    overrides[event] = round(float(day), 4)
    write_json_atomic(overrides_path(home), overrides)


def pause(home: Home, actor: str = "user") -> dict[str, Any] | None:
    """Freeze the scenario clock (traffic and timeline follow it); journal ``lab.paused``.

    Returns the journal entry, or None when the lab was already paused. Scenario days do
    not pass while paused, so grading by scenario days is unaffected.
    """
    clock = Clock(home.clock_json)
    if clock.ended():
        raise StateError(f"the scenario in {home.root} has ended (day {clock.day():.2f}); nothing to pause")
    if clock.paused:
        return None
    clock.pause()
    return Journal(home.journal).append("lab.paused", {"day": clock.day()}, day=clock.day(), actor=actor)


def resume(home: Home, actor: str = "user") -> dict[str, Any] | None:
    """Run the clock again from the day it was paused on; journal ``lab.resumed``.

    Returns the journal entry, or None when the lab was not paused.
    """
    clock = Clock(home.clock_json)
    if not clock.paused:
        return None
    paused = list(Journal(home.journal).entries("lab.paused"))
    day = clock.day()  # the frozen day: the run continues from it
    clock.resume()
    data: dict[str, Any] = {"day": day}
    if paused:
        data["paused_seconds"] = round(time.time() - _unix(paused[-1]["time"]), 1)
    return Journal(home.journal).append("lab.resumed", data, day=day, actor=actor)


def end(home: Home) -> float | None:
    """End the scenario now (a drill's facilitator): its clock's last day becomes today.

    The timeline sees the clock ended and journals ``scenario.ended`` as at the scenario's
    own last day; traffic holds the final state. Returns the day it ended on, or None when
    it had ended already.
    """
    clock = Clock(home.clock_json)
    if clock.ended():
        return None
    day = clock.day()
    clock.set_end(day)
    return day


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def scenario_state(home: Home, lab_running: bool) -> str:
    """``ended`` (the clock reached the last day), ``paused``, ``running``, ``starting``
    (services up, clock not started yet) or ``stopped``."""
    clock = Clock(home.clock_json)
    if clock.ended() or any(True for _ in Journal(home.journal).entries("scenario.ended")):
        return "ended"
    if clock.paused:
        return "paused"
    if not lab_running:
        return "stopped"
    return "running" if clock.running else "starting"
