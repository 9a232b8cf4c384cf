"""What a datasheet states about its data, each number bound to its own subject.

Read with :mod:`lab.grading.markdown` (a number belongs to the label in its own clause, table
row or metadata key first): row counts of the training, evaluation or reference set, the
collection window (a day range or a length in days), the label delay, and base rates overall
or for one group of a sensitive attribute. A claim is judged against
:class:`lab.scenario.datafacts.TrainingData`; only a number bound to its own subject can be
wrong ("labels arrive after 3 days" is a label delay, never a collection window).

>>> from lab.grading.datasheet_rubric import load_datasheet_rubric
>>> from lab.grading.markdown import parse_markdown
>>> doc = parse_markdown("The training set holds 30,000 rows. Women have a base rate of 0.37.")
>>> groups = {"gender": {"female": "female|wom[ae]n"}}
>>> [(c.kind, c.subject, c.value) for c in extract_claims(doc, load_datasheet_rubric(), groups)]
[('rows', 'train', 30000.0), ('rate', 'gender\\x00female', 0.37)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from lab.grading.card_facts import any_of
from lab.grading.datasheet_rubric import DatasheetRubric
from lab.grading.markdown import Document, Labelled, Snippet, clause_of, find_quantities, label_numbers, phrase

Kind = Literal["rows", "window_length", "window_range", "delay", "rate"]

_PER_DAY = re.compile(r"(?:per|a|each|every) day|daily|/\s*day", re.I)
_TIME_AFTER = re.compile(r"\s*(?:-\s*)?(?:days?|weeks?|months?|years?|hours?)\b", re.I)
_RANGE = re.compile(r"(?<![\w.])days?\s*(?P<a>[-\u2212\u2013]?\d+)\s*(?:to|through|until|till|and|\.\.|-|\u2013|\u2014)\s*"
                    r"(?:day\s*)?(?P<b>[-\u2212\u2013]?\d+)(?!\w|\.\d)|\[\s*(?P<c>-?\d+)\s*,\s*(?P<d>-?\d+)\s*[)\]]", re.I)


@dataclass(frozen=True)
class DataClaim:
    """One fact the datasheet states. ``subject``: which set ("train", "eval", "reference") for
    rows and windows, "overall" or ``attr\\0group`` for a rate; ``value2``: a range's end."""

    kind: Kind
    subject: str
    value: float
    snippet: Snippet
    raw: str
    value2: float | None = None


def _int(s: str) -> int:
    return int(s.replace("\u2212", "-").replace("\u2013", "-"))


def _sets(text: str, rubric: DatasheetRubric) -> set[str]:
    named = {"eval": any_of(rubric.evaluation_cues), "reference": any_of(rubric.reference_cues),
             "train": any_of(rubric.training_cues), "other": any_of(rubric.other_population_cues)}
    return {k for k, rx in named.items() if rx.search(text)}


def _which_set(clause: str, rubric: DatasheetRubric, sentence: str = "") -> str | None:
    """The set a clause speaks of: the one it names (evaluation and reference before training),
    else the one its sentence names, else the training data (the datasheet's subject); None when
    the sentence names several and the clause none ("training 30,000 and evaluation (6,000)")."""
    found = _sets(clause, rubric)
    if "other" in found or "other" in _sets(sentence, rubric):
        return None  # live or post-drift figures: another population
    others = found - {"train"}
    if others:
        return next(iter(others)) if len(others) == 1 else None
    if found:
        return "train"
    found = _sets(sentence, rubric)
    others = found - {"train"}
    if not others:
        return "train"
    return next(iter(others)) if len(others) == 1 and "train" not in found else None


def _scope_text(n: Labelled) -> str:
    """The words a number's subject is read from: its clause, or a table row's cell with its header
    and the row's first cell (the set or group the row is about)."""
    s = n.snippet
    if s.source == "table":
        first = s.text[s.units[0][0]:s.units[0][1]] if s.units else ""
        return f"{first} | {clause_of(n)}"
    return clause_of(n)


def extract_claims(doc: Document, rubric: DatasheetRubric, groups: dict[str, dict[str, str]]) -> list[DataClaim]:
    """Every row count, window, label delay and base rate the datasheet states (see the module doc).

    ``groups``: per sensitive attribute, ``{group as logged: pattern}``.
    """
    out: list[DataClaim] = []
    out += _rows_and_rates(doc, rubric, groups)
    out += _windows_and_delays(doc, rubric)
    return out


def _rows_and_rates(doc: Document, rubric: DatasheetRubric, groups: dict[str, dict[str, str]]) -> list[DataClaim]:
    group_labels = {f"{attr}\0{g}": p for attr, gs in groups.items() for g, p in gs.items()}
    labels = {"what": {"rows": "|".join(rubric.row_cues), "rate": "|".join(rubric.base_rate_cues)},
              "group": group_labels}
    out: list[DataClaim] = []
    for n in label_numbers(doc, labels):
        num, s = n.number, n.snippet
        what = n.labels["what"]
        scope_of = n.scopes.get("what")
        if what is None or num.threshold or scope_of is None or (scope_of == "context" and s.source == "prose"):
            continue
        scope = _scope_text(n)
        which = _which_set(scope, rubric, f"{s.text} {s.lead}")
        if what == "rows":
            if num.unit == "%" or num.value < 100 or "." in num.raw.replace(",", ""):
                continue  # a training set has hundreds of rows at least; "under 30" is an age
            if _PER_DAY.search(s.text[num.end:num.end + 40].split(",")[0]) or (
                    s.source != "prose" and _PER_DAY.search(scope)) or n.labels["group"] is not None or _TIME_AFTER.match(s.text, num.end):
                continue  # rows per day, a group's rows, "24 months": not a set's size
            if which is not None:
                out.append(DataClaim("rows", which, num.value, s, num.raw))
            continue
        value = num.fraction()
        if not 0.0 <= value <= 1.0 or ("." not in num.raw and num.unit != "%"):
            continue
        if which != "train":
            continue  # an evaluation window's rate is not the training data's
        group = n.labels["group"]
        if group and s.source == "prose" and not (n.bound_in_unit("group") or n.bound_by_clause_lead("group")):
            group = None
        if group is None and s.source == "prose" and any(phrase(p).search(s.text) for p in group_labels.values()):
            continue  # "women: 0.37, men 0.36" read loosely: not the overall rate either
        out.append(DataClaim("rate", group or "overall", value, s, num.raw))
    return out


def _windows_and_delays(doc: Document, rubric: DatasheetRubric) -> list[DataClaim]:
    label, delay, window = any_of(rubric.label_cues), any_of(rubric.delay_cues), any_of(rubric.window_cues)
    out: list[DataClaim] = []
    for s in doc.content:
        for m in _RANGE.finditer(s.text):
            a, b = (m.group("a"), m.group("b")) if m.group("a") is not None else (m.group("c"), m.group("d"))
            first, last = _int(a), _int(b)
            if first > last:
                continue
            clause = _clause_around(s.text, m.start(), m.end())
            which = _which_set(clause, rubric, f"{s.text} {s.lead}")
            if which is not None:
                out.append(DataClaim("window_range", which, first, s, m.group(0), value2=last))
        spans = [(m.start(), m.end()) for m in _RANGE.finditer(s.text)]
        for q in find_quantities(s.text, spans):
            days = q.days()
            if days is None:
                continue
            clause = _clause_around(s.text, q.start, q.end)
            context = clause if s.source == "prose" else f"{clause} {s.lead}"
            if label.search(context) and delay.search(context):
                out.append(DataClaim("delay", "label", days, s, q.raw))
            elif window.search(context) and not label.search(context):
                which = _which_set(context, rubric, f"{s.text} {s.lead}")
                if which is not None:
                    out.append(DataClaim("window_length", which, days, s, q.raw))
    return out


def _clause_around(text: str, a: int, b: int) -> str:
    """The clause (between ``;``, sentence ends or table cells) holding ``text[a:b]``."""
    start = max(text.rfind(sep, 0, a) for sep in (";", "|", ". ")) + 1
    ends = [i for i in (text.find(sep, b) for sep in (";", "|", ". ")) if i >= 0]
    return text[start:min(ends) if ends else len(text)]
