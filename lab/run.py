"""The run a lab home holds: its scenario resolved with the seed, plus facilitator overrides.

``lab inject`` can fire an event before its scheduled day; the new onset is kept in
``<home>/timeline_overrides.json`` ({event name: day}) so the drift engine, the traffic
and the answer key all agree on when it really began.
"""

from __future__ import annotations

from typing import Any

from lab.home import Home, read_json, write_json_atomic
from lab.scenario import Scenario, load_scenario, resolve


def overrides_path(home: Home):
    return home.root / "timeline_overrides.json"


def effective_scenario(home: Home) -> tuple[Scenario, int]:
    """The scenario this home runs: resolved with its seed, event days overridden."""
    cfg = home.config()
    seed = int(cfg["seed"])
    scenario, _ = resolve(load_scenario(cfg["scenario_file"]), seed)
    overrides: dict[str, float] = read_json(overrides_path(home)) or {}
    if overrides:
        data = scenario.model_dump(mode="python")
        for event in data["timeline"]["events"]:
            if event["name"] in overrides:
                event["day"] = float(overrides[event["name"]])
        scenario = Scenario.model_validate(data)
    return scenario, seed


def set_override(home: Home, event: str, day: float) -> None:
    overrides: dict[str, Any] = read_json(overrides_path(home)) or {}
    overrides[event] = round(float(day), 4)
    write_json_atomic(overrides_path(home), overrides)
