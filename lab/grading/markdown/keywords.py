"""Keyword stuffing told apart from terse statements.

A comma list is a statement when it lists concrete facts (numbers with their labels, dates,
versions, commands, identifiers, periods, names of the lab's artefacts) or hangs on an action
("Preserve evidence first: copy journal, request logs, labels, ..."). It is stuffing when it is
a string of bare generic terms with nothing said about them. A sentence with a finite verb
("are taken at", "we report") states something even when it holds a comma list of terms:

>>> is_keyword_list("ROC AUC measures ranking; accuracy, F1 and the selection rate are taken at the 0.5 "
...                 "threshold, and per gender and age band we report selection rate and TPR.")
False

>>> is_keyword_list("Serious incident, market surveillance authority, death, logs, AI literacy.")
True
>>> is_keyword_list("Preserve evidence first: copy journal, request logs, labels, the registry snapshot, "
...                 "then roll back.")
False
>>> is_keyword_list("Data sources: request logs, delayed labels, the journal, registry snapshots.")
False
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lab.grading.markdown.numbers import _UNIT_WORDS, _mask, find_numbers, find_quantities
from lab.grading.markdown.words import FUNCTION_WORDS, IRREGULAR, VERBS, lemma, word_family

#: A part with one of these has a predicate or a relation: it says something.
_CLAUSE_WORDS = frozenset(
    "we i you they it he she us them our their is are was were be been being has have had do does did can could "
    "may might must should will would shall to then before after within until when if once by from into via "
    "unless whenever".split()
)
#: Verbs that introduce the objects of an action (imperative or infinitive), as lemmas.
_ACTION_VERBS = frozenset(
    "preserve copy keep store retain archive export save freeze send notify inform tell submit email escalate "
    "contact compare monitor measure suspend disable revert restore promote retrain redeploy collect gather attach "
    "investigate assess evaluate pause remove withdraw publish share hand ask watch capture snapshot roll run "
    "back check review record document write update open file alert page call use stop".split()
)
#: Leads that only name topics: "this runbook covers: ..." is not a statement of facts.
_META_VERBS = frozenset("cover address describe mention list concern discuss span summarise summarize outline "
                        "keyword topic term tag".split())
#: A finite verb follows these: "we report", "it ranks" (subjects); "are taken", "must notify" (auxiliaries).
_SUBJECTS = frozenset("we i you they he she it".split())
_AUXILIARIES = frozenset("is are was were has have had will would shall should must can could may might do does did"
                         .split())
#: Words that may stand between an auxiliary and its verb ("are all taken", "has not been checked").
_BETWEEN = frozenset("be been being not also then only always all both each never still usually often now first "
                     "either".split())
_PARTICIPLES = frozenset(f for forms in IRREGULAR.values() for f in forms)
#: An inflected word right before one of these is a verb with its object ("records the lab version").
_OBJECT_START = frozenset("the a an its their our this these every each one".split())
_FACT = re.compile(
    "|".join([
        r"\blab\s+[a-z][\w-]+",  # a lab command
        r"`[^`]+`",
        r"\b\w+_\w+\b",  # snake_case identifiers
        r"\b[\w-]+\.(?:md|json|ya?ml|csv|parquet|py|txt|log|jsonl|html|pkl)\b",
        r"\w/\w|https?://|@\w",
        r"\bv\d+\b|\bversions?\s*#?\d+|\brun[\s_-]*id\s*:?\s*[0-9a-f]{6,}|\b[0-9a-f]{12,}\b",
        r"\b(?:daily|weekly|monthly|quarterly|annually|yearly|hourly|nightly|fortnightly)\b",
        r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{4}",
        # the lab's artefacts: what a responder copies, compares or restores
        r"\bjournal\b|\b(?:request|prediction|inference|serving|access|audit|application|bentoml|mlflow|prefect)"
        r"[\s-]+logs?\b|\blabels?\b|\bground[\s-]truth\b|\bregistry[\s-]+(?:snapshot|export|history)|\bsnapshots?\b"
        r"|\balias(?:es)?[\s-]+history\b|\btimeline\b|\b(?:drift|evidently|monitoring)[\s-]+reports?\b"
        r"|\bmirrored requests\b|\bshadow (?:traffic|report)\b|\bdashboards?\b|\btickets?\b|\bbackups?\b",
    ]),
    re.I,
)


#: Written as names are (case matters): camelCase, MLflow, BentoML, a person's name with a role.
_NAMED = re.compile(r"\b[a-z]+[A-Z]\w*|\b[A-Z]{2,}[a-z]{2,}\w*|\b[A-Z][a-z]+\s+[A-Z][a-z]+\s*\(")


#: An arrow mapping what stands before it to what follows.
_ARROW = re.compile(r"\s*(?:→|->|=>)\s*")
#: A bracketed aside holding a list ("signals (latency, errors, throughput)"): examples of one term.
_BRACKETED_LIST = re.compile(r"\s*\([^()]*,[^()]*\)")


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'-]*", text)


def _paired_number(part: str) -> bool | None:
    """True when a number in ``part`` sits with its own label, False for a bare number, None for none."""
    masked = _mask(part)
    if not find_numbers(masked) and not find_quantities(masked):
        return None
    return any(w.lower() not in _UNIT_WORDS and w.lower() not in FUNCTION_WORDS and len(w) > 1 for w in _words(masked))


def _kind(part: str, code: Sequence[str]) -> str:
    """"fact", "clause", "loose" (a number alone) or "bare" (generic terms only)."""
    paired = _paired_number(part)
    if paired:
        return "fact"
    if _FACT.search(part) or _NAMED.search(part) or any(c and c in part for c in code):
        return "fact"
    if paired is False:
        return "loose"
    words = [w.lower() for w in _words(part)]
    if any(w in _CLAUSE_WORDS for w in words):
        return "clause"
    return "bare"


def _meta(word: str) -> bool:
    return any(word in word_family(m) for m in _META_VERBS)


def _finite(part: str) -> bool:
    """True when ``part`` holds a finite verb that is not about topics ("are covered"): a subject
    pronoun with its verb ("we report"), an auxiliary with a verb form ("are taken", "must notify"),
    an inflected verb before its object ("records the lab version") or, inside a clause, an inflected
    verb that is rarely a noun ("AUC exceeds 0.7").

    >>> [_finite(p) for p in ("we report selection rate", "F1 is taken at 0.5", "logs are covered",
    ...                       "bias is important", "IT security", "withdraw", "the model exceeds the target",
    ...                       "records the lab version", "request logs", "covers every obligation")]
    [True, True, False, False, False, False, True, True, False, False]
    """
    written = _words(part)
    words = [w.lower() for w in written]
    for k, w in enumerate(words):
        nxt = next((x for x in words[k + 1 :] if x not in _BETWEEN), "")
        if not nxt or _meta(nxt):
            continue
        if w in _SUBJECTS and written[k] != "IT" and nxt not in FUNCTION_WORDS:
            return True
        if w in _AUXILIARIES and (nxt.endswith(("ed", "ing")) or nxt in _PARTICIPLES or lemma(nxt) in VERBS
                                  or lemma(nxt) in _ACTION_VERBS):
            return True
        inflected = w != lemma(w) and w not in FUNCTION_WORDS and not _meta(w)
        if inflected and w.endswith(("s", "ed")) and words[k + 1] in _OBJECT_START:
            return True
        if (0 < k and inflected and lemma(w) in VERBS and words[k - 1] not in FUNCTION_WORDS
                and words[k + 1] not in FUNCTION_WORDS):
            return True
    return False


def _action_lead(lead: str) -> bool:
    words = [w.lower() for w in _words(lead)]
    if not words or any(lemma(w) in _META_VERBS or w in _META_VERBS for w in words):
        return False
    if words[0] in _ACTION_VERBS or lemma(words[0]) in _ACTION_VERBS:
        return True  # an imperative: "Preserve evidence first"
    if any(w in _CLAUSE_WORDS - {"to", "by", "from", "into", "via"} for w in words):
        return True  # "We keep", "Evidence is kept"
    return any(a == "to" and (b in _ACTION_VERBS or lemma(b) in _ACTION_VERBS) for a, b in zip(words, words[1:]))


def is_keyword_list(text: str, code: Sequence[str] = ()) -> bool:
    """True for a comma-separated string of generic terms rather than a statement.

    ``code`` are the inline code spans of the text (commands are facts). A terse list of facts
    is not keywords when its items are concrete ("ROC AUC 0.78, accuracy 0.73, ..."); a number
    on its own is not a fact ("death, 10 days, widespread, 2 days" is keywords).

    >>> is_keyword_list("Serious incident, 15 days, death, 10 days, widespread, 2 days.")
    True
    >>> is_keyword_list("ROC AUC 0.781, accuracy 0.734, selection rate 0.283, TPR 0.534.")
    False
    >>> is_keyword_list("Report to the market surveillance authority, within 15 days, and keep the logs.")
    False
    >>> is_keyword_list("Factors: sensitive attributes, fairness, subgroups, demographic groups, protected characteristics.")
    True
    >>> is_keyword_list("This runbook covers every obligation: serious incidents, deadlines, the authority, logs, "
    ...                 "evidence, rollback, deployers, oversight.")
    True
    >>> is_keyword_list("Owners: Dana Lee (ML lead), Sam Ortiz (compliance), Priya Nair (on-call), Tom Berg (DPO).")
    False
    >>> is_keyword_list("Evidence to preserve: journal, request logs, labels, registry snapshot, monitoring reports.")
    False
    >>> is_keyword_list("On a serious incident, inform us, the provider, first and immediately, then the authority.")
    False

    A list in brackets gives examples of the term before it, and a list mapped by an arrow to what
    it answers is a statement:

    >>> is_keyword_list("System signals (p99 latency, error rate, throughput) answer one question: is it up?")
    False
    >>> is_keyword_list("Latency, error rate, throughput -> is the service up and fast?")
    False
    >>> is_keyword_list("Latency, error rate, throughput, drift -> monitoring")
    True
    """
    mapped = _ARROW.split(text, maxsplit=1)
    if len(mapped) == 2 and len(_words(mapped[1])) >= 3:
        return False  # "latency, errors -> is the service up?": the list is bound to what it answers
    body = _BRACKETED_LIST.sub("", text).strip().rstrip(".!")
    lead = ""
    colon = body.find(":")
    first_sep = min([k for k in (body.find(","), body.find(";")) if k >= 0], default=len(body))
    if 0 <= colon < first_sep:
        lead, body = body[:colon], body[colon + 1 :]
    parts = [p.strip() for p in re.split(r"[,;]|\band\b(?=[^,;]*$)", body) if p.strip()]
    if len(parts) < 4:
        return False
    words = _words(body)
    if sum(1 for w in words if w.lower() in FUNCTION_WORDS) >= 0.25 * len(words):
        return False  # the grammar of a sentence: "on a serious incident, inform us, the provider, first, ..."
    if not lead and len(_words(parts[0])) >= 2 and _action_lead(_words(parts[0])[0]):
        return False  # "Copy the journal, request logs, ..."
    if lead and (_action_lead(lead) or _kind(lead, code) == "fact" or _finite(lead)):
        return False  # "Keep: journal, ...", "Weekly: PSI per feature, ..."
    if any(_finite(p) for p in parts):
        return False  # a sentence that says something about its terms: "..., F1 and AUC are taken at 0.5"
    kinds = [_kind(p, code) for p in parts]
    empty = sum(1 for k in kinds if k in ("bare", "loose"))
    return empty >= 3 and empty >= 0.6 * len(parts)


def is_statement(text: str, code: Sequence[str] = ()) -> bool:
    """True when ``text`` states something: a sentence with some grammar, or at least one
    concrete fact (a ``key: value`` line such as "Model: resume-screener v1" states one).

    >>> is_statement("Applicants are told that a model ranks them."), is_statement("bias, fairness, drift")
    (True, False)
    >>> is_statement("Champion: resume-screener v1, run 8c1f4e2a9b7d, ROC AUC 0.781")
    True
    >>> is_statement("Model: resume-screener v1"), is_statement("Model: name")
    (True, False)
    >>> is_statement("Accuracy, F1 and recall are reported per gender."), is_statement("Logs are covered.")
    (True, False)
    """
    if is_keyword_list(text, code):
        return False
    words = _words(text)
    if len(words) >= 5 and sum(1 for w in words if w.lower() in FUNCTION_WORDS) >= 2:
        return True
    pieces = [p for p in re.split(r"[,;:]", text) if p.strip()]
    if any(_finite(p) for p in pieces):
        return True  # "Accuracy, F1 and recall are reported per gender."
    kinds = [_kind(p, code) for p in pieces]
    return "fact" in kinds or kinds.count("clause") >= 2


_ENUMERATION_START = re.compile(
    r"\s*(?:(?:are|is|were|was|include|includes|including|comprise|comprises|consist of|cover|covers|such as)\b"
    r"\s*:?|:)\s*", re.I)
_ENUMERATION_SPLIT = re.compile(r",|;|\b(?:and|or|as well as|plus)\b", re.I)
_DETERMINERS = re.compile(r"^(?:(?:the|our|a|an|all|any|both|also|its|their|we|us)\s+)+", re.I)


def listed_items(text: str, start: int = 0) -> list[str]:
    """The items of an enumeration in prose that starts at ``start`` (after "are", "include", ":"
    or "such as"), up to the end of the sentence; determiners dropped.

    >>> t = "Our data sources are the request logs, the delayed labels and recruiter overrides."
    >>> listed_items(t, t.index(" are"))
    ['request logs', 'delayed labels', 'recruiter overrides']
    >>> listed_items("We keep logs.", 7)
    []
    """
    m = _ENUMERATION_START.match(text, start)
    if m is None:
        return []
    tail = re.split(r"[.!?](?:\s|$)", text[m.end() :])[0]
    items = [_DETERMINERS.sub("", p.strip()).strip() for p in _ENUMERATION_SPLIT.split(tail)]
    return [p for p in items if len(p) >= 3]
