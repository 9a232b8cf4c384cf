"""Grades ``post_market_monitoring.md`` against a rubric kept as data (skill "pmm_runbook").

The rubric (``rubrics/pmm_runbook.yaml``) lists the checkable obligations of the EU AI
Act, each with its citation, the risk classes it applies to, its points and a small
declarative check; it carries ``law_as_at``, the date its legal facts were checked.
:func:`grade_runbook` is a pure function of the submitted text, the scenario's
context and the rubric:

>>> ctx = RunbookContext(scenario_id="hiring-data-drift", risk_class="high",
...                      risk_basis="Annex III point 4(a): recruitment", model_name="resume-screener",
...                      real_commands=("lab rollback",))
>>> items = grade_runbook("Serious incidents are reported within 30 days.", ctx)
>>> item = next(i for i in items if i.id == "pmm.art73-2.deadline")
>>> item.points, item.feedback.split(";")[0]
(0.0, 'You give 30 days for serious-incident reports')

Facts count only where they are stated (same sentence, table row or metadata key, see
:mod:`lab.grading.markdown`); a confidently wrong fact scores zero for its item and
the feedback names both values. Items that apply are rescaled to sum to 100.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lab.errors import LabError
from lab.grading.items import Item
from lab.grading.markdown import (
    Document,
    Labelled,
    Number,
    Pattern,
    Snippet,
    assign,
    find_mentions,
    find_values,
    label_numbers,
    parse_markdown,
    phrase,
)

RUBRIC_PATH = Path(__file__).resolve().parent / "rubrics" / "pmm_runbook.yaml"
TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "runbooks" / "post_market_monitoring.md"
RiskClass = Literal["prohibited", "high", "limited", "minimal"]
SKILL = "pmm_runbook"


class RubricError(LabError):
    """The rubric file is invalid: a lab bug, not the user's (exit 1)."""


# --------------------------------------------------------------------------- context


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunbookContext(_Frozen):
    """What the runbook is graded against: the scenario, and the user's own configuration.

    ``monitoring_thresholds`` maps a monitored column or metric (``years_experience``,
    ``roc_auc``) to the threshold in the user's monitoring.yaml; None skips the
    cross-check. ``real_commands`` lists every ``lab`` command a runbook may name.
    """

    scenario_id: str
    risk_class: RiskClass
    risk_basis: str
    model_name: str
    monitoring_thresholds: dict[str, float] | None = None
    real_commands: tuple[str, ...] = ()

    @property
    def annex_point(self) -> str | None:
        """``"4(a)"`` for "Annex III point 4(a): ..."; None outside Annex III."""
        return annex_point(self.risk_basis)


def annex_point(text: str) -> str | None:
    """The Annex III point a basis names, as ``"4(a)"``.

    >>> annex_point("Annex III point 5(b): creditworthiness"), annex_point("Not in Annex III")
    ('5(b)', None)
    """
    m = re.search(r"annex\s+iii\b[^0-9.;]{0,30}?(\d+)\s*\(?\s*([a-h])\s*\)?", text, re.I)
    return f"{m.group(1)}({m.group(2).lower()})" if m else None


# --------------------------------------------------------------------------- rubric schema

Regex = str


def _check_regexes(values: Iterable[str]) -> None:
    for v in values:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"invalid pattern {v!r}: {exc}") from None


class _Check(_Frozen):
    @model_validator(mode="after")
    def _patterns_compile(self) -> "_Check":
        def walk(x: Any) -> Iterable[str]:
            if isinstance(x, str):
                yield x
            elif isinstance(x, BaseModel):
                for name in type(x).model_fields:
                    if name not in ("kind", "name", "bound", "subject", "message", "family", "unit", "distinct"):
                        yield from walk(getattr(x, name))
            elif isinstance(x, (list, tuple)):
                for v in x:
                    yield from walk(v)
            elif isinstance(x, dict):
                for v in x.values():
                    if isinstance(v, (list, tuple)):
                        yield from walk(v)

        _check_regexes(walk(self))
        return self


class QuantityCheck(_Check):
    kind: Literal["quantity"]
    family: str
    triggers: list[Regex] = Field(min_length=1)
    weak: bool = False
    requires: list[Regex] = []
    unit: Literal["days", "months"]
    at_most: float | None = Field(default=None, gt=0)
    at_least: float | None = Field(default=None, gt=0)
    bound: str
    subject: str
    stricter_credit: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _one_bound(self) -> "QuantityCheck":
        if (self.at_most is None) == (self.at_least is None):
            raise ValueError("give exactly one of at_most and at_least")
        return self


class Part(_Frozen):
    name: str
    all_of: list[Regex] = Field(min_length=1)


class Contradiction(_Frozen):
    pattern: Regex
    unless: list[Regex] = []
    message: str


class CooccurCheck(_Check):
    kind: Literal["cooccur"]
    scope: Literal["sentence", "block", "section"]
    anchors: list[Regex] = Field(min_length=1)
    parts: list[Part] = Field(min_length=1)
    need: int | None = Field(default=None, ge=1)
    exclude: list[Regex] = []
    contradictions: list[Contradiction] = []

    @model_validator(mode="after")
    def _need_fits(self) -> "CooccurCheck":
        if self.need is not None and self.need > len(self.parts):
            raise ValueError(f"need is {self.need} but there are only {len(self.parts)} parts")
        return self


class CountCheck(_Check):
    kind: Literal["count"]
    anchors: list[Regex] = Field(min_length=1)
    item: Regex
    need: int = Field(default=2, ge=1)
    distinct: Literal["items", "matches"] = "items"


class BeforeCheck(_Check):
    kind: Literal["before"]
    preserve: list[Regex] = Field(min_length=1)
    objects: list[Regex] = Field(min_length=1)
    change: list[Regex] = Field(min_length=1)
    connectors: list[Regex] = Field(min_length=1)


class ClassificationCheck(_Check):
    kind: Literal["classification"]


class Reading(_Frozen):
    name: str
    date: dt.date
    markers: list[Regex] = Field(min_length=1)
    weak_markers: list[Regex] = []


class ApplicationDateCheck(_Check):
    kind: Literal["application_date"]
    context: list[Regex] = Field(min_length=1)
    readings: list[Reading] = Field(min_length=2)
    other_dates: dict[dt.date, str] = {}


class MetricsThresholdsCheck(_Check):
    kind: Literal["metrics_thresholds"]
    categories: dict[str, list[Regex]] = Field(min_length=1)
    cues: list[Regex] = Field(min_length=1)


class ThresholdsMatchCheck(_Check):
    kind: Literal["thresholds_match"]
    cues: list[Regex] = Field(min_length=1)
    need: int = Field(default=3, ge=1)


class RollbackCheck(_Check):
    kind: Literal["rollback"]
    context: list[Regex] = Field(min_length=1)


class OverclaimCheck(_Check):
    kind: Literal["overclaim"]
    claims: list[Regex] = Field(min_length=1)
    binding: list[Regex] = Field(min_length=1)
    voluntary: list[Regex] = Field(min_length=1)


Check = Annotated[
    Union[QuantityCheck, CooccurCheck, CountCheck, BeforeCheck, ClassificationCheck, ApplicationDateCheck,
          MetricsThresholdsCheck, ThresholdsMatchCheck, RollbackCheck, OverclaimCheck],
    Field(discriminator="kind"),
]


class RubricItem(_Frozen):
    id: str = Field(pattern=r"^pmm\.[a-z0-9.\-]+$")
    title: str = Field(min_length=3)
    citation: str | None
    applies_to: list[RiskClass] = Field(min_length=1)
    applies_if_basis: list[str] = []
    points: float
    check: Check
    feedback: str = Field(min_length=20)

    @model_validator(mode="after")
    def _sign(self) -> "RubricItem":
        penalty = isinstance(self.check, OverclaimCheck)
        if penalty and self.points >= 0:
            raise ValueError("an overclaim item is a penalty: its points must be negative")
        if not penalty and self.points <= 0:
            raise ValueError("points must be positive (only overclaim items are penalties)")
        return self

    def applies(self, ctx: RunbookContext) -> bool:
        if ctx.risk_class not in self.applies_to:
            return False
        return not self.applies_if_basis or ctx.annex_point in self.applies_if_basis


class Rubric(_Frozen):
    rubric_version: int = Field(ge=1)
    law_as_at: dt.date
    source: str
    items: list[RubricItem] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: list[RubricItem]) -> list[RubricItem]:
        seen: set[str] = set()
        dup = sorted({i.id for i in items if i.id in seen or seen.add(i.id)})  # type: ignore[func-returns-value]
        if dup:
            raise ValueError(f"item ids repeated: {', '.join(dup)}")
        units: dict[str, str] = {}
        for i in items:
            if isinstance(i.check, QuantityCheck):
                if units.setdefault(i.check.family, i.check.unit) != i.check.unit:
                    raise ValueError(f"quantity family {i.check.family!r} mixes units")
        return items

    def describe(self) -> str:
        """One line for reports, e.g. "pmm_runbook rubric v1, law as at 2026-11-26"."""
        return f"pmm_runbook rubric v{self.rubric_version}, law as at {self.law_as_at.isoformat()}"


def parse_rubric(text: str, source: str = "pmm_runbook.yaml") -> Rubric:
    """Validate a rubric document; a bad file raises :class:`RubricError` naming field and reason."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RubricError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RubricError(f"{source}: {loc}: {err['msg']}{more}",
                          hint="the rubric ships with the lab; restore it from version control") from None


def load_rubric(path: str | Path = RUBRIC_PATH) -> Rubric:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(f"cannot read rubric {p}: {exc.strerror}") from None
    return parse_rubric(text, p.name)


def default_template() -> str | None:
    """The untouched template text, if the repository's runbooks/ folder is present."""
    try:
        return TEMPLATE_PATH.read_text(encoding="utf-8")
    except OSError:
        return None


# --------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class Verdict:
    """What one check concluded: the share of the item's points, and why."""

    score: float  # 0..1 of the item's points (a penalty: 1 means the penalty applies)
    reason: str
    evidence: str = ""
    wrong: bool = False


def grade_runbook(text: str | None, ctx: RunbookContext, *, rubric: Rubric | None = None,
                  template: str | None = None) -> list[Item]:
    """Score ``post_market_monitoring.md`` (None: the file is missing) item by item.

    ``template`` is the untouched template (default: ``runbooks/post_market_monitoring.md``);
    lines copied from it unchanged are not credited.
    """
    rubric = rubric or load_rubric()
    applicable = [i for i in rubric.items if i.applies(ctx)]
    if ctx.monitoring_thresholds is None:
        applicable = [i for i in applicable if not isinstance(i.check, ThresholdsMatchCheck)]
    total = sum(i.points for i in applicable if i.points > 0)
    scale = 100.0 / total if total else 0.0
    if template is None:
        template = default_template()
    doc = parse_markdown(text, template=template) if text is not None else None
    families = _family_labels(rubric)
    cache: dict[str, list[Labelled]] = {}
    items = []
    for ri in applicable:
        if doc is None:
            verdict = Verdict(0.0, "post_market_monitoring.md is missing.")
        else:
            verdict = _evaluate(ri, doc, ctx, families, cache)
            if doc.metadata_error and verdict.score < 1.0 and ri.points > 0:
                verdict = Verdict(verdict.score, f"{verdict.reason} (Not read: {doc.metadata_error}.)",
                                  verdict.evidence, verdict.wrong)
        items.append(_to_item(ri, verdict, scale, rubric))
    return items


def _to_item(ri: RubricItem, v: Verdict, scale: float, rubric: Rubric) -> Item:
    details = {"law_as_at": rubric.law_as_at.isoformat(), "rubric_version": rubric.rubric_version,
               "check": ri.check.kind, "wrong": v.wrong}
    if ri.points < 0:
        points = round(ri.points * scale * v.score, 6) if v.score else 0.0
        feedback = v.reason if v.score == 0 else f"{v.reason} {ri.feedback}"
        return Item(id=ri.id, skill=SKILL, title=ri.title, points=points, max_points=0.0, feedback=feedback,
                    evidence=v.evidence, citation=ri.citation, details=details)
    max_points = ri.points * scale
    score = max(0.0, min(1.0, v.score))
    feedback = v.reason if score >= 1.0 else f"{v.reason} {ri.feedback}".strip()
    return Item(id=ri.id, skill=SKILL, title=ri.title, points=round(max_points * score, 6),
                max_points=round(max_points, 6), feedback=feedback, evidence=v.evidence, citation=ri.citation,
                details=details)


def _evaluate(ri: RubricItem, doc: Document, ctx: RunbookContext, families: dict[str, dict[str, Pattern]],
              cache: dict[str, list[Labelled]]) -> Verdict:
    c = ri.check
    if isinstance(c, QuantityCheck):
        if c.family not in cache:
            cache[c.family] = label_numbers(doc, {"case": families[c.family]}, quantities=True)
        return _quantity(ri, c, cache[c.family])
    if isinstance(c, CooccurCheck):
        return _cooccur(c, doc)
    if isinstance(c, CountCheck):
        return _count(c, doc)
    if isinstance(c, BeforeCheck):
        return _before(c, doc)
    if isinstance(c, ClassificationCheck):
        return _classification(doc, ctx)
    if isinstance(c, ApplicationDateCheck):
        return _application_date(c, doc)
    if isinstance(c, MetricsThresholdsCheck):
        return _metrics_thresholds(c, doc)
    if isinstance(c, ThresholdsMatchCheck):
        return _thresholds_match(c, doc, ctx.monitoring_thresholds or {})
    if isinstance(c, RollbackCheck):
        return _rollback(c, doc, ctx)
    if isinstance(c, OverclaimCheck):
        return _overclaim(c, doc)
    raise AssertionError(f"unhandled check {c!r}")  # pragma: no cover - the schema lists every kind


def _any(patterns: Sequence[str]) -> re.Pattern[str]:
    return phrase("|".join(f"(?:{p})" for p in patterns))


def _quote(s: Snippet, limit: int = 160) -> str:
    where = {"metadata": "metadata", "table": "table row", "prose": "line", "code": "code line"}[s.source]
    text = s.text if len(s.text) <= limit else s.text[: limit - 3] + "..."
    return f'{where} {s.line}: "{text}"' if s.source != "metadata" else f'metadata: "{text}"'


# --------------------------------------------------------------------------- quantity


def _family_labels(rubric: Rubric) -> dict[str, dict[str, Pattern]]:
    out: dict[str, dict[str, Pattern]] = {}
    for i in rubric.items:
        if isinstance(i.check, QuantityCheck):
            out.setdefault(i.check.family, {})[i.id] = Pattern("|".join(f"(?:{t})" for t in i.check.triggers),
                                                              strong=not i.check.weak)
    return out


def _fmt(value: float) -> str:
    return f"{value:g}"


def _quantity(ri: RubricItem, c: QuantityCheck, labelled: list[Labelled]) -> Verdict:
    requires = [phrase(r) for r in c.requires]
    mine = [n for n in labelled if n.labels["case"] == ri.id
            and all(r.search(n.snippet.text) or r.search(n.snippet.context) for r in requires)]
    if not mine:
        return Verdict(0.0, f"No duration stated {c.subject}.")

    def value(n: Labelled) -> float:
        v = n.number.days() if c.unit == "days" else n.number.months()
        assert v is not None
        return v

    tol = 0.03
    if c.at_most is not None:
        wrong = [n for n in mine if value(n) > c.at_most * (1 + tol)]
        exact = [n for n in mine if abs(value(n) - c.at_most) <= c.at_most * tol]
    else:
        assert c.at_least is not None
        wrong = [n for n in mine if value(n) < c.at_least * (1 - tol)]
        exact = [n for n in mine if n not in wrong]
    if wrong:
        found = ", ".join(dict.fromkeys(n.number.raw for n in wrong))
        return Verdict(0.0, f"You give {found} {c.subject}; {ri.citation} sets {c.bound}.",
                       evidence="; ".join(_quote(n.snippet) for n in wrong[:2]), wrong=True)
    if exact:
        return Verdict(1.0, f"States {exact[0].number.raw} {c.subject} ({ri.citation}: {c.bound}).",
                       evidence=_quote(exact[0].snippet))
    found = ", ".join(dict.fromkeys(n.number.raw for n in mine))
    return Verdict(c.stricter_credit,
                   f"You give {found} {c.subject}: stricter than the law, fine as an internal target, "
                   f"but also state the legal limit ({c.bound}).", evidence=_quote(mine[0].snippet))


# --------------------------------------------------------------------------- co-occurrence


@dataclass(frozen=True)
class _Unit:
    text: str
    context: str
    snippets: tuple[Snippet, ...]


def _units(doc: Document, scope: str) -> list[_Unit]:
    content = doc.content
    if scope == "sentence":  # anchors may sit in a list's lead-in or a table's header, not a heading
        return [_Unit(s.text, s.lead, (s,)) for s in content]
    if scope == "block":
        blocks: dict[int, list[Snippet]] = {}
        for s in content:
            blocks.setdefault(s.block, []).append(s)
        return [_Unit(" ".join(s.text for s in ss), f"{ss[0].lead} | {ss[0].heading}", tuple(ss))
                for ss in blocks.values()]
    out = []
    for i, sec in enumerate(doc.sections):
        ss = doc.in_sections([i])
        if ss:
            out.append(_Unit(" ".join(s.text for s in ss), sec.heading, tuple(ss)))
    loose = [s for s in content if s.section is None and s.source != "metadata"]
    if loose:
        out.append(_Unit(" ".join(s.text for s in loose), "", tuple(loose)))
    return out


def _cooccur(c: CooccurCheck, doc: Document) -> Verdict:
    anchors = [phrase(a) for a in c.anchors]
    exclude = [phrase(e) for e in c.exclude]
    parts = [(p.name, [phrase(r) for r in p.all_of]) for p in c.parts]
    need = c.need or len(parts)
    best: tuple[int, list[str], _Unit | None] = (0, [], None)
    for unit in _units(doc, c.scope):
        text = unit.text
        for e in exclude:
            text = e.sub(" ", text)
        if not all(a.search(text) or a.search(unit.context) for a in anchors):
            continue
        for con in c.contradictions:
            if phrase(con.pattern).search(text) and not any(phrase(u).search(text) for u in con.unless):
                return Verdict(0.0, con.message[0].upper() + con.message[1:] + ".",
                               evidence=_quote(unit.snippets[0]), wrong=True)
        got = [name for name, rxs in parts if all(r.search(text) for r in rxs)]
        if len(got) > best[0]:
            best = (len(got), got, unit)
    n, got, unit = best
    names = [p.name for p in c.parts]
    if unit is None or n == 0:
        return Verdict(0.0, "Not stated (its parts must be said together: in one sentence, list or section).")
    missing = [x for x in names if x not in got]
    evidence = _quote(unit.snippets[0])
    if n >= need:
        return Verdict(1.0, f"States {', '.join(got)}.", evidence=evidence)
    return Verdict(n / need, f"States {', '.join(got)}; missing {', '.join(missing)}.", evidence=evidence)


# --------------------------------------------------------------------------- counting


def _count(c: CountCheck, doc: Document) -> Verdict:
    anchor = _any(c.anchors)
    item = phrase(c.item)
    found: dict[str, Snippet] = {}

    def add(key: str, s: Snippet) -> None:
        key = re.sub(r"\s+", " ", key.lower()).strip()
        if key:
            found.setdefault(key, s)

    for s in doc.non_template:  # a terse "Owners: a, b, c" list still names them
        listed = s.source in ("table", "metadata") or s.item
        if listed and anchor.search(f"{s.heading} | {s.lead}"):
            if c.distinct == "items":
                if item.search(s.text):
                    add(s.text[:60], s)
            else:
                for m in item.finditer(s.text):
                    add(m.group(0), s)
            continue
        m = anchor.search(s.text)
        if m is None:
            continue
        if c.distinct == "items":
            tail = re.match(r"\s*(?:are|include|includes|is)?\s*:\s*(.+)$", s.text[m.end():])
            if tail:
                for piece in re.split(r",|;|\band\b|\bor\b", tail.group(1)):
                    if item.search(piece) and len(piece.strip()) >= 3:
                        add(piece[:60], s)
        else:
            for mm in item.finditer(s.text):
                add(mm.group(0), s)
    n = len(found)
    evidence = "; ".join(_quote(s) for s in list(found.values())[:2])
    listed = ", ".join(list(found)[:5])
    if n >= c.need:
        return Verdict(1.0, f"Names {n}: {listed}.", evidence=evidence)
    if n == 0:
        return Verdict(0.0, "None named where it counts (a list, table or metadata entry under its heading).")
    return Verdict(n / c.need, f"Names only {n} ({listed}); at least {c.need} expected.", evidence=evidence)


# --------------------------------------------------------------------------- ordering


def _before(c: BeforeCheck, doc: Document) -> Verdict:
    preserve, objects, change, conn = _any(c.preserve), _any(c.objects), _any(c.change), _any(c.connectors)

    def preserves(t: str) -> bool:
        return bool(preserve.search(t) and objects.search(t))

    for s in doc.content:
        if preserves(s.text) and change.search(s.text) and conn.search(s.text):
            return Verdict(1.0, "Preserves the evidence before changing the system.", evidence=_quote(s))
    blocks: dict[int, list[Snippet]] = {}
    for s in doc.content:
        if s.item or s.source == "table":
            blocks.setdefault(s.block, []).append(s)
    wrong: Verdict | None = None
    for ss in blocks.values():
        keep = next((k for k, s in enumerate(ss) if preserves(s.text)), None)
        act = next((k for k, s in enumerate(ss) if change.search(s.text) and not preserves(s.text)), None)
        if keep is not None and act is not None:
            if keep < act:
                return Verdict(1.0, "Preserves the evidence (a step before) changing the system.",
                               evidence=f"{_quote(ss[keep])} then {_quote(ss[act])}")
            wrong = wrong or Verdict(0.0, "Your steps change the system before the evidence is preserved.",
                                     evidence=f"{_quote(ss[act])} before {_quote(ss[keep])}", wrong=True)
    if wrong:
        return wrong
    return Verdict(0.0, "No step preserves the evidence before the system is changed.")


# --------------------------------------------------------------------------- classification

_NEGATION = re.compile(r"(?:\bnot|n't|\bnon|\bno|\bneither|\bnor|\bnever|\brather than|\binstead of|\bunlike|"
                       r"\boutside)\b[\w\s,()-]{0,20}$", re.I)
_HIGH = re.compile(r"high[\s-]*risk", re.I)
_LOW = re.compile(r"(?:minimal|limited|low)[\s-]*risk", re.I)
_NOT_ANNEX = re.compile(
    r"(?:not|n't)\s+(?:\w+\s+){0,3}(?:in|listed in|covered by|under)\s+annex\s+iii|outside\s+annex\s+iii", re.I)
_POINT = re.compile(
    r"annex\s+iii\b[^0-9.;\n]{0,30}?(\d+)\s*\(?\s*([a-h])\s*\)?"
    r"|point\s+(\d+)\s*\(?\s*([a-h])\s*\)?\s*(?:of\s+)?annex\s+iii",
    re.I,
)
_DEROGATION = re.compile(r"6\s*\(\s*3\s*\)|narrow procedural task|no significant risk", re.I)
_DENIED = re.compile(r"\b(?:not|cannot|never|neither|nor)\b|n't\b|\bprofil", re.I)


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 30) : start]))


def _classification(doc: Document, ctx: RunbookContext) -> Verdict:
    says_high: list[Snippet] = []
    says_low: list[tuple[Snippet, str]] = []
    points: dict[str, Snippet] = {}
    derogation: list[Snippet] = []
    for s in doc.content:
        t = s.text
        for m in _HIGH.finditer(t):
            if _negated(t, m.start()) or t[max(0, m.start() - 4) : m.start()].lower().endswith("non-"):
                says_low.append((s, "not high-risk"))
            else:
                says_high.append(s)
        for m in _LOW.finditer(t):
            if not _negated(t, m.start()):
                says_low.append((s, m.group(0).lower()))
        if _NOT_ANNEX.search(t):
            says_low.append((s, "not in Annex III"))
        for m in _POINT.finditer(t):
            num, letter = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            points.setdefault(f"{num}({letter.lower()})", s)
        if s.source in ("metadata", "table") and re.search(r"risk|class", s.text, re.I):
            v = re.search(r":\s*(high|limited|minimal|low)\s*$", t, re.I)
            if v and v.group(1).lower() != "high":
                says_low.append((s, f"{v.group(1).lower()} risk"))
        if _DEROGATION.search(t) and not _DENIED.search(t):  # "the Art. 6(3) exception applies"
            derogation.append(s)
    expected = ctx.annex_point
    if ctx.risk_class == "high":
        if says_low and not says_high:
            s, what = says_low[0]
            return Verdict(0.0, f"You classify the system as {what}; it is high-risk under Art. 6(2) "
                                f"({ctx.risk_basis}).", evidence=_quote(s), wrong=True)
        if not says_high:
            return Verdict(0.0, "No risk classification stated.")
        if derogation:
            return Verdict(0.0, "You rely on the Art. 6(3) exception; it never applies to a system that profiles "
                                "natural persons, as a screener or scorer does.", evidence=_quote(derogation[0]),
                           wrong=True)
        if expected and expected in points:
            extra = " (it also calls it lower risk somewhere; remove the contradiction)" if says_low else ""
            score = 0.5 if says_low else 1.0
            return Verdict(score, f"Classifies the system as high-risk under Annex III point {expected}{extra}.",
                           evidence=_quote(points[expected]))
        if points:
            got = ", ".join(sorted(points))
            return Verdict(0.0, f"You cite Annex III point {got}; this system falls under point {expected} "
                                f"({ctx.risk_basis}).", evidence=_quote(next(iter(points.values()))), wrong=True)
        return Verdict(0.5, "Says high-risk but not which Annex III point applies.", evidence=_quote(says_high[0]))
    # limited / minimal
    if points:
        got = ", ".join(sorted(points))
        return Verdict(0.0, f"You place the system under Annex III point {got}; {ctx.risk_basis}.",
                       evidence=_quote(next(iter(points.values()))), wrong=True)
    if says_high and not says_low:
        return Verdict(0.0, f"You call the system high-risk; it is not ({ctx.risk_basis}).",
                       evidence=_quote(says_high[0]), wrong=True)
    if says_low:
        return Verdict(1.0, f"States that the system is not high-risk ({says_low[0][1]}).",
                       evidence=_quote(says_low[0][0]))
    return Verdict(0.0, "No risk classification stated.")


# --------------------------------------------------------------------------- application date

_MONTH_NAMES = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DATE = re.compile(
    r"\b(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m1>[A-Za-z]{3,9})\.?,?\s+(?P<y1>20\d{2})\b"
    r"|\b(?P<m2>[A-Za-z]{3,9})\.?\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y2>20\d{2})\b"
    r"|\b(?P<y3>20\d{2})-(?P<m3>\d{2})-(?P<d3>\d{2})\b"
)


def _dates(text: str) -> list[tuple[dt.date, int, int, str]]:
    out = []
    for m in _DATE.finditer(text):
        try:
            if m.group("y1"):
                month = _MONTH_NAMES.get(m.group("m1")[:3].lower())
                day, year = int(m.group("d1")), int(m.group("y1"))
            elif m.group("y2"):
                month = _MONTH_NAMES.get(m.group("m2")[:3].lower())
                day, year = int(m.group("d2")), int(m.group("y2"))
            else:
                month, day, year = int(m.group("m3")), int(m.group("d3")), int(m.group("y3"))
            if month:
                out.append((dt.date(year, month, day), m.start(), m.end(), m.group(0)))
        except ValueError:
            continue
    return out


def _application_date(c: ApplicationDateCheck, doc: Document) -> Verdict:
    context = _any(c.context)
    labels = {r.name: Pattern("|".join(f"(?:{p})" for p in r.markers)) for r in c.readings}
    for r in c.readings:
        if r.weak_markers:
            labels[r.name + "\0weak"] = Pattern("|".join(f"(?:{p})" for p in r.weak_markers), strong=False)
    compiled = [(name.split("\0")[0], phrase(p.regex), p.strong) for name, p in labels.items()]
    by_date = {r.date: r for r in c.readings}
    good: Verdict | None = None
    wrong: Verdict | None = None
    unsourced: Verdict | None = None
    for s in doc.content:
        if not context.search(s.text) or re.search(r"annex\s+i\b(?!i)|6\s*\(\s*1\s*\)", s.text, re.I):
            continue
        mentions = find_mentions(s.text, compiled)
        ctx_mentions = find_mentions(s.context, compiled)
        for day, a, b, raw in _dates(s.text):
            if day in c.other_dates:
                wrong = wrong or Verdict(0.0, f"You give {raw}: {c.other_dates[day]}.", evidence=_quote(s), wrong=True)
                continue
            if day not in by_date:
                continue
            num = Number(value=float(day.toordinal()), raw=raw, start=a, end=b)
            m = assign(s, num, mentions, lambda _m: False, ctx_mentions)
            if m is None:
                unsourced = unsourced or Verdict(0.0, f"You give {raw} without saying which text it comes from.",
                                                 evidence=_quote(s))
                continue
            reading = next(r for r in c.readings if r.name == m.label)
            if reading.date == day:
                good = good or Verdict(1.0, f"Gives {raw} under {reading.name}.", evidence=_quote(s))
            else:
                wrong = wrong or Verdict(
                    0.0, f"You give {raw} under {reading.name}; that text gives {reading.date:%-d %B %Y} "
                         f"for Annex III systems.", evidence=_quote(s), wrong=True)
    if wrong:
        return wrong
    if good:
        return good
    if unsourced:
        return unsourced
    return Verdict(0.0, "No date from which the high-risk obligations apply.")


# --------------------------------------------------------------------------- thresholds


def _metrics_thresholds(c: MetricsThresholdsCheck, doc: Document) -> Verdict:
    names = {cat: "|".join(f"(?:{p})" for p in pats) for cat, pats in c.categories.items()}
    found = find_values(doc, names, cues="|".join(f"(?:{p})" for p in c.cues))
    cats = list(c.categories)
    got = [k for k in cats if k in found]
    missing = [k for k in cats if k not in found]
    evidence = "; ".join(_quote(found[k][0].snippet) for k in got[:3])
    if not got:
        return Verdict(0.0, "No metric is given a numeric alert threshold.")
    if not missing:
        return Verdict(1.0, f"Gives numeric thresholds for {', '.join(got)} metrics.", evidence=evidence)
    return Verdict(len(got) / len(cats), f"Gives thresholds for {', '.join(got)} but not for {', '.join(missing)}.",
                   evidence=evidence)


def _name_pattern(key: str) -> str:
    """A monitored column or metric as people write it; a dotted config path keeps its specific parts.

    >>> bool(re.search(_name_pattern("years_experience"), "years experience drift"))
    True
    >>> bool(re.search(_name_pattern("performance.roc_auc.min"), "roc-auc below 0.72"))
    True
    """
    generic = {"min", "max", "threshold", "data_drift", "columns", "column", "performance", "default", "metric",
               "prediction_drift", "max_drop"}
    parts = [p for p in key.lower().split(".") if p]
    keep = [p for p in parts if p not in generic] or parts
    words = [w for p in keep for w in re.split(r"[\s_\-]+", p) if w]
    return r"[\s_.\-]*".join(re.escape(w) for w in words) + r"(?![a-z0-9])"


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _thresholds_match(c: ThresholdsMatchCheck, doc: Document, config: dict[str, float]) -> Verdict:
    if not config:
        return Verdict(0.0, "monitoring.yaml gives no thresholds to compare with.")
    names = {k: _name_pattern(k) for k in sorted(config)}
    quoted = find_values(doc, names, cues="|".join(f"(?:{p})" for p in c.cues))
    matched, mismatched = [], []
    for key, ns in quoted.items():
        want = config[key]
        if any(_close(n.number.value, want) or _close(n.number.fraction(), want) for n in ns):
            matched.append(key)
        else:
            mismatched.append((key, ns))
    if mismatched:
        msgs = [f"{key}: the runbook says {', '.join(dict.fromkeys(n.number.raw for n in ns))}, "
                f"monitoring.yaml says {_fmt(config[key])}" for key, ns in mismatched]
        return Verdict(0.0, "Thresholds disagree with monitoring.yaml (" + "; ".join(msgs) + ").",
                       evidence=_quote(mismatched[0][1][0].snippet), wrong=True)
    need = min(c.need, len(config))
    if not matched:
        return Verdict(0.0, "None of the thresholds in monitoring.yaml is quoted.")
    ok = ", ".join(sorted(matched))
    if len(matched) >= need:
        return Verdict(1.0, f"Quotes thresholds that match monitoring.yaml ({ok}).")
    return Verdict(len(matched) / need, f"Quotes {ok} correctly; quote at least {need} of your thresholds.")


# --------------------------------------------------------------------------- rollback

_LAB_CMD = re.compile(r"(?:^|[\s$>`])(lab(?:\s+[a-z][\w-]*){1,2})", re.I)


def _rollback(c: RollbackCheck, doc: Document, ctx: RunbookContext) -> Verdict:
    rx = _any(c.context)
    in_sections = set(doc.sections_matching(rx))
    scope = [s for s in doc.in_sections(in_sections)]
    scope += [s for s in doc.content if rx.search(s.text) and s not in scope]
    if not scope:
        return Verdict(0.0, "No rollback or corrective-action procedure.")
    name_rx = re.compile(rf"(?<![\w-]){re.escape(ctx.model_name)}(?![\w-])", re.I)
    named = [s for s in scope if name_rx.search(s.text)]
    real = sorted(ctx.real_commands, key=len, reverse=True)
    used: list[str] = []
    unknown: list[str] = []
    for s in scope:
        for cmd in real:
            if re.search(rf"(?<![\w-]){re.escape(cmd)}(?![\w-])", s.text, re.I) and cmd not in used:
                used.append(cmd)
        codes = list(s.code) if s.source != "code" else [s.text]
        for code in codes:
            for m in _LAB_CMD.finditer(code):
                words = m.group(1).split()
                candidates = {" ".join(words[:k]).lower() for k in (2, 3)}
                if real and not any(r.lower() in candidates for r in real):
                    unknown.append(" ".join(words[:2]))
    if unknown:
        names = ", ".join(dict.fromkeys(unknown))
        return Verdict(0.0, f"The procedure uses {names}, which the lab does not have; real commands: "
                            f"{', '.join(ctx.real_commands)}.", evidence=_quote(scope[0]), wrong=True)
    if named and used:
        return Verdict(1.0, f"Rolls back {ctx.model_name} with {', '.join(used)}.", evidence=_quote(named[0]))
    if used:
        return Verdict(0.5, f"Uses {', '.join(used)} but does not name the model ({ctx.model_name}).",
                       evidence=_quote(scope[0]))
    if named:
        return Verdict(0.5, f"Names {ctx.model_name} but no lab command to run.", evidence=_quote(named[0]))
    return Verdict(0.0, "The procedure names neither the model nor a command.", evidence=_quote(scope[0]))


# --------------------------------------------------------------------------- over-claiming


def _overclaim(c: OverclaimCheck, doc: Document) -> Verdict:
    claims, binding, voluntary = _any(c.claims), _any(c.binding), _any(c.voluntary)
    about = phrase(r"ai act|obligation|duties|dut(?:y|ies)|requirement|these (?:steps|procedures|practices)|"
                   r"this (?:runbook|plan)") 
    marked = [s for s in doc.content if voluntary.search(s.text) and (claims.search(s.text) or about.search(s.text))]
    if marked:
        return Verdict(0.0, "Legal duties are marked as voluntary where they do not apply.",
                       evidence=_quote(marked[0]))
    claimed = [s for s in doc.content if claims.search(s.text) and binding.search(s.text)]
    if claimed:
        return Verdict(1.0, "Over-claims legal duties: presents high-risk obligations (Art. 72/73) as binding "
                            "for a system that is not high-risk.", evidence=_quote(claimed[0]), wrong=True)
    return Verdict(0.0, "No legal duties over-claimed.")
