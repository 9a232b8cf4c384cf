"""Grades ``datasheet.md`` against the run's training data (skill "datasheet").

A strong datasheet (the seven sections of Gebru et al., "Datasheets for Datasets", 2018/2021:
motivation, composition, collection process, preprocessing/cleaning/labeling, uses,
distribution, maintenance; good practice, not law) fills every section with statements about
this data, and states its facts rightly: the training set's size and collection window, its
features, which attributes are sensitive (kept for fairness slices, not model inputs), what
the label means and how late it arrives, and the base rate overall and per group. The facts
come from the evidence (:class:`lab.scenario.datafacts.TrainingData`: the champion's training
rows, recomputed from the seeded scenario); items, points, tolerances and cue words are data
(``rubrics/datasheet.yaml``). Wrong costs more than missing, as in the runbook: a fact stated
wrongly for its own subject scores minus its points, and the skill's total stops at zero.

>>> from lab.scenario.datafacts import TrainingData, VersionData
>>> facts = TrainingData(scenario="s", seed=1, domain="churn", generator="churn", question="will they cancel?",
...     features=("tenure_months",), sensitive_attributes=(), label_delay_days=7, rows_per_day=600,
...     reference_days=(-30, 0), eval_days=(-10, 0), eval_rows=6000, versions=[VersionData(version=1,
...     role="champion", train_days=(-60, -10), rows=30000, positives=6800, base_rate=0.2267, group_base_rates={})])
>>> ctx = DatasheetContext(facts=facts, champion_version=1, model_name="churn-predictor")
>>> items = grade_datasheet("# Data\\n\\nThe training set holds 45,000 rows of customers.", ctx)
>>> item = next(i for i in items if i.id == "ds.rows")
>>> item.points < 0, item.details["wrong"], item.feedback.split(";")[0]
(True, True, 'The datasheet says 45,000 rows for the training set')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lab.core.frozen import Frozen
from lab.core.paths import TEMPLATE_DIR, read_template
from lab.grading.card_checks import quote, substantive
from lab.grading.card_facts import any_of, attr_pattern, group_pattern
from lab.grading.datasheet_facts import DataClaim, extract_claims
from lab.grading.datasheet_rubric import DatasheetItem, DatasheetRubric, load_datasheet_rubric
from lab.grading.items import Item
from lab.grading.markdown import Document, Snippet, parse_markdown, phrase
from lab.scenario.datafacts import TrainingData, VersionData

__all__ = ["DatasheetContext", "SKILL", "TEMPLATE_PATH", "datasheet_context", "grade_datasheet"]

TEMPLATE_PATH = TEMPLATE_DIR / "datasheet.md"
SKILL = "datasheet"
_DATA_NUMBER = re.compile(r"\d.*(?:days?|rows|records|weeks?|months?|period|window)|"
                          r"(?:days?|rows|records|weeks?|months?|period|window)\D{0,30}\d", re.I)


class DatasheetContext(Frozen):
    """What the datasheet is checked against: the run's training data and the champion it trained."""

    facts: TrainingData
    champion_version: int
    model_name: str = ""

    def champion(self) -> VersionData:
        v = self.facts.version(self.champion_version) or self.facts.version(1)
        if v is None:
            raise ValueError("the training data facts list no version")
        return v


@dataclass(frozen=True)
class Verdict:
    score: float  # share of the item's points; below 0 only with ``wrong``
    reason: str
    evidence: str = ""
    wrong: bool = False
    details: dict[str, Any] | None = None


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _days(v: VersionData) -> str:
    return f"days {v.train_days[0]} to {v.train_days[1]}"


class Datasheet:
    """Everything the datasheet states, read once; one method per check."""

    def __init__(self, doc: Document, ctx: DatasheetContext, rubric: DatasheetRubric) -> None:
        self.doc, self.ctx, self.rubric = doc, ctx, rubric
        self.facts, self.champ = ctx.facts, ctx.champion()
        self.groups = {a: {g: group_pattern(g) for g in self.champ.group_base_rates.get(a, {})}
                       for a in self.facts.sensitive_attributes}
        self.claims = extract_claims(doc, rubric, self.groups)
        self.judged = [(c, self._judge(c)) for c in self.claims]
        self.wrong_snippets = {id(c.snippet) for c, ok in self.judged if ok is False}
        self.specific = self._specific()
        self._sections: dict[str, Verdict] = {}

    # ------------------------------------------------------------- claims against the facts

    def _judge(self, c: DataClaim) -> bool | None:
        """True right, False wrong, None not checkable. A training set's size or window that is another
        registered version's ("v2 was trained on 48,000 rows") is not the champion's, but not wrong."""
        ok = self._judge_for(c, self.champ)
        if ok is False and c.subject == "train" and c.kind in ("rows", "window_range", "window_length") and any(
                self._judge_for(c, v) for v in self.facts.versions if v.version != self.champ.version):
            return None
        return ok

    def _judge_for(self, c: DataClaim, v: VersionData) -> bool | None:
        f, r = self.facts, self.rubric
        if c.kind == "rows":
            truth = {"train": v.rows, "eval": f.eval_rows,
                     "reference": (f.reference_days[1] - f.reference_days[0]) * f.rows_per_day}[c.subject]
            return abs(c.value - truth) <= r.rows_tolerance * truth + 0.5
        if c.kind == "window_range":
            first, last = {"train": v.train_days, "eval": f.eval_days, "reference": f.reference_days}[c.subject]
            tol = r.days_tolerance
            return abs(c.value - first) <= tol and (c.value2 is not None and (
                abs(c.value2 - last) <= tol or abs(c.value2 - (last - 1)) <= tol))
        if c.kind == "window_length":
            first, last = {"train": v.train_days, "eval": f.eval_days, "reference": f.reference_days}[c.subject]
            length = last - first
            if abs(c.value - length) <= r.days_tolerance:
                return True
            # "from 60 to 10 days before deployment" names the window's ends, not its length
            return None if any(abs(c.value - abs(x)) <= r.days_tolerance for x in (first, last, last - 1)) else False
        if c.kind == "delay":
            return abs(c.value - f.label_delay_days) <= 1e-6 or abs(c.value - f.label_delay_days) < 1 / 24 + 1e-9
        if c.kind == "rate":
            if c.subject == "overall":
                return abs(c.value - v.base_rate) <= r.rate_tolerance + 1e-9
            attr, group = c.subject.split("\0")
            truth = v.group_base_rates.get(attr, {}).get(group)
            return None if truth is None else abs(c.value - truth) <= r.rate_tolerance + 1e-9
        return None

    def _truth(self, c: DataClaim) -> str:
        """What the training data says about ``c``'s subject."""
        f, v = self.facts, self.champ
        if c.kind == "rows":
            n = {"train": v.rows, "eval": f.eval_rows,
                 "reference": (f.reference_days[1] - f.reference_days[0]) * f.rows_per_day}[c.subject]
            return f"it holds {n:,} rows" + (f" ({_days(v)})" if c.subject == "train" else "")
        if c.kind in ("window_range", "window_length"):
            first, last = {"train": v.train_days, "eval": f.eval_days, "reference": f.reference_days}[c.subject]
            return f"it was collected on days {first} to {last} ({last - first} days, the last one excluded)"
        if c.kind == "delay":
            return f"labels arrive {_fmt(f.label_delay_days)} days after their row's day"
        if c.subject == "overall":
            return f"it is {_fmt(v.base_rate)} in the training set"
        attr, group = c.subject.split("\0")
        return f"{group} ({attr}) has {_fmt(v.group_base_rates[attr][group])} in the training set"

    def mine(self, *kinds: str) -> tuple[list[DataClaim], list[DataClaim]]:
        """The right and the wrong claims of ``kinds``."""
        right = [c for c, ok in self.judged if c.kind in kinds and ok is True]
        wrong = [c for c, ok in self.judged if c.kind in kinds and ok is False]
        return right, wrong

    def _wrong(self, wrong: list[DataClaim], what: str) -> Verdict:
        c = wrong[0]
        unit = " rows" if c.kind == "rows" and not re.search(r"[a-z]", c.raw, re.I) else ""
        return Verdict(-1.0, f"The datasheet says {c.raw}{unit} for {what}; {self._truth(c)}. A wrong fact costs "
                             f"more than a missing one.", quote(c.snippet), wrong=True,
                       details={"wrong_claims": [f"{x.raw}: {self._truth(x)}" for x in wrong]})

    # ------------------------------------------------------------- sections

    def _specific(self) -> re.Pattern[str]:
        f = self.facts
        parts = list(self.rubric.domains.get(f.domain, ())) + list(self.rubric.label_terms.get(f.generator, ()))
        parts += [attr_pattern(x) for x in (*f.features, *f.sensitive_attributes)]
        parts += [p for gs in self.groups.values() for p in gs.values()]
        if self.ctx.model_name:
            parts.append(re.escape(self.ctx.model_name))
        return any_of(parts)

    def _section_ids(self, spec: Any) -> list[int]:
        return [i for i, s in enumerate(self.doc.sections) if spec.accepts(s.heading)]

    def section(self, sid: str) -> Verdict:
        if sid not in self._sections:
            self._sections[sid] = self._section(sid)
        return self._sections[sid]

    def _section(self, sid: str) -> Verdict:
        spec = next(s for s in self.rubric.sections if s.id == sid)
        found = self._section_ids(spec)
        if not found:
            examples = ", ".join(f'"{e}"' for e in spec.examples)
            return Verdict(0.0, f"No {spec.title} section (headings accepted include {examples}).")
        snippets = self.doc.in_sections(found)
        real = [s for s in snippets if substantive(s)]
        heading = self.doc.sections[found[0]].heading
        if not real:
            keep = {k for i in found for k in self.doc.subtree(i)}
            written = [s for s in self.doc.non_template if s.section in keep]
            what = "is still template text" if not written else "lists keywords instead of statements"
            return Verdict(0.0, f'"{heading}" {what}. Write sentences about this data ({spec.title.lower()}).',
                           evidence=f"line {self.doc.sections[found[0]].line}")
        bad = [s for s in snippets if id(s) in self.wrong_snippets]
        if bad:
            return Verdict(0.0, f'"{heading}" states facts the training data contradicts.', quote(bad[0]), wrong=True)
        fact = next((s for s in real if self.specific.search(s.text) or _DATA_NUMBER.search(s.text)), None)
        if fact is not None:
            return Verdict(1.0, f'"{heading}" states facts about this data.', quote(fact))
        return Verdict(self.rubric.generic_section_credit,
                       f'"{heading}" is generic: nothing in it is about this data. It needs {spec.needs}.',
                       quote(real[0]))

    def fact_sections(self) -> int:
        return sum(1 for s in self.rubric.sections if self.section(s.id).score >= 1.0)

    def gated(self, v: Verdict) -> Verdict:
        """Facts earn their points in a datasheet that documents the data (see the card's substance gate)."""
        gate = self.rubric.substance_gate
        n = self.fact_sections()
        if v.score <= 0 or n >= gate.min_sections:
            return v
        return Verdict(v.score * gate.factor, f"{v.reason} But only {n} section(s) state facts about this data "
                                              f"(at least {gate.min_sections} needed for full credit).",
                       v.evidence, v.wrong, v.details)

    # ------------------------------------------------------------- facts

    def rows(self) -> Verdict:
        right, wrong = self.mine("rows")
        if wrong:
            return self._wrong(wrong, {"train": "the training set", "eval": "the evaluation set",
                                       "reference": "the reference window"}[wrong[0].subject])
        train = [c for c in right if c.subject == "train"]
        if train:
            return Verdict(1.0, f"States the training set's size ({train[0].raw}; it holds {self.champ.rows:,} rows).",
                           quote(train[0].snippet))
        return Verdict(0.0, "The datasheet does not say how many rows the training set holds.")

    def period(self) -> Verdict:
        right, wrong = self.mine("window_range", "window_length")
        if wrong:
            return self._wrong(wrong, "the collection window")
        train = [c for c in right if c.subject == "train"]
        if train:
            return Verdict(1.0, f"States when the training rows were collected ({train[0].raw}; {_days(self.champ)}).",
                           quote(train[0].snippet))
        return Verdict(0.0, "The datasheet does not say when the training rows were collected.")

    def label_delay(self) -> Verdict:
        right, wrong = self.mine("delay")
        if wrong:
            return self._wrong(wrong, "the label delay")
        if right:
            return Verdict(1.0, f"States the label delay ({right[0].raw}).", quote(right[0].snippet))
        return Verdict(0.0, "The datasheet does not say how long after a row's day its label arrives.")

    def base_rate(self) -> Verdict:
        right, wrong = [c for c in self.mine("rate")[0] if c.subject == "overall"], \
            [c for c in self.mine("rate")[1] if c.subject == "overall"]
        if wrong:
            return self._wrong(wrong, "the base rate")
        if right:
            return Verdict(1.0, f"States the training set's base rate ({right[0].raw}; it is "
                                f"{_fmt(self.champ.base_rate)}).", quote(right[0].snippet))
        return Verdict(0.0, "No overall base rate (share of label 1) of the training set.")

    def group_base_rates(self, attr: str) -> Verdict:
        truth = self.champ.group_base_rates.get(attr, {})
        right, wrong = self.mine("rate")
        right = [c for c in right if c.subject.startswith(attr + "\0")]
        wrong = [c for c in wrong if c.subject.startswith(attr + "\0")]
        ok = {c.subject.split("\0")[1] for c in right} - {c.subject.split("\0")[1] for c in wrong}
        bad = {c.subject.split("\0")[1] for c in wrong}
        n = max(len(truth), 1)
        score = (len(ok) - self.rubric.wrong_share * len(bad)) / n
        shown = ", ".join(f"{g} {_fmt(x)}" for g, x in sorted(truth.items()))
        details = {"right": sorted(ok), "wrong_groups": sorted(bad)}
        if bad:
            why = "; ".join(f"{c.raw} for {c.subject.split(chr(0))[1]}: {self._truth(c)}" for c in wrong)
            return Verdict(max(-1.0, score), f"Base rates disagree with the training data, each costing its share: "
                                             f"{why} (training set: {shown}).", quote(wrong[0].snippet), True, details)
        if len(ok) == len(truth):
            return Verdict(1.0, f"Gives the base rate of every {attr} group ({shown}).", quote(right[0].snippet),
                           details=details)
        missing = sorted(set(truth) - ok)
        return Verdict(score, f"{len(ok)} of {len(truth)} {attr} groups have a base rate that matches; missing: "
                              f"{', '.join(missing)}.", quote(right[0].snippet) if right else "", details=details)

    def features(self) -> Verdict:
        feats = self.facts.features
        named = [f for f in feats if any(phrase(attr_pattern(f)).search(s.text) for s in self.doc.content)]
        missing = [f for f in feats if f not in named]
        if not missing:
            return Verdict(1.0, f"Names every model input ({len(feats)}).")
        return Verdict(len(named) / max(len(feats), 1), f"Names {len(named)} of {len(feats)} model inputs; missing: "
                                                         f"{', '.join(missing)}.")

    def sensitive(self) -> Verdict:
        attrs = self.facts.sensitive_attributes
        if not attrs:
            return Verdict(1.0, "The data has no sensitive attribute to name.")
        cue, not_input = any_of(self.rubric.sensitive_cues), any_of(self.rubric.not_input_cues)
        wrong = self._sensitive_as_input()
        if wrong is not None:
            attr, s = wrong
            return Verdict(-1.0, f"The datasheet says {attr} is a model input; it is a sensitive attribute kept for "
                                 f"fairness slices, never given to the model.", quote(s), wrong=True)
        named, ev = [], ""
        for a in attrs:
            rx = phrase(attr_pattern(a))
            hit = next((s for s in self.doc.content if rx.search(s.text)
                        and (cue.search(s.text) or cue.search(s.context))), None)
            if hit is not None:
                named.append(a)
                ev = ev or quote(hit)
        said_not_input = any(not_input.search(s.text) for s in self.doc.content)
        score = 0.75 * len(named) / len(attrs) + (0.25 if said_not_input else 0.0)
        parts = []
        if len(named) < len(attrs):
            parts.append(f"not named as sensitive: {', '.join(a for a in attrs if a not in named)}")
        if not said_not_input:
            parts.append("the datasheet does not say that they are not model inputs")
        if not parts:
            return Verdict(1.0, f"Names the sensitive attributes ({', '.join(attrs)}) and keeps them out of the "
                                f"model's inputs.", ev)
        return Verdict(score, "; ".join(parts).capitalize() + ".", ev)

    def _sensitive_as_input(self) -> tuple[str, Snippet] | None:
        """A clause saying a sensitive attribute is a model input (its exact name, not a synonym:
        credit's raw ``age`` is an input, its ``age_band`` is not)."""
        claim = re.compile(r"\b(?:is|are)\s+(?:also\s+)?(?:used\s+as\s+|fed\s+to\s+the\s+model\s+as\s+)?(?:an?\s+)?"
                           r"(?:model\s+)?(?:inputs?|features?)\b", re.I)
        negated = re.compile(r"\bnot\b|\bnever\b|n't\b|\bonly for\b|\bexcluded\b", re.I)
        for a in self.facts.sensitive_attributes:
            if a in self.facts.features:
                continue
            name = re.compile(r"(?<![\w-])" + r"[\s_-]*".join(map(re.escape, a.split("_"))) + r"(?![\w-])", re.I)
            for s in self.doc.content:
                for clause in re.split(r"[.;]\s|,\s*(?:but|while|whereas)\s", s.text):
                    if name.search(clause) and claim.search(clause) and not negated.search(clause):
                        return a, s
        return None

    def label(self) -> Verdict:
        cue = any_of(self.rubric.label_cues)
        terms = any_of(self.rubric.label_terms.get(self.facts.generator, ()) or ["(?!)"])
        found = [s for s in self.doc.content if cue.search(s.text) and substantive(s)]
        defined = [s for s in found if terms.search(s.text)]
        if defined:
            return Verdict(1.0, f"Defines the label in this domain's terms ({self.facts.question}).", quote(defined[0]))
        if found:
            return Verdict(self.rubric.generic_label_credit,
                           f"Mentions the label but not what label = 1 means here ({self.facts.question}).",
                           quote(found[0]))
        return Verdict(0.0, "The datasheet does not define the label.")


_CHECKS: dict[str, Callable[[Datasheet], Verdict]] = {
    "rows": lambda d: d.gated(d.rows()),
    "period": lambda d: d.gated(d.period()),
    "features": lambda d: d.gated(d.features()),
    "sensitive": lambda d: d.gated(d.sensitive()),
    "label": lambda d: d.gated(d.label()),
    "label_delay": lambda d: d.gated(d.label_delay()),
    "base_rate": lambda d: d.gated(d.base_rate()),
}

Plan = list[tuple[str, str, float, DatasheetItem, Callable[[Datasheet], Verdict]]]


def _plan(ctx: DatasheetContext, rubric: DatasheetRubric) -> Plan:
    plan: Plan = []
    for spec in rubric.items:
        if spec.check == "section":
            for sec in rubric.sections:
                plan.append((f"{spec.id}.{sec.id}", spec.title.format(title=sec.title), spec.points, spec,
                             lambda d, sid=sec.id: d.section(sid)))
        elif spec.check == "group_base_rates":
            attrs = list(ctx.facts.sensitive_attributes)
            if not attrs:
                plan.append((spec.id, "Base rates per group", spec.points, spec,
                             lambda d: Verdict(1.0, "The data has no sensitive attribute to break down by.")))
            for attr in attrs:
                plan.append((f"{spec.id}.{attr}", spec.title.format(attr=attr), spec.points / len(attrs), spec,
                             lambda d, attr=attr: d.gated(d.group_base_rates(attr))))
        else:
            plan.append((spec.id, spec.title, spec.points, spec, _CHECKS[spec.check]))
    return plan


def grade_datasheet(text: str | None, ctx: DatasheetContext, *, template: str | None = None,
                    rubric: DatasheetRubric | None = None) -> list[Item]:
    """Score ``datasheet.md`` (None: the file is missing); max points sum to 100.

    ``template`` is the untouched template (default: ``runbooks/datasheet.md``); lines copied
    from it unchanged are not credited.
    """
    rubric = rubric or load_datasheet_rubric()
    plan = _plan(ctx, rubric)
    base = {"rubric_version": rubric.rubric_version, "source": rubric.source}
    if text is None:
        return [Item(id=i, skill=SKILL, title=t, points=0.0, max_points=round(p, 6),
                     feedback="datasheet.md is missing.", details={**base, "wrong": False}) for i, t, p, _, _ in plan]
    if template is None:
        template = read_template(TEMPLATE_PATH)
    doc = parse_markdown(text, template=template)
    sheet = Datasheet(doc, ctx, rubric)
    items = []
    for item_id, title, points, spec, fn in plan:
        v = fn(sheet)
        if v.wrong and v.score < 0:
            score = max(-1.0, v.score) * rubric.wrong_share
        else:
            score = max(0.0, min(1.0, v.score))
        feedback = v.reason if score >= 1.0 else f"{v.reason} {spec.feedback}".strip()
        if doc.metadata_error and score < 1.0:
            feedback += f" (Not read: {doc.metadata_error}.)"
        items.append(Item(id=item_id, skill=SKILL, title=title, points=round(points * score, 6),
                          max_points=round(points, 6), feedback=feedback, evidence=v.evidence,
                          details={**base, "wrong": v.wrong, **(v.details or {})}))
    return _floor_at_zero(items)


def _floor_at_zero(items: list[Item]) -> list[Item]:
    """Shrink the negative items in proportion so that the skill's total is not below zero."""
    total = sum(i.points for i in items)
    negative = sum(i.points for i in items if i.points < 0)
    if total >= 0 or negative == 0:
        return items
    keep = 1.0 - total / negative
    return [replace(i, points=round(i.points * keep, 6), details={**i.details, "capped_from": i.points})
            if i.points < 0 else i for i in items]


def datasheet_context(facts: TrainingData, champion_version: int | None, model_name: str = "") -> DatasheetContext:
    """The context of a run: its training data facts and the champion (default: the scenario's)."""
    champion = champion_version if facts.version(champion_version) else next(
        (v.version for v in facts.versions if v.role == "champion"), 1)
    return DatasheetContext(facts=facts, champion_version=champion, model_name=model_name)
