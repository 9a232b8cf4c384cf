"""The answer key: a run's hidden ground truth, derived from the scenario and the seed.

Written once to ``<home>/answer_key.json`` when a home is first brought up; graders
read it, ``lab status`` never shows it. Same scenario and seed, same key.
"""

from __future__ import annotations

from typing import Any

from lab.scenario.schema import BadReleaseEvent, ConceptDriftEvent, DataDriftEvent, LabelDriftEvent, Scenario

SCHEMA_VERSION = 1

_DRIFT_TYPES = {DataDriftEvent: "data", ConceptDriftEvent: "concept", LabelDriftEvent: "label"}


def answer_key(scenario: Scenario, seed: int, drawn: dict[str, Any]) -> dict[str, Any]:
    drifts = []
    bad_release = None
    for e in scenario.timeline.events:
        kind = _DRIFT_TYPES.get(type(e))
        if kind:
            drifts.append(
                {
                    "event": e.name,
                    "type": kind,
                    "onset_day": e.day,
                    "width_days": e.width_days,
                    "magnitude": e.magnitude,
                    "features": list(getattr(e, "features", []) or []),
                }
            )
        elif isinstance(e, BadReleaseEvent):
            bad_release = {"event": e.name, "day": e.day, "version": scenario.version_of("defective")}
    return {
        "schema_version": SCHEMA_VERSION,
        "scenario": scenario.id,
        "seed": seed,
        "model": scenario.model.name,
        "label_delay_days": scenario.timeline.label_delay_days,
        "drifts": drifts,
        "bad_release": bad_release,
        "last_known_good_version": scenario.version_of("champion"),
        "challenger_version": scenario.version_of("challenger"),
        "randomised": drawn,
    }
