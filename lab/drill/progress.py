"""What a team's journal says, read from the entries the console holds (pure functions).

The board shows each team's scenario day, the alerts its monitor raised and the actions
it took; the debrief measures, against the answer key, how long a team took to detect a
drift (its first alert on or after the onset) and to act (its first action on or after the
onset; for a bad release, its first rollback or promote after the release).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Entries shown as actions (the protocol's "shadow/promote/rollback/monitor.config/alias").
ACTION_KINDS = ("shadow.started", "shadow.stopped", "promote", "rollback", "monitor.config", "alias.requested",
                "alias.moved")
#: Actions a team takes itself: they count for the time to act.
RESPONSES = ("shadow.started", "promote", "rollback", "monitor.config")
#: Responses to a bad release: a rollback or a promotion away from it.
RELEASE_RESPONSES = ("rollback", "promote")
#: Every kind :func:`progress` and :func:`times` look at (the store reads only these).
READ_KINDS = (*ACTION_KINDS, "monitor.alert", "event.fired", "lab.paused", "lab.resumed", "scenario.ended")


def is_action(entry: dict[str, Any]) -> bool:
    return entry.get("kind") in ACTION_KINDS


def summary(entry: dict[str, Any], width: int = 90) -> str:
    """One line for an entry: who did it and its data, cut to ``width`` characters."""
    data = entry.get("data") or {}
    text = f"{entry.get('actor', '?')}: " + json.dumps(data, sort_keys=True, separators=(", ", ": "), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def day_of(entries: Sequence[dict[str, Any]]) -> float | None:
    """The scenario day of the latest entry that carries one."""
    for entry in reversed(entries):
        if isinstance(entry.get("day"), (int, float)):
            return float(entry["day"])
    return None


def action_row(entry: dict[str, Any]) -> dict[str, Any]:
    return {"seq": entry.get("seq"), "kind": entry.get("kind"), "time": entry.get("time"), "day": entry.get("day"),
            "summary": summary(entry)}


@dataclass(frozen=True)
class Progress:
    day: float | None
    alerts: int
    actions: list[dict[str, Any]]
    fired: dict[str, float]  # event name -> day it fired in this team's lab
    state: str  # "running" | "paused" | "ended" as the team's journal last said

    def as_json(self, last: int = 10) -> dict[str, Any]:
        return {"day": self.day, "alerts": self.alerts, "last_actions": self.actions[-last:]}


def progress(entries: Sequence[dict[str, Any]], day: float | None = None) -> Progress:
    """The team's progress from its entries (those of :data:`READ_KINDS` suffice); ``day``: its
    latest scenario day when known (else the latest of ``entries``)."""
    state = "running"
    fired: dict[str, float] = {}
    alerts = 0
    actions = []
    for e in entries:
        kind = e.get("kind")
        if kind == "monitor.alert":
            alerts += 1
        elif kind == "event.fired" and isinstance(e.get("day"), (int, float)):
            fired.setdefault(str((e.get("data") or {}).get("event")), float(e["day"]))
        elif kind == "lab.paused":
            state = "paused"
        elif kind == "lab.resumed":
            state = "running"
        elif kind == "scenario.ended":
            state = "ended"
        if kind in ACTION_KINDS:
            actions.append(action_row(e))
    return Progress(day_of(entries) if day is None else day, alerts, actions, fired, state)


def first_day(entries: Sequence[dict[str, Any]], kinds: Sequence[str], since: float) -> float | None:
    """The day of the first entry of ``kinds`` on or after day ``since``."""
    for e in entries:
        day = e.get("day")
        if e.get("kind") in kinds and isinstance(day, (int, float)) and day >= since:
            return float(day)
    return None


def times(entries: Sequence[dict[str, Any]], onset: float | None,
          responses: Sequence[str] = RESPONSES) -> tuple[float | None, float | None]:
    """(time to detect, time to act) in scenario days from the incident's ``onset`` (the
    earliest drift onset or bad release), ``None`` where the team has not (yet).

    Detect: its first ``monitor.alert`` on or after the onset. Act: its first entry of
    ``responses`` on or after the onset (:data:`RELEASE_RESPONSES` for a bad release).

    >>> journal = [{"kind": "monitor.alert", "day": 1.0}, {"kind": "monitor.alert", "day": 3.5},
    ...            {"kind": "rollback", "day": 4.0}]
    >>> times(journal, 3.0, RELEASE_RESPONSES)
    (0.5, 1.0)
    >>> times(journal, None)
    (None, None)
    """
    if onset is None:
        return None, None
    found = first_day(entries, ("monitor.alert",), onset)
    detect = None if found is None else round(found - onset, 3)
    found = first_day(entries, responses, onset)
    act = None if found is None else round(found - onset, 3)
    return detect, act
