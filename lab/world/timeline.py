"""The scenario timeline as the user may see it: which events fired, which are coming.

Fired events come from the journal (``event.fired``). Coming events are listed by
name only: their day and parameters may be randomised by the seed, and the answer
key is not for the candidate's eyes.
"""

from __future__ import annotations

from typing import Any

from lab.core.home import Home
from lab.core.journal import Journal
from lab.scenario.schema import Scenario


def public_events(home: Home, scenario: Scenario) -> list[dict[str, Any]]:
    fired = {e["data"].get("event"): e for e in Journal(home.journal).entries("event.fired")}
    out = []
    for ev in scenario.timeline.events:
        if ev.name in fired:
            out.append({"name": ev.name, "type": ev.type, "status": "fired", "day": fired[ev.name]["day"]})
        else:
            out.append({"name": ev.name, "type": None, "status": "coming", "day": None})
    return out
