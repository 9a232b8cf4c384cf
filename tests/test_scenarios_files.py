"""Every shipped scenario file loads, resolves with any seed, and drives the drift engine."""

from __future__ import annotations

import pytest

from lab.scenario.drift import Stream
from lab.scenario.schema import _get_path, load_scenario, resolve, scenario_ids

IDS = scenario_ids()


def test_the_shipped_scenarios_are_there() -> None:
    assert {"hiring-data-drift", "credit-concept-drift", "churn-label-drift", "bad-release-rollback"} <= set(IDS)


@pytest.mark.parametrize("scenario_id", IDS)
def test_scenario_loads_and_resolves_with_two_seeds(scenario_id: str) -> None:
    scenario = load_scenario(scenario_id)
    resolved = {seed: resolve(scenario, seed) for seed in (1, 2)}
    for seed, (concrete, drawn) in resolved.items():
        assert resolve(scenario, seed) == (concrete, drawn)  # same seed, same draw
        data = concrete.model_dump(mode="python")
        for r in scenario.randomised:
            value = _get_path(data, r.path)
            assert drawn[r.path] == value
            if r.range is not None:
                assert r.range[0] <= value <= r.range[1], r.path
            elif r.choose is not None:
                assert len(value) == r.choose and all(v in r.choices for v in value), r.path
            else:
                assert value in r.choices, r.path
        stream = Stream.from_scenario(concrete, seed)
        frame = stream.day(concrete.timeline.days - 1, 50)
        assert len(frame) == 50 and (frame["day"] == concrete.timeline.days - 1).all()
    if scenario.randomised:
        assert resolved[1][1] != resolved[2][1]


@pytest.mark.parametrize(
    ("scenario_id", "risk_class", "drift_type"),
    [
        ("credit-concept-drift", "high", "concept_drift"),
        ("churn-label-drift", "minimal", "label_drift"),
        ("bad-release-rollback", "high", "data_drift"),
    ],
)
def test_new_scenarios_have_their_incident(scenario_id: str, risk_class: str, drift_type: str) -> None:
    scenario = load_scenario(scenario_id)
    assert scenario.risk.eu_ai_act_class == risk_class
    assert drift_type in {e.type for e in scenario.timeline.events}
    if scenario_id == "bad-release-rollback":
        assert scenario.version_of("defective") is not None
        assert "rollback" in scenario.graded_tasks
