"""Each validation rule of the scenario schema has a named bad fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.errors import ScenarioError
from lab.scenario.schema import SCENARIO_DIR, load_scenario, parse_scenario, resolve, scenario_from_json

GOOD = (SCENARIO_DIR / "hiring-data-drift.yaml").read_text()


def mutate(fn) -> str:
    data = yaml.safe_load(GOOD)
    fn(data)
    return yaml.safe_dump(data)


def event(data, name):
    return next(e for e in data["timeline"]["events"] if e["name"] == name)


BAD = {
    "unknown_feature": (lambda d: event(d, "pool-shift").update(features=["height"]), "timeline", "unknown feature(s) height"),
    "negative_magnitude": (lambda d: event(d, "pool-shift").update(magnitude=-1), "timeline.events.1.magnitude", "greater than 0"),
    "onset_after_end": (lambda d: event(d, "pool-shift").update(day=45), "timeline", "on or after the scenario's end"),
    "unknown_event_type": (lambda d: event(d, "pool-shift").update(type="gremlins"), "timeline.events.1", "does not match any of the expected tags"),
    "duplicate_event_names": (lambda d: event(d, "bad-release").update(name="pool-shift"), "timeline", "repeated: pool-shift"),
    "unknown_generator": (lambda d: d["generator"].update(name="mars"), "generator.name", "unknown generator 'mars'"),
    "unknown_generator_param": (lambda d: d["generator"]["params"].update(slope=2), "generator", "unknown parameter(s) slope"),
    "bad_risk_class": (lambda d: d["risk"].update(eu_ai_act_class="spicy"), "risk.eu_ai_act_class", "Input should be"),
    "two_champions": (lambda d: d["model"]["versions"][1].update(role="champion"), "model", "exactly one version"),
    "defect_without_defective_role": (lambda d: d["model"]["versions"][0].update(defect="swapped_columns"), "model.versions.0", "defective"),
    "empty_train_days": (lambda d: d["model"]["versions"][0].update(train_days=[5, 5]), "model.versions.0", "is empty"),
    "unknown_field": (lambda d: d.update(colour="blue"), "colour", "Extra inputs are not permitted"),
    "missing_title": (lambda d: d.pop("title"), "title", "Field required"),
    "unknown_task": (lambda d: d["graded_tasks"].append("vibes"), "graded_tasks.6", "Input should be"),
    "bad_randomised_path": (lambda d: d["randomised"].append({"path": "timeline.events.nope.day", "range": [1, 2]}), "randomised: path", "no event named 'nope'"),
    "randomised_both_kinds": (lambda d: d["randomised"].append({"path": "timeline.days", "range": [1, 2], "choices": [1]}), "randomised.4", "exactly one of"),
    "zero_traffic": (lambda d: d["traffic"].update(rows_per_day=0), "traffic.rows_per_day", "greater than 0"),
    "no_decision_threshold": (lambda d: d["model"].pop("decision_threshold"), "model.decision_threshold", "Field required"),
    "threshold_zero": (lambda d: d["model"]["decision_threshold"].update(value=0), "model.decision_threshold.value", "greater than 0"),
    "threshold_one": (lambda d: d["model"]["decision_threshold"].update(value=1), "model.decision_threshold.value", "less than 1"),
    "threshold_without_rationale": (lambda d: d["model"]["decision_threshold"].pop("rationale"), "model.decision_threshold.rationale", "Field required"),
    "threshold_blank_rationale": (lambda d: d["model"]["decision_threshold"].update(rationale="   because   "), "model.decision_threshold.rationale", "at least 20 characters"),
    "no_positive_decision": (lambda d: d["model"]["decision_threshold"].pop("positive_decision"), "model.decision_threshold.positive_decision", "Field required"),
    "positive_decision_without_direction": (lambda d: d["model"]["decision_threshold"]["positive_decision"].pop("for_person"), "model.decision_threshold.positive_decision.for_person", "Field required"),
    "positive_decision_unknown_direction": (lambda d: d["model"]["decision_threshold"]["positive_decision"].update(for_person="neutral"), "model.decision_threshold.positive_decision.for_person", "'favourable' or 'adverse'"),
    "hint_negative_cost": (lambda d: d["hints"][0].update(cost=-1), "hints.0.cost", "greater than or equal to 0"),
    "hint_blank_text": (lambda d: d["hints"][0].update(text="   "), "hints.0.text", "at least 10 characters"),
    "hint_without_cost": (lambda d: d["hints"][0].pop("cost"), "hints.0.cost", "Field required"),
    "positive_decision_blank_meaning": (lambda d: d["model"]["decision_threshold"]["positive_decision"].update(meaning="  "), "model.decision_threshold.positive_decision.meaning", "at least 3 characters"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_scenario_names_file_field_and_reason(name):
    fn, field, reason = BAD[name]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(mutate(fn), f"{name}.yaml")
    msg = str(info.value)
    assert msg.startswith(f"{name}.yaml: "), msg
    assert field in msg, msg
    assert reason in msg, msg


def test_not_yaml_and_not_a_mapping():
    with pytest.raises(ScenarioError, match=r"broken.yaml: line 2 not valid YAML"):
        parse_scenario("id: x\n  bad: [unclosed\n", "broken.yaml")
    with pytest.raises(ScenarioError, match="must be a YAML mapping, got list"):
        parse_scenario("- a\n- b\n", "list.yaml")


def test_unknown_scenario_lists_known_ones():
    with pytest.raises(ScenarioError) as info:
        load_scenario("nope")
    assert "unknown scenario 'nope'" in str(info.value)
    assert "hiring-data-drift" in info.value.hint


def test_file_id_must_match_name(tmp_path: Path):
    (tmp_path / "other.yaml").write_text(GOOD)
    with pytest.raises(ScenarioError, match="does not match the file name 'other'"):
        load_scenario("other", directory=tmp_path)


def test_resolve_is_deterministic_and_seed_dependent():
    s = load_scenario("hiring-data-drift")
    a, drawn_a = resolve(s, 11)
    b, drawn_b = resolve(s, 11)
    assert a == b and drawn_a == drawn_b
    others = [resolve(s, seed)[1] for seed in range(12, 20)]
    assert any(o != drawn_a for o in others)
    onset = a.event("pool-shift").day
    assert 7 <= onset <= 13 and onset == int(onset)
    assert len(a.event("pool-shift").features) == 2


def test_every_shipped_scenario_states_its_threshold_and_why():
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())["model"]
        assert "decision_threshold" in raw, path.name  # explicit in the file, not a default
        threshold = load_scenario(str(path)).model.decision_threshold
        assert 0 < threshold.value < 1 and f"{threshold.value:g}" in threshold.rationale, path.name


def test_bundle_scenario_without_threshold_gets_the_old_cut_off_and_says_so():
    current = load_scenario("credit-concept-drift")
    data = current.model_dump(mode="json")
    assert scenario_from_json(data) == current  # a bundle written now reads back unchanged
    del data["model"]["decision_threshold"]
    legacy = scenario_from_json(data)
    assert legacy.model.decision_threshold.value == 0.5
    assert "0.5" in legacy.model.decision_threshold.rationale
    assert legacy.model.versions == current.model.versions
    with pytest.raises(ScenarioError, match="model.decision_threshold: Field required"):
        parse_scenario(yaml.safe_dump(data), "old.yaml")  # a scenario file must still state it


def test_every_shipped_scenario_says_what_a_positive_decision_means_for_the_person():
    expected = {"hiring-data-drift": "favourable", "churn-label-drift": "favourable",
                "credit-concept-drift": "adverse", "bad-release-rollback": "adverse"}
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())["model"]["decision_threshold"]
        assert "positive_decision" in raw, path.name  # explicit in the file, not a default
        decision = load_scenario(str(path)).model.decision_threshold.positive_decision
        if path.stem in expected:
            assert decision.for_person == expected[path.stem], path.name
    credit = load_scenario("credit-concept-drift").model.decision_threshold.positive_decision
    assert "default" in credit.meaning


def test_bundle_scenario_without_positive_decision_reads_back_with_the_shipped_meaning():
    """A bundle written before thresholds said what a positive decision means: a shipped
    scenario's meaning is its own (a credit flag was always adverse); another scenario's is
    favourable, as every scenario was graded before."""
    for sid, direction in (("credit-concept-drift", "adverse"), ("hiring-data-drift", "favourable")):
        current = load_scenario(sid)
        data = current.model_dump(mode="json")
        del data["model"]["decision_threshold"]["positive_decision"]
        assert scenario_from_json(data) == current
        assert scenario_from_json(data).model.decision_threshold.positive_decision.for_person == direction
    data = load_scenario("credit-concept-drift").model_dump(mode="json")
    del data["model"]["decision_threshold"]
    data["id"] = "someone-elses-credit"
    legacy = scenario_from_json(data).model.decision_threshold
    assert (legacy.value, legacy.positive_decision.for_person) == (0.5, "favourable")
    assert "not stated" in legacy.positive_decision.meaning


def test_every_shipped_scenario_has_drill_hints_with_costs():
    from lab.scenario.schema import scenario_ids

    for sid in scenario_ids():
        hints = load_scenario(sid).hints
        assert 2 <= len(hints) <= 5, sid
        assert all(h.cost >= 0 and len(h.text) >= 10 for h in hints), sid
