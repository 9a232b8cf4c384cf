"""``observability.md``: which signal answers which question, who is paged for which, the SLOs and the KPIs.

Five items (27 points). A fact counts where it is stated with what it is about (a sentence, list item or
table row, read row by row); template text, lists of bare keywords and statements negated just before
the term ("we do not page the SRE") earn nothing, and a negated statement costs nothing either:

* ``questions`` (6): per layer (system, model, business), its signals with the question they answer (2;
  signals only: 1). "Healthy system signals do not mean a healthy model" (the KPI falls while latency
  is fine) earns the business layer's second point as its question does (it is why the layer exists);
  its absence is named in the feedback;
* ``kpis`` (6): the KPI named (by name or a paraphrase of name or description), how it is computed (rows
  and outcomes), a threshold with a number, the label delay's figure (named without it: 1/3; wrong: 0),
  1.5 each. A statement is about the KPI when it, its lead-in, heading or paragraph names it;
* ``segments`` (4): the KPI by a segment column (2; a segment without a column: 1) and why (2);
* ``slos`` (5): tail latency (p95, p99, p99.9, "99th percentile") in ms or s (2; median or unqualified
  latency with a figure, or a percentile without one: 1), the error rate in % or as a fraction (2; no
  figure: 1), and both matching monitoring.yaml's ``system`` section (1, units converted; without that
  section a document stating both figures earns it, and the feedback says so);
* ``paging`` (6): system signals page the on-call engineer, SRE or platform team (2; paged for no named
  signal: 1); KPI breaches go to an ML role (1) and a business owner (1), not the SRE on call (paging
  the SRE for the KPI costs 1); a page for system signals (1), a ticket or the next business day for
  the late KPI (1). A role counts for the signals of its clause (else the previous clause's, or a list
  item's lead-in).

A figure belongs to the nearest signal named in its clause ("error rate below 1% and the KPI below 4%").
These are the lab's rubric for sound practice, not a standard or a legal requirement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lab.core.paths import TEMPLATE_DIR, read_template
from lab.grading.items import Item, sentence
from lab.grading.markdown.keywords import is_statement
from lab.grading.markdown.words import FUNCTION_WORDS
from lab.grading.observability_terms import (AVERAGE, BIZ_ROLE, BUSINESS, BUSINESS_Q, COMPUTE, CONTRAST, DECLINE,
                                             DELAY, DELAY_OWNERS, ERRORS, FIGURE_OWNERS, HEALTHY, HIDE, KPI_WORD,
                                             LATENCY, LAYERS, MEDIAN, ML_ROLE, MODEL, MODEL_Q, NOT_IMPLY, ONCALL,
                                             OUTCOMES, PAGE, PCTL, ROWS, SEGMENT, SLOW, SMALL_PART, SYSTEM,
                                             SYSTEM_Q, SYSTEM_TOPIC, THRESHOLD, URGENT, _SYNONYMS, _rx,
                                             delay_days, fractions, latency_ms, spans)

SKILL = "observability"
TEMPLATE_PATH = TEMPLATE_DIR / "observability.md"
DOC_PLAN = (("observability.doc.questions", "Signals by layer, and the question each answers", 6.0),
            ("observability.doc.kpis", "Business KPIs: name, computation, threshold and delay", 6.0),
            ("observability.doc.segments", "The KPI broken down by segment, and why", 4.0),
            ("observability.doc.slos", "System SLOs with figures, matching monitoring.yaml", 5.0),
            ("observability.doc.paging", "Who is paged for which signal, and how urgently", 6.0))


@dataclass(frozen=True)
class Kpi:
    name: str  # e.g. "approved_default_rate"
    description: str  # e.g. "share of approved loans that default within a year"
    direction: str  # "lower_is_better" | "higher_is_better"


@dataclass(frozen=True)
class ObservabilityFacts:
    kpis: tuple[Kpi, ...]
    label_delay_days: int  # outcomes (labels) arrive this many scenario days after a decision
    segment_columns: tuple[str, ...]  # columns a KPI can be broken down by (e.g. "region", "age_band")
    slo_p99_ms: float | None  # monitoring.yaml's system.p99_latency_ms.max, None when absent
    slo_error_rate: float | None  # monitoring.yaml's system.error_rate.max (a fraction), None when absent


def _kpi_patterns(kpi: Kpi) -> tuple[re.Pattern[str], Callable[[str], bool]]:
    """The KPI's name as written (underscores, spaces or hyphens) and a test for a paraphrase:
    every word of the name, or all but one content word of the description, in one statement."""
    tokens = [t for t in re.split(r"[\W_]+", kpi.name.lower()) if t]
    name = _rx(r"\b" + r"[\s_-]?".join(map(re.escape, tokens)) + r"s?\b")

    def word(t: str) -> re.Pattern[str]:
        return _rx(_SYNONYMS.get(t) or r"\b" + re.escape(re.sub(r"(ed|ing|es|s|al)$", "", t) if len(t) > 5 else t))

    by_name = [word(t) for t in tokens if t not in FUNCTION_WORDS]
    words = re.findall(r"[a-z]+", kpi.description.lower())
    by_desc = [word(t) for t in words if t not in FUNCTION_WORDS and len(t) > 2]

    def paraphrased(text: str) -> bool:
        if by_name and all(spans(text, rx) for rx in by_name):
            return True
        return len(by_desc) >= 3 and sum(bool(spans(text, rx)) for rx in by_desc) >= len(by_desc) - 1
    return name, paraphrased


class _Doc:
    def __init__(self, snippets: list[Any], facts: ObservabilityFacts, listings: list[Any]) -> None:
        self.snippets, self.listings = snippets, listings  # listings: "System signals: a, b, c" lines
        self.kpis = [_kpi_patterns(k) for k in facts.kpis]
        cols = [re.split(r"[\W_]+", c.lower()) for c in facts.segment_columns if c]
        alts = [r"[\s_-]?".join(map(re.escape, c)) + r"s?\b" for c in cols]
        alts += [r"(by|per|each|across|every) " + re.escape(c[0]) + r"\b" for c in cols]
        self.column = _rx(r"\b(" + "|".join(alts) + ")") if alts else _rx(r"(?!x)x")
        self.kpi_blocks = {s.block for s in snippets
                           if s.source == "prose" and not s.item and self.mentions_kpi(s.text)}

    def named(self, text: str) -> list[int]:
        """Which of the scenario's KPIs ``text`` names, by name or paraphrase."""
        return [k for k, (name, para) in enumerate(self.kpis) if spans(text, name) or para(text)]

    def mentions_kpi(self, text: str) -> bool:
        return bool(self.named(text) or spans(text, KPI_WORD))

    def about_kpi(self, s: Any) -> bool:
        return (self.mentions_kpi(s.text) or self.mentions_kpi(s.lead) or self.mentions_kpi(s.lead_in)
                or bool(self.named(s.heading)) or (s.source == "prose" and not s.item and s.block in self.kpi_blocks))

    def masked(self, text: str) -> str:
        """``text`` with the KPIs' names blanked (their words say nothing of how they are computed)."""
        for name, _ in self.kpis:
            text = name.sub(lambda m: " " * len(m.group(0)), text)
        return text

    def owner(self, s: Any, start: int, end: int, owners: dict[str, re.Pattern[str] | None]) -> str | None:
        """What a figure at ``start:end`` belongs to: the nearest of ``owners`` (None: the KPI) named in its
        clause, else the nearest named before it in the statement, else after it."""
        kpi = [KPI_WORD] + [n for n, _ in self.kpis]
        found = [(k, m.start(), m.end()) for k, rx in owners.items() for r in ([rx] if rx else kpi)
                 for m in r.finditer(s.text) if not m.start() <= start < m.end()]
        unit = next(((a, b) for a, b in s.units if a <= start and end <= b), None)
        inside = [f for f in found if unit and unit[0] <= f[1] and f[2] <= unit[1]]
        before = [f for f in found if f[2] <= start]
        pick = (min(inside, key=lambda f: abs(f[1] - start)) if inside else max(before, key=lambda f: f[2]) if before
                else min(found, key=lambda f: f[1]) if found else None)
        return pick[0] if pick else None

    def clauses(self, s: Any) -> list[tuple[str, set[str]]]:
        """Clauses of a statement with the signals each is about; a table row (its cells, headers left out:
        "Who is paged" is not a page) is one clause."""
        if s.source == "table":
            pieces = [" | ".join(s.text[a:b] for a, b in s.units)]
        else:
            topic = "|".join([SYSTEM_TOPIC.pattern, KPI_WORD.pattern] + [n.pattern for n, _ in self.kpis])
            cut = r";|\s-\s|,?\s+(?:while|whilst|whereas|but|otherwise)\s+|(?:,\s*|\s+and\s+|\s+or\s+)(?=(?:(?:the|a|" \
                  r"an|our|any|all|each|every|breaches of|a breach of)\s+)*(?:" + topic + "))"
            cuts = [(0, 0)] + [m.span() for m in re.finditer(cut, s.text, re.I)] + [(len(s.text), 0)]
            pieces = [s.text[a[1]:b[0]] for a, b in zip(cuts, cuts[1:])]
        previous = self.topics(s.lead + " " + s.lead_in) if s.item else set()
        out = []
        for piece in pieces:
            previous = self.topics(piece) or previous
            out.append((piece, previous))
        return out

    def topics(self, text: str) -> set[str]:
        return ({"system"} if spans(text, SYSTEM_TOPIC) else set()) | ({"kpi"} if self.mentions_kpi(text) else set())

    @staticmethod
    def quote(snippets: list[Any]) -> str:
        return "" if not snippets else f"line {snippets[0].line}: {snippets[0].text[:160]}"


def _insight(text: str) -> bool:
    """Healthy system signals do not mean a healthy model, or the KPI falls while latency is fine."""
    system, model = _rx(SYSTEM_TOPIC.pattern + r"|\bsystem\b|\bservice\b|\bdashboards?\b"), \
        _rx(MODEL.pattern + "|" + BUSINESS.pattern + r"|\bmodel\b|\bpredictions?\b")
    return all(rx.search(text) for rx in (system, HEALTHY, model)) and bool(
        NOT_IMPLY.search(text) or (DECLINE.search(text) and CONTRAST.search(text)))


def _lead(s: Any, layer: str) -> bool:
    """A list of a layer's signals: "System signals: p99 latency, error rate", or items under such a lead-in."""
    own = s.text.split(":", 1)[0] if ":" in s.text else ""
    return any(LAYERS[layer].search(t) for t in (own, s.lead, s.lead_in) if t)


def _terse(s: Any) -> list[Any]:
    """A line of terse facts ("p99 300 ms; error rate 1%; SRE; model owner") as one statement per fact:
    a fact in one part is not bound to another part."""
    parts = [p.strip() for p in s.text.split(";")]
    if s.source != "prose" or len(parts) < 4 or any(len(p.split()) > 6 for p in parts):
        return [s]
    return [replace(s, text=p, units=((0, len(p)),), groups=((0, len(p)),), block=-(s.block * 1000 + k))
            for k, p in enumerate(parts) if p]  # a block of its own: no paragraph to share a subject with


def _say(found: list[str], missing: list[str], done: str) -> str:
    """Feedback: what was found, then what is missing or wrong (``done`` when nothing is)."""
    if not missing:
        return done
    return (f"Found: {'; '.join(found)}. " if found else "") + sentence("Missing or wrong: " + "; ".join(missing))


def _questions(doc: _Doc, f: ObservabilityFacts) -> tuple[float, str, str]:
    share, found, missing, quoted = 0.0, [], [], []
    business = _rx(BUSINESS.pattern + "".join("|" + n.pattern for n, _ in doc.kpis))
    insight = [s for s in doc.snippets if _insight(s.text)]
    for layer, signals, question, ask in (("system", SYSTEM, SYSTEM_Q, "is the service up and fast"),
                                          ("model", MODEL, MODEL_Q, "is the model still right"),
                                          ("business", business, BUSINESS_Q, "is it doing its job, what does it cost")):
        def names(s: Any) -> bool:
            return bool(spans(s.text, signals) or (layer == "business" and doc.named(s.text)))
        listed = [s for s in doc.snippets + doc.listings if names(s) and _lead(s, layer)]
        named = [s for s in doc.snippets if names(s) and (
            s.source == "table" or is_statement(s.text, s.code))] + listed
        bound = [s for s in named if s not in doc.listings and any(  # signal and question apart; (0, 0): a paraphrase
            x[1] <= y[0] or y[1] <= x[0] for x in spans(s.text, signals) or [(0, 0)]
            for y in spans(s.text, question, negate=False))]
        bound = bound or (insight if layer == "business" and named else [])
        share += 1 / 3 if bound else 1 / 6 if named else 0.0
        quoted += bound[:1] or named[:1]
        if bound:
            found.append(f"{layer} signals with the question they answer")
        else:
            missing.append(f"{layer} signals {'named without' if named else 'and'} the question they answer ({ask}?)")
    found += ["healthy system signals are not taken for a healthy model"] if insight else []
    adds = "" if insight else " A strong answer also says that healthy system signals do not mean a healthy model: " \
        "the KPI can fall while latency and errors are fine."
    return share, _say(found, missing, "Each layer's signals are tied to their question, and healthy system signals "
                       "are not taken for a healthy model.") + adds, doc.quote(quoted)


def _kpis(doc: _Doc, f: ObservabilityFacts) -> tuple[float, str, str]:
    named = sorted({k for s in doc.snippets for k in doc.named(s.text)})
    about = [s for s in doc.snippets if doc.about_kpi(s)]
    parts = [(s, spans(doc.masked(s.text), ROWS), spans(doc.masked(s.text), OUTCOMES)) for s in about
             if spans(doc.masked(s.text), COMPUTE)]
    computed, full = [s for s, r, o in parts if r or o], [s for s, r, o in parts if r and o]
    limited = [s for s in about if spans(s.text, THRESHOLD) and any(
        doc.owner(s, a, b, FIGURE_OWNERS) in ("kpi", None) for _, a, b in fractions(s.text))]
    delay = [s for s in doc.snippets if spans(s.text, DELAY) and (spans(s.text, OUTCOMES) or spans(s.text, KPI_WORD))]
    stated = [d for s in delay for d, a, b in delay_days(s.text) if doc.owner(s, a, b, DELAY_OWNERS) != "other"]
    want = f.label_delay_days
    share = (0.25 * len(named) / len(f.kpis) if f.kpis else 0.0) + (0.25 if full else 0.125 if computed else 0.0) + \
        (0.25 if limited else 0.0)
    found = [w for ok, w in ((named, "the KPI named"), (full, "how it is computed"), (limited, "its threshold")) if ok]
    missing = []
    if len(named) < len(f.kpis):
        unnamed = "; ".join(f"{k.name} ({k.description})" for i, k in enumerate(f.kpis) if i not in named)
        missing.append(f"name {unnamed}" + (" (a KPI is mentioned, not which)" if any(
            spans(s.text, KPI_WORD) for s in about) else ""))
    if not full:
        missing.append("how it is computed: on which rows and from which outcomes (" +
                       "; ".join(k.description for k in f.kpis) + ")" + (" (half said)" if computed else ""))
    if not limited:
        upper = any(k.direction == "lower_is_better" for k in f.kpis)
        missing.append("a threshold with a number" + (" (an upper limit: lower is better)" if upper else ""))
    if any(abs(d - want) <= 0.5 for d in stated):
        share += 0.25
        found.append(f"outcomes arrive {want:g} days after the decision")
    elif stated:
        missing.append(f"the outcomes arrive {want:g} days after a decision here, not {stated[0]:g}")
    elif delay:
        share += 1 / 12
        missing.append(f"the delay's figure ({want:g} days after the decision; the delay is named)")
    else:
        missing.append(f"the delay: outcomes arrive {want:g} days after the decision, so the KPI always describes "
                       "decisions at least that old")
    return share, _say(found, missing, "The KPI is named, computed, given a threshold and its delay."), \
        doc.quote(limited or full or delay or about)


def _segments(doc: _Doc, f: ObservabilityFacts) -> tuple[float, str, str]:
    by_column = [s for s in doc.snippets if doc.about_kpi(s) and spans(s.text, doc.column)]
    loose = [s for s in doc.snippets if spans(s.text, SEGMENT) and (doc.about_kpi(s) or spans(s.text, doc.column))]
    why = [s for s in doc.snippets if spans(s.text, AVERAGE) and (spans(s.text, HIDE) or (
        spans(s.text, DECLINE) and spans(s.text, CONTRAST, negate=False))) and (
        spans(s.text, SEGMENT) or spans(s.text, doc.column) or spans(s.text, SMALL_PART))]
    share = (0.5 if by_column else 0.25 if loose else 0.0) + (0.5 if why else 0.0)
    found = [w for ok, w in ((by_column, "the KPI broken down by a segment column"),
                             (loose and not by_column, "a breakdown, without a column or not of the KPI"),
                             (why, "why (the overall figure hides one segment)")) if ok]
    missing = [w for ok, w in ((by_column, f"the KPI broken down by a column ({', '.join(f.segment_columns)})"),
                               (why, "why: a failure in one segment hides in the overall average")) if not ok]
    return share, _say(found, missing, "The KPI is broken down by segment, and why."), \
        doc.quote(by_column or loose or why)


def _slos(doc: _Doc, f: ObservabilityFacts) -> tuple[float, str, str, dict[str, Any]]:
    lat = [s for s in doc.snippets if spans(s.text, PCTL) or spans(s.text, LATENCY)]
    tail = [s for s in lat if spans(s.text, PCTL) and latency_ms(s.text)]
    ms = [v for s in (tail or [s for s in lat if not MEDIAN.search(s.text)]) for v in latency_ms(s.text)]
    err = [s for s in doc.snippets if spans(s.text, ERRORS)]
    rates = [v for s in err for v, a, b in fractions(s.text) if doc.owner(s, a, b, FIGURE_OWNERS) == "error"]
    err_named = [s for s in err if spans(s.text, THRESHOLD) or spans(s.text, _rx(r"\bslos?\b|\bobjective|\bbudget"))]
    figured = any(latency_ms(s.text) for s in lat)
    share = (0.4 if tail else 0.2 if figured or any(spans(s.text, PCTL) for s in lat) else 0.0) + \
        (0.4 if rates else 0.2 if err_named else 0.0)
    found = [w for ok, w in ((tail, "a tail-latency SLO with its figure"), (rates, "an error-rate SLO with its figure"))
             if ok]
    missing = [w for ok, w in ((tail, "a tail-latency SLO with its figure (p99 below N ms)" + (
        ": a median or unqualified latency says little of the slowest callers" if figured else "")),
        (rates, "an error-rate SLO with its figure (in % or as a fraction)")) if not ok]
    checks = [c for c in ((f.slo_p99_ms, ms, "system.p99_latency_ms.max", lambda x: f"{x:g} ms"),
                          (f.slo_error_rate, rates, "system.error_rate.max", lambda x: f"{x * 100:g}% ({x:g})"))
              if c[0] is not None]
    done = "SLOs stated with figures that match monitoring.yaml."
    wrong = [f"no figure here to compare with monitoring.yaml's {key} ({show(want)})" if not have else
             f"this document says {show(have[0])}, monitoring.yaml's {key} is {show(want)}"
             for want, have, key, show in checks if not any(math.isclose(h, want, rel_tol=1e-3) for h in have)]
    if not checks:  # no system section: the point goes to a document stating both figures
        wrong = [] if ms and rates else ["monitoring.yaml has no system section: the consistency point needs both "
                                         "SLOs with figures"]
        done = "Both SLOs are stated with figures; monitoring.yaml has no system section to check them against, so " \
            "the consistency point went to this document: add them there so the alerts and this document agree."
    share += 0.0 if wrong else 0.2
    found += [] if wrong else [done[:-1] if not checks else "the figures match monitoring.yaml"]
    missing += wrong
    return share, _say(found, missing, done), doc.quote(tail or lat or err), {"p99_ms": ms, "error_rate": rates}


def _paging(doc: _Doc, f: ObservabilityFacts) -> tuple[float, str, str]:
    hit: dict[str, list[Any]] = {k: [] for k in ("sys", "loose", "ml", "biz", "sre_kpi", "urgent", "slow")}
    for s in doc.snippets:
        for text, topic in doc.clauses(s):
            def has(rx: re.Pattern[str]) -> bool:
                return bool(spans(text, rx))
            for key, ok in (("sys", has(ONCALL) and "system" in topic),
                            ("loose", has(ONCALL) and has(PAGE) and not topic),
                            ("ml", "kpi" in topic and has(ML_ROLE)), ("biz", "kpi" in topic and has(BIZ_ROLE)),
                            ("slow", "kpi" in topic and has(SLOW)),
                            ("sre_kpi", topic == {"kpi"} and has(ONCALL) and has(PAGE)),
                            ("urgent", topic == {"system"} and has(URGENT))):
                hit[key] += [s] if ok else []
    share = (2 if hit["sys"] else 1 if hit["loose"] else 0) + sum(bool(hit[k]) for k in ("ml", "biz", "urgent", "slow"))
    share -= 1 if hit["sre_kpi"] else 0
    said = {"sys": "the on-call engineer (SRE, platform team) for the system signals",
            "ml": "an ML role (model owner, ML engineer) for KPI breaches",
            "biz": "a business owner (credit risk, product) for KPI breaches",
            "urgent": "system breaches page at once", "slow": "KPI breaches go to a ticket or the next business day"}
    found = [w for k, w in said.items() if hit[k]] + (["an on-call role paged, not said for which signal"]
                                                      if hit["loose"] and not hit["sys"] else [])
    missing = [w for k, w in said.items() if not hit[k]]
    if hit["sre_kpi"]:
        missing.append("the SRE on call is paged for the KPI: they cannot fix a model that fails in one segment, and "
                       "the KPI is days late, so it belongs with the model owner and the business")
    return share / 6, _say(found, missing, "Who is paged for which signal, and how urgently, is stated."), \
        doc.quote(hit["sys"] + hit["ml"] + hit["biz"] or hit["loose"])


_CHECKS: dict[str, Callable[..., tuple[Any, ...]]] = {
    "observability.doc.questions": _questions, "observability.doc.kpis": _kpis,
    "observability.doc.segments": _segments, "observability.doc.slos": _slos, "observability.doc.paging": _paging}


def grade_observability_doc(text: str | None, facts: ObservabilityFacts, *, template: str | None = None) -> list[Item]:
    """One Item per DOC_PLAN entry, always (a missing file: every item 0 with feedback saying to write
    observability.md). ``template``: the untouched template (default: ``runbooks/observability.md``);
    lines copied from it, its comments included, earn nothing."""
    from lab.grading.markdown.parse import parse_markdown

    if text is None:
        return [Item(id=i, skill=SKILL, title=t, points=0.0, max_points=p, feedback="observability.md is missing: "
                     "write it from the template (runbooks/observability.md).") for i, t, p in DOC_PLAN]
    # the template's prompts are in comments; a candidate who uncomments them has not written them
    template = re.sub(r"<!--|-->", "", template or read_template(TEMPLATE_PATH) or "")
    parsed = parse_markdown(text, template=template)
    content = [s for s in parsed.non_template if not s.keywords]
    doc = _Doc([t for s in content for t in _terse(s)], facts, [s for s in parsed.non_template if s not in content])
    items = []
    for item_id, title, points in DOC_PLAN:
        share, feedback, evidence, *rest = _CHECKS[item_id](doc, facts)
        share = max(0.0, min(1.0, share))
        items.append(Item(id=item_id, skill=SKILL, title=title, points=round(points * share, 6), max_points=points,
                          feedback=feedback, evidence=evidence, details=rest[0] if rest else {}))
    return items


__all__ = ["DOC_PLAN", "Kpi", "ObservabilityFacts", "delay_days", "fractions", "grade_observability_doc",
           "latency_ms", "spans"]
