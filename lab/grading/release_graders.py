"""The release skills, graded from evidence: shadow deployment ("shadow") and rollback ("rollback").

The actions are never declared by the user: they are read from the alias history, the
request logs, the journal and the labels in the evidence bundle
(:mod:`lab.grading.release_facts`, one reading shared by every item); ``decisions.yaml``
only adds the user's reasons. The graders live in :mod:`lab.grading.shadow_grader` and
:mod:`lab.grading.rollback_grader`; this module keeps their public names in one place.
"""

from __future__ import annotations

from lab.grading.release_facts import SWITCH_GRACE_SECONDS, ReleaseFacts, ShadowPeriod, release_facts
from lab.grading.rollback_grader import RECOVERY_BANDS, ROLLBACK, grade_rollback
from lab.grading.shadow_grader import (DECISION_MARGIN, LATENCY_RATIO, LATENCY_SLACK_MS, MIN_LABELLED,
                                       MIN_LATENCY_SAMPLES, MIN_MIRRORED, SHADOW, grade_shadow)

__all__ = ["DECISION_MARGIN", "LATENCY_RATIO", "LATENCY_SLACK_MS", "MIN_LABELLED", "MIN_LATENCY_SAMPLES",
           "MIN_MIRRORED", "RECOVERY_BANDS", "ROLLBACK", "SHADOW", "SWITCH_GRACE_SECONDS", "ReleaseFacts",
           "ShadowPeriod", "grade_rollback", "grade_shadow", "release_facts"]
