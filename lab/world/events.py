"""Firing a timeline event: what happens, and its journal entry; and firing one early.

Used by the timeline flow when an event's day comes (:func:`fire`), and by ``lab inject``
when a facilitator fires one now (:func:`inject`). Firing is idempotent: an event fires
once per run.

* ``deploy``: the champion goes live (journaled).
* drift events: the traffic follows the drifted distribution from the event's onset
  (the drift engine reads the onset from the effective scenario; journaled).
* ``bad_release``: the release pipeline moves ``champion`` to the defective version.
* ``release``: the release pipeline gates the candidate version and promotes it only if it
  passes (:mod:`lab.release.pipeline`); the decision goes into the entry.

This module imports nothing heavy at the top (the scenario schema pulls in pandas), so
:func:`inject` answers a mistyped event name at once; what firing needs is imported when
it fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager

from lab.core.checks import check_event_name
from lab.core.home import Clock, Home, file_lock
from lab.core.journal import Journal
from lab.errors import StateError, UsageError

if TYPE_CHECKING:
    from lab.scenario.schema import Scenario


def fired_events(home: Home) -> dict[str, dict[str, Any]]:
    return {e["data"]["event"]: e for e in Journal(home.journal).entries("event.fired")}


def next_event(home: Home, scenario: Scenario) -> str | None:
    fired = fired_events(home)
    pending = sorted((e for e in scenario.timeline.events if e.name not in fired), key=lambda e: e.day)
    return pending[0].name if pending else None


def _timeline_lock(home: Home) -> ContextManager[None]:
    return file_lock(home.root / "timeline" / ".lock")


def fire(home: Home, scenario: Scenario, name: str, *, actor: str, mlflow_url: str | None,
         skip_if_fired: bool = False) -> dict[str, Any] | None:
    """Fire ``name`` once (under a lock, so the timeline and `lab inject` never both fire it).

    An event that already fired is an error, or ``None`` with ``skip_if_fired``.
    """
    with _timeline_lock(home):
        if skip_if_fired and name in fired_events(home):
            return None
        return _fire(home, scenario, name, actor=actor, mlflow_url=mlflow_url)


def _fire(home: Home, scenario: Scenario, name: str, *, actor: str, mlflow_url: str | None,
          day: float | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    names = [e.name for e in scenario.timeline.events]
    if name not in names:
        raise UsageError(f"unknown event {name!r} in scenario {scenario.id}", hint=f"events: {', '.join(names)}")
    if name in fired_events(home):
        raise UsageError(f"event {name!r} has already fired")
    event = scenario.event(name)
    day = Clock(home.clock_json).day() if day is None else day
    data: dict[str, Any] = {"event": name, "type": event.type, "scheduled_day": event.day, **(extra or {})}
    if event.type == "bad_release":
        from lab.release.audit import request_alias_move

        version = scenario.version_of("defective")
        if mlflow_url is None:
            raise UsageError("a bad release needs the lab's MLflow server: is the lab up?")
        request_alias_move(home, mlflow_url, scenario.model.name, "champion", version, actor="release-pipeline",
                           reason=f"scheduled release of v{version}", via=f"timeline event {name}")
        data["version"] = version
    elif event.type == "release":
        from lab.release.pipeline import release

        if mlflow_url is None:
            raise UsageError("a release needs the lab's MLflow server: is the lab up?")
        data.update(release(home, scenario.model.name, event.version, mlflow_url, home.url("serving"),
                            via=f"timeline event {name}"))
    return Journal(home.journal).append("event.fired", data, day=day, actor=actor)


# --------------------------------------------------------------------------- lab inject


@dataclass(frozen=True)
class Injected:
    """What `lab inject` did: fired ``event`` on ``day``; ``moved``: it was due later, on ``scheduled_day``,
    so its onset moved to ``day`` (for the traffic, the drift engine and the answer key)."""

    event: str
    type: str
    day: float
    scheduled_day: float
    moved: bool


def check_injectable(home: Home, event: str | None) -> None:
    """What `lab inject EVENT` can check from the home's files alone: a lab is there, the
    scenario has ``event`` and it has not fired. No heavy import: a typo is answered at once."""
    cfg = home.config()
    if not cfg:
        raise StateError(f"no lab in {home.root}", hint="start one with `lab up SCENARIO` (or pass --home DIR)")
    if event is not None:
        check_event_name(event, Path(cfg.scenario_file or ""), str(cfg.scenario))
        if event in fired_events(home):
            raise UsageError(f"event {event!r} has already fired")


def inject(home: Home, event: str | None = None, *, lab_running: Callable[[Home], bool],
           mlflow_url: str | None = None) -> Injected:
    """Fire ``event`` (default: the next to come) now, for a facilitator running a drill.

    Every check comes first: the event (before any heavy import), then that the lab runs
    (``lab_running``, given by the caller: liveness belongs to the stack, a stage above).
    Then, under the timeline's lock: fire it (journaled ``event.fired``, actor
    ``facilitator``); if it was due later, record its new onset (``timeline_overrides.json``,
    :func:`lab.scenario.run.set_override`) and rewrite the answer key from the one builder,
    so it lists the event under ``injected``. Firing first means a failed fire (MLflow down
    for a bad release) moves no onset.
    """
    check_injectable(home, event)
    if not lab_running(home):
        raise StateError(f"the lab in {home.root} is not running", hint="`lab up` first")
    from lab.scenario import answer_key
    from lab.scenario.run import effective_scenario, set_override

    scenario, _ = effective_scenario(home)
    if event is None:
        event = next_event(home, scenario)
        if event is None:
            raise UsageError("every event of this scenario has already fired")
    names = [e.name for e in scenario.timeline.events]
    if event not in names:  # the YAML could not be read cheaply: the full scenario says it
        raise UsageError(f"unknown event {event!r} in scenario {scenario.id}", hint=f"events: {', '.join(names)}")
    scheduled = scenario.event(event).day
    with _timeline_lock(home):
        now = round(Clock(home.clock_json).day(), 4)  # as timeline_overrides.json keeps it
        moved = scheduled > now
        entry = _fire(home, scenario, event, actor="facilitator", mlflow_url=mlflow_url, day=now,
                      extra={"onset_moved_to": now} if moved else None)
        if moved:
            set_override(home, event, now)
            answer_key.write(home, answer_key.build_for_home(home))
    return Injected(event=event, type=entry["data"]["type"], day=entry["day"], scheduled_day=scheduled, moved=moved)
