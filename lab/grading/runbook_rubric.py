"""The post-market monitoring rubric as data: its schema, its loader and what it is graded against.

``rubrics/pmm_runbook.yaml`` lists the checkable obligations of the EU AI Act, each with
its citation, the risk classes it applies to, the classes for which it is law (the others
follow it voluntarily, Art. 95, and see the item's ``voluntary`` wording), its points,
a small declarative check and its ``sources`` (where the legal fact was verified). The
file is validated here into frozen models; a bad file is a :class:`RubricError` naming
the field. Grading lives in :mod:`lab.grading.runbook`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, field_validator, model_validator

from lab.core.frozen import Frozen
from lab.errors import RubricError  # re-exported: where callers have always imported it
from lab.grading.rubric_yaml import parse_rubric_yaml
from lab.core.paths import TEMPLATE_DIR, read_template

RUBRIC_PATH = Path(__file__).resolve().parent / "rubrics" / "pmm_runbook.yaml"
TEMPLATE_PATH = TEMPLATE_DIR / "post_market_monitoring.md"
RiskClass = Literal["prohibited", "high", "limited", "minimal"]
Role = Literal["provider", "deployer"]


# --------------------------------------------------------------------------- context


class RunbookContext(Frozen):
    """What the runbook is graded against: the scenario, and the user's own configuration.

    ``monitoring_thresholds`` maps a monitored column or metric (``years_experience``,
    ``roc_auc``) to the threshold in the user's monitoring.yaml; None skips the
    cross-check. ``config_useful`` says whether the drift grader found that config better
    than its baselines (None: drift not graded, consistency earns full credit).
    ``real_commands`` lists every ``lab`` command a runbook may name;
    ``registered_versions`` and ``defective_versions`` let a rollback target be checked.
    """

    scenario_id: str
    risk_class: RiskClass
    risk_basis: str
    model_name: str
    role: Role = "provider"
    monitoring_thresholds: dict[str, float] | None = None
    config_useful: bool | None = None
    real_commands: tuple[str, ...] = ()
    registered_versions: tuple[int, ...] = ()  # empty: unknown, not checked
    defective_versions: tuple[int, ...] = ()

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


# --------------------------------------------------------------------------- checks

Regex = str
_NOT_PATTERNS = {"kind", "name", "bound", "subject", "message", "family", "unit", "distinct", "section", "scope",
                 "citation", "title", "feedback"}


def _check_regexes(values: Iterable[str]) -> None:
    for v in values:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"invalid pattern {v!r}: {exc}") from None


def _walk_patterns(x: Any) -> Iterable[str]:
    if isinstance(x, str):
        yield x
    elif isinstance(x, BaseModel):
        for name in type(x).model_fields:
            if name not in _NOT_PATTERNS:
                yield from _walk_patterns(getattr(x, name))
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _walk_patterns(v)
    elif isinstance(x, dict):
        for v in x.values():
            if isinstance(v, (list, tuple)):
                yield from _walk_patterns(v)


class _Check(Frozen):
    @model_validator(mode="after")
    def _patterns_compile(self) -> "_Check":
        _check_regexes(_walk_patterns(self))
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


class Part(Frozen):
    name: str
    all_of: list[Regex] = Field(min_length=1)


class Contradiction(Frozen):
    pattern: Regex
    unless: list[Regex] = []
    message: str


class CooccurCheck(_Check):
    kind: Literal["cooccur"]
    scope: Literal["sentence", "block", "section"]
    anchors: list[Regex] = Field(min_length=1)
    section: str | None = None  # a rubric section whose headings also satisfy the anchors
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
    section: str | None = None
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
    conditional: list[Regex] = Field(min_length=1)


class ApplicationDateCheck(_Check):
    kind: Literal["application_date"]
    context: list[Regex] = Field(min_length=1)
    date: dt.date  # when the high-risk obligations apply to Annex III systems, on law_as_at
    text: str  # the law that sets it, in words
    superseded: dict[dt.date, str] = {}  # dates that no longer apply, and why
    past_markers: list[Regex] = Field(min_length=1)  # a superseded date told as history ("would", "originally")
    voluntary_markers: list[Regex] = Field(min_length=1)  # an earlier, voluntary start
    not_about: list[Regex] = []  # a clause about another date of the Act (general application, Art. 50, GPAI)
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
    section: str | None = None


class OverclaimCheck(_Check):
    kind: Literal["overclaim"]
    claims: list[Regex] = Field(min_length=1)
    binding: list[Regex] = Field(min_length=1)
    voluntary: list[Regex] = Field(min_length=1)
    conditional: list[Regex] = []


Check = Annotated[
    Union[QuantityCheck, CooccurCheck, CountCheck, BeforeCheck, ClassificationCheck, ApplicationDateCheck,
          MetricsThresholdsCheck, ThresholdsMatchCheck, RollbackCheck, OverclaimCheck],
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- items


class Wording(Frozen):
    """How an item reads where it is practice, not law (a scenario outside ``binding``)."""

    title: str = Field(min_length=3)
    citation: str
    feedback: str = Field(min_length=20)


class Alternative(Frozen):
    """Another lawful way to meet the item, for some Annex III points (e.g. financial institutions)."""

    applies_if_basis: list[str] = Field(min_length=1)
    name: str
    all_of: list[Regex] = Field(min_length=1)  # all in one sentence
    citation: str

    @model_validator(mode="after")
    def _patterns_compile(self) -> "Alternative":
        _check_regexes(self.all_of)
        return self


class RubricItem(Frozen):
    id: str = Field(pattern=r"^pmm\.[a-z0-9.\-]+$")
    title: str = Field(min_length=3)
    citation: str | None
    applies_to: list[RiskClass] = Field(min_length=1)
    binding: list[RiskClass] | None = None  # where it is law; default: every class it applies to; []: lab practice
    applies_if_basis: list[str] = []
    points: float
    check: Check
    feedback: str = Field(min_length=20)
    voluntary: Wording | None = None
    alternatives: list[Alternative] = []
    sources: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "RubricItem":
        penalty = isinstance(self.check, OverclaimCheck)
        if penalty and self.points >= 0:
            raise ValueError("an overclaim item is a penalty: its points must be negative")
        if not penalty and self.points <= 0:
            raise ValueError("points must be positive (only overclaim items are penalties)")
        practice = set(self.applies_to) - set(self.binding_classes)
        if practice and self.voluntary is None and self.binding != []:  # binding: [] is lab practice, worded so
            raise ValueError(f"applies to {', '.join(sorted(practice))} where it is not law: give its `voluntary` "
                             "wording (title, citation, feedback)")
        return self

    @property
    def binding_classes(self) -> list[RiskClass]:
        return list(self.applies_to) if self.binding is None else list(self.binding)

    def applies(self, ctx: RunbookContext) -> bool:
        if ctx.risk_class not in self.applies_to:
            return False
        return not self.applies_if_basis or ctx.annex_point in self.applies_if_basis

    def is_law(self, ctx: RunbookContext) -> bool:
        return ctx.risk_class in self.binding_classes


class Rubric(Frozen):
    rubric_version: int = Field(ge=1)
    law_as_at: dt.date
    source: str
    wrong_share: float = Field(default=1.0, ge=1.0)  # a wrong item scores -wrong_share x its points
    sections: dict[str, list[Regex]] = {}  # heading synonyms, searched in normalised headings
    items: list[RubricItem] = Field(min_length=1)

    @field_validator("sections")
    @classmethod
    def _sections_compile(cls, sections: dict[str, list[str]]) -> dict[str, list[str]]:
        for pats in sections.values():
            _check_regexes(pats)
        return sections

    @model_validator(mode="after")
    def _items_consistent(self) -> "Rubric":
        seen: set[str] = set()
        dup = sorted({i.id for i in self.items if i.id in seen or seen.add(i.id)})  # type: ignore[func-returns-value]
        if dup:
            raise ValueError(f"item ids repeated: {', '.join(dup)}")
        units: dict[str, str] = {}
        for i in self.items:
            if isinstance(i.check, QuantityCheck):
                if units.setdefault(i.check.family, i.check.unit) != i.check.unit:
                    raise ValueError(f"quantity family {i.check.family!r} mixes units")
            section = getattr(i.check, "section", None)
            if section is not None and section not in self.sections:
                raise ValueError(f"{i.id}: section {section!r} is not one of the rubric's sections "
                                 f"({', '.join(sorted(self.sections))})")
        return self

    def describe(self) -> str:
        """One line for reports, e.g. "pmm_runbook rubric v2, law as at 2026-11-30"."""
        return f"pmm_runbook rubric v{self.rubric_version}, law as at {self.law_as_at.isoformat()}"


def parse_rubric(text: str, source: str = "pmm_runbook.yaml") -> Rubric:
    """Validate a rubric document; a bad file raises :class:`RubricError` naming field and reason."""
    return parse_rubric_yaml(text, Rubric, source, RubricError)


def load_rubric(path: str | Path = RUBRIC_PATH) -> Rubric:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(f"cannot read rubric {p}: {exc.strerror}") from None
    return parse_rubric(text, p.name)


def default_template() -> str | None:
    """The untouched template text, if the repository's runbooks/ folder is present."""
    return read_template(TEMPLATE_PATH)
