"""Numbers and durations as written in a submission, with references, dates and ids masked out.

A number right after "@", "threshold" or "cut-off", after "at" following a classification
metric ("F1 at 0.5") or a verb of measuring ("taken at 0.5"), or right before "threshold"
("the 0.5 decision threshold"), is a threshold, not a measured value: "F1 at 0.5 is 0.56"
states F1 = 0.56 at threshold 0.5, and so does "F1 at the 0.5 threshold is 0.56".

>>> [(n.value, n.role) for n in find_numbers("F1 at 0.5 is 0.56; recall @0.3: 0.71; AUC stands at 0.78")]
[(0.5, 'threshold'), (0.56, 'value'), (0.3, 'threshold'), (0.71, 'value'), (0.78, 'value')]
>>> [n.role for n in find_numbers("selection rate: women at 0.26, men at 0.30; accuracy at 73%")]
['value', 'value', 'value']
>>> [(n.value, n.role) for n in find_numbers("Accuracy at the 0.5 decision threshold is 0.734; F1 is taken at 0.5")]
[(0.5, 'threshold'), (0.734, 'value'), (0.5, 'threshold')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lab.grading.markdown.text import Span

Role = Literal["value", "threshold"]
_UNIT_WORDS = {"day": "days", "days": "days", "hour": "hours", "hours": "hours", "hrs": "hours", "h": "hours",
               "week": "weeks", "weeks": "weeks", "month": "months", "months": "months",
               "year": "years", "years": "years", "yrs": "years"}


@dataclass(frozen=True)
class Number:
    """A number as written; ``value`` is in ``unit`` ("days", "months", ..., "%") or unitless.

    ``role`` is "threshold" for a number stated as a decision threshold or cut-off ("F1 at
    0.5", "@0.3", "threshold 0.5"), "value" otherwise.
    """

    value: float
    raw: str
    start: int
    end: int
    unit: str | None = None
    role: Role = "value"

    @property
    def threshold(self) -> bool:
        return self.role == "threshold"

    def days(self) -> float | None:
        return _in_days(self.value, self.unit)

    def months(self) -> float | None:
        d = self.days()
        return None if d is None else d / (365.0 / 12.0)

    def fraction(self) -> float:
        """Percentages as fractions (``73%`` -> 0.73), other numbers unchanged."""
        return self.value / 100.0 if self.unit == "%" else self.value


def _in_days(value: float, unit: str | None) -> float | None:
    factor = {"hours": 1 / 24, "days": 1.0, "weeks": 7.0, "months": 365.0 / 12.0, "years": 365.0}.get(unit or "")
    return None if factor is None else value * factor


_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-four": 24, "thirty": 30,
    "forty-eight": 48, "sixty": 60, "seventy-two": 72, "ninety": 90,
}
_WORDS_RX = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_QUANTITY = re.compile(
    rf"(?<![\w.])(?P<num>\d+(?:\.\d+)?|{_WORDS_RX})(?:\s*\(\s*\d+\s*\))?(?:\s+|-)"
    r"(?:(?:calendar|working|business|full)\s+)?(?P<unit>days?|hours?|hrs?|h|weeks?|months?|years?|yrs?)(?![a-z])",
    re.I,
)
_FREQUENCY = re.compile(r"(?:every|each|per|last|past|previous|rolling|trailing|recent)\s+$", re.I)
_NUMBER = re.compile(
    r"(?<![\w.\-/])(?P<sign>[-\u2212])?(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)(?P<pct>\s*%)?(?![\w/]|\.\d)"
)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_MASKS = re.compile(
    "|".join(
        [
            r"\bArt(?:icle)?s?\.?\s*\d+[a-z]?(?:\s*\(\s*\w{1,4}\s*\))*"
            r"(?:\s*(?:,|/|and|-|to)\s*\d+[a-z]?(?:\s*\(\s*\w{1,4}\s*\))*)*",
            r"\bAnnex(?:es)?\s+[IVX]+(?:[,\s]*(?:point\s*)?\d+\s*(?:\(\s*[a-z]\s*\)|[a-z]\b)?)?",
            r"\bpoint\s+\d+\s*(?:\(\s*[a-z]\s*\))?",
            r"\b\d+\s*\(\s*\d+\s*\)(?:\s*\(\s*[a-z]\s*\))*",
            r"\b\d+\s*\(\s*[a-z]\s*\)",
            r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b",
            rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+(?:19|20)\d{{2}}\b",
            rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b",
            rf"\b{_MONTHS}\s+(?:19|20)\d{{2}}\b",
            r"\b(?:19|20)\d{2}/\d+\b",
            r"\b(?:19|20)\d{2}\b",
            r"\bv\d+(?:\.\d+)*\b",
            r"\bversions?\s*:?\s*(?:#|no\.?|number)?\s*\d+(?:\s*(?:,|and|or|/)\s*\d+)*\b",
            r"\bmodels:/\S+",
            r"\b[0-9a-f]{32}\b",
            r"\b\d{1,2}:\d{2}\b",
            r"\b(?:step|phase|tier|section|chapter|level|stage|point|item)\s+\d+\b",
            r"\b(?:ISO|IEC)[/ ]?(?:IEC\s*)?\d+(?::\d+)?",
            r"#\d+",
        ]
    ),
    re.I,
)


def _mask(text: str, extra: Sequence[Span] = ()) -> str:
    chars = list(text)
    for m in _MASKS.finditer(text):
        for k in range(m.start(), m.end()):
            chars[k] = " "
    for a, z in extra:
        for k in range(a, z):
            chars[k] = " "
    return "".join(chars)


#: What makes the next number a threshold: "@0.5", "threshold (of|=|:) 0.5", "cut-off 0.5",
#: "decision threshold at 0.5".
_THRESHOLD_BEFORE = re.compile(
    r"(?:@|\bthreshold|\bcut[\s-]?off|\bcutoff|\boperating point)\s*(?:of|=|:|at|set to|is)?\s*(?:[<>]=?\s*)?$",
    re.I,
)
#: "F1 at 0.5", "recall at 0.3": "at" right after a classification metric gives the threshold it is taken at
#: ("women at 0.26" and "AUC stands at 0.78" are values).
_METRIC_AT = re.compile(
    r"\b(?:f1|f-1|f1[\s-]score|recall|precision|tpr|fpr|tnr|fnr|accuracy|sensitivity|specificity|ppv|npv|"
    r"selection rate|positive rate|true positive rate|false positive rate)\s*(?:\([^)]{0,20}\)\s*)?[(,]?\s*at\s*$",
    re.I,
)


#: "taken at 0.5", "thresholded at 0.5": a verb of measuring, then "at", gives the threshold.
_MEASURED_AT = re.compile(
    r"\b(?:taken|measured|computed|calculated|evaluated|thresholded|binari[sz]ed|classified|operat(?:es?|ed|ing)|"
    r"cut)\s+at\s*(?:(?:the|a|an|our)\s+)?$",
    re.I,
)
#: "the 0.5 decision threshold", "0.4 (cut-off)": a number right before "threshold".
_THRESHOLD_AFTER = re.compile(
    r"\s*\)?\s*(?:(?:decision|classification|probability|score|operating)\s+)?(?:threshold|cut[\s-]?off|cutoff)\b",
    re.I,
)
#: A threshold already stated right before the cue ("at the 0.5 threshold is 0.73": 0.73 is a value).
_STATED_BEFORE = re.compile(r"(?<![\w.])\d*\.?\d+\s*%?\s*(?:[a-z]+\s+)?$", re.I)


def _role(ref_masked: str, start: int, end: int, percent: bool) -> Role:
    before = ref_masked[max(0, start - 40) : start]
    if _THRESHOLD_AFTER.match(ref_masked, end):
        return "threshold"
    tail = max(0, len(before) - 30)
    cue = _THRESHOLD_BEFORE.search(before[tail:])
    if cue and not _STATED_BEFORE.search(before[: tail + cue.start()]):
        return "threshold"
    if percent:
        return "value"  # "accuracy at 73%": thresholds are written as probabilities
    return "threshold" if _METRIC_AT.search(before) or _MEASURED_AT.search(before) else "value"


def find_quantities(text: str, skip: Sequence[Span] = ()) -> list[Number]:
    """Durations in ``text`` ("15 days", "six months", "48-hour", "2 working days").

    Frequencies ("every 7 days", "the last 30 days") and article numbers are not durations.

    >>> text = "Art. 73(2): fifteen days; logs: 6-month minimum; check every 7 days"
    >>> [(q.value, q.unit) for q in find_quantities(text)]
    [(15.0, 'days'), (6.0, 'months')]
    """
    masked = _mask(text, skip)
    out = []
    for m in _QUANTITY.finditer(masked):
        if _FREQUENCY.search(masked[max(0, m.start() - 20) : m.start()]):
            continue
        raw = m.group("num").lower()
        value = float(_NUMBER_WORDS.get(raw, raw) if raw in _NUMBER_WORDS else raw)
        unit = _UNIT_WORDS[m.group("unit").lower()]
        out.append(Number(value=value, raw=text[m.start() : m.end()], start=m.start(), end=m.end(), unit=unit))
    return out


def find_numbers(text: str, skip: Sequence[Span] = ()) -> list[Number]:
    """Plain numbers (and percentages) that are not part of a reference, date, version or id.

    >>> [(n.value, n.unit) for n in find_numbers("Under Art. 15, v2 scored 0.78 (73%) on 2 August 2026")]
    [(0.78, None), (73.0, '%')]
    """
    masked = _mask(text, skip)
    references = _mask(text)  # labels (masked in ``masked``) still tell a threshold from a value
    out = []
    for m in _NUMBER.finditer(masked):
        value = float(m.group("num").replace(",", ""))
        if m.group("sign"):
            value = -value
        out.append(Number(value=value, raw=text[m.start() : m.end()].strip(), start=m.start(), end=m.end(),
                          unit="%" if m.group("pct") else None,
                          role=_role(references, m.start(), m.end(), bool(m.group("pct")))))
    return out
