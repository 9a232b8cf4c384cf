"""The model card's rubric (``rubrics/model_card.yaml``): schema and loader.

The rubric is data: items with their points, titles and feedback, the section headings
and their synonyms (with examples, the only ones feedback names), what people call each logged metric, and the cue words that bind a
number to a threshold, a live section or another population. It is validated by frozen
pydantic models before anything is graded:

>>> rubric = load_card_rubric()
>>> rubric.describe()
'model_card rubric v3'
>>> sum(i.points * (len(rubric.sections) if i.check == "section" else 1)
...     for i in rubric.items if "high" in i.applies_to)
100.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lab.core.frozen import Frozen
from lab.errors import CardRubricError  # re-exported: where callers have always imported it
from lab.grading.rubric_yaml import parse_rubric_yaml, read_rubric_file
from lab.grading.markdown import normalise_heading

CARD_RUBRIC_PATH = Path(__file__).resolve().parent / "rubrics" / "model_card.yaml"
RiskClass = Literal["prohibited", "high", "limited", "minimal"]
RISK_CLASSES: tuple[RiskClass, ...] = ("prohibited", "high", "limited", "minimal")
CheckName = Literal["section", "model_name", "version", "run_id", "metrics", "groups", "disadvantaged", "uses",
                    "oversight", "monitoring_link"]
#: Metric keys the grader gives a meaning to (registry keys, and the per-group families).
KNOWN_METRICS = frozenset({"roc_auc", "accuracy", "f1", "precision", "recall", "selection_rate", "positive_rate",
                           "base_rate", "brier_score", "tpr", "disparate_impact", "decision_threshold"})


def _compiles(patterns: Iterable[str]) -> None:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"invalid pattern {p!r}: {exc}") from None


class Headings(Frozen):
    """Where a part of the card is found: heading patterns (searched in the normalised heading,
    see :func:`normalise_heading`), headings to leave out, and examples as people write them.
    Feedback names only the examples, and each example must be accepted by the patterns."""

    headings: tuple[str, ...] = Field(min_length=1)
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _patterns(self) -> "Headings":
        _compiles(self.headings + self.exclude)
        for example in self.examples:
            if not self.accepts(example):
                raise ValueError(f"example heading {example!r} is not accepted by the heading patterns")
        return self

    def accepts(self, heading: str) -> bool:
        """True when ``heading`` (as written) is one of these headings.

        >>> Headings(headings=["intended use", "what it is for"], exclude=["not"],
        ...          examples=["Intended use"]).accepts("2. What it is for"), Headings(
        ...          headings=["use"], exclude=["not"], examples=["Use"]).accepts("Not to use")
        (True, False)
        """
        key = normalise_heading(heading)
        return any(re.search(p, key) for p in self.headings) and not any(re.search(p, key) for p in self.exclude)


class SectionSpec(Headings):
    id: str = Field(pattern=r"^[a-z_]+$")
    title: str = Field(min_length=3)
    needs: str = Field(min_length=5)


class CardItem(Frozen):
    id: str = Field(pattern=r"^card\.[a-z0-9.\-]+$")
    title: str = Field(min_length=3)
    check: CheckName
    points: float = Field(gt=0)
    applies_to: tuple[RiskClass, ...] = RISK_CLASSES
    citation: str | None = None
    citation_if_high: str | None = None
    feedback: str = Field(min_length=20)


class SubstanceGate(Frozen):
    min_sections: int = Field(ge=1)
    factor: float = Field(ge=0, le=1)


class DisadvantageCues(Frozen):
    """Words that say where a clause puts its groups (an end of a rate, or worse off), and which
    decision the rate counts: the registered positive one, or one favourable or adverse to the
    person (see the rubric file for how they combine with the scenario's positive decision)."""

    lowest: tuple[str, ...] = Field(min_length=1)
    highest: tuple[str, ...] = Field(min_length=1)
    lower: tuple[str, ...] = Field(min_length=1)
    higher: tuple[str, ...] = Field(min_length=1)
    worst: tuple[str, ...] = Field(min_length=1)
    worse: tuple[str, ...] = Field(min_length=1)
    parity: tuple[str, ...] = Field(min_length=1)
    negation: tuple[str, ...] = Field(min_length=1)
    tpr: tuple[str, ...] = Field(min_length=1)
    positive: tuple[str, ...] = Field(min_length=1)
    favourable: tuple[str, ...] = Field(min_length=1)
    adverse: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _patterns(self) -> "DisadvantageCues":
        _compiles(self.lowest + self.highest + self.lower + self.higher + self.worst + self.worse + self.parity
                  + self.negation + self.tpr + self.positive + self.favourable + self.adverse)
        return self


class CardRubric(Frozen):
    rubric_version: int = Field(ge=1)
    source: str = Field(min_length=5)
    tolerance: float = Field(gt=0, lt=0.1)
    headline_metric: str
    min_quoted: int = Field(ge=1)
    parity_tolerance: float = Field(gt=0, lt=0.5)
    substance_gate: SubstanceGate
    generic_section_credit: float = Field(ge=0, lt=1)
    sections: tuple[SectionSpec, ...] = Field(min_length=1)
    out_of_scope: Headings
    oversight: Headings
    metrics: dict[str, str] = Field(min_length=1)
    metric_aliases: dict[str, str] = {}
    ratio_cues: tuple[str, ...] = Field(min_length=1)
    decision_cues: tuple[str, ...] = Field(min_length=1)
    threshold_metrics: tuple[str, ...] = ()
    bound_cues: str
    live_headings: tuple[str, ...] = Field(min_length=1)
    live_cues: tuple[str, ...] = Field(min_length=1)
    evaluation_cues: tuple[str, ...] = ()
    other_population_cues: tuple[str, ...] = ()
    overall_cues: tuple[str, ...] = ()
    disadvantage_cues: DisadvantageCues
    domains: dict[str, tuple[str, ...]] = {}
    items: tuple[CardItem, ...] = Field(min_length=1)

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, metrics: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(metrics) - KNOWN_METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_METRICS))}")
        _compiles(metrics.values())
        return metrics

    @model_validator(mode="after")
    def _consistent(self) -> "CardRubric":
        _compiles((*self.ratio_cues, *self.decision_cues,
                   self.bound_cues, *self.live_headings, *self.live_cues, *self.evaluation_cues,
                   *self.other_population_cues, *self.overall_cues,
                   *(p for ps in self.domains.values() for p in ps)))
        unknown = sorted(set(self.threshold_metrics) - set(self.metrics))
        if unknown:
            raise ValueError(f"threshold_metrics {', '.join(unknown)} are not among the metrics")
        if self.headline_metric not in self.metrics:
            raise ValueError(f"headline_metric {self.headline_metric!r} is not one of the metrics")
        for a, b in self.metric_aliases.items():
            if a not in self.metrics or b not in self.metrics:
                raise ValueError(f"metric alias {a} -> {b} names a metric that is not listed")
        ids = [i.id for i in self.items]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"item ids repeated: {', '.join(dup)}")
        sids = [s.id for s in self.sections]
        if len(set(sids)) != len(sids):
            raise ValueError("section ids repeated")
        for risk in RISK_CLASSES:
            total = sum(self.points_of(i) for i in self.items if risk in i.applies_to)
            if abs(total - 100.0) > 1e-6:
                raise ValueError(f"the items that apply to risk class {risk!r} sum to {total:g} points, not 100")
        return self

    def points_of(self, item: CardItem) -> float:
        """An item's points in total (a section item scores once per section)."""
        return item.points * (len(self.sections) if item.check == "section" else 1)

    def applicable(self, risk_class: str) -> list[CardItem]:
        return [i for i in self.items if risk_class in i.applies_to]

    def describe(self) -> str:
        return f"model_card rubric v{self.rubric_version}"


def parse_card_rubric(text: str, source: str = "model_card.yaml") -> CardRubric:
    """Validate a rubric document; a bad file raises :class:`CardRubricError` naming field and reason."""
    return parse_rubric_yaml(text, CardRubric, source, CardRubricError)


def load_card_rubric(path: str | Path = CARD_RUBRIC_PATH) -> CardRubric:
    """The rubric at ``path`` (validated once per process)."""
    return read_rubric_file(path, parse_card_rubric, CardRubricError)
