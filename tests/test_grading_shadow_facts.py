"""The shadow items grade what happened (alias history + request logs), not only what was journaled.

Planted drills (tests/grading_evidence.py, real Journal and evidence bundle, no servers):
a shadow whose ``lab shadow start`` timed out while warming (no ``shadow.started``),
a shadow seen only in the serving log, machine load that changes while the shadow
runs, and a shadow that crashed, dropped or never answered part of its requests.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from lab.grading.items import Item
from lab.grading.release_facts import release_facts
from lab.grading.release_graders import LATENCY_RATIO, MIN_LATENCY_SAMPLES, grade_rollback, grade_shadow
from lab.release.shadow_report import interleaved_latency, report_lines, shadow_report
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


# --------------------------------------------------------------------------- a shadow is a fact of the alias and the logs


def test_shadow_without_shadow_started_is_graded_from_the_alias_and_the_request_log(evidence_for):
    """The case seen: `lab shadow start` timed out warming; the alias moved and requests were mirrored."""
    ev = evidence_for(journal_shadow_started=False, shadow_warm_days=0.3)
    assert ev.entries("shadow.started") == []
    mirrored = sum(1 for r in ev.serving_requests if r.get("shadow_version") == 2)
    assert mirrored > 300
    items = grade_shadow(ev, None)
    version = item(items, "shadow.version")
    assert version.passed and "journaled no shadow.started" in version.feedback, version.feedback
    assert "never shadowed" not in " ".join(i.feedback for i in items)
    assert "No shadow ran" not in " ".join(i.feedback for i in items)
    # every item reads the same facts: the mirrored count is the one the decision rests on
    assert item(items, "shadow.mirrored").details["mirrored"] == mirrored
    assert item(items, "shadow.clients-champion-only").passed
    assert item(items, "shadow.decision").passed  # v2 better, promoted after labels arrived
    assert [i.id for i in items if not i.passed] == [], [(i.id, i.feedback) for i in items if not i.passed]


def test_a_shadow_seen_only_in_the_serving_log_counts(evidence_for):
    """Mirrored requests that no alias move explains (e.g. a move the watcher missed) still show a shadow."""
    ev = evidence_for(journal_shadow_started=False)
    ev = replace(ev, alias_history=[m for m in ev.alias_history if m.alias != "shadow"])
    facts = release_facts(ev)
    assert [(p.version, p.via) for p in facts.shadow_periods] == [(2, "request logs")]
    items = grade_shadow(ev, None)
    assert item(items, "shadow.version").passed
    assert item(items, "shadow.clients-champion-only").passed
    assert item(items, "shadow.clients-champion-only").details["checked"] > 300


def test_rollback_items_read_the_same_champion_moves(evidence_for):
    ev = evidence_for(journal_shadow_started=False)
    facts = release_facts(ev)
    target = item(grade_rollback(ev, None), "rollback.target")
    assert target.passed and target.details["final"] == facts.champion_moves[-1].to


# --------------------------------------------------------------------------- latency on interleaved periods


LOADS = [(), ("ramp", 0.1), ("step", 5.0, 3.0), ("step", 1.0, 2.0)]


@pytest.mark.parametrize("load", LOADS)
def test_shadow_latency_does_not_follow_machine_load(evidence_for, load):
    """A correct shadow kept to the end of the drill while the machine gets busier: still a pass.

    Comparing all mirrored requests with the minutes before the shadow (today's main)
    reads the load as the shadow's cost.
    """
    ev = evidence_for(shadow_stopped=False, promote_version=None, load=load)
    got = item(grade_shadow(ev, None), "shadow.latency")
    assert got.passed, (load, got.feedback, got.evidence)
    assert got.details["n_with"] >= MIN_LATENCY_SAMPLES and got.details["n_without"] >= MIN_LATENCY_SAMPLES
    assert got.details["unmatched"] > 0  # the middle of a long shadow has no unmirrored neighbours
    assert str(got.details["n_with"]) in got.evidence and str(got.details["n_without"]) in got.evidence


def test_shadow_latency_ratio_is_stable_across_machine_load(evidence_for):
    ratios = [item(grade_shadow(evidence_for(shadow_stopped=False, promote_version=None, load=load), None),
                   "shadow.latency").details["ratio"] for load in LOADS]
    assert max(ratios) - min(ratios) <= 0.15, ratios
    assert all(r <= LATENCY_RATIO for r in ratios), ratios


def test_a_real_slowdown_is_still_seen_under_load(evidence_for):
    ev = evidence_for(load=("ramp", 0.1))
    mirrored = {r["id"] for r in ev.serving_requests if r.get("shadow_version") is not None}
    traffic = [{**r, "latency_ms": r["latency_ms"] * 3} if r["id"] in mirrored else r for r in ev.traffic_requests]
    got = item(grade_shadow(replace(ev, traffic_requests=traffic), None), "shadow.latency")
    assert got.points == 0 and got.details["ratio"] > 2.5


def test_interleaved_latency_compares_only_requests_with_unmirrored_neighbours():
    samples = [(float(t), 10.0, t >= 20) for t in range(0, 200)]  # 20 s unmirrored, then 180 s mirrored
    cmp = interleaved_latency(samples)  # 30 s buckets; neighbours up to two buckets away
    assert (cmp["n_without"], cmp["n_with"], cmp["unmatched"]) == (20, 70, 110)
    assert cmp["ratio"] == 1.0
    assert interleaved_latency([(float(t), 10.0, True) for t in range(100)])["ratio"] is None  # no control at all


def test_small_sample_latency_item_is_half_credit(evidence_for):
    ev = evidence_for(shadow_days=(0.0, 3.0), promote_version=None)
    keep = {r["id"] for r in ev.serving_requests if r.get("shadow_version") is not None}
    late = [r for r in ev.serving_requests if r["id"] not in keep][:40]  # only 40 unmirrored neighbours left
    ids = keep | {r["id"] for r in late}
    ev = replace(ev, serving_requests=[r for r in ev.serving_requests if r["id"] in ids],
                 traffic_requests=[r for r in ev.traffic_requests if r["id"] in ids])
    got = item(grade_shadow(ev, None), "shadow.latency")
    assert got.points == pytest.approx(0.5 * got.max_points) and "Too few" in got.feedback
    assert got.details["n_without"] < MIN_LATENCY_SAMPLES


def test_shadow_report_shows_the_same_latency_comparison(evidence_for):
    ev = evidence_for(shadow_stopped=False, promote_version=None, load=("step", 5.0, 3.0))
    graded = item(grade_shadow(ev, None), "shadow.latency").details
    report = shadow_report(ev.serving_requests, ev.labels, 2, decision_threshold=0.5, traffic=ev.traffic_requests)
    shown = report["champion_latency_with_vs_without_mirroring"]
    assert {k: shown[k] for k in graded} == graded
    line = next(x for x in report_lines(report) if "with mirroring" in x)
    assert f"{shown['ratio']:.2f}x" in line and str(shown["n_with"]) in line and str(shown["n_without"]) in line


# --------------------------------------------------------------------------- mirrored, answered, dropped, failed


FATES = (("crashed", 0.25), ("dropped", 0.1), ("no_answer", 0.1), ("late", 0.05), ("cancelled", 0.02),
         ("unavailable", 0.03))


def test_counts_separate_answered_late_dropped_failed_cancelled_and_unanswered(evidence_for):
    ev = evidence_for(shadow_statuses=FATES)
    mirrored = [r for r in ev.serving_requests if r.get("shadow_version") == 2 and r["time"] < _promotion(ev)]
    expected = {s: sum(1 for r in mirrored if r.get("shadow_status", "no_answer") == s)
                for s in ("ok", "late", "crashed", "unavailable", "dropped", "cancelled", "no_answer")}
    got = item(grade_shadow(ev, None), "shadow.mirrored")
    d = got.details
    assert d["mirrored"] == len(mirrored)
    assert (d["ok"], d["late"], d["cancelled"], d["no_answer"]) == (
        expected["ok"], expected["late"], expected["cancelled"], expected["no_answer"])
    # the groups of lab.serving.shadow_state, as `lab shadow stop` and `lab status` count them
    assert d["dropped"] == expected["dropped"] + expected["unavailable"] + expected["cancelled"]
    assert d["failed"] == expected["crashed"] + expected.get("error", 0)
    assert d["answered"] == expected["ok"] + expected["late"]
    assert f"{d['mirrored']} mirrored: {d['ok']} answered ok" in got.feedback
    assert "got no answer from the shadow" in got.feedback  # over a fifth unanswered: a warning


def test_crash_loop_in_the_journal_is_a_warning_in_the_grader_and_the_report(evidence_for):
    ev = evidence_for(shadow_statuses=FATES)
    loop = {"seq": len(ev.journal), "time": ev.journal[-1]["time"], "day": 4.0, "kind": "shadow.crash_loop",
            "actor": "serving", "data": {"version": 2, "crashes": 3, "window_s": 300}, "prev": "", "hash": ""}
    ev = replace(ev, journal=[*ev.journal, loop])
    got = item(grade_shadow(ev, None), "shadow.mirrored")
    assert "crash-looped (3 crashes in 300 s)" in got.feedback and len(got.details["warnings"]) == 2
    report = shadow_report(ev.serving_requests, ev.labels, 2, decision_threshold=0.5, crash_loops=ev.entries("shadow.crash_loop"))
    assert report["counts"]["failed"] > 0 and report["counts"]["no_answer"] > 0
    assert any("crash-looped" in w for w in report["warnings"])
    assert any(line.startswith("warning:") and "no answer" in line for line in report_lines(report))


def test_a_healthy_shadow_has_no_warnings(evidence_for):
    ev = evidence_for()
    assert item(grade_shadow(ev, None), "shadow.mirrored").details["warnings"] == []
    assert shadow_report(ev.serving_requests, ev.labels, 2, decision_threshold=0.5)["warnings"] == []


def _promotion(ev) -> float:
    return next(m.timestamp for m in ev.alias_history if m.alias == "champion" and m.via == "lab promote")
