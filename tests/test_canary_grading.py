"""The canary grader on planted drills (synthetic journals of canary-rollout, no servers): an
expert's releases score full marks, and each mistake loses what it should, with the reason."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab.evidence.schema import AliasMove
from lab.grading.canary_grader import PLAN, grade_canary
from lab.scenario.schema import load_scenario, resolve

GOOD_GUARDS = {"max_p99_ms": 40.0, "max_error_rate": 0.01, "max_auc_drop": None}


@pytest.fixture(scope="module")
def scenario():
    sc, _ = resolve(load_scenario("canary-rollout"), 3)
    return sc


def _ev(scenario, entries: list[tuple[str, str, dict]], moves: list[tuple[float, int, str]]):
    journal = [{"seq": k, "time": "", "day": float(k), "kind": kind, "actor": actor, "data": data, "prev": "",
                "hash": ""} for k, (kind, actor, data) in enumerate(entries)]
    history = [AliasMove(seq=k, time="2026-01-01T00:00:00+00:00", day=day, model=scenario.model.name,
                         alias="champion", to=to, actor=actor, reason="r") for k, (day, to, actor) in enumerate(moves)]
    return SimpleNamespace(scenario=scenario, journal=journal, alias_history=history, model=scenario.model.name,
                           entries=lambda kind: [e for e in journal if e["kind"] == kind])


def started(version: int, guards=GOOD_GUARDS, steps=(5.0, 25.0, 50.0, 100.0)):
    return ("canary.started", "user", {"version": version, "guards": guards, "steps": list(steps)})


def rolled_back(version: int, guard="max_error_rate", value=1.0, limit=0.01, percent=5.0):
    return ("canary.rolled_back", "canary", {"version": version, "percent": percent,
                                             "breach": {"guard": guard, "value": value, "limit": limit}})


def items_of(ev) -> dict:
    return {i.id: i for i in grade_canary(ev)}


def test_the_expert_drill_scores_full_marks(scenario):
    ev = _ev(scenario, [started(2), rolled_back(2), started(3), ("canary.completed", "canary", {"version": 3})],
             [(0.0, 1, "train"), (6.0, 3, "canary")])
    items = items_of(ev)
    assert [i for i in items.values() if not i.passed] == []
    assert sum(i.max_points for i in items.values()) == sum(p for _, _, p in PLAN) == 24
    assert "max_error_rate" in items["canary.bad-stopped"].feedback


def test_releasing_without_canaries(scenario):
    ev = _ev(scenario, [("promote", "user", {"to": 3})], [(0.0, 1, "train"), (2.0, 3, "user")])
    items = items_of(ev)
    assert items["canary.guards"].points == 0 and "No canary" in items["canary.guards"].feedback
    assert items["canary.bad-stopped"].points == pytest.approx(4.0) and "never released" in items["canary.bad-stopped"].feedback
    assert items["canary.good-shipped"].points == pytest.approx(3.0) and "untested" in items["canary.good-shipped"].feedback


def test_loose_guards_a_big_first_step_and_the_failing_version_in_production(scenario):
    loose = {"max_p99_ms": 200.0, "max_error_rate": 0.2, "max_auc_drop": None}
    ev = _ev(scenario, [started(2, loose, (50.0, 100.0)), ("canary.completed", "canary", {"version": 2})],
             [(0.0, 1, "train"), (3.0, 2, "canary")])
    items = items_of(ev)
    assert items["canary.guards"].points == 0
    assert "looser than the 50 ms objective" in items["canary.guards"].feedback
    assert "error-rate guard 0.2 is looser than the 0.01 objective" in items["canary.guards"].feedback
    assert items["canary.first-step"].points == 0 and "v2 at 50%" in items["canary.first-step"].feedback
    assert items["canary.bad-stopped"].points == 0 and "became champion" in items["canary.bad-stopped"].feedback


def test_a_guard_tighter_than_needed_stops_the_sound_version_and_is_named(scenario):
    tight = {"max_p99_ms": 0.01, "max_error_rate": 0.0, "max_auc_drop": None}
    ev = _ev(scenario, [started(2, tight), rolled_back(2), started(3, tight),
                        rolled_back(3, guard="max_p99_ms", value=2.4, limit=0.01)], [(0.0, 1, "train")])
    items = items_of(ev)
    assert items["canary.guards"].passed  # within the objectives: tightness shows in the outcome
    assert items["canary.bad-stopped"].passed
    good = items["canary.good-shipped"]
    assert good.points == 0 and "max_p99_ms" in good.feedback and "tighter" in good.feedback


def test_half_the_guards_earn_half(scenario):
    ev = _ev(scenario, [started(2, {"max_p99_ms": None, "max_error_rate": 0.01, "max_auc_drop": 0.02}),
                        rolled_back(2)], [(0.0, 1, "train")])
    items = items_of(ev)
    assert items["canary.guards"].points == pytest.approx(3.0) and "no latency guard" in items["canary.guards"].feedback
    assert items["canary.good-shipped"].points == 0 and "never became champion" in items["canary.good-shipped"].feedback
