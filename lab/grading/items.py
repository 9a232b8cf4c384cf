"""What every grader returns: scored items, each explaining its points.

A grader is a pure function ``(evidence, submission) -> list[Item]``. It never calls
a service, so the same inputs always give the same items.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Skill = Literal["shadow", "rollback", "gates", "canary", "retraining", "observability", "drift_thresholds",
                "model_card", "pmm_runbook", "datasheet"]
SKILLS: tuple[Skill, ...] = ("shadow", "rollback", "gates", "canary", "retraining", "observability", "drift_thresholds",
                             "model_card", "pmm_runbook", "datasheet")


def sentence(text: str) -> str:
    """``text`` as a sentence: first letter upper case (the rest untouched), a full stop at the end.

    >>> sentence("`lab gate apply` was not run")
    '`lab gate apply` was not run.'
    >>> sentence("v2 (seq 4) recorded no role (`--by ROLE`)")
    'V2 (seq 4) recorded no role (`--by ROLE`).'
    """
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


@dataclass(frozen=True)
class Item:
    id: str  # stable, e.g. "pmm.art73.deadline-15d"
    skill: Skill
    title: str  # what is checked, in a few words
    points: float
    max_points: float
    feedback: str  # what was missing, and what a strong answer does
    evidence: str = ""  # what the grader looked at (a quote, a number, a file:line)
    citation: str | None = None  # e.g. "AI Act Art. 73(2)"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.points >= self.max_points - 1e-9

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d
