"""The runbook rubric's legal-reading checks: classification, application date, over-claiming.

These read what a runbook says about the law itself, so they bind each claim to its
clause: a conditional ("if it were used for credit it would fall under Annex III 5(b)")
claims nothing, and a superseded date told as history ("under the text as published it
would have applied from 2 August 2026") is not a wrong date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from functools import partial

from lab.grading.markdown import Document, Snippet, phrase
from lab.grading.runbook_checks import Env, Verdict, quote
from lab.grading.runbook_rubric import (
    ApplicationDateCheck,
    ClassificationCheck,
    OverclaimCheck,
    RubricItem,
    RunbookContext,
)

_CLAUSE = re.compile(r";|\bbut\b|\bwhereas\b|\bwhile\b|\bhowever\b|\s-\s", re.I)
_FINE_CLAUSE = re.compile(r";|,(?!\d)|\bbut\b|\bwhereas\b|\bwhile\b|\bhowever\b|\bso\b|\s-\s", re.I)


def clauses(text: str, *, fine: bool = False) -> list[tuple[int, str]]:
    """``(start, clause)`` pieces of a sentence, split where a new claim may start (``fine``: at commas too).

    >>> [c for _, c in clauses("It is high-risk under Annex III 4(a); if used for credit, it would be 5(b).")]
    ['It is high-risk under Annex III 4(a)', ' if used for credit, it would be 5(b).']
    >>> [c for _, c in clauses("If used for credit, it would be 5(b).", fine=True)]
    ['If used for credit', ' it would be 5(b).']
    """
    out, start = [], 0
    for m in (_FINE_CLAUSE if fine else _CLAUSE).finditer(text):
        out.append((start, text[start:m.start()]))
        start = m.end()
    out.append((start, text[start:]))
    return out


def _clause_at(text: str, pos: int, *, fine: bool = False) -> str:
    found = ""
    for start, c in clauses(text, fine=fine):
        if start <= pos:
            found = c
    return found


def _any(patterns: Sequence[str]) -> re.Pattern[str]:
    return phrase("|".join(f"(?:{p})" for p in patterns))


# --------------------------------------------------------------------------- classification

_NEGATION = re.compile(r"(?:\bnot|n't|\bnon|\bno|\bneither|\bnor|\bnever|\brather than|\binstead of|\bunlike|"
                       r"\boutside)\b[\w\s,()-]{0,20}$", re.I)
_HIGH = re.compile(r"high[\s-]*risk", re.I)
#: A claim about this system: "it is a high-risk AI system", "classified as high-risk", not "duties for high-risk systems".
_CLAIM = re.compile(r"\b(?:is|are|as|classif\w*|qualif\w*|counts?|falls?|fall|considered|deemed|constitutes?|"
                    r"makes? it|remains?|becomes?|be)\b[^.;]{0,40}$", re.I)
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


def _live(text: str, conditional: re.Pattern[str], pos: int) -> bool:
    """False inside a hypothetical clause: "if it were used for credit, it would fall under 5(b)" claims nothing."""
    return not conditional.search(_clause_at(text, pos, fine=True))


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 30) : start]))


def classification(ri: RubricItem, c: ClassificationCheck, doc: Document, ctx: RunbookContext,
                   env: Env) -> Verdict:
    conditional = _any(c.conditional)
    says_high: list[Snippet] = []
    says_low: list[tuple[Snippet, str]] = []
    points: dict[str, Snippet] = {}
    derogation: list[Snippet] = []
    for s in doc.content:
        t = s.text
        live = partial(_live, t, conditional)

        for m in _HIGH.finditer(t):
            if not live(m.start()):
                continue
            if _negated(t, m.start()) or t[max(0, m.start() - 4) : m.start()].lower().endswith("non-"):
                says_low.append((s, "not high-risk"))
            elif (_CLAIM.search(t[max(0, m.start() - 60) : m.start()]) or s.source in ("metadata", "table")
                  or any(live(p.start()) for p in _POINT.finditer(t))):  # "High-risk, Annex III point 4(a)."
                says_high.append(s)
        for m in _LOW.finditer(t):
            if live(m.start()) and not _negated(t, m.start()):
                says_low.append((s, m.group(0).lower()))
        m_not = _NOT_ANNEX.search(t)
        if m_not and live(m_not.start()):
            says_low.append((s, "not in Annex III"))
        for m in _POINT.finditer(t):
            if not live(m.start()) or _negated(t, m.start()):
                continue
            num, letter = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            points.setdefault(f"{num}({letter.lower()})", s)
        if s.source in ("metadata", "table") and re.search(r"risk|class", s.text, re.I):
            v = re.search(r":\s*(high|limited|minimal|low)\s*$", t, re.I)
            if v and v.group(1).lower() != "high":
                says_low.append((s, f"{v.group(1).lower()} risk"))
            elif v:
                says_high.append(s)
        if _DEROGATION.search(t) and not _DENIED.search(t):  # "the Art. 6(3) exception applies"
            derogation.append(s)
    expected = ctx.annex_point
    if ctx.risk_class == "high":
        if says_low and not says_high:
            s, what = says_low[0]
            return Verdict(0.0, f"You classify the system as {what}; it is high-risk under Art. 6(2) "
                                f"({ctx.risk_basis}).", evidence=quote(s), wrong=True)
        if not says_high:
            return Verdict(0.0, "No risk classification stated.")
        if derogation:
            return Verdict(0.0, "You rely on the Art. 6(3) exception; it never applies to a system that profiles "
                                "natural persons, as a screener or scorer does.", evidence=quote(derogation[0]),
                           wrong=True)
        if expected and expected in points:
            extra = " (it also calls it lower risk somewhere; remove the contradiction)" if says_low else ""
            score = 0.5 if says_low else 1.0
            return Verdict(score, f"Classifies the system as high-risk under Annex III point {expected}{extra}.",
                           evidence=quote(points[expected]))
        if points:
            got = ", ".join(sorted(points))
            return Verdict(0.0, f"You cite Annex III point {got}; this system falls under point {expected} "
                                f"({ctx.risk_basis}).", evidence=quote(next(iter(points.values()))), wrong=True)
        return Verdict(0.5, "Says high-risk but not which Annex III point applies.", evidence=quote(says_high[0]))
    # limited / minimal
    if points:
        got = ", ".join(sorted(points))
        return Verdict(0.0, f"You place the system under Annex III point {got}; {ctx.risk_basis}.",
                       evidence=quote(next(iter(points.values()))), wrong=True)
    if says_high and not says_low:
        return Verdict(0.0, f"You call the system high-risk; it is not ({ctx.risk_basis}).",
                       evidence=quote(says_high[0]), wrong=True)
    if says_low:
        return Verdict(1.0, f"States that the system is not high-risk ({says_low[0][1]}).",
                       evidence=quote(says_low[0][0]))
    return Verdict(0.0, "No risk classification stated.")


# --------------------------------------------------------------------------- application date

_MONTH_NAMES = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DATE = re.compile(
    r"\b(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m1>[A-Za-z]{3,9})\.?,?\s+(?P<y1>20\d{2})\b"
    r"|\b(?P<m2>[A-Za-z]{3,9})\.?\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y2>20\d{2})\b"
    r"|\b(?P<y3>20\d{2})-(?P<m3>\d{2})-(?P<d3>\d{2})\b"
)


def dates(text: str) -> list[tuple[dt.date, int, int, str]]:
    """Calendar dates written out in ``text``: ``(date, start, end, as written)``.

    >>> [(d.isoformat(), raw) for d, _, _, raw in dates("from 2 December 2027 (not August 2, 2026)")]
    [('2027-12-02', '2 December 2027'), ('2026-08-02', 'August 2, 2026')]
    """
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


def application_date(ri: RubricItem, c: ApplicationDateCheck, doc: Document, ctx: RunbookContext,
                     env: Env) -> Verdict:
    """The date the Annex III obligations apply from, judged on the date (a citation names no version)."""
    context = _any(c.context)
    past, voluntary = _any(c.past_markers), _any(c.voluntary_markers)
    other = _any(c.not_about) if c.not_about else re.compile(r"(?!)")
    high = phrase(r"high[\s-]*risk|annex iii|art(?:icle)?s?\.?\s*7[23]|chapter iii")
    good: Verdict | None = None
    wrong: Verdict | None = None
    early: Verdict | None = None
    for s in doc.content:
        if not context.search(s.text) or re.search(r"annex\s+i\b(?!i)|6\s*\(\s*1\s*\)", s.text, re.I):
            continue
        for day, a, _b, raw in dates(s.text):
            clause = _clause_at(s.text, a)
            if other.search(clause) and not high.search(clause):
                continue  # "the AI Act applies generally from 2 August 2026": another date, not Annex III's
            if day == c.date:
                good = good or Verdict(1.0, f"Gives {raw}, when the Annex III obligations apply under {c.text}.",
                                       evidence=quote(s))
            elif voluntary.search(clause):
                early = early or Verdict(0.5, f"Runs the plan voluntarily from {raw}: good practice (Art. 95).",
                                         evidence=quote(s))
            elif day in c.superseded:
                if past.search(clause):
                    continue  # told as history: "under the text as published it would have applied ..."
                wrong = wrong or Verdict(0.0, f"You give {raw} as the date the obligations apply: "
                                              f"{c.superseded[day]}.", evidence=quote(s), wrong=True)
            elif day in c.other_dates:
                wrong = wrong or Verdict(0.0, f"You give {raw}: {c.other_dates[day]}.", evidence=quote(s),
                                         wrong=True)
    when = f"{c.date:%-d %B %Y}"
    if wrong and good:  # both dates as the one that applies: no credit, but not a confidently wrong fact
        return Verdict(0.0, f"You give both {when} and another date for when the obligations apply: "
                            f"{wrong.reason[0].lower()}{wrong.reason[1:]}", evidence=wrong.evidence)
    if wrong:
        return wrong
    if good:
        if early:
            return Verdict(1.0, f"{good.reason} {early.reason}", evidence=good.evidence)
        return good
    if early:
        return Verdict(early.score, f"{early.reason} Also state when the law requires it: {when} ({c.text}).",
                       evidence=early.evidence)
    return Verdict(0.0, "No date from which the high-risk obligations apply.")


# --------------------------------------------------------------------------- over-claiming


def overclaim(ri: RubricItem, c: OverclaimCheck, doc: Document, ctx: RunbookContext, env: Env) -> Verdict:
    claims, binding, voluntary = _any(c.claims), _any(c.binding), _any(c.voluntary)
    conditional = _any(c.conditional) if c.conditional else None
    about = phrase(r"ai act|obligation|duties|dut(?:y|ies)|requirement|these (?:steps|procedures|practices)|"
                   r"this (?:runbook|plan)")
    marked = [s for s in doc.content if voluntary.search(s.text) and (claims.search(s.text) or about.search(s.text))]
    if marked:
        return Verdict(0.0, "Legal duties are marked as voluntary where they do not apply.",
                       evidence=quote(marked[0]))
    claimed = [s for s in doc.content if claims.search(s.text) and binding.search(s.text)
               and not (conditional and conditional.search(s.text))]
    if claimed:
        return Verdict(1.0, "Over-claims legal duties: presents high-risk obligations (Art. 72/73) as binding "
                            "for a system that is not high-risk.", evidence=quote(claimed[0]), wrong=True)
    return Verdict(0.0, "No legal duties over-claimed.")


# --------------------------------------------------------------------------- other lawful ways


def alternative(ri: RubricItem, doc: Document, ctx: RunbookContext) -> Verdict | None:
    """Full credit when the runbook takes another route the law allows for this basis, else None."""
    for alt in ri.alternatives:
        if ctx.annex_point not in alt.applies_if_basis:
            continue
        rxs = [phrase(p) for p in alt.all_of]
        for s in doc.content:
            if all(r.search(s.text) for r in rxs):
                return Verdict(1.0, f"{alt.name[0].upper()}{alt.name[1:]} ({alt.citation}).", evidence=quote(s))
    return None
