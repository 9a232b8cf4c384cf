"""Firing a timeline event: what happens, and its journal entry.

Used by the timeline flow when an event's day comes, and by ``lab inject`` when a
facilitator fires one early. Firing is idempotent: an event fires once per run.

* ``deploy``: the champion goes live (journaled).
* drift events: the traffic follows the drifted distribution from the event's onset
  (the drift engine reads the onset from the effective scenario; journaled).
* ``bad_release``: the release pipeline moves ``champion`` to the defective version.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from typing import Any, Iterator

from lab.release.audit import request_alias_move
from lab.errors import UsageError
from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.scenario.schema import Scenario


def fired_events(home: Home) -> dict[str, dict[str, Any]]:
    return {e["data"]["event"]: e for e in Journal(home.journal).entries("event.fired")}


def next_event(home: Home, scenario: Scenario) -> str | None:
    fired = fired_events(home)
    pending = sorted((e for e in scenario.timeline.events if e.name not in fired), key=lambda e: e.day)
    return pending[0].name if pending else None


@contextmanager
def _timeline_lock(home: Home) -> Iterator[None]:
    path = home.root / "timeline" / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def fire(home: Home, scenario: Scenario, name: str, *, actor: str, mlflow_url: str | None,
         skip_if_fired: bool = False) -> dict[str, Any] | None:
    """Fire ``name`` once (under a lock, so the timeline and `lab inject` never both fire it).

    An event that already fired is an error, or ``None`` with ``skip_if_fired``.
    """
    with _timeline_lock(home):
        if skip_if_fired and name in fired_events(home):
            return None
        return _fire(home, scenario, name, actor=actor, mlflow_url=mlflow_url)


def _fire(home: Home, scenario: Scenario, name: str, *, actor: str, mlflow_url: str | None) -> dict[str, Any]:
    names = [e.name for e in scenario.timeline.events]
    if name not in names:
        raise UsageError(f"unknown event {name!r} in scenario {scenario.id}", hint=f"events: {', '.join(names)}")
    if name in fired_events(home):
        raise UsageError(f"event {name!r} has already fired")
    event = scenario.event(name)
    day = Clock(home.clock_json).day()
    data: dict[str, Any] = {"event": name, "type": event.type, "scheduled_day": event.day}
    if event.type == "bad_release":
        version = scenario.version_of("defective")
        if mlflow_url is None:
            raise UsageError("a bad release needs the lab's MLflow server: is the lab up?")
        request_alias_move(home, mlflow_url, scenario.model.name, "champion", version, actor="release-pipeline",
                           reason=f"scheduled release of v{version}", via=f"timeline event {name}")
        data["version"] = version
    return Journal(home.journal).append("event.fired", data, day=day, actor=actor)
