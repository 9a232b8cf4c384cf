"""The shadow and rollback graders on synthetic drills (real Journal, real evidence bundle, no servers).

``tests/grading_evidence.py`` plays each drill into a lab home the way the lab writes
it; the graders then read only the evidence bundle. A correct drill scores full marks;
each mistake a real on-call engineer makes loses the item it should, with feedback
that names what was wrong.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from lab.grading.items import Item
from lab.grading.release_graders import MIN_MIRRORED, grade_rollback, grade_shadow
from lab.evidence.submission import Decisions, RollbackDecision, ShadowDecision, Submission
from tests.grading_evidence import Drill, build_evidence

_CACHE: dict[str, object] = {}


@pytest.fixture(scope="module")
def evidence_for(tmp_path_factory):
    def get(**kw):
        key = repr(sorted(kw.items()))
        if key not in _CACHE:
            _CACHE[key] = build_evidence(tmp_path_factory.mktemp("drill"), Drill(**kw))
        return _CACHE[key]

    return get


def item(items: list[Item], item_id: str) -> Item:
    return next(i for i in items if i.id == item_id)


def with_decisions(**kw) -> Submission:
    return Submission(source="answer", files={}, decisions=Decisions(**kw))


# --------------------------------------------------------------------------- shadow


def test_correct_drill_scores_full_marks(evidence_for):
    ev = evidence_for()
    shadow, rollback = grade_shadow(ev, None), grade_rollback(ev, None)
    assert [i.id for i in shadow + rollback if not i.passed] == [], [(i.id, i.feedback) for i in shadow + rollback]
    assert sum(i.max_points for i in shadow) == 24 and sum(i.max_points for i in rollback) == 20
    assert all(i.evidence for i in shadow + rollback)
    assert item(shadow, "shadow.mirrored").details["mirrored"] >= MIN_MIRRORED
    assert "roc_auc" in item(shadow, "shadow.decision").evidence


def test_shadowing_the_wrong_version(evidence_for):
    items = grade_shadow(evidence_for(shadow_version=3, promote_version=None), None)
    got = item(items, "shadow.version")
    assert got.points == 0 and "v3" in got.feedback and "v2" in got.feedback
    assert item(items, "shadow.mirrored").points == 0
    assert item(items, "shadow.decision").points == 0


def test_promoting_without_a_shadow(evidence_for):
    items = grade_shadow(evidence_for(shadow_version=None), None)
    assert item(items, "shadow.version").points == 0 and "promoted v2 untested" in item(items, "shadow.version").feedback
    assert item(items, "shadow.decision").points == 0 and "no shadow comparison" in item(items, "shadow.decision").feedback
    assert item(items, "shadow.clients-champion-only").points == 0


def test_promoting_a_worse_shadow(evidence_for):
    items = grade_shadow(evidence_for(shadow_quality="worse"), None)
    got = item(items, "shadow.decision")
    assert got.points == 0 and "worse" in got.feedback and got.details["delta"] < 0
    assert item(items, "shadow.version").passed  # the process was right, the decision was not


def test_keeping_the_champion_when_the_shadow_is_worse_is_right(evidence_for):
    got = item(grade_shadow(evidence_for(shadow_quality="worse", promote_version=None), None), "shadow.decision")
    assert got.passed and "Kept the champion" in got.feedback


def test_keeping_the_champion_when_the_shadow_is_clearly_better_is_wrong(evidence_for):
    got = item(grade_shadow(evidence_for(promote_version=None), None), "shadow.decision")
    assert got.points == 0 and "clearly better" in got.feedback


def test_too_close_to_call_needs_a_rationale(evidence_for):
    ev = evidence_for(shadow_quality="same", promote_version=None)
    bare = item(grade_shadow(ev, None), "shadow.decision")
    said = item(grade_shadow(ev, with_decisions(shadow=ShadowDecision(
        version=2, decision="keep", rationale="Within noise on 480 labelled rows; v2 costs three times the CPU."))),
        "shadow.decision")
    assert bare.details["verdict"] == "similar"
    assert 0 < bare.points < bare.max_points and "decisions.yaml" in bare.feedback
    assert said.passed


def test_promoting_before_the_labels_arrived_is_a_guess(evidence_for):
    got = item(grade_shadow(evidence_for(shadow_days=(2.0, 4.4), promote_day=4.5), None), "shadow.decision")
    assert 0 < got.points < got.max_points and "before enough labels" in got.feedback


def test_declared_decision_that_contradicts_the_evidence_is_pointed_out(evidence_for):
    ev = evidence_for(shadow_quality="worse", promote_version=None)
    got = item(grade_shadow(ev, with_decisions(shadow=ShadowDecision(decision="promote"))), "shadow.decision")
    assert "decisions.yaml says 'promote'" in got.feedback and got.passed  # graded on what was done


def test_a_client_answered_by_the_shadow_fails(evidence_for):
    ev = evidence_for()
    start, stop = 2.0 * 60, 6.0 * 60
    traffic = [dict(r) for r in ev.traffic_requests]
    hits = 0
    for r in traffic:
        if start + 10 < r["time"] - 1_767_225_600 < stop - 10 and hits < 3:
            r["model_version"] = "2"
            hits += 1
    got = item(grade_shadow(replace(ev, traffic_requests=traffic), None), "shadow.clients-champion-only")
    assert got.points == 0 and got.details["from_shadow"] == 3 and "mirror, don't split traffic" in got.feedback


def test_champion_latency_hurt_by_mirroring_fails(evidence_for):
    ev = evidence_for()
    mirrored = {r["id"] for r in ev.serving_requests if r.get("shadow_version") is not None}
    traffic = [{**r, "latency_ms": r["latency_ms"] * 3} if r["id"] in mirrored else r for r in ev.traffic_requests]
    got = item(grade_shadow(replace(ev, traffic_requests=traffic), None), "shadow.latency")
    assert got.points == 0 and got.details["ratio"] > 1.5 and "p99" in got.feedback


# --------------------------------------------------------------------------- rollback


def test_rollback_to_the_previous_version_number_instead_of_the_last_known_good(evidence_for):
    ev = evidence_for(promote_version=None, rollback_to=2)  # v1 served, v3 was the bad release, v2 never served
    items = grade_rollback(ev, None)
    got = item(items, "rollback.target")
    assert got.points == 0 and "not a known-good version" in got.feedback and "v1" in got.feedback
    assert item(items, "rollback.time").points == 0  # never recovered to a good version


def test_rollback_to_the_answer_keys_last_known_good(evidence_for):
    items = grade_rollback(evidence_for(promote_version=None), None)
    assert item(items, "rollback.target").passed and "v1" in item(items, "rollback.target").feedback


def test_no_rollback_at_all(evidence_for):
    items = grade_rollback(evidence_for(rollback_to=None), None)
    assert all(i.points == 0 for i in items)
    assert "still points at v3" in item(items, "rollback.target").feedback
    assert "kept serving" in item(items, "rollback.time").feedback


def test_failed_requests_during_the_switch(evidence_for):
    got = item(grade_rollback(evidence_for(failed_during_switch=4), None), "rollback.no-failed-requests")
    assert got.points == 0 and got.details["failed"] == 4 and "503" in got.feedback


def test_missing_reason(evidence_for):
    ev = evidence_for(rollback_via="external")
    items = grade_rollback(ev, None)
    assert item(items, "rollback.target").passed  # the MLflow UI works too
    assert item(items, "rollback.reason").points == 0 and "no reason" in item(items, "rollback.reason").feedback
    partial = item(grade_rollback(ev, with_decisions(rollback=RollbackDecision(
        to_version=2, rationale="v3 scores shifted the moment it was released; prediction PSI 0.9."))),
        "rollback.reason")
    assert 0 < partial.points < partial.max_points and "audit trail" in partial.feedback


def test_boilerplate_reason_earns_little(evidence_for):
    got = item(grade_rollback(evidence_for(rollback_reason="rollback"), None), "rollback.reason")
    assert 0 < got.points < 0.5 * got.max_points and "boilerplate" in got.feedback


@pytest.mark.parametrize("after, share", [(0.5, 1.0), (1.5, 0.75), (3.5, 0.5), (5.5, 0.25)])
def test_time_to_recover_is_scored_in_bands(evidence_for, after, share):
    got = item(grade_rollback(evidence_for(rollback_after_days=after), None), "rollback.time")
    assert got.points == pytest.approx(share * got.max_points)
    assert got.details["days"] == pytest.approx(after, abs=0.01)
    assert got.details["wall_seconds"] == pytest.approx(after * 60, abs=1)


def test_scenario_without_a_bad_release_is_not_applicable(evidence_for):
    items = grade_rollback(evidence_for(scenario="churn-label-drift", promote_version=None, rollback_to=None), None)
    assert all(i.max_points == 0 and i.points == 0 and "Not applicable" in i.feedback for i in items)


def test_submitting_before_the_bad_release(evidence_for):
    items = grade_rollback(evidence_for(end_day=12.0, rollback_to=None), None)
    assert all(i.points == 0 and i.max_points > 0 and "had not happened" in i.feedback for i in items)


def test_graders_are_pure(evidence_for):
    ev = evidence_for()
    assert grade_shadow(ev, None) == grade_shadow(ev, None)
    assert grade_rollback(ev, None) == grade_rollback(ev, None)
