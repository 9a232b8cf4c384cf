"""Numbers bound to what they are about: labels found in the number's own clause first.

:func:`label_numbers` labels every number (or duration) of a document, per dimension, by the
nearest mention of a label: in its own clause (a table cell, a metadata value, a comma
clause), then the enclosing clause, the sentence and finally the snippet's context. A number
whose clause names its own subject ("numeric inputs use 0.15") never takes a label from
another clause that makes a statement of its own ("source_channel uses chi-squared").

>>> from lab.grading.markdown import parse_markdown
>>> doc = parse_markdown("source_channel uses a chi-squared test, while numeric inputs alert above 0.15.")
>>> [(n.number.value, n.labels["name"]) for n in label_numbers(doc, {"name": {"source_channel": "source_channel"}})]
[(0.15, None)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from lab.grading.markdown.document import Document, Snippet
from lab.grading.markdown.numbers import _NUMBER_WORDS, _UNIT_WORDS, Number, find_numbers, find_quantities
from lab.grading.markdown.text import Span
from lab.grading.markdown.words import FUNCTION_WORDS, VERBS, lemma, phrase

Scope = Literal["unit", "clause", "sentence", "context"]


@dataclass(frozen=True)
class Pattern:
    """A label's pattern; ``strong=False`` marks a generic label that yields to specific ones."""

    regex: str
    strong: bool = True


@dataclass(frozen=True)
class Mention:
    label: str
    start: int
    end: int
    strong: bool


@dataclass(frozen=True)
class Labelled:
    """A number, the snippet it was found in and, per dimension, the label it belongs to.

    ``mentions`` gives, per dimension, the mention that labelled it and ``scopes`` where that
    mention was found: "unit" (the number's own smallest clause: a table cell, a metadata
    value, a comma clause), "clause" (its enclosing clause: ``header: cell``, a ``;``-clause),
    "sentence", or "context" (heading, lead-in). Two numbers contradict each other only when
    they are stated for the same subject: compare those bound in their own unit or clause.
    """

    number: Number
    snippet: Snippet
    labels: dict[str, str | None] = field(default_factory=dict)
    mentions: dict[str, Mention | None] = field(default_factory=dict)
    scopes: dict[str, Scope | None] = field(default_factory=dict)

    def quote(self) -> str:
        where = {"metadata": "metadata", "table": "table row", "prose": "text", "code": "code"}[self.snippet.source]
        text = self.snippet.text if len(self.snippet.text) <= 160 else self.snippet.text[:157] + "..."
        return f'{where}, line {self.snippet.line}: "{text}"'

    @property
    def unit_span(self) -> Span:
        """The span of the number's smallest clause in ``snippet.text``."""
        return _containing(self.snippet.units, self.number.start, self.number.end) or (0, len(self.snippet.text))

    @property
    def clause_span(self) -> Span:
        """The span of the number's enclosing clause in ``snippet.text``."""
        return _containing(self.snippet.groups, self.number.start, self.number.end) or (0, len(self.snippet.text))

    def bound_in_clause(self, dim: str) -> bool:
        """True when the label for ``dim`` was found in the number's own unit or clause."""
        return self.scopes.get(dim) in ("unit", "clause")

    def bound_in_unit(self, dim: str) -> bool:
        """True when the label for ``dim`` was found in the number's smallest clause: in prose,
        a group named in another comma clause does not own the number.

        >>> from lab.grading.markdown import parse_markdown
        >>> doc = parse_markdown("ROC AUC 0.78, selection rate 0.26 for women.")
        >>> labels = {"metric": {"roc_auc": "roc auc", "selection_rate": "selection rate"}, "group": {"female": "women"}}
        >>> [(n.number.value, n.labels["group"], n.bound_in_clause("group"), n.bound_in_unit("group"))
        ...  for n in label_numbers(doc, labels)]
        [(0.78, 'female', True, False), (0.26, 'female', True, True)]
        """
        return self.scopes.get(dim) == "unit"

    def bound_by_clause_lead(self, dim: str) -> bool:
        """True when the label for ``dim`` opens the number's clause: it is named in the clause
        before any of the clause's numbers, so it holds for all of them ("For women the selection
        rate is 0.26 and the TPR 0.51"), where a label named after a number holds for its own
        unit only ("ROC AUC 0.78, selection rate 0.26 for women").

        >>> from lab.grading.markdown import parse_markdown
        >>> labels = {"metric": {"sr": "selection rate", "tpr": "tpr", "auc": "roc auc"}, "group": {"female": "women"}}
        >>> [(n.number.value, n.bound_in_unit("group"), n.bound_by_clause_lead("group"))
        ...  for n in label_numbers(parse_markdown("For women the selection rate is 0.26 and the TPR 0.51. "
        ...                                        "ROC AUC 0.78, selection rate 0.26 for women."), labels)]
        [(0.26, True, False), (0.51, False, True), (0.78, False, False), (0.26, True, False)]
        """
        m = self.mentions.get(dim)
        if m is None or self.scopes.get(dim) != "clause":
            return False
        a, b = self.clause_span
        text = self.snippet.text
        first = min((n.start for n in find_numbers(text, [(m.start, m.end)]) if a <= n.start < b), default=b)
        return a <= m.start and m.end <= first

    @property
    def threshold(self) -> bool:
        """The number is a decision threshold ("F1 at 0.5"), not a measured value."""
        return self.number.threshold


Labels = Mapping[str, Mapping[str, Pattern | str]]


def _compile(labels: Labels) -> dict[str, list[tuple[str, re.Pattern[str], bool]]]:
    out: dict[str, list[tuple[str, re.Pattern[str], bool]]] = {}
    for dim, table in labels.items():
        out[dim] = []
        for label, pat in table.items():
            p = pat if isinstance(pat, Pattern) else Pattern(pat)
            out[dim].append((label, phrase(p.regex), p.strong))
    return out


def find_mentions(text: str, patterns: Sequence[tuple[str, re.Pattern[str], bool]]) -> list[Mention]:
    """Every label mention in ``text``; where two overlap, the longer wins."""
    found = []
    for label, rx, strong in patterns:
        for m in rx.finditer(text):
            if m.end() > m.start():
                found.append(Mention(label, m.start(), m.end(), strong))
    found.sort(key=lambda m: (-(m.end - m.start), m.start))
    kept: list[Mention] = []
    for m in found:
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)


def _containing(spans: Sequence[Span], a: int, b: int) -> Span | None:
    for s in spans:
        if s[0] <= a and b <= s[1]:
            return s
    return None


def _inside(m: Mention, span: Span) -> bool:
    return span[0] <= m.start and m.end <= span[1]


def _nearest(mentions: Sequence[Mention], a: int, b: int) -> Mention:
    def dist(m: Mention) -> tuple[int, int]:
        d = a - m.end if m.end <= a else m.start - b if m.start >= b else 0
        return (max(d, 0), 0 if m.strong else 1)

    return min(mentions, key=dist)


#: Words that do not name a subject of their own: "we keep them for 6 months" refers back.
_NOT_SUBJECT = frozenset(
    "above below over under exceed exceeds exceeding exceeded least most more less than up down per cent percent "
    "only also just still both either again once twice same about around approximately roughly nearly then when "
    "while whereas but and or we i you they he she them us it its our their one ones value values limit limits "
    "threshold thresholds target minimum maximum min max due later no not any every each all more drift score "
    "scores psi distance statistic p-value metric level alarm alert alerts this that".split()
)
_COPULAS = frozenset("is are was were be been being has have had will must should can may shall would could "
                     "might".split())
_DIRECTIONS = frozenset("above below over under beyond past".split())
_DETERMINERS = frozenset("a an the any each every no this that its their our".split())


def _tokens(text: str, span: Span, skip: Sequence[Span] = ()) -> list[str]:
    out = []
    for m in re.finditer(r"[A-Za-z][A-Za-z_'-]*", text[span[0] : span[1]]):
        a, b = span[0] + m.start(), span[0] + m.end()
        if not any(x <= a and b <= y for x, y in skip):
            out.append(m.group(0).lower())
    return out


def _verb_flags(words: list[str]) -> list[bool]:
    """Which words read as verbs: a copula, a verb that is rarely a noun, or a word before
    "above"/"below" that no determiner makes a noun ("numeric inputs alert above 0.15")."""
    flags = []
    for k, w in enumerate(words):
        before = words[k - 1] if k else ""
        after = words[k + 1] if k + 1 < len(words) else ""
        flags.append(w in _COPULAS or lemma(w) in VERBS or w in VERBS
                     or (after in _DIRECTIONS and before not in _DETERMINERS and w not in FUNCTION_WORDS))
    return flags


def _has_subject(text: str, span: Span, skip: Sequence[Span]) -> bool:
    """True when the clause names something of its own ("numeric inputs alert above 0.15")."""
    words = _tokens(text, span, skip)
    for w, verb in zip(words, _verb_flags(words)):
        if verb or len(w) <= 2 or w in FUNCTION_WORDS or w in _NOT_SUBJECT or w in _UNIT_WORDS or w in _NUMBER_WORDS:
            continue
        return True
    return False


def _states(text: str, span: Span) -> bool:
    """True when the clause has a verb: a statement of its own, not a modifier ("for a death") or
    an item of an enumeration ("the registry snapshot for 12 months")."""
    return any(_verb_flags(_tokens(text, span)))


def assign(snippet: Snippet, number: Number, mentions: Sequence[Mention], owned: Callable[[Mention], bool],
           context_mentions: Sequence[Mention], *, may_inherit: bool = True,
           foreign: Callable[[Mention], bool] | None = None) -> Mention | None:
    """The mention ``number`` belongs to (see :func:`assign_scoped`)."""
    return assign_scoped(snippet, number, mentions, owned, context_mentions, may_inherit=may_inherit,
                         foreign=foreign)[0]


def assign_scoped(snippet: Snippet, number: Number, mentions: Sequence[Mention], owned: Callable[[Mention], bool],
                  context_mentions: Sequence[Mention], *, may_inherit: bool = True,
                  foreign: Callable[[Mention], bool] | None = None) -> tuple[Mention | None, Scope | None]:
    """The mention ``number`` belongs to, and where it was found: nearest in its clause, then
    wider, then the context.

    Specific (strong) mentions win over generic (weak) ones at the same level. A clause
    holding only a generic mention yields to a specific mention in a sibling clause that
    has no number of its own ("If the infringement is widespread, the serious-incident
    report is due within 2 days" belongs to "widespread"). In a table, a cell never
    takes its label from another cell that holds a number of its own (each column is
    its own measure); in prose, a clause that names something else inherits
    (``may_inherit``: "0.26 for women and 0.30 for men" are both selection rates when
    the sentence names one), while a bare number does not take a label that another
    number already holds ("AUC 0.78 and accuracy 0.73; it advances 28%" leaves 28%
    unlabelled). Mentions for which ``foreign`` is true (the subject of another clause,
    when the number's clause has a subject of its own) are never borrowed.
    """
    a, b = number.start, number.end
    unit = _containing(snippet.units, a, b)
    group = _containing(snippet.groups, a, b)
    levels: list[tuple[Span, Scope]] = [(s, name) for s, name in ((unit, "unit"), (group, "clause"))
                                        if s is not None] + [((0, len(snippet.text)), "sentence")]
    for depth, (span, scope) in enumerate(levels):
        here = [m for m in mentions if _inside(m, span)]
        if depth > 0 and foreign is not None:
            here = [m for m in here if (unit is not None and _inside(m, unit)) or not foreign(m)]
        if not here:
            continue
        strong = [m for m in here if m.strong]
        if depth == 0 and unit is not None:
            if strong:
                return _nearest(strong, a, b), scope
            wider = group if group is not None and group != unit else (0, len(snippet.text))
            siblings = [m for m in mentions if m.strong and _inside(m, wider) and not _inside(m, unit) and not owned(m)]
            if siblings:
                m = _nearest(siblings, a, b)
                return m, ("clause" if group is not None and _inside(m, group) else "sentence")
            return _nearest(here, a, b), scope
        if snippet.source == "table" or not may_inherit:  # a column with its own number is its own measure
            free = [m for m in here if not owned(m) or (unit is not None and _inside(m, unit))]
            if not free:
                return None, None
            strong = [m for m in free if m.strong]
            return _nearest(strong or free, a, b), scope
        if strong:
            free = [m for m in strong if not owned(m) or (unit is not None and _inside(m, unit))]
            return _nearest(free or strong, a, b), scope
        return _nearest(here, a, b), scope
    if context_mentions:
        strong = [m for m in context_mentions if m.strong]
        return (strong or list(context_mentions))[-1], "context"
    return None, None


def label_numbers(doc: Document, labels: Labels, *, quantities: bool = False,
                  snippets: Iterable[Snippet] | None = None, include_template: bool = False) -> list[Labelled]:
    """Every number (or, with ``quantities``, every duration) in the document, labelled per dimension.

    ``labels`` maps a dimension (e.g. "metric", "group") to ``{label: Pattern or regex}``.
    A number whose dimension has no mention anywhere in reach gets ``None`` for it.
    Numbers inside a mention (the "18-29" of an age band) are not values.
    """
    compiled = _compile(labels)
    pool = snippets if snippets is not None else (doc.snippets if include_template else doc.content)
    out: list[Labelled] = []
    for snip in pool:
        per_dim = {dim: find_mentions(snip.text, pats) for dim, pats in compiled.items()}
        ctx_dim = {dim: find_mentions(snip.context, pats) for dim, pats in compiled.items()}
        skip = [(m.start, m.end) for ms in per_dim.values() for m in ms]
        nums = find_quantities(snip.text, skip) if quantities else find_numbers(snip.text, skip)
        if snip.source in ("table", "metadata"):  # a number in a header or key ("F1 at 0.5") is not a value
            nums = [n for n in nums if _containing(snip.units, n.start, n.end) is not None or n.threshold]
        if not nums:
            continue
        units_with_numbers = {_containing(snip.units, n.start, n.end) for n in nums if not n.threshold}
        if snip.source in ("table", "metadata"):
            units_with_numbers.discard(None)  # a header is not a cell with a number of its own

        def owned(m: Mention) -> bool:
            return _containing(snip.units, m.start, m.end) in units_with_numbers

        def stated_elsewhere(m: Mention) -> bool:
            span = _containing(snip.units, m.start, m.end)
            return span is not None and _states(snip.text, span)

        for n in nums:
            unit = _containing(snip.units, n.start, n.end)
            named = unit is not None and any(_inside(m, unit) for ms in per_dim.values() for m in ms)
            subject = snip.source == "prose" and unit is not None and not named and _states(snip.text, unit) and \
                _has_subject(snip.text, unit, skip + [(x.start, x.end) for x in nums])
            found = {dim: assign_scoped(snip, n, per_dim[dim], owned, ctx_dim[dim], may_inherit=named,
                                        foreign=stated_elsewhere if subject else None) for dim in compiled}
            out.append(Labelled(number=n, snippet=snip, labels={d: (m.label if m else None) for d, (m, _) in found.items()},
                                mentions={d: m for d, (m, _) in found.items()},
                                scopes={d: sc for d, (_, sc) in found.items()}))
    return out


def clause_of(labelled: Labelled) -> str:
    """The enclosing clause of a labelled number (``header: cell`` for a table cell)."""
    s = labelled.snippet
    span = _containing(s.groups, labelled.number.start, labelled.number.end) or (0, len(s.text))
    return s.text[span[0] : span[1]]


def unit_of(labelled: Labelled) -> str:
    """The smallest clause holding a labelled number (a table cell, a metadata value)."""
    s = labelled.snippet
    span = _containing(s.units, labelled.number.start, labelled.number.end) or (0, len(s.text))
    return s.text[span[0] : span[1]]


def find_values(doc: Document, names: Mapping[str, str], *, quantities: bool = False,
                cues: str | None = None) -> dict[str, list[Labelled]]:
    """The values stated for each named thing, wherever they are written.

    ``names`` maps a key to its pattern (see :func:`phrase`). With ``cues``, a value counts
    only when its clause (a table cell's header, a metadata key path) also matches
    ``cues``, e.g. "threshold|below|above", so that a launch value is not read as a limit.

    >>> from lab.grading.markdown import parse_markdown
    >>> doc = parse_markdown('''---
    ... thresholds: {roc_auc: 0.72}
    ... ---
    ... | Column | Alert threshold |
    ... |---|---|
    ... | years_experience | 0.01 |
    ...
    ... Page when prediction drift (PSI) goes above 0.1; at launch it was 0.03.
    ... ''')
    >>> found = find_values(doc, {"roc_auc": "roc[ _]auc", "years_experience": "years[ _]experience",
    ...                           "prediction": "prediction"}, cues="threshold|above|below")
    >>> {k: [(v.number.value, v.snippet.source) for v in vs] for k, vs in found.items()}
    {'roc_auc': [(0.72, 'metadata')], 'years_experience': [(0.01, 'table')], 'prediction': [(0.1, 'prose')]}
    """
    cue = phrase(cues) if cues else None
    out: dict[str, list[Labelled]] = {k: [] for k in names}
    for n in label_numbers(doc, {"name": dict(names)}, quantities=quantities):
        key = n.labels["name"]
        if key is None:
            continue
        if cue is not None:
            where = n.snippet.text if n.snippet.source == "metadata" else clause_of(n)
            if not cue.search(where):
                continue
        out[key].append(n)
    return {k: v for k, v in out.items() if v}
