"""The release-gate grader (skill "gates"): the hidden suite is what it claims, planted gates
rank as an expert would, and the drill's releases are read right. No servers: the suite is
real scikit-learn pipelines trained on the scenario's generator; the drill items read a
synthetic evidence object."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab.evidence.schema import AliasMove
from lab.evidence.submission import RELEASE_GATE, Submission, SubmittedFile
from lab.grading.gate_grader import DRILL, REPLAY, Verdict, grade_gates, replay, score_replay
from lab.grading.gate_suite import build_suite, hidden_candidates
from lab.release.gate import run_gate
from lab.release.gate_config import load_gate
from lab.scenario.schema import load_scenario, resolve

SCENARIO_ID = "release-gate-regression"

EXPERT = """
metrics: {roc_auc: {min: 0.65}}
slices:
  - {column: age_band, max_drop: 0.03}
  - {column: region, max_drop: 0.03}
  - {column: gender, max_drop: 0.03}
invariance: {columns: [region], max_flip_rate: 0.12}
"""
FLOOR_ONLY = "metrics: {roc_auc: {min: 0.65}}\n"
MINIMAL = "schema: false\n"  # still blocks a version that cannot score the rows: nothing else can be measured
BLOCK_ALL = "metrics: {roc_auc: {min: 0.99}}\n"
STRICT_INVARIANCE = EXPERT.replace("max_flip_rate: 0.12", "max_flip_rate: 0.0")
NO_SLICES = "metrics: {roc_auc: {min: 0.65}}\ninvariance: {columns: [region], max_flip_rate: 0.12}\n"


@pytest.fixture(scope="module")
def scenario():
    sc, _ = resolve(load_scenario(SCENARIO_ID), 7)
    return sc


@pytest.fixture(scope="module")
def suite(scenario, tmp_path_factory):
    return build_suite(scenario, tmp_path_factory.mktemp("gate-cache"))


def replay_points(text: str, scenario) -> tuple[float, list]:
    items = score_replay(replay(text, scenario))
    return sum(i.points for i in items), items


def test_the_suite_is_the_same_for_every_run_and_not_the_drills_versions(scenario):
    other, _ = resolve(load_scenario(SCENARIO_ID), 12345)
    assert hidden_candidates(scenario) == hidden_candidates(other)
    drill = [v.model_dump() for v in scenario.model.versions]
    assert not any(c.spec.model_dump() in drill for c in hidden_candidates(scenario))


def test_sound_candidates_are_clearly_sound_and_defects_clearly_defective(scenario, suite):
    """The suite's calibration: what any sensible gate must pass passes with a margin, and each
    defect is far beyond the same measure (figures on the suite's own reference rows)."""
    probe = load_gate(EXPERT.replace("0.03", "0.0").replace("0.12", "0.0").replace("0.65", "0.0"))
    measured = {}
    for c in suite.candidates:
        r = run_gate(probe, suite.models[c.name], suite.champion, suite.reference, suite.features, 0.15,
                     measure_latency=False)
        measured[c.name] = {x.name: x.value for x in r.checks}
    champion_auc = run_gate(load_gate(FLOOR_ONLY), suite.champion, suite.champion, suite.reference, suite.features,
                            0.15, measure_latency=False).checks[1].value
    for c in suite.candidates:
        m = measured[c.name]
        drops = [m[k] for k in m if k.startswith("slices")]
        if c.kind == "sound":
            assert max(drops) < 0.01 and m["invariance to region"] < 0.06, (c.name, m)
            assert m["metric roc_auc"] > champion_auc - 0.005, (c.name, m)
        elif c.kind == "quality":
            assert m["metric roc_auc"] < champion_auc - 0.05, m
        elif c.kind == "slice":  # invisible overall, glaring for one group
            assert max(drops) > 0.1 and m["metric roc_auc"] > 0.655, (c.name, m)
        elif c.kind == "invariance":
            assert m["invariance to region"] > 0.15 and m["metric roc_auc"] > 0.65, m
        elif c.kind == "schema":
            assert m == {"schema": None}, m


def test_planted_gates_rank_as_an_expert_would(scenario, suite):
    expert, items = replay_points(EXPERT, scenario)
    assert expert == pytest.approx(sum(p for _, _, p, _ in REPLAY)), [(i.id, i.feedback) for i in items]
    candidates = replay(EXPERT, scenario)
    nothing = sum(i.points for i in score_replay([Verdict(v.name, v.kind, v.story, True, []) for v in candidates]))
    block_all, items_block = replay_points(BLOCK_ALL, scenario)
    assert nothing == 0 and block_all == 0
    minimal, _ = replay_points(MINIMAL, scenario)
    assert "passed 0 of 3" not in items_block[0].feedback and "0 of 3 sound" in items_block[0].feedback
    floor, _ = replay_points(FLOOR_ONLY, scenario)
    no_slices, items_ns = replay_points(NO_SLICES, scenario)
    strict, items_strict = replay_points(STRICT_INVARIANCE, scenario)
    assert expert > no_slices > floor > minimal > nothing, (expert, no_slices, floor, minimal)
    slice_item = next(i for i in items_ns if i.id == "gates.slice")
    assert slice_item.points < slice_item.max_points and "groups" in slice_item.feedback
    # a zero-tolerance invariance blocks every sound retrain (the champion's own recipe flips a few
    # decisions when only the region changes): it stops the release train, as blocking everything
    # does, and the feedback says how to set the limit
    assert strict == 0
    sound = next(i for i in items_strict if i.id == "gates.sound")
    assert "0 of 3 sound" in sound.feedback and "champion's own figures" in sound.feedback
    # a tolerance at the champion's own level passes some sound retrains: partial credit
    tight, _ = replay_points(EXPERT.replace("max_flip_rate: 0.12", "max_flip_rate: 0.045"), scenario)
    assert 0 < tight < expert


def test_scoring_needs_both_passing_and_blocking():
    def v(kind: str, passed: bool, n: int = 0) -> Verdict:
        return Verdict(f"{kind}-{n}", kind, "story", passed, [] if passed else ["x"])

    sound = [v("sound", True, k) for k in range(3)]
    bad = [v(k, False) for k in ("quality", "slice", "invariance", "schema")]
    full = score_replay(sound + bad)
    assert all(i.passed for i in full)
    half = score_replay([v("sound", True, 0), v("sound", False, 1), v("sound", True, 2)] + bad)
    assert next(i for i in half if i.id == "gates.schema").points == pytest.approx(3.0 * 2 / 3)
    assert all(i.details["baseline_points"] == 0.0 for i in half)


def _sub(text: str | None) -> Submission:
    files = {} if text is None else {RELEASE_GATE: SubmittedFile(name=RELEASE_GATE, text=text, sha256="0", size=1)}
    return Submission(source="answer", files=files)


def _ev(scenario, releases: list[dict], moves: list[tuple[float, int, str]], end_day: float = 16.0):
    journal = [{"seq": k, "time": "", "day": d["day"], "kind": "event.fired", "actor": "timeline",
                "data": {"type": "release", **d}, "prev": "", "hash": ""} for k, d in enumerate(releases)]
    journal.append({"seq": 99, "time": "", "day": end_day, "kind": "scenario.ended", "actor": "timeline", "data": {},
                    "prev": "", "hash": ""})
    history = [AliasMove(seq=k, time="2026-01-01T00:00:00+00:00", day=day, model=scenario.model.name, alias="champion",
                         to=to, actor=actor, reason="r") for k, (day, to, actor) in enumerate(moves)]
    return SimpleNamespace(scenario=scenario, journal=journal, alias_history=history, model=scenario.model.name,
                           entries=lambda kind: [e for e in journal if e["kind"] == kind])


def _gated(version: int, day: float, decision: str) -> dict:
    return {"version": version, "day": day, "decision": decision, "gate_sha256": "ab" * 32, "failed": []}


def test_a_drill_where_the_gate_held_the_bad_ones_and_shipped_the_good_one(scenario):
    releases = [_gated(2, 2, "blocked"), _gated(3, 5, "blocked"), _gated(4, 8, "blocked"), _gated(5, 11, "promoted")]
    ev = _ev(scenario, releases, [(0.0, 1, "train"), (11.0, 5, "release-pipeline")])
    items = grade_gates(ev, _sub(EXPERT))[len(REPLAY):]
    assert [i.id for i in items] == [d[0] for d in DRILL] and all(i.passed for i in items), \
        [(i.id, i.feedback) for i in items]


def test_a_drill_without_a_gate_lets_the_bad_release_out(scenario):
    releases = [{"version": 2, "day": 2, "decision": "promoted", "gate": None},
                _gated(3, 5, "blocked"), _gated(4, 8, "blocked"), _gated(5, 11, "promoted")]
    moves = [(0.0, 1, "train"), (2.0, 2, "release-pipeline"), (2.5, 1, "user"), (11.0, 5, "release-pipeline")]
    items = {i.id: i for i in grade_gates(_ev(scenario, releases, moves), _sub(EXPERT))}
    kept = items["gates.drill.kept-out"]
    # v2 was rolled back within a day: half its share lost, and the feedback says how long it served
    assert 0 < kept.points < kept.max_points and "v2" in kept.feedback and "0.50 days" in kept.feedback
    assert items["gates.drill.shipped"].passed
    assert items["gates.drill.recorded"].points == pytest.approx(4.0 * 3 / 4)
    assert "v2 (promoted)" in items["gates.drill.recorded"].feedback


def test_a_gate_that_blocks_the_sound_release_is_told_so(scenario):
    releases = [_gated(2, 2, "blocked"), _gated(3, 5, "blocked"), _gated(4, 8, "blocked"),
                {**_gated(5, 11, "blocked"), "failed": ["invariance to region"]}]
    items = {i.id: i for i in grade_gates(_ev(scenario, releases, [(0.0, 1, "train")]), _sub(EXPERT))}
    assert items["gates.drill.kept-out"].passed
    shipped = items["gates.drill.shipped"]
    assert shipped.points == 0 and "invariance to region" in shipped.feedback


def test_missing_or_broken_gate_scores_zero_with_the_reason(scenario):
    ev = _ev(scenario, [], [(0.0, 1, "train")])
    missing = grade_gates(ev, _sub(None))
    assert sum(i.points for i in missing) == 0 and "missing" in missing[0].feedback
    assert "Not observed" in missing[-1].feedback
    broken = grade_gates(ev, _sub("slices: {column: age_band}\n"))
    assert sum(i.points for i in broken) == 0 and "max_drop" in broken[0].feedback
