"""The answer key: one builder, one strict schema, and `lab inject` keeping it true. No servers.

Fixtures: ``tests/fixtures/answer_keys/schema1*.json`` are keys as the lab wrote them before
the key had its own schema (hiring-data-drift, seed 21): one as `lab up` wrote it, one after
`lab inject pool-shift` on day 2.5 (``injected`` as a list of names).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.errors import StateError, UsageError
from lab.evidence.collect import collect_evidence
from lab.evidence.schema import ANSWER_KEY, FALLBACK_COMMANDS, MANIFEST, BundleError, load_evidence, sha256_of
from lab.scenario import answer_key
from lab.scenario.answer_key import AnswerKey
from lab.scenario.run import overrides_path
from lab.scenario.schema import load_scenario
from lab.world import events
from tests.grading_evidence import Drill, build_home

FIXTURES = Path(__file__).parent / "fixtures" / "answer_keys"


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_the_builder_is_deterministic_and_follows_overrides():
    sc = load_scenario("hiring-data-drift")
    plain = answer_key.build(sc, 21)
    assert plain == answer_key.build(sc, 21)
    assert plain.schema_version == answer_key.SCHEMA_VERSION and plain.injected == []
    assert plain.drifts[0].onset_day == 9.0 and plain.bad_release.day == 20.0
    moved = answer_key.build(sc, 21, {"pool-shift": 2.5})
    assert moved.drifts[0].onset_day == 2.5 and moved.bad_release == plain.bad_release
    assert [(i.event, i.day, i.scheduled_day) for i in moved.injected] == [("pool-shift", 2.5, 9.0)]
    assert moved.randomised == plain.randomised  # what the seed drew does not move


def test_a_key_as_lab_up_wrote_it_before_is_built_the_same_today():
    old = _fixture("schema1.json")
    new = answer_key.dump(answer_key.build(load_scenario("hiring-data-drift"), 21))
    assert {k: v for k, v in new.items() if k not in ("schema_version", "injected")} == \
        {k: v for k, v in old.items() if k != "schema_version"}


def test_schema_1_keys_load_with_their_injected_names_made_explicit():
    key = AnswerKey.model_validate(_fixture("schema1_injected.json"))
    assert key.schema_version == 1
    assert [(i.event, i.day, i.scheduled_day) for i in key.injected] == [("pool-shift", 2.5, 9.0)]
    assert AnswerKey.model_validate(_fixture("schema1.json")).injected == []


@pytest.mark.parametrize("change, message", [
    ({"hint": "v3 is bad"}, "Extra inputs are not permitted"),
    ({"schema_version": 99}, "answer key schema 99"),
    ({"injected": ["meteor-strike"]}, "'meteor-strike' is neither a drift nor the bad release"),
], ids=["unknown-field", "unknown-schema", "injected-name-unknown"])
def test_a_key_the_lab_cannot_read_is_refused_not_trimmed(change, message):
    with pytest.raises(ValueError, match=message):
        AnswerKey.model_validate({**_fixture("schema1.json"), **change})


def test_a_field_inside_a_drift_is_refused_too():
    data = _fixture("schema1.json")
    data["drifts"][0]["true_onset"] = 3
    with pytest.raises(ValueError, match="Extra inputs"):
        AnswerKey.model_validate(data)


def _rebundle(bundle: Path, out: Path, key: dict, schema: int) -> Path:
    """``bundle`` with another answer key and manifest schema, its hashes rewritten as the collector would."""
    shutil.copytree(bundle, out)
    (out / ANSWER_KEY).write_text(json.dumps(key, indent=2, sort_keys=True) + "\n")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["schema_version"] = schema
    manifest["files"] = {p.name: sha256_of(p) for p in sorted(out.iterdir()) if p.name != MANIFEST}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("key")
    home = build_home(tmp / "home", Drill(scenario="hiring-data-drift", seed=21, shadow_version=None,
                                          promote_version=None, rollback_to=None, end_day=3.0))
    return collect_evidence(home, tmp / "evidence", FALLBACK_COMMANDS)


@pytest.mark.parametrize("schema", [1, 2])
def test_bundles_of_every_schema_load_a_schema_1_key(bundle, tmp_path, schema):
    old = _rebundle(bundle, tmp_path / "old", _fixture("schema1_injected.json"), schema)
    ev = load_evidence(old)
    assert ev.manifest.schema_version == schema
    assert [(i.event, i.day) for i in ev.answer_key.injected] == [("pool-shift", 2.5)]
    assert ev.answer_key.drifts[0].onset_day == 2.5


def test_a_bundle_whose_key_has_an_unknown_field_is_refused_clearly(bundle, tmp_path):
    key = json.loads((bundle / ANSWER_KEY).read_text())
    bad = _rebundle(bundle, tmp_path / "bad", {**key, "secret": 1}, 2)
    with pytest.raises(BundleError, match=r"invalid content \(.*secret"):
        load_evidence(bad)


def test_the_collector_validates_the_home_key_before_writing_anything(tmp_path):
    home = build_home(tmp_path / "home", Drill(shadow_version=None, promote_version=None, rollback_to=None,
                                              end_day=1.0))
    data = json.loads(home.answer_key.read_text())
    home.answer_key.write_text(json.dumps({**data, "note": "typed by hand"}))
    with pytest.raises(StateError, match="answer_key.json: invalid answer key at note"):
        collect_evidence(home, tmp_path / "evidence", FALLBACK_COMMANDS)
    assert not (tmp_path / "evidence").exists()


def test_a_home_that_lost_its_key_gets_the_one_it_would_have_had(tmp_path):
    home = build_home(tmp_path / "home", Drill(shadow_version=None, promote_version=None, rollback_to=None,
                                              end_day=1.0))
    written = json.loads(home.answer_key.read_text())
    home.answer_key.unlink()
    ev = load_evidence(collect_evidence(home, tmp_path / "evidence", FALLBACK_COMMANDS))
    assert answer_key.dump(ev.answer_key) == written


# --------------------------------------------------------------------------- lab inject, without servers


def _drill_home(tmp_path: Path) -> Home:
    """hiring-data-drift, seed 21 (pool-shift on day 9, bad release on day 20), played to day 1; clock on day 2.5."""
    home = build_home(tmp_path / "home", Drill(scenario="hiring-data-drift", seed=21, shadow_version=None,
                                              promote_version=None, rollback_to=None, end_day=1.0))
    Clock(home.clock_json).jump_to(2.5)
    return home


def _state(home: Home) -> dict[str, bytes]:
    return {str(p.relative_to(home.root)): p.read_bytes() for p in sorted(home.root.rglob("*")) if p.is_file()}


def test_inject_moves_the_onset_rewrites_the_key_and_journals_it(tmp_path):
    home = _drill_home(tmp_path)
    fired = events.inject(home, "pool-shift", lab_running=lambda h: True)
    assert (fired.event, fired.type, fired.day, fired.scheduled_day, fired.moved) == \
        ("pool-shift", "data_drift", 2.5, 9.0, True)
    assert json.loads(overrides_path(home).read_text()) == {"pool-shift": 2.5}
    key = answer_key.read(home)
    assert key.drifts[0].onset_day == 2.5 and key.schema_version == answer_key.SCHEMA_VERSION
    assert [(i.event, i.day, i.scheduled_day) for i in key.injected] == [("pool-shift", 2.5, 9.0)]
    assert key == answer_key.build_for_home(home)  # the one builder wrote it
    entry = events.fired_events(home)["pool-shift"]
    assert entry["actor"] == "facilitator" and entry["day"] == 2.5
    assert entry["data"] == {"event": "pool-shift", "type": "data_drift", "scheduled_day": 9.0, "onset_moved_to": 2.5}
    # ... and the bundle keeps what inject wrote (the reader used to drop `injected`)
    ev = load_evidence(collect_evidence(home, tmp_path / "evidence", FALLBACK_COMMANDS))
    assert ev.answer_key == key and ev.scenario.event("pool-shift").day == 2.5


def test_inject_refuses_before_changing_anything(tmp_path):
    home = _drill_home(tmp_path)
    before = _state(home)
    with pytest.raises(UsageError, match="unknown event 'meteor-strike' in scenario hiring-data-drift") as exc:
        events.inject(home, "meteor-strike", lab_running=lambda h: True)
    assert exc.value.hint == "events: deploy, pool-shift, bad-release"
    with pytest.raises(UsageError, match="event 'deploy' has already fired"):
        events.inject(home, "deploy", lab_running=lambda h: True)
    with pytest.raises(StateError, match="is not running"):
        events.inject(home, "pool-shift", lab_running=lambda h: False)
    with pytest.raises(StateError, match="no lab in"):
        events.inject(Home(tmp_path / "empty"), "pool-shift", lab_running=lambda h: True)
    assert _state(home) == before
    assert not (tmp_path / "empty").exists()


def test_inject_of_an_event_already_due_moves_nothing(tmp_path):
    home = _drill_home(tmp_path)
    Clock(home.clock_json).jump_to(9.5)  # pool-shift was due on day 9: the timeline is late, the onset stays
    key_before = home.answer_key.read_bytes()
    fired = events.inject(home, None, lab_running=lambda h: True)  # the next one to come
    assert (fired.event, fired.moved, fired.day) == ("pool-shift", False, 9.5)
    assert not overrides_path(home).exists() and home.answer_key.read_bytes() == key_before
    assert "onset_moved_to" not in events.fired_events(home)["pool-shift"]["data"]
    assert [e["data"]["event"] for e in Journal(home.journal).entries("event.fired")][-1] == "pool-shift"
