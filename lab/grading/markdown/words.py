"""Words as graders match them: function words, word families and the patterns built on them.

A rubric pattern names a word by its base form ("tell", "notify", "preserve"); people write
"Applicants are told", "we notified", "preserving". :func:`phrase` compiles a pattern so that
each base word in it also matches its family: regular inflections (``-s``, ``-ed``, ``-ing``,
``-ies``/``-ied``, a dropped ``-e``), common derived nouns (``-ation``, ``-ion``, ``-al``,
``-fication``) and the irregular forms in :data:`IRREGULAR`. Patterns stay anchored at a word
start, so "male" never matches "female".

>>> bool(phrase("tell").search("Applicants are told about the screener"))
True
>>> [bool(phrase("notify").search(t)) for t in ("notified", "a notification", "notifies")]
[True, True, True]
>>> bool(phrase("male").search("female applicants"))
False
"""

from __future__ import annotations

import re
from functools import lru_cache

FUNCTION_WORDS = frozenset(
    "a an the of to in on for with by at from into about after before within under than as is are was were be "
    "been being it its we our us they their them this that these those which who whom when where if then so "
    "not no can may must should will would shall has have had do does did each every any all".split()
)

#: Verbs (as lemmas) that are rarely nouns: one of them makes a clause a statement of its own.
VERBS = frozenset(
    "arrive exceed reach use apply keep retain send notify inform occur happen become remain stay go come take give "
    "need require mean show rise fall climb cross warn indicate tolerate allow accept preserve escalate suspend "
    "revert restore promote retrain redeploy collect gather investigate assess evaluate pause remove withdraw "
    "publish tell detect compute calculate delete purge degrade decline".split()
)

#: Irregular verb forms (the regular ``-ed`` form is not added for these).
IRREGULAR: dict[str, tuple[str, ...]] = {
    "tell": ("told",), "send": ("sent",), "keep": ("kept",), "take": ("took", "taken"),
    "give": ("gave", "given"), "write": ("wrote", "written"), "make": ("made",), "find": ("found",),
    "hold": ("held",), "know": ("knew", "known"), "see": ("saw", "seen"), "run": ("ran",),
    "begin": ("began", "begun"), "choose": ("chose", "chosen"), "get": ("got", "gotten"), "lead": ("led",),
    "leave": ("left",), "pay": ("paid",), "say": ("said",), "stand": ("stood",), "understand": ("understood",),
    "withdraw": ("withdrew", "withdrawn"), "drive": ("drove", "driven"), "bring": ("brought",),
    "teach": ("taught",), "think": ("thought",), "seek": ("sought",), "meet": ("met",), "feel": ("felt",),
    "spend": ("spent",), "build": ("built",), "lose": ("lost",), "mean": ("meant",), "rise": ("rose", "risen"),
    "fall": ("fell", "fallen"), "do": ("did", "done"), "come": ("came",), "become": ("became",),
    "forget": ("forgot", "forgotten"), "freeze": ("froze", "frozen"), "break": ("broke", "broken"),
    "speak": ("spoke", "spoken"), "grow": ("grew", "grown"), "draw": ("drew", "drawn"), "buy": ("bought",),
    "catch": ("caught",), "oversee": ("oversaw", "overseen"), "undertake": ("undertook", "undertaken"),
}
#: Derived nouns that do not start with their verb.
DERIVED: dict[str, tuple[str, ...]] = {
    "retain": ("retention",), "submit": ("submission",), "suspend": ("suspension",), "decide": ("decision",),
    "describe": ("description",), "intervene": ("intervention",), "explain": ("explanation",),
    "deny": ("denial",), "disclose": ("disclosure",), "comply": ("compliance", "compliant"),
"analyse": ("analysis", "analyses"), "analyze": ("analysis", "analyses"),
    "detain": ("detention",), "prevent": ("prevention",), "provide": ("provision",), "receive": ("receipt",),
    "fail": ("failure",), "erase": ("erasure",), "expose": ("exposure",),
}
_VOWELS = "aeiou"


def _regular(base: str) -> set[str]:
    """Regular inflections and derived nouns of ``base`` (only for words of four letters or more)."""
    if len(base) < 4 or base in FUNCTION_WORDS:
        return set()
    if base.endswith("e") and not base.endswith("ee"):
        stem = base[:-1]
        out = {base + "s", base + "d", stem + "ing"}
        if len(base) >= 6 and base.endswith("te"):
            out.add(stem + "ion")  # escalate -> escalation, delete -> deletion
        elif len(base) >= 6 and base.endswith(("ve", "re", "ine", "ise", "ize")):
            out.add(stem + "ation")  # preserve -> preservation, declare -> declaration, organise
        if len(base) >= 6 and base.endswith(("ve", "se")):
            out.add(stem + "al")  # approve -> approval, propose -> proposal (never practice -> practical)
        return out
    if base.endswith("y") and base[-2] not in _VOWELS:
        stem = base[:-1]
        out = {stem + "ies", stem + "ied", base + "ing"}
        if base.endswith("fy"):
            out.add(stem + "ication")  # notify -> notification
        return out
    out = {base + "ed", base + "ing"}
    out.add(base + "es" if base.endswith(("s", "x", "z", "ch", "sh")) else base + "s")
    if len(base) <= 5 and base[-1] not in _VOWELS + "wxy" and base[-2] in _VOWELS and base[-3] not in _VOWELS:
        out |= {base + base[-1] + "ed", base + base[-1] + "ing"}  # stop -> stopped
    return out


@lru_cache(maxsize=4096)
def word_family(word: str) -> tuple[str, ...]:
    """The forms of ``word`` (itself first, then longest first); a word with no family gives itself.

    >>> word_family("tell")
    ('tell', 'telling', 'tells', 'told')
    >>> word_family("the")
    ('the',)
    """
    base = word.lower()
    forms = _regular(base) | set(IRREGULAR.get(base, ())) | set(DERIVED.get(base, ()))
    if base in IRREGULAR:
        forms = (forms - {base + "ed", base + "d"}) | {base + "s", base + "ing"}
    forms.discard(base)
    return (base, *sorted(forms, key=lambda f: (-len(f), f)))


_LEMMAS: dict[str, str] = {form: base for table in (IRREGULAR, DERIVED) for base, forms in table.items()
                           for form in forms}


def lemma(word: str) -> str:
    """A best guess at the base of an inflected word (irregulars, ``-s``, ``-ed``, ``-ing``, ``-ies``).

    >>> [lemma(w) for w in ("told", "notified", "copies", "preserving", "keeps", "labels", "goes", "crosses", "uses")]
    ['tell', 'notify', 'copy', 'preserve', 'keep', 'label', 'go', 'cross', 'use']
    """
    w = word.lower()
    if w in _LEMMAS:
        return _LEMMAS[w]
    if len(w) > 4 and w.endswith(("ies", "ied")):
        return w[:-3] + "y"
    if len(w) > 5 and w.endswith("ing"):
        stem = w[:-3]
        return stem + "e" if stem.endswith(("rv", "at", "iz", "is", "us", "ov", "iv")) else stem
    if len(w) > 4 and w.endswith("ed"):
        stem = w[:-2]
        return stem + "e" if stem.endswith(("rv", "at", "iz", "is", "us", "ov", "iv")) else stem
    if len(w) > 3 and w.endswith("es") and w[:-2].endswith(("ss", "x", "z", "ch", "sh", "o")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")
_WORD_END = re.compile(r"\(\?!(?:\[(?:\^?a-z|\^?A-Za-z|\\w|a-z0-9|a-zA-Z)|\\w)|\\b")


def inflect(pattern: str) -> str:
    """``pattern`` with each base word (outside character classes and lookarounds) widened to its family.

    A word followed by a quantifier (``sources?``) or inside a lookaround stays as written.
    As a pattern matches from a word start on, a word only gains the forms that do not start
    with it ("notified", "escalation", "told"), so an exclusion such as ``inform(?!ation)``
    still holds; after a word-end check (``tell\\b``) it gains them all. Irregular forms are
    whole words ("sent" never matches "sentence").

    >>> inflect(r"tell|send(?:s)? to|sources?")
    '(?:tell|told(?![a-z]))|(?:send|sent(?![a-z]))(?:s)? to|sources?'
    >>> inflect(r"inform(?!ation)"), inflect(r"notify")
    ('inform(?!ation)', '(?:notify|notification|notified|notifies)')
    """
    return _inflect(pattern)


@lru_cache(maxsize=4096)
def _inflect(pattern: str) -> str:
    out: list[str] = []
    looks: list[bool] = []  # per open group: is it a lookaround?
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":  # a character class, copied as is
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if ch == "(":
            if pattern.startswith("(?", i):
                looks.append(pattern.startswith(_LOOKAROUND, i))
                m = re.match(r"\(\?(?:P<\w+>|P=\w+\)|<[=!]|[:=!]|[aiLmsux-]+[:)]|#[^)]*\))", pattern[i:])
                spec = m.group(0) if m else "(?"
                if spec.endswith(")"):
                    looks.pop()
                out.append(spec)
                i += len(spec)
                continue
            looks.append(False)
            out.append(ch)
            i += 1
            continue
        if ch == ")":
            if looks:
                looks.pop()
            out.append(ch)
            i += 1
            continue
        if ch.isalpha():
            j = i
            while j < n and pattern[j].isalpha():
                j += 1
            word = pattern[i:j]
            prev = pattern[i - 1] if i else ""
            nxt = pattern[j] if j < n else ""
            quantified = bool(nxt) and nxt in "?*+{"
            joined = bool(prev) and (prev.isalnum() or prev in "_'")
            family = word_family(word) if not (any(looks) or quantified or joined) else (word,)
            if len(family) > 1:
                rest = pattern[j:]
                whole = _WORD_END.match(rest) is not None  # "tell\b": every form, as a whole word
                irregular = set(IRREGULAR.get(word.lower(), ()))
                forms = [f"{f}(?![a-z])" if f in irregular else f for f in family[1:]
                         if whole or not f.startswith(word.lower())]  # a stem already matches its own endings
                if forms:
                    out.append("(?:" + "|".join((word, *forms)) + ")")
                    i = j
                    continue
            out.append(word)
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def phrase(pattern: str) -> re.Pattern[str]:
    """A case-insensitive pattern that must start at a word start (stems may continue); base
    words also match their family (see :func:`inflect`).

    >>> bool(phrase("infring").search("an infringement")), bool(phrase("male").search("female"))
    (True, False)
    >>> bool(phrase("keep (?:the )?logs").search("we kept the logs"))
    True
    """
    return re.compile(rf"(?<![a-z0-9])(?:{_inflect(pattern)})", re.I)
