"""What a model card says about groups: which one is disadvantaged, or where a group sits on a rate.

A clause puts its groups at an end of a rate ("the lowest approval rate", "declined more often
than", "flagged most often") or says they are worse off ("disadvantaged"); the words of the rate
say which decision it counts. :meth:`GroupClaim.positive_end` reads that in a scenario's terms:
where a positive decision is adverse for the person (a credit flag), "approved less often" puts a
group high on the registered selection rate. The cue words are rubric data
(``disadvantage_cues`` in ``rubrics/model_card.yaml``); :mod:`lab.grading.model_card` judges the
claims against the registry.

>>> from lab.grading.card_rubric import load_card_rubric
>>> from lab.grading.markdown import parse_markdown
>>> ctx = CardContext(scenario_id="s", risk_class="high", risk_basis="-", model_name="m", champion_version=1,
...                   positive_for_person="adverse", versions=[{"version": 1, "run_id": "a" * 32, "metrics": {
...                   "selection_rate.age_band.21-24": 0.44, "selection_rate.age_band.65plus": 0.05}}],
...                   sensitive_attributes=["age_band"])
>>> doc = parse_markdown("Applicants aged 21-24 are approved less often than those aged 65+.")
>>> [(c.groups, c.ref, c.said, c.positive_end("adverse")) for c in extract_group_claims(doc, ctx, load_card_rubric())]
[(('21-24',), ('65plus',), 'approved ... less often', 'high')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from lab.grading.card_facts import CardContext, any_of, group_patterns
from lab.grading.card_rubric import CardRubric
from lab.grading.markdown import Document, Snippet, phrase

End = Literal["low", "high"]
Rate = Literal["positive", "favourable", "adverse"]


def _other(end: End) -> End:
    return "high" if end == "low" else "low"


@dataclass(frozen=True)
class GroupClaim:
    """What one clause says about the groups of one attribute.

    ``kind``: "lowest" (``groups`` at an extreme: "the lowest approval rate", "flagged most
    often"), "lower" (a comparison, against ``ref`` when the clause has "than": "declined more
    often than", "disadvantaged") or "parity". ``end``: where the words put ``groups`` on the
    rate they name ("low", "high"), or "worse" when they only say the groups are worse off.
    ``rate``: which decision that rate counts ("positive": the registered positive decision,
    "favourable" or "adverse" for the person, None: not said); ``said`` the words read.
    """

    attr: str
    groups: tuple[str, ...]
    ref: tuple[str, ...]
    kind: Literal["lowest", "lower", "parity"]
    measure: Literal["selection_rate", "tpr", "any"]  # "any": the sentence does not say which rate
    snippet: Snippet
    end: Literal["low", "high", "worse"] = "low"
    rate: Rate | None = None
    said: str = ""

    def positive_end(self, for_person: Literal["favourable", "adverse"]) -> End | None:
        """Where the claim puts ``groups`` on the registered rate of positive decisions (selection
        rate, TPR) in a scenario whose positive decision is ``for_person``; None when its meaning
        there is not clear (a bare "less often" where a positive decision is adverse).

        >>> c = GroupClaim("age_band", ("21-24",), (), "lower", "selection_rate", None, "low", "favourable")
        >>> c.positive_end("favourable"), c.positive_end("adverse")  # "approved less often"
        ('low', 'high')
        """
        if self.end == "worse":
            return disadvantaged_end(for_person)
        if self.rate is None:  # "50+ are less often ...": read as before where a positive decision is favourable;
            # "more likely" without a decision is too often about something else ("to have gaps")
            return "low" if self.end == "low" and for_person == "favourable" else None
        flip = self.rate != "positive" and self.rate != for_person
        return _other(self.end) if flip else self.end


def disadvantaged_end(for_person: Literal["favourable", "adverse"]) -> End:
    """The end of the selection rate where the disadvantaged group sits: low when a positive
    decision is favourable to the person, high when it is adverse."""
    return "low" if for_person == "favourable" else "high"


_CLAUSES = re.compile(r";|,\s*(?:and|while|but|whereas)\s|\.\s|\s(?:while|whereas)\s")
_THAN = re.compile(r"\bthan\b|\bcompared (?:with|to)\b|\bagainst\b|\brelative to\b|\bvs\b\.?|\bversus\b|"
                   r"\bas (?:often|likely|frequently|much|many) as\b", re.I)


def _cues(clause: str, patterns: dict[tuple[str, str], re.Pattern[str]],
          negation: re.Pattern[str]) -> list[tuple[int, int, str, str]]:
    """The direction cues of a clause, (start, end, kind, end-of-rate), not negated, not overlapping."""
    found = sorted(((m.start(), m.end(), kind, end) for (kind, end), rx in patterns.items()
                    for m in rx.finditer(clause)), key=lambda c: (c[0], -c[1]))
    out: list[tuple[int, int, str, str]] = []
    for c in found:
        if out and c[0] < out[-1][1]:
            continue
        if negation.search(clause[max(0, c[0] - 12):c[0]]):
            continue
        out.append(c)
    return out


def extract_group_claims(doc: Document, ctx: CardContext, rubric: CardRubric) -> list[GroupClaim]:
    """Which group the card says is disadvantaged, or where it puts a group on a rate, clause by
    clause (live sections left out). Several cues in a clause ("21-24 are flagged most often and
    65+ least often") each take the groups nearest to them."""
    cues = rubric.disadvantage_cues
    directions = {("lowest", "low"): any_of(cues.lowest), ("lowest", "high"): any_of(cues.highest),
                  ("lowest", "worse"): any_of(cues.worst), ("lower", "low"): any_of(cues.lower),
                  ("lower", "high"): any_of(cues.higher), ("lower", "worse"): any_of(cues.worse)}
    rates: dict[Rate, re.Pattern[str]] = {"favourable": any_of(cues.favourable), "adverse": any_of(cues.adverse),
                                          "positive": any_of(cues.positive)}
    parity, negation, tpr = any_of(cues.parity), any_of(cues.negation), any_of(cues.tpr)
    live_heading = any_of(rubric.live_headings)
    group_rx = {(attr, g): phrase(p) for attr in ctx.sensitive_attributes
                for g, p in group_patterns(ctx, attr).items()}
    out: list[GroupClaim] = []
    for s in doc.content:
        if s.source != "prose":
            continue
        if s.section is not None and any(live_heading.search(k) for k in doc.sections[s.section].path):
            continue
        for clause in _CLAUSES.split(s.text):
            found = _cues(clause, directions, negation)
            if parity.search(clause) and not found:
                out.append(GroupClaim("*", (), (), "parity", "selection_rate", s))
                continue
            if not found:
                continue
            words = _cue_words(clause, found, _rate_words(clause, rates))
            keep = [i for i, c in enumerate(found) if words[i] is not None or c[3] == "worse"]
            if keep and len(keep) < len(found):  # "50+ are more likely to have gaps, so they are advanced less often"
                found, words = [found[i] for i in keep], [words[i] for i in keep]
            is_tpr = bool(tpr.search(clause))
            for attr in ctx.sensitive_attributes:
                named = sorted((m.start(), g) for (a, g), rx in group_rx.items() if a == attr for m in rx.finditer(clause))
                if not named:
                    continue
                for i, mine in _bind(found, named):
                    out += _claims(attr, found[i], mine, clause, words[i], is_tpr, s)
    return out


def _rate_words(clause: str, rates: dict[Rate, re.Pattern[str]]) -> list[tuple[int, int, Rate]]:
    """The words naming a decision, favourable and adverse ones before the positive ones they overlap
    ("approval rate" is favourable, though "approval rate" also names the selection rate)."""
    out: list[tuple[int, int, Rate]] = []
    for rate, rx in rates.items():
        for m in rx.finditer(clause):
            if not any(m.start() < b and a < m.end() for a, b, _ in out):
                out.append((m.start(), m.end(), rate))
    return out


def _bind(found: list[tuple[int, int, str, str]], named: list[tuple[int, str]]):
    """Each cue with the groups it speaks of: all the clause's groups when every cue says the same
    (an extreme wins over a comparison), else each group goes to its nearest cue, and a "worse
    off" cue left without one shares the subject of the cue before it ("65+ have the lowest
    selection rate and are disadvantaged")."""
    if len({c[3] for c in found}) == 1:
        return [(next((i for i, c in enumerate(found) if c[2] == "lowest"), 0), named)]
    mine: dict[int, list[tuple[int, str]]] = {}
    for pos, g in named:
        i = min(range(len(found)), key=lambda k: min(abs(pos - found[k][0]), abs(pos - found[k][1])))
        mine.setdefault(i, []).append((pos, g))
    for i, cue in enumerate(found):
        if cue[3] == "worse" and i not in mine and i - 1 in mine:
            mine[i] = mine[i - 1]
    return sorted(mine.items())


def _cue_words(clause: str, found: list[tuple[int, int, str, str]],
               words: list[tuple[int, int, Rate]]) -> list[tuple[int, int, Rate] | None]:
    """The decision each cue speaks of: the nearest rate word in its own part of the clause (not
    across a comma), else the previous cue's ("21-24 have the highest selection rate and 65+ the lowest")."""
    out: list[tuple[int, int, Rate] | None] = []
    for start, stop, _, _ in found:
        near = [w for w in words if not re.search(r"[,;:]", clause[min(stop, w[1]):max(start, w[0])])]
        word = min(near, key=lambda w: min(abs(w[0] - stop), abs(start - w[1])), default=None)
        out.append(word if word is not None else (out[-1] if out else None))
    return out


def _claims(attr: str, cue: tuple[int, int, str, str], named: list[tuple[int, str]], clause: str,
            word: tuple[int, int, Rate] | None, is_tpr: bool, s: Snippet) -> list[GroupClaim]:
    start, stop, kind, end = cue
    measure: Literal["selection_rate", "tpr", "any"] = "tpr" if is_tpr else "selection_rate" if word else "any"
    inside = word is not None and start <= word[0] and word[1] <= stop  # "highest selection rate"
    spans = [(start, stop)] if word is None or end == "worse" or inside else sorted([(start, stop), word[:2]])
    said = " ... ".join(clause[a:b + len(re.match(r"[\w-]*", clause[b:]).group(0))] for a, b in spans)
    than = _THAN.search(clause)
    if than:  # groups after "than" / "as often as" are the reference: of a comparison, or beside an extreme
        groups = tuple(dict.fromkeys(g for p, g in named if p < than.start()))
        ref = tuple(dict.fromkeys(g for p, g in named if p > than.start() and g not in groups))
        ref = ref if kind == "lower" else ()
    else:
        groups, ref = tuple(dict.fromkeys(g for _, g in named)), ()
    if not groups:
        return []
    return [GroupClaim(attr, groups, ref, kind, measure, s, end, word[2] if word else None, said)]  # type: ignore[arg-type]
