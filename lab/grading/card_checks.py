"""The model card's text checks: sections, the model's name, uses, oversight, the monitoring link.

A section earns its points with a statement about this model (its name, version, purpose
in the scenario's terms, features, sensitive groups or figures that match the registry);
generic text that would fit any model earns a small share, a keyword list or template
text nothing. :class:`CardChecks` also holds what the registry checks in
:mod:`lab.grading.model_card` read: the claims, the claimed version and the run ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lab.grading.card_facts import CardContext, Claim, any_of, attr_pattern, extract_claims, specific_pattern
from lab.grading.card_groups import GroupClaim, extract_group_claims
from lab.grading.card_rubric import CardRubric
from lab.grading.markdown import FUNCTION_WORDS, Document, Snippet, is_statement, phrase

_OUT_OF_SCOPE_TEXT = (r"out[\s-]of[\s-]scope|not intended|must not be used|should not be used|"
                      r"not (?:be )?used (?:to|for|as)|"
                      r"not designed|do not use|never (?:be )?used|is not (?:suitable|meant)|misuse|prohibited")
_INTENDED_TEXT = (r"intended (?:to|for)|is used (?:to|for|by)|used by|designed to|"
                  r"(?:helps?|supports?|ranks?|scores?|screens?|estimates?|predicts?)(?![\w-])")
_DATA_FACT = re.compile(r"\d.*(?:days?|rows|records|weeks?|months?|period|window|(?:19|20)\d\d)|"
                        r"(?:days?|rows|records|weeks?|months?|period|window)\D{0,30}\d", re.I)


@dataclass(frozen=True)
class Verdict:
    """What one check concluded: the share of the item's points, and why."""

    score: float
    reason: str
    evidence: str = ""
    wrong: bool = False
    details: dict[str, Any] | None = None


def quote(s: Snippet, limit: int = 140) -> str:
    text = s.text if len(s.text) <= limit else s.text[: limit - 3] + "..."
    return f'metadata: "{text}"' if s.source == "metadata" else f'line {s.line}: "{text}"'


def substantive(s: Snippet) -> bool:
    """A statement, not keywords: a sentence with some grammar, a line stating one fact
    ("Model: resume-screener v1", see :func:`is_statement`), or a table row with two filled cells."""
    if s.source == "table":
        return sum(1 for a, b in s.units if re.search(r"[A-Za-z0-9]", s.text[a:b])) >= 2
    if s.source != "prose":
        return False
    words = re.findall(r"[A-Za-z0-9][\w'.%+-]*", s.text)
    if len(words) >= 5 and sum(1 for w in words if w.lower() in FUNCTION_WORDS) >= 1:
        return True
    return is_statement(s.text, s.code)


class CardChecks:
    """Everything the card states, extracted once; one method per text check."""

    def __init__(self, doc: Document, ctx: CardContext, rubric: CardRubric) -> None:
        self.doc, self.ctx, self.rubric = doc, ctx, rubric
        self.section_ids = {s.id: self._sections(s.headings, s.exclude) for s in rubric.sections}
        self.details = self.doc.in_sections(self.section_ids.get("model_details", []))
        self.specific = specific_pattern(ctx, rubric)
        self.claimed_version, self.version_evidence = self._claimed_version()
        self.card_version = self.claimed_version if ctx.version(self.claimed_version) else ctx.champion_version
        self.claims: list[Claim] = extract_claims(doc, ctx, rubric)
        self.group_claims: list[GroupClaim] = extract_group_claims(doc, ctx, rubric)
        self.wrong_group_claims: list[GroupClaim] = []  # set by the disadvantaged-group check
        self._section_verdicts: dict[str, Verdict] = {}

    # ------------------------------------------------------------- sections

    def _sections(self, patterns: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[int]:
        rx = re.compile("|".join(f"(?:{p})" for p in patterns))
        ex = re.compile("|".join(f"(?:{p})" for p in exclude)) if exclude else None
        return [i for i, s in enumerate(self.doc.sections) if rx.search(s.key) and not (ex and ex.search(s.key))]

    def fact_sections(self) -> int:
        """How many sections state a fact about this model."""
        return sum(1 for s in self.rubric.sections if self.section(s.id).score >= 1.0)

    def section(self, sid: str) -> Verdict:
        if sid not in self._section_verdicts:
            self._section_verdicts[sid] = self._section(sid)
        return self._section_verdicts[sid]

    def _section(self, sid: str) -> Verdict:
        spec = next(s for s in self.rubric.sections if s.id == sid)
        found = self.section_ids[sid]
        if not found:
            examples = ", ".join(f'"{e}"' for e in spec.examples)
            return Verdict(0.0, f"No {spec.title} section (headings accepted include {examples}).")
        snippets = self.doc.in_sections(found)
        real = [s for s in snippets if substantive(s)]
        heading = self.doc.sections[found[0]].heading
        if not real:
            what = "is still template text" if not snippets else "lists keywords instead of statements"
            return Verdict(0.0, f'"{heading}" {what}. Write sentences about this model ({spec.title.lower()}).',
                           evidence=f"line {self.doc.sections[found[0]].line}")
        wrong = self._wrong_facts(snippets)
        if wrong:
            return Verdict(0.0, f'"{heading}" states facts the registry contradicts: {wrong}.',
                           evidence=quote(snippets[0]), wrong=True)
        fact = self._section_fact(sid, snippets)
        if fact is not None:
            return Verdict(1.0, f'"{heading}" states facts about this model.', evidence=quote(fact))
        return Verdict(self.rubric.generic_section_credit,
                       f'"{heading}" is generic: nothing in it is about this model. It needs {spec.needs}.',
                       evidence=quote(real[0]))

    def _section_fact(self, sid: str, snippets: list[Snippet]) -> Snippet | None:
        """The first snippet that makes the section about this model, if any."""
        metric = any_of(list(self.rubric.metrics.values()))
        attrs = any_of([attr_pattern(a) for a in self.ctx.sensitive_attributes])
        name = phrase(re.escape(self.ctx.model_name))

        def fact(s: Snippet) -> bool:
            t = s.text
            if sid == "model_details":
                return bool(name.search(t) or self._names_version(t) or re.search(r"[0-9a-f]{32}", t.lower()))
            if sid == "factors":
                return bool(attrs.search(t)) if self.ctx.sensitive_attributes else bool(self.specific.search(t))
            if sid == "metrics":
                return bool(metric.search(t)) and bool(re.search(r"\d", t) or attrs.search(t)
                                                       or self.specific.search(t))
            if sid in ("evaluation_data", "training_data"):
                return bool(_DATA_FACT.search(t)) or (bool(re.search(r"\d", t)) and bool(self.specific.search(t)))
            if sid == "quantitative_analyses":
                return any(c.source.snippet == s and self._matches(c) for c in self.claims)
            if sid == "caveats":
                return bool(self.specific.search(t)) or any(c.source.snippet == s for c in self.claims)
            return bool(self.specific.search(t))

        return next((s for s in snippets if fact(s)), None)

    def _wrong_facts(self, snippets: list[Snippet]) -> str:
        """Why the section's facts are wrong: a wrong group claim, or more wrong numbers than right ones."""
        inside = set(map(id, snippets))
        if any(id(gc.snippet) in inside for gc in self.wrong_group_claims):
            return "it names the wrong group as disadvantaged, or says groups are treated alike"
        mine = [c for c in self.claims if id(c.source.snippet) in inside and c.population == "evaluation"
                and self._checkable(c)]
        bad = [c for c in mine if not self._matches(c)]
        if bad and len(bad) > len(mine) - len(bad):
            return f"{len(bad)} of {len(mine)} numbers disagree with the registry"
        return ""

    def _checkable(self, c: Claim) -> bool:
        v = self.ctx.version(c.version if c.version is not None else self.card_version)
        return v is not None and c.key in v.metrics

    def _matches(self, c: Claim) -> bool:
        if c.population != "evaluation":
            return True  # a labelled live figure is a fact about the model in service
        v = self.ctx.version(c.version if c.version is not None else self.card_version)
        return v is not None and any(abs(x - c.value) <= self.rubric.tolerance for x in self.ctx.values_for(c.key, v))

    def _names_version(self, text: str) -> bool:
        return any(re.search(rf"(?:\bv|\bversion\s*:?\s*(?:#|no\.?|number)?\s*){v.version}(?![0-9])", text, re.I)
                   for v in self.ctx.versions)

    # ------------------------------------------------------------- identity

    def _identity_snippets(self) -> list[Snippet]:
        """Where the card says what it documents: metadata, model details, then anywhere."""
        meta = [s for s in self.doc.content if s.source == "metadata"]
        rest = [s for s in self.doc.content if s not in meta and s not in self.details]
        return meta + self.details + rest

    def model_name(self) -> Verdict:
        name = self.ctx.model_name
        rx = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.I)
        for s in self.doc.content:
            if s.source == "metadata" and re.match(r"(?:.* )?(?:model name|registered model(?: name)?|model id|model):",
                                                    s.text, re.I):
                value = s.text.split(":", 1)[1].strip()
                if value and not rx.search(value):
                    return Verdict(0.0, f'The card names the model "{value}"; the registry holds "{name}".',
                                   evidence=quote(s), wrong=True)
        if rx.search(self.doc.title):
            return Verdict(1.0, f"Names the registered model {name}.", evidence=f'title: "{self.doc.title}"')
        hits = [s for s in self._identity_snippets() if rx.search(s.text)]
        if hits:
            return Verdict(1.0, f"Names the registered model {name}.", evidence=quote(hits[0]))
        return Verdict(0.0, f"The card never names the registered model ({name}); a reader must be able to find "
                            f"exactly what it documents in the registry.")

    def _claimed_version(self) -> tuple[int | None, str]:
        patterns = [
            re.compile(r"(?:^|\b)(?:model |registry |registered |mlflow )?version(?: number)?\s*:\s*v?(\d+)\b", re.I),
            re.compile(r"models:/[\w.-]+/(\d+)\b"),
            re.compile(r"\bversion\s*(?:#|no\.?|number)?\s*(\d+)\b", re.I),
            re.compile(r"\bv(\d+)\b"),
        ]
        for s in self._identity_snippets():
            for rx in patterns:
                m = rx.search(s.text)
                if m:
                    return int(m.group(1)), quote(s)
        return None, ""

    def run_ids(self) -> list[tuple[str, Snippet]]:
        out = []
        for s in self._identity_snippets():
            for m in re.finditer(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", s.text.lower()):
                out.append((m.group(0), s))
        return out

    # ------------------------------------------------------------- use, oversight, monitoring

    def _credit(self, found: list[Snippet]) -> tuple[float, Snippet | None]:
        specific = [s for s in found if self.specific.search(s.text)]
        if specific:
            return 1.0, specific[0]
        return (self.rubric.generic_section_credit, found[0]) if found else (0.0, None)

    def uses(self) -> Verdict:
        intended_secs = self.section_ids.get("intended_use", [])
        oos_secs = self._sections(self.rubric.out_of_scope.headings, self.rubric.out_of_scope.exclude)
        intended = [s for s in self.doc.in_sections(intended_secs) if substantive(s)]
        intended += [s for s in self.doc.content if substantive(s) and phrase(_INTENDED_TEXT).search(s.text)
                     and s not in intended]
        oos = [s for s in self.doc.in_sections(oos_secs) if substantive(s)]
        oos += [s for s in self.doc.content if substantive(s) and phrase(_OUT_OF_SCOPE_TEXT).search(s.text)
                and s not in oos]
        (a, sa), (b, sb) = self._credit(intended), self._credit(oos)
        score = 0.5 * a + 0.5 * b
        ev = quote(sb or sa) if (sb or sa) else ""
        if score >= 1.0:
            return Verdict(1.0, "States the intended use and what is out of scope, for this model.", evidence=ev)
        parts = []
        if a == 0:
            parts.append("the intended use (purpose, users, setting) is not stated")
        elif a < 1:
            parts.append("the intended use is generic (nothing about what this model scores, or for whom)")
        if b == 0:
            parts.append("out-of-scope uses are not stated")
        elif b < 1:
            parts.append("the out-of-scope uses are generic")
        return Verdict(score, "; ".join(parts).capitalize() + ".", evidence=ev)

    def oversight(self) -> Verdict:
        parts = {
            "human review of each decision": r"review|decid(?!es automatically)|final (?:decision|say)|approv|sign[\s-]*off|in the loop",
            "people can override the output": r"overrid|disregard|revers|overturn|reject (?:the )?(?:ranking|score)",
            "people can stop the system": r"stop|halt|pause|suspend|switch off|kill[\s-]*switch|turn off",
        }
        anchor = phrase(r"oversight|human|recruiters?|reviewers?|loan officers?|people|staff|operators?")
        secs = self._sections(self.rubric.oversight.headings, self.rubric.oversight.exclude)
        units = [[s for s in self.doc.in_sections(secs) if substantive(s)]]
        units += [[s] for s in self.doc.content if substantive(s) and anchor.search(s.text)]
        best: list[str] = []
        best_ev, best_specific = "", False
        for unit in units:
            text = " ".join(s.text for s in unit)
            got = [name for name, p in parts.items() if phrase(p).search(text)]
            specific = bool(self.specific.search(text))
            if (len(got), specific) > (len(best), best_specific):
                best, best_ev, best_specific = got, quote(unit[0]) if unit else "", specific
        if len(best) >= 2 and best_specific:
            return Verdict(1.0, f"Describes human oversight: {', '.join(best)}.", evidence=best_ev)
        if len(best) >= 2:
            return Verdict(0.25, f"Describes human oversight ({', '.join(best)}) in generic terms: say who, in this "
                                f"system, reviews what.", evidence=best_ev)
        if best:
            return Verdict(0.5 if best_specific else 0.25, f"Mentions {best[0]} only.", evidence=best_ev)
        return Verdict(0.0, "No human oversight described.")

    def monitoring_link(self) -> Verdict:
        rx = phrase(r"post[\s_-]*market[\s_-]*monitoring|monitoring (?:plan|runbook)")
        link = re.compile(r"post_market_monitoring(?:\.md)?|\(\S*monitoring\S*\.md\)", re.I)
        covers = phrase(r"drift|thresholds?|alert|alarm|incident|rollback|roll back|retrain|fairness|"
                        r"performance|metrics?|labels?|serious")
        found = [s for s in self.doc.content if link.search(s.text) or (
            rx.search(s.text) and substantive(s) and phrase(r"plan|runbook|document|\.md").search(s.text))]
        said = [s for s in found if covers.search(s.text)]
        if said:
            return Verdict(1.0, "Points to the monitoring plan and says what it covers.", evidence=quote(said[0]))
        if found:
            return Verdict(0.5, "Points to the monitoring plan but not what it covers (drift thresholds, incident "
                                "reporting, rollback ...).", evidence=quote(found[0]))
        return Verdict(0.0, "The card does not point to the monitoring plan.")
