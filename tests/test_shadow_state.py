"""The shadow's status groups, drill faults and crash-loop detector (pure, no server)."""

from __future__ import annotations

import pytest

from lab.errors import InProgressError, LabError
from lab.core.journal import KINDS
from lab.serving.shadow_state import (
    ANSWERED, DROPPED, FAILED, STATUSES, CrashLoop, group, parse_fault, shadow_counts,
)


def test_every_status_is_in_exactly_one_group():
    assert ANSWERED | FAILED | DROPPED == STATUSES
    assert not (ANSWERED & FAILED) and not (ANSWERED & DROPPED) and not (FAILED & DROPPED)
    assert {group(s) for s in STATUSES} == {"answered", "failed", "dropped"}
    assert group(None) == "pending" and group("something new") == "pending"


def test_counts_keep_mirrored_answered_dropped_failed_apart_and_add_up():
    statuses = ["ok"] * 5 + ["late"] * 2 + ["unavailable"] * 7 + ["dropped", "cancelled", "error", "crashed"] + [None]
    records = [{"shadow_version": 2, **({"shadow_status": s} if s else {})} for s in statuses]
    records += [{"shadow_version": 3, "shadow_status": "ok"}, {"shadow_version": None}, {}]
    c = shadow_counts(records, 2)
    assert c == {"mirrored": 19, "answered": 7, "dropped": 9, "failed": 2, "pending": 1}
    assert c["answered"] + c["dropped"] + c["failed"] + c["pending"] == c["mirrored"]
    assert shadow_counts(records, 4)["mirrored"] == 0


@pytest.mark.parametrize("fault,expected", [
    (None, None), ("", None), ("error", ("error", 0.0)), ("crash", ("crash", 0.0)),
    ("delay_ms=300", ("delay_ms", 300.0)), ("load_delay_ms=12000", ("load_delay_ms", 12000.0)),
])
def test_known_faults_parse(fault, expected):
    assert parse_fault(fault) == expected


@pytest.mark.parametrize("fault", ["crsh", "delay_ms=", "delay_ms=-5", "delay_ms=1.5", "load_delay_ms=x", "sleep=3"])
def test_unknown_faults_are_refused_with_the_valid_ones_named(fault):
    with pytest.raises(ValueError, match="load_delay_ms=N"):
        parse_fault(fault)


def test_three_crashes_within_the_window_make_a_loop():
    loop = CrashLoop(crashes=3, window_s=300)
    assert not loop.crash(0.0) and not loop.crash(35.3)
    assert loop.crash(70.6)  # the incident's rhythm: one crash every 35.3 s
    assert loop.recent(70.6) == 3


def test_crashes_spread_wider_than_the_window_never_make_a_loop():
    loop = CrashLoop(crashes=3, window_s=300)
    assert not any(loop.crash(t) for t in (0.0, 200.0, 400.0, 600.0, 800.0))
    assert loop.recent(800.0) == 2  # 600 and 800; 400 left the window at 700


def test_a_crash_loop_needs_a_sensible_definition():
    with pytest.raises(ValueError):
        CrashLoop(crashes=0)
    with pytest.raises(ValueError):
        CrashLoop(window_s=0)


def test_crash_loop_is_a_journal_kind_and_still_warming_has_its_own_exit_code():
    assert "shadow.crash_loop" in KINDS
    assert InProgressError("x").exit_code == 5 and issubclass(InProgressError, LabError)
    assert {c.exit_code for c in LabError.__subclasses__()} >= {2, 3, 4, 5}
