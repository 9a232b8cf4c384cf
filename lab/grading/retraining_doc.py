"""``retraining.md``: the retraining procedure, against a rubric and against what the drill did.

Six items (22 points). A fact counts where it is stated with what it is about (one sentence,
table row or list item); text copied from the template, lists of bare keywords and statements
negated just before the term ("we do not shadow") earn nothing:

* ``retraining.doc.triggers`` (5): a performance signal on labelled rows with a threshold
  (3; named without a number: 1.5), and drift signals as a trigger or a prompt to look (2);
* ``retraining.doc.frequency`` (3): a regular cadence besides the triggers;
* ``retraining.doc.window`` (5): the window's length (2) and why (1); the label delay with this
  scenario's figure (1.5; named without it: 0.5; a wrong figure: 0); a stated length matching
  the retrain that became champion (0.5);
* ``retraining.doc.guardrails`` (4): a release gate or regression tests on reference data (1.5),
  a shadow or canary period (1.5), and every guardrail promised was used on the version that
  became champion (1, from the journal);
* ``retraining.doc.approval`` (2): who approves (a role with the approval; approval alone: 1);
* ``retraining.doc.rollback`` (3): rolling back (1), how (1) and when (1).

These are the lab's rubric for a sound procedure, not a legal requirement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lab.core.paths import TEMPLATE_DIR, read_template
from lab.grading.items import Item, sentence

SKILL = "retraining"
TEMPLATE_PATH = TEMPLATE_DIR / "retraining.md"
DOC_PLAN = (("retraining.doc.triggers", "Triggers: which signals start a retrain, at which thresholds", 5.0),
            ("retraining.doc.frequency", "Frequency: a regular cadence besides the triggers", 3.0),
            ("retraining.doc.window", "Data window: how much, why, and the label delay", 5.0),
            ("retraining.doc.guardrails", "Guardrails before a retrained version serves everyone", 4.0),
            ("retraining.doc.approval", "Who approves a retrained version", 2.0),
            ("retraining.doc.rollback", "How and when a retrained version is rolled back", 3.0))


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


PERF = _rx(r"\b(roc[ _-]?auc|auc|accuracy|precision|recall|f1|brier|log[ -]?loss|performance|calibration)\b")
THRESHOLD = _rx(r"(?<![\w.])(0?\.\d+|\d+(\.\d+)?\s*(%|percent|points?|pp)(?!\w))")
DRIFT = _rx(r"\b(drift|psi|kolmogorov|ks[ -]test|wasserstein|jensen|distribution)\w*")
CADENCE = _rx(r"\b(daily|nightly|weekly|fortnightly|biweekly|monthly|quarterly|every\s+(\d+|one|two|three|four|six|"
              r"other)\s+(days?|weeks?|months?)|every\s+(day|week|month|quarter)|each\s+(day|week|month|quarter)|once\s+"
              r"(a|per|every)\s+(day|week|month|quarter)|per\s+(week|month|quarter))\b")
WINDOW = _rx(r"\b(window|train(s|ed|ing)?\s+on|last|most recent|rows? from|data from|history|lookback|look-back)\b")
DURATION = _rx(r"(?<![\w.])(\d+(\.\d+)?)\s*(days?|weeks?|d\b)")
WHY = _rx(r"\b(because|since|so that|why|recen\w*|concept|shift\w*|chang\w*|stale|old rule|outdated|forget\w*|"
          r"enough rows|enough data|sample size)\b")
LABEL = _rx(r"\b(labels?|ground truth|outcomes?|feedback)\b")
DELAY = _rx(r"\b(delay\w*|arriv\w*|lag\w*|later|after)\b")
GATE = _rx(r"\b(release gate|gate|regression tests?|reference (data|set|rows)|release checks?)\b")
LIVE = _rx(r"\b(shadow\w*|canar\w*)\b")
APPROVE = _rx(r"\b(approv\w*|sign[- ]?offs?|signs? off|accountable)\b")
ROLE = _rx(r"\b(owner|lead|head|manager|officer|committee|board|director|engineer|reviewer|risk|compliance|"
           r"product|on-call|chief|vp|team)\b")
ROLLBACK = _rx(r"\b(roll\s?-?back\w*|rolled back|rolling back|revert\w*)\b")
HOW = _rx(r"(lab rollback|previous (version|champion)|last[- ]known[- ]good|prior version|champion alias|\balias\b|"
          r"\bv\d+\b|earlier version)")
WHEN = _rx(r"\b(if|when|whenever|within|breach\w*|drops?|worse|falls?|alert\w*|fails?)\b")
NEGATION = _rx(r"\b(no|not|never|without|don't|do not|skip|skips|skipped)\b[^.;:]{0,25}$")


@dataclass(frozen=True)
class DocFacts:
    """What the drill did, for the claims the document can be checked against."""

    label_delay_days: float
    window_days: float | None  # the length of the retrain that became champion (None: none did)
    gated: bool  # a gate passed it before its promotion
    live_checked: bool  # shadowed or canaried before its promotion


def affirmed(text: str, rx: re.Pattern[str]) -> bool:
    """Whether ``rx`` matches somewhere not negated just before it.

    >>> affirmed("We shadow every retrain.", LIVE), affirmed("We do not shadow retrains.", LIVE)
    (True, False)
    """
    return any(not NEGATION.search(text[:m.start()]) for m in rx.finditer(text))


def days_in(text: str) -> list[float]:
    """Durations in days (weeks count seven).

    >>> days_in("the last 2 weeks, labels 3 days late")
    [14.0, 3.0]
    """
    return [float(m.group(1)) * (7 if m.group(3).lower().startswith("w") else 1) for m in DURATION.finditer(text)]


class _Doc:
    def __init__(self, snippets: list[Any]) -> None:
        self.snippets = snippets

    def find(self, *rxs: re.Pattern[str]) -> list[Any]:
        """Snippets where every pattern is affirmed."""
        return [s for s in self.snippets if all(affirmed(s.text, rx) for rx in rxs)]

    @staticmethod
    def quote(snippets: list[Any]) -> str:
        return "" if not snippets else f"line {snippets[0].line}: {snippets[0].text[:160]}"


def _triggers(doc: _Doc, f: DocFacts) -> tuple[float, str, str]:
    perf, numbered, drift = doc.find(PERF), doc.find(PERF, THRESHOLD), doc.find(DRIFT)
    share = (0.6 if numbered else 0.3 if perf else 0.0) + (0.4 if drift else 0.0)
    missing = []
    if not numbered:
        missing.append("a performance signal on labelled rows with its threshold (e.g. ROC AUC below a floor over "
                       "the last days of arrived labels)" if not perf else "the performance trigger's threshold")
    if not drift:
        missing.append("what the drift signals do (they see a change in inputs or scores before labels arrive)")
    return share, ("Triggers are stated with thresholds." if not missing else "Missing: " + "; ".join(missing) + "."), \
        doc.quote(numbered or perf or drift)


def _frequency(doc: _Doc, f: DocFacts) -> tuple[float, str, str]:
    found = doc.find(CADENCE)
    return (1.0 if found else 0.0), ("A regular cadence is stated." if found else
                                    "No cadence: say how often a retrain runs when no trigger fires (e.g. monthly)."), \
        doc.quote(found)


def _window(doc: _Doc, f: DocFacts) -> tuple[float, str, str]:
    sized = [s for s in doc.find(WINDOW) if days_in(s.text)]
    why = [s for s in doc.find(WINDOW, WHY)]
    delay = doc.find(LABEL, DELAY)
    stated = [d for s in delay for d in days_in(s.text)]
    share, notes = 0.0, []
    share += 0.4 if sized else 0.0
    if not sized:
        notes.append("the window's length in days")
    share += 0.2 if why else 0.0
    if not why:
        notes.append("why that window (what the rows before it would teach)")
    if any(abs(d - f.label_delay_days) <= 0.5 for d in stated):
        share += 0.3
    elif stated:
        notes.append(f"the label delay is {f.label_delay_days:g} days here, not {stated[0]:g}")
    elif delay:
        share += 0.1
        notes.append(f"the label delay's figure ({f.label_delay_days:g} days)")
    else:
        notes.append("the label delay (labels arrive after the decision, so the newest days have none)")
    lengths = [d for s in sized for d in days_in(s.text)]
    if f.window_days is not None and lengths:
        if any(abs(d - f.window_days) <= max(2.0, 0.25 * f.window_days) for d in lengths):
            share += 0.1
        else:
            notes.append(f"the document's window ({', '.join(f'{d:g}' for d in lengths)} days) is not the "
                         f"{f.window_days:g} days of the retrain that became champion")
    elif lengths:
        share += 0.1
    return share, ("The window, its reason and the label delay are stated." if not notes else
                   "Missing or wrong: " + "; ".join(notes) + "."), doc.quote(sized or delay)


def _guardrails(doc: _Doc, f: DocFacts) -> tuple[float, str, str]:
    gate, live = doc.find(GATE), doc.find(LIVE)
    share = (0.375 if gate else 0.0) + (0.375 if live else 0.0)
    notes = []
    if not gate:
        notes.append("a release gate (regression tests on reference data) before promotion")
    if not live:
        notes.append("a shadow or canary period on live traffic")
    unbacked = [w for w, claimed, done in (("a gate", gate, f.gated), ("a shadow or canary", live, f.live_checked))
                if claimed and not done]
    if f.window_days is None and (gate or live):
        notes.append("no retrained version became champion in the drill, so none of this was shown in practice")
    elif (gate or live) and not unbacked:
        share += 0.25
    elif unbacked:
        notes.append(f"the document promises {' and '.join(unbacked)}, which the journal does not show for the "
                     "version that became champion")
    return share, ("Guardrails stated and used in the drill." if not notes else sentence("; ".join(notes))), \
        doc.quote(gate or live)


def _approval(doc: _Doc, f: DocFacts) -> tuple[float, str, str]:
    named, bare = doc.find(APPROVE, ROLE), doc.find(APPROVE)
    share = 1.0 if named else 0.5 if bare else 0.0
    return share, ("Who approves is named." if named else
                   "Approval is mentioned without a role who gives it." if bare else
                   "Nobody approves: name the role that signs off a retrained version."), doc.quote(named or bare)


def _rollback(doc: _Doc, f: DocFacts) -> tuple[float, str, str]:
    any_, how, when = doc.find(ROLLBACK), doc.find(ROLLBACK, HOW), doc.find(ROLLBACK, WHEN)
    share = (1 / 3 if any_ else 0.0) + (1 / 3 if how else 0.0) + (1 / 3 if when else 0.0)
    notes = [w for w, ok in (("rolling back", any_), ("how (e.g. `lab rollback`, the previous version)", how),
                             ("when (which signal, within how long)", when)) if not ok]
    return share, ("Rollback: how and when." if not notes else "Missing: " + "; ".join(notes) + "."), \
        doc.quote(how or any_)


_CHECKS = {"retraining.doc.triggers": _triggers, "retraining.doc.frequency": _frequency,
           "retraining.doc.window": _window, "retraining.doc.guardrails": _guardrails,
           "retraining.doc.approval": _approval, "retraining.doc.rollback": _rollback}


def grade_retraining_doc(text: str | None, facts: DocFacts, *, template: str | None = None) -> list[Item]:
    """Score ``retraining.md`` (None: missing). ``template``: the untouched template (default:
    ``runbooks/retraining.md``); lines copied from it earn nothing."""
    from lab.grading.markdown.parse import parse_markdown

    if text is None:
        return [Item(id=i, skill=SKILL, title=t, points=0.0, max_points=p, feedback="retraining.md is missing.")
                for i, t, p in DOC_PLAN]
    doc = _Doc(list(parse_markdown(text, template=template or read_template(TEMPLATE_PATH)).content))
    items = []
    for item_id, title, points in DOC_PLAN:
        share, feedback, evidence = _CHECKS[item_id](doc, facts)
        share = max(0.0, min(1.0, share))
        items.append(Item(id=item_id, skill=SKILL, title=title, points=round(points * share, 6), max_points=points,
                          feedback=feedback, evidence=evidence))
    return items


__all__ = ["DOC_PLAN", "DocFacts", "affirmed", "days_in", "grade_retraining_doc"]
