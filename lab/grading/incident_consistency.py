"""The drift incident plan against the drill: were the drill's decisions taken by the role the plan
says decides?

`lab promote`, `lab rollback` and `lab retrain` take ``--by ROLE`` (who took the decision); the
journal keeps it as ``decided_by``. The runbook's incident plan names who decides (and who owns an
incident). Item ``pmm.incident.consistent`` (lab practice, :data:`POINTS` on the runbook's scale of
100): each decision recorded with a role earns its share when that role is the plan's decider or
incident owner (every word of the role in one sentence, table row or list item that gives it that
duty); decisions recorded without a role earn half their share (the journal cannot show who
decided); a plan that names no decider earns nothing. No decision in the drill: not applicable.

>>> plan = "## Drift incident plan\\nThe ML lead decides whether to roll back or retrain, within 4 hours."
>>> item = grade_incident_consistency(plan, [Decision("rollback", "ML lead", 12.5, 7)])
>>> item.points == item.max_points
True
>>> grade_incident_consistency(plan, [Decision("promote", "intern", 3.0, 4)]).points
0.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lab.grading.items import Item, sentence

ITEM_ID = "pmm.incident.consistent"
TITLE = "The drill's decisions were taken by the role the incident plan names (good practice)"
POINTS = 3.0
UNNAMED_SHARE = 0.5
DECISION_KINDS = ("promote", "rollback", "retrain")
DECIDES = re.compile(r"decid|decision|approv|sign[\s-]*s?[\s-]*off|authori[sz]|go/no[\s-]*go|owns?\b|owner|triag|"
                     r"leads? the incident|incident (?:lead|owner|commander)", re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    kind: str  # promote, rollback or retrain
    by: str | None  # the role given with --by
    day: float | None
    seq: int


def decisions_of(journal: list[dict[str, Any]]) -> list[Decision]:
    """The user's decisions in a journal, with the role each was taken by."""
    return [Decision(e["kind"], (e["data"].get("decided_by") or None), e.get("day"), e["seq"])
            for e in journal if e["kind"] in DECISION_KINDS and e.get("actor") == "user"]


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ("the", "a", "an", "of", "our")]


def _named(role: str, duties: list[str]) -> bool:
    wanted = _words(role)
    return bool(wanted) and any(all(re.search(rf"\b{re.escape(w)}", d.lower()) for w in wanted) for d in duties)


def grade_incident_consistency(text: str | None, decisions: list[Decision], *, template: str | None = None,
                               details: dict[str, Any] | None = None) -> Item | None:
    """The item (None: no decision in the drill, nothing to check); ``details`` go on it as they
    are (the runbook's rubric version)."""
    if not decisions:
        return None
    from lab.grading.markdown.parse import parse_markdown

    duties = [] if text is None else [s.text for s in parse_markdown(text, template=template).content
                                      if DECIDES.search(s.text)]

    def item(share: float, feedback: str, evidence: str = "") -> Item:
        return Item(id=ITEM_ID, skill="pmm_runbook", title=TITLE, points=round(POINTS * share, 6), max_points=POINTS,
                    feedback=feedback, evidence=evidence, details={**(details or {}), "binding": "lab practice"})

    listed = "; ".join(f"{d.kind} (journal seq {d.seq}) by {d.by or 'no role given'}" for d in decisions)
    if not duties:
        return item(0.0, "The plan names nobody who decides or owns an incident, so the drill's decisions cannot be "
                         "checked against it. Lab practice: name the role that decides (roll back, retrain, keep).",
                    listed)
    shares, notes = [], []
    for d in decisions:
        if d.by is None:
            shares.append(UNNAMED_SHARE)
            notes.append(f"{d.kind} (seq {d.seq}) recorded no role (`--by ROLE`)")
        elif _named(d.by, duties):
            shares.append(1.0)
        else:
            shares.append(0.0)
            notes.append(f"{d.kind} (seq {d.seq}) was taken by {d.by!r}, whom the plan does not give the decision")
    share = sum(shares) / len(shares)
    feedback = ("Every decision in the drill was taken by a role the plan gives it." if not notes else
                sentence("; ".join(notes)))
    return item(share, feedback, listed)


__all__ = ["DECISION_KINDS", "Decision", "POINTS", "decisions_of", "grade_incident_consistency"]
