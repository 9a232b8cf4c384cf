"""The scenario timeline as the user may see it: which events fired, which are coming.

Fired events come from the journal (``event.fired``). Coming incidents are listed by
name only: their day and parameters may be randomised by the seed, and the answer
key is not for the candidate's eyes. Coming deploys and releases are on the release
calendar the team knows: their type and day are shown.
"""

from __future__ import annotations

from typing import Any

from lab.core.home import Home
from lab.core.journal import Journal
from lab.scenario.schema import Scenario


#: Event types the team knows in advance (the release calendar).
PUBLIC_TYPES = frozenset({"deploy", "release"})


def public_events(home: Home, scenario: Scenario) -> list[dict[str, Any]]:
    fired = {e["data"].get("event"): e for e in Journal(home.journal).entries("event.fired")}
    out = []
    for ev in scenario.timeline.events:
        if ev.name in fired:
            out.append({"name": ev.name, "type": ev.type, "status": "fired", "day": fired[ev.name]["day"]})
        else:
            known = ev.type in PUBLIC_TYPES
            out.append({"name": ev.name, "type": ev.type if known else None, "status": "coming",
                        "day": ev.day if known else None})
    return out
