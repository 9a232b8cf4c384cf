"""The scenario clock stops at the scenario's end, and pause/resume freeze it: no server needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.scenario import run
from lab.errors import StateError
from lab.core.home import Clock, Home
from lab.core.journal import Journal, verify
from lab.scenario.schema import load_scenario
from lab.world.timeline_runner import due
from lab.world.traffic import hold_reason


def test_the_day_never_passes_the_end(tmp_path: Path):
    clock = Clock(tmp_path / "clock.json")
    clock.start(speed=2.0, end=40, now=1000.0)
    assert clock.day(now=1000.0 + 2.0 * 39.5) == pytest.approx(39.5)
    assert not clock.ended(now=1000.0 + 2.0 * 39.5)
    assert clock.day(now=1000.0 + 2.0 * 44.21) == 40.0  # the issue saw "day 44.21 of 40"
    assert clock.day(now=1000.0 + 2.0 * 113) == 40.0
    assert clock.ended(now=1000.0 + 2.0 * 40)


def test_restarting_keeps_the_end_and_the_day(tmp_path: Path):
    clock = Clock(tmp_path / "clock.json")
    clock.start(speed=1.0, end=10, now=0.0)
    clock.stop(now=25.0)  # lab down after the end
    assert clock.day() == 10.0
    clock.start(speed=1.0, now=100.0)  # lab up again, no end given: the old end stands
    assert clock.end == 10.0 and clock.day(now=150.0) == 10.0 and clock.ended(now=150.0)


def test_pause_freezes_the_day_and_resume_continues_from_it(tmp_path: Path):
    clock = Clock(tmp_path / "clock.json")
    clock.start(speed=10.0, end=40, now=0.0)
    clock.pause(now=50.0)  # day 5
    assert clock.paused and not clock.running
    assert clock.day(now=50.0) == clock.day(now=5000.0) == pytest.approx(5.0)
    clock.resume(now=1000.0)
    assert clock.running and not clock.paused
    assert clock.day(now=1020.0) == pytest.approx(7.0)  # the 950 s paused cost no scenario time
    clock.resume(now=2000.0)  # resuming a running clock changes nothing
    assert clock.day(now=1020.0) == pytest.approx(7.0)


def _home(tmp_path: Path, started_at: float) -> Home:
    home = Home(tmp_path / "home")
    home.root.mkdir()
    Clock(home.clock_json).start(speed=10.0, end=40, now=started_at)
    Journal(home.journal).append("lab.header", {}, day=0.0)
    return home


def test_pause_and_resume_are_journaled_once(tmp_path: Path):
    import time

    home = _home(tmp_path, started_at=time.time() - 30)  # day 3
    first = run.pause(home)
    assert first is not None and first["kind"] == "lab.paused" and first["day"] == pytest.approx(3.0, abs=0.1)
    assert run.pause(home) is None  # pausing twice is safe and journals nothing
    frozen = Clock(home.clock_json).day()
    resumed = run.resume(home)
    assert resumed is not None and resumed["kind"] == "lab.resumed" and resumed["data"]["day"] == frozen
    assert run.resume(home) is None
    kinds = [e["kind"] for e in Journal(home.journal).entries()]
    assert kinds == ["lab.header", "lab.paused", "lab.resumed"]
    verify(home.journal)


def test_an_ended_scenario_cannot_be_paused(tmp_path: Path):
    home = _home(tmp_path, started_at=0.0)  # long past day 40
    with pytest.raises(StateError, match="has ended"):
        run.pause(home)


def test_traffic_holds_while_paused_and_before_the_clock_but_not_after_the_end(tmp_path: Path):
    clock = Clock(tmp_path / "clock.json")
    assert hold_reason(clock) == "waiting for the clock"
    clock.start(speed=60.0, end=40)
    assert hold_reason(clock) is None
    clock.pause()
    assert hold_reason(clock) == "paused"
    clock.resume()
    clock.jump_to(40.0)
    assert clock.ended() and hold_reason(clock) is None  # the last day's traffic goes on


def test_timeline_due_fires_in_day_order_and_labels_after_the_delay():
    scenario = load_scenario("credit-concept-drift")  # deploy day 0, economic-shock day 15, labels 5 days late
    assert due(scenario, 0.0, set(), set()) == (["deploy"], [])
    assert due(scenario, 16.0, set(), set()) == (["deploy", "economic-shock"], list(range(0, 12)))
    assert due(scenario, 16.0, {"deploy", "economic-shock"}, set(range(0, 11))) == ([], [11])
    # at the end (day 40) every event is due and labels through day 35 have arrived
    events, days = due(scenario, 40.0, set(), set())
    assert events == ["deploy", "economic-shock"] and days[-1] == 35


def test_pause_and_resume_need_a_running_lab(tmp_path: Path):
    from lab.stack import control as stack
    from tests.conftest import run_lab

    home = Home(tmp_path / "home")
    stack.prepare(home, "credit-concept-drift", 4, 10.0, 0)  # a home, but nothing runs
    for command in ("pause", "resume"):
        proc = run_lab(command, home=home.root)
        assert proc.returncode == 3 and "is not running" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(Journal(home.journal).entries("lab.paused"))
