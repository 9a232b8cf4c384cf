"""Grades ``post_market_monitoring.md`` against a rubric kept as data (skill "pmm_runbook").

The rubric (``rubrics/pmm_runbook.yaml``, schema in :mod:`lab.grading.runbook_rubric`)
lists the checkable obligations of the EU AI Act, each with its citation, the risk
classes it applies to (and those where it is only good practice), its points, a small
declarative check and the sources its legal facts were checked against; it carries
``law_as_at``. :func:`grade_runbook` is a pure function of the submitted text, the
scenario's context and the rubric; each check kind is one function in :data:`CHECKS`.

>>> ctx = RunbookContext(scenario_id="hiring-data-drift", risk_class="high",
...                      risk_basis="Annex III point 4(a): recruitment", model_name="resume-screener",
...                      real_commands=("lab rollback",))
>>> items = grade_runbook("Serious incidents are reported within 30 days.", ctx)
>>> item = next(i for i in items if i.id == "pmm.art73-2.deadline")
>>> item.details["wrong"], item.points <= 0, item.feedback.split(";")[0]
(True, True, 'You give 30 days for serious-incident reports')

Facts count only where they are stated (same sentence, table row or metadata key, see
:mod:`lab.grading.markdown`). Wrong costs more than missing: an item stated wrongly
scores minus ``wrong_share`` times its points (the rubric's header says why), and the
skill's total never goes below zero. Items that apply are rescaled to sum to 100.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lab.grading.items import Item
from lab.grading.markdown import Document, parse_markdown
from lab.grading.runbook_checks import (
    Env,
    Verdict,
    before,
    cooccur,
    count,
    family_labels,
    metrics_thresholds,
    quantity,
    rollback,
    thresholds_match,
)
from lab.grading.runbook_law import alternative, application_date, classification, overclaim
from lab.grading.runbook_rubric import (
    RUBRIC_PATH,
    TEMPLATE_PATH,
    Rubric,
    RubricError,
    RubricItem,
    RunbookContext,
    annex_point,
    default_template,
    load_rubric,
    parse_rubric,
)

__all__ = ["CHECKS", "RUBRIC_PATH", "SKILL", "TEMPLATE_PATH", "Rubric", "RubricError", "RunbookContext", "Verdict",
           "annex_point", "default_template", "grade_runbook", "load_rubric", "parse_rubric"]

SKILL = "pmm_runbook"

#: One function per check kind: ``(item, check, document, context, env) -> Verdict``.
CHECKS: dict[str, Callable[[RubricItem, Any, Document, RunbookContext, Env], Verdict]] = {
    "quantity": quantity,
    "cooccur": cooccur,
    "count": count,
    "before": before,
    "classification": classification,
    "application_date": application_date,
    "metrics_thresholds": metrics_thresholds,
    "thresholds_match": thresholds_match,
    "rollback": rollback,
    "overclaim": overclaim,
}


def grade_runbook(text: str | None, ctx: RunbookContext, *, rubric: Rubric | None = None,
                  template: str | None = None) -> list[Item]:
    """Score ``post_market_monitoring.md`` (None: the file is missing) item by item.

    ``template`` is the untouched template (default: ``runbooks/post_market_monitoring.md``);
    lines copied from it unchanged are not credited.
    """
    rubric = rubric or load_rubric()
    applicable = [i for i in rubric.items if i.applies(ctx)]
    if ctx.monitoring_thresholds is None:
        applicable = [i for i in applicable if i.check.kind != "thresholds_match"]
    total = sum(i.points for i in applicable if i.points > 0)
    scale = 100.0 / total if total else 0.0
    if template is None:
        template = default_template()
    doc = parse_markdown(text, template=template) if text is not None else None
    env = Env(rubric=rubric, families=family_labels(rubric))
    items = []
    for ri in applicable:
        if doc is None:
            verdict = Verdict(0.0, "post_market_monitoring.md is missing.")
        else:
            verdict = evaluate(ri, doc, ctx, env)
            if doc.metadata_error and verdict.score < 1.0 and ri.points > 0:
                verdict = Verdict(verdict.score, f"{verdict.reason} (Not read: {doc.metadata_error}.)",
                                  verdict.evidence, verdict.wrong)
        items.append(_to_item(ri, verdict, scale, rubric, ctx))
    return _floor_at_zero(items)


def evaluate(ri: RubricItem, doc: Document, ctx: RunbookContext, env: Env) -> Verdict:
    """One item's verdict: its check, or another route the law allows for this basis."""
    verdict = CHECKS[ri.check.kind](ri, ri.check, doc, ctx, env)
    if ri.points > 0 and not verdict.wrong and verdict.score < 1.0:
        alt = alternative(ri, doc, ctx)
        if alt is not None:
            return alt
    return verdict


def _to_item(ri: RubricItem, v: Verdict, scale: float, rubric: Rubric, ctx: RunbookContext) -> Item:
    law = ri.is_law(ctx)
    wording = ri.voluntary if not law and ri.voluntary is not None else None
    title = wording.title if wording else ri.title
    citation = wording.citation if wording else ri.citation
    advice = wording.feedback if wording else ri.feedback
    details: dict[str, Any] = {"law_as_at": rubric.law_as_at.isoformat(), "rubric_version": rubric.rubric_version,
                               "check": ri.check.kind, "wrong": v.wrong, "law": law}
    if ri.points < 0:
        points = round(ri.points * scale * v.score, 6) if v.score else 0.0
        feedback = v.reason if v.score == 0 else f"{v.reason} {advice}"
        return Item(id=ri.id, skill=SKILL, title=title, points=points, max_points=0.0, feedback=feedback,
                    evidence=v.evidence, citation=citation, details=details)
    max_points = ri.points * scale
    if v.wrong:
        points = -rubric.wrong_share * max_points
        feedback = (f"{v.reason} A wrong fact costs more than a missing one: it takes this item's points "
                    f"away from the skill. {advice}").strip()
    else:
        score = max(0.0, min(1.0, v.score))
        points = max_points * score
        feedback = v.reason if score >= 1.0 else f"{v.reason} {advice}".strip()
    return Item(id=ri.id, skill=SKILL, title=title, points=round(points, 6), max_points=round(max_points, 6),
                feedback=feedback, evidence=v.evidence, citation=citation, details=details)


def _floor_at_zero(items: list[Item]) -> list[Item]:
    """Shrink the negative items in proportion so that the skill's total is not below zero."""
    total = sum(i.points for i in items)
    negative = sum(i.points for i in items if i.points < 0)
    if total >= 0 or negative == 0:
        return items
    keep = 1.0 - total / negative  # share of each penalty that stays
    out = []
    for i in items:
        if i.points < 0:
            i = replace(i, points=round(i.points * keep, 6), details={**i.details, "capped_from": i.points})
        out.append(i)
    return out
