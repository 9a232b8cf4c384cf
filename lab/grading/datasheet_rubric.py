"""The datasheet's rubric (``rubrics/datasheet.yaml``): schema and loader.

The rubric is data: the seven sections of Gebru et al.'s "Datasheets for Datasets" with
their synonyms, the items with points and feedback, the tolerances facts are checked
within, and the cue words that bind a number to its subject. Validated before anything
is graded:

>>> rubric = load_datasheet_rubric()
>>> rubric.describe()
'datasheet rubric v1'
>>> sum(rubric.points_of(i) for i in rubric.items)
100.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from lab.core.frozen import Frozen
from lab.errors import RubricError
from lab.grading.card_rubric import SectionSpec, SubstanceGate, _compiles
from lab.grading.rubric_yaml import parse_rubric_yaml, read_rubric_file

DATASHEET_RUBRIC_PATH = Path(__file__).resolve().parent / "rubrics" / "datasheet.yaml"
CheckName = Literal["section", "rows", "period", "features", "sensitive", "label", "label_delay", "base_rate",
                    "group_base_rates"]


class DatasheetItem(Frozen):
    id: str = Field(pattern=r"^ds\.[a-z0-9.\-]+$")
    title: str = Field(min_length=3)
    check: CheckName
    points: float = Field(gt=0)
    feedback: str = Field(min_length=20)


class DatasheetRubric(Frozen):
    rubric_version: int = Field(ge=1)
    source: str = Field(min_length=5)
    rows_tolerance: float = Field(ge=0, lt=0.2)
    rate_tolerance: float = Field(gt=0, lt=0.1)
    days_tolerance: float = Field(ge=0, le=3)
    wrong_share: float = Field(ge=0, le=2)
    substance_gate: SubstanceGate
    generic_section_credit: float = Field(ge=0, lt=1)
    generic_label_credit: float = Field(ge=0, lt=1)
    sections: tuple[SectionSpec, ...] = Field(min_length=1)
    label_cues: tuple[str, ...] = Field(min_length=1)
    label_terms: dict[str, tuple[str, ...]] = Field(min_length=1)
    delay_cues: tuple[str, ...] = Field(min_length=1)
    row_cues: tuple[str, ...] = Field(min_length=1)
    training_cues: tuple[str, ...] = Field(min_length=1)
    evaluation_cues: tuple[str, ...] = Field(min_length=1)
    reference_cues: tuple[str, ...] = Field(min_length=1)
    other_population_cues: tuple[str, ...] = ()
    window_cues: tuple[str, ...] = Field(min_length=1)
    sensitive_cues: tuple[str, ...] = Field(min_length=1)
    not_input_cues: tuple[str, ...] = Field(min_length=1)
    base_rate_cues: tuple[str, ...] = Field(min_length=1)
    domains: dict[str, tuple[str, ...]] = {}
    items: tuple[DatasheetItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "DatasheetRubric":
        _compiles((*self.label_cues, *self.delay_cues, *self.row_cues, *self.training_cues, *self.evaluation_cues,
                   *self.reference_cues, *self.other_population_cues, *self.window_cues, *self.sensitive_cues, *self.not_input_cues,
                   *self.base_rate_cues, *(p for ps in self.label_terms.values() for p in ps),
                   *(p for ps in self.domains.values() for p in ps)))
        ids = [i.id for i in self.items]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"item ids repeated: {', '.join(dup)}")
        checks = [i.check for i in self.items]
        dup_checks = sorted({c for c in checks if checks.count(c) > 1})
        if dup_checks:
            raise ValueError(f"checks used by more than one item: {', '.join(dup_checks)}")
        sids = [s.id for s in self.sections]
        if len(set(sids)) != len(sids):
            raise ValueError("section ids repeated")
        total = sum(self.points_of(i) for i in self.items)
        if abs(total - 100.0) > 1e-6:
            raise ValueError(f"the items sum to {total:g} points, not 100")
        return self

    def points_of(self, item: DatasheetItem) -> float:
        """An item's points in total (a section item scores once per section)."""
        return item.points * (len(self.sections) if item.check == "section" else 1)

    def describe(self) -> str:
        return f"datasheet rubric v{self.rubric_version}"


def parse_datasheet_rubric(text: str, source: str = "datasheet.yaml") -> DatasheetRubric:
    """Validate a rubric document; a bad file raises :class:`RubricError` naming field and reason."""
    return parse_rubric_yaml(text, DatasheetRubric, source, RubricError)


def load_datasheet_rubric(path: str | Path = DATASHEET_RUBRIC_PATH) -> DatasheetRubric:
    """The rubric at ``path`` (validated once per process)."""
    return read_rubric_file(path, parse_datasheet_rubric, RubricError)
