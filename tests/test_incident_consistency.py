"""The incident plan against the drill: the journal's decisions (`--by ROLE`) taken by the role the
plan gives the decision. Pure: a plan's text and the decisions, no servers."""

from __future__ import annotations

import pytest

from lab.errors import UsageError
from lab.grading.incident_consistency import POINTS, Decision, decisions_of, grade_incident_consistency
from lab.release.options import check_role

PLAN = """# Post-market monitoring

## 12. Drift incident plan

| role | duty |
|---|---|
| ML engineer on call | owns the incident: acknowledges the alert within 30 minutes and triages it |
| Head of talent acquisition | decides whether to roll back, retrain or keep the model, within 4 hours |
| Compliance officer | informs the deployers and the people affected |
"""


def test_decisions_by_the_planned_roles_earn_full_marks():
    item = grade_incident_consistency(PLAN, [Decision("rollback", "head of talent acquisition", 12.0, 9),
                                             Decision("promote", "ML engineer on call", 5.0, 4)])
    assert item.points == item.max_points == POINTS and item.skill == "pmm_runbook"


def test_a_decision_by_a_role_the_plan_does_not_give_it_is_named():
    item = grade_incident_consistency(PLAN, [Decision("rollback", "Compliance officer", 12.0, 9),
                                             Decision("promote", "Head of talent acquisition", 5.0, 4)])
    assert item.points == pytest.approx(POINTS / 2)
    assert "'Compliance officer', whom the plan does not give the decision" in item.feedback


def test_decisions_without_a_role_earn_half_and_say_how_to_record_one():
    item = grade_incident_consistency(PLAN, [Decision("rollback", None, 12.0, 9)])
    assert item.points == pytest.approx(POINTS / 2) and "--by ROLE" in item.feedback


def test_a_plan_without_a_decider_or_a_missing_runbook_earns_nothing():
    for text in (None, "# Runbook\n\nWe monitor drift every day.\n"):
        item = grade_incident_consistency(text, [Decision("rollback", "ML lead", 12.0, 9)])
        assert item.points == 0 and "names nobody who decides" in item.feedback


def test_no_decision_in_the_drill_is_not_graded():
    assert grade_incident_consistency(PLAN, []) is None


def test_only_the_users_decisions_are_read_from_the_journal():
    journal = [{"seq": 1, "kind": "promote", "actor": "user", "day": 3.0, "data": {"decided_by": "ML lead"}},
               {"seq": 2, "kind": "rollback", "actor": "user", "day": 4.0, "data": {}},
               {"seq": 3, "kind": "promote", "actor": "release-pipeline", "day": 5.0, "data": {}},
               {"seq": 4, "kind": "shadow.started", "actor": "user", "day": 5.0, "data": {}}]
    assert decisions_of(journal) == [Decision("promote", "ML lead", 3.0, 1), Decision("rollback", None, 4.0, 2)]


@pytest.mark.parametrize("bad", ["", "   ", "12", "x" * 81])
def test_a_bad_role_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="--by"):
        check_role(bad)
