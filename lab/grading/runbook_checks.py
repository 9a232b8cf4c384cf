"""The runbook rubric's generic checks: durations, facts stated together, counts, order, thresholds, rollback.

Each check is a pure function ``(item, check, doc, ctx, env) -> Verdict``;
:mod:`lab.grading.runbook` dispatches to them by the check's ``kind``. A verdict is
``wrong`` only when a fact is bound to the item's own subject in its own clause (a
duration with its trigger, a threshold with its column): a number about something else
in the same sentence is not a contradiction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lab.grading.markdown import Document, Labelled, Pattern, Snippet, find_values, label_numbers, phrase
from lab.grading.runbook_rubric import (
    BeforeCheck,
    CooccurCheck,
    CountCheck,
    MetricsThresholdsCheck,
    QuantityCheck,
    RollbackCheck,
    Rubric,
    RubricItem,
    RunbookContext,
    ThresholdsMatchCheck,
)


@dataclass(frozen=True)
class Verdict:
    """What one check concluded: the share of the item's points, and why."""

    score: float  # 0..1 of the item's points (a penalty: 1 means the penalty applies)
    reason: str
    evidence: str = ""
    wrong: bool = False


@dataclass
class Env:
    """What the checks of one grading share: the rubric and per-document caches."""

    rubric: Rubric
    families: dict[str, dict[str, Pattern]] = field(default_factory=dict)
    cache: dict[str, list[Labelled]] = field(default_factory=dict)

    def section_regex(self, name: str | None) -> re.Pattern[str] | None:
        """The heading synonyms of a rubric section, or None."""
        if name is None:
            return None
        return _any(self.rubric.sections[name])

    def in_section(self, name: str | None, s: Snippet, doc: Document) -> bool:
        rx = self.section_regex(name)
        if rx is None or s.section is None:
            return False
        path = doc.sections[s.section].path
        return any(rx.search(key) for key in path)

    def section_names(self, name: str | None) -> str:
        """Headings that count for a section, in words, for feedback."""
        if name is None:
            return ""
        pats = self.rubric.sections[name]
        shown = [re.sub(r"[\\()?:\[\]^$]|\\s\*|\|", " ", p.split("|")[0]).strip() for p in pats[:3]]
        return ", ".join(f'"{s}"' for s in shown if s)


def _any(patterns: Sequence[str]) -> re.Pattern[str]:
    return phrase("|".join(f"(?:{p})" for p in patterns))


def quote(s: Snippet, limit: int = 160) -> str:
    where = {"metadata": "metadata", "table": "table row", "prose": "line", "code": "code line"}[s.source]
    text = s.text if len(s.text) <= limit else s.text[: limit - 3] + "..."
    return f'{where} {s.line}: "{text}"' if s.source != "metadata" else f'metadata: "{text}"'


def fmt(value: float) -> str:
    return f"{value:g}"


def _span_of(spans: Sequence[tuple[int, int]], a: int, b: int, length: int) -> tuple[int, int]:
    for s in spans:
        if s[0] <= a and b <= s[1]:
            return s
    return (0, length)


def bound_here(n: Labelled, subject: re.Pattern[str], verbs: Sequence[re.Pattern[str]] = ()) -> bool:
    """True when a prose number is stated about ``subject`` in its own clause.

    The subject must be in the number's smallest clause, or in its enclosing clause
    when the smallest one holds one of ``verbs`` ("logs are kept for 3 months" binds;
    "labels arrive after three days" in a sentence about logs does not). Table rows and
    metadata keys are their own clause.
    """
    s = n.snippet
    if s.source != "prose":
        return True
    a, b = n.number.start, n.number.end
    ua, ub = _span_of(s.units, a, b, len(s.text))
    unit = s.text[ua:ub]
    if subject.search(unit):
        return True
    ga, gb = _span_of(s.groups, a, b, len(s.text))
    return bool(verbs) and any(v.search(unit) for v in verbs) and bool(subject.search(s.text[ga:gb]))


# --------------------------------------------------------------------------- quantity


def family_labels(rubric: Rubric) -> dict[str, dict[str, Pattern]]:
    out: dict[str, dict[str, Pattern]] = {}
    for i in rubric.items:
        if isinstance(i.check, QuantityCheck):
            out.setdefault(i.check.family, {})[i.id] = Pattern("|".join(f"(?:{t})" for t in i.check.triggers),
                                                              strong=not i.check.weak)
    return out


def quantity(ri: RubricItem, c: QuantityCheck, doc: Document, ctx: RunbookContext, env: Env) -> Verdict:
    if c.family not in env.cache:
        env.cache[c.family] = label_numbers(doc, {"case": env.families[c.family]}, quantities=True)
    requires = [phrase(r) for r in c.requires]
    mine = [n for n in env.cache[c.family] if n.labels["case"] == ri.id
            and all(r.search(n.snippet.text) or r.search(n.snippet.context) for r in requires)]
    if not mine:
        return Verdict(0.0, f"No duration stated {c.subject}.")

    def value(n: Labelled) -> float:
        v = n.number.days() if c.unit == "days" else n.number.months()
        assert v is not None
        return v

    trigger = _any(c.triggers)
    tol = 0.03
    if c.at_most is not None:
        off = [n for n in mine if value(n) > c.at_most * (1 + tol)]
        exact = [n for n in mine if abs(value(n) - c.at_most) <= c.at_most * tol]
    else:
        assert c.at_least is not None
        off = [n for n in mine if value(n) < c.at_least * (1 - tol)]
        exact = [n for n in mine if n not in off]
    wrong = [n for n in off if bound_here(n, trigger, requires)]
    mine = [n for n in mine if n not in off or n in wrong]  # an unbound number is about something else
    citation = ri.citation or "the rubric"
    if wrong:
        found = ", ".join(dict.fromkeys(n.number.raw for n in wrong))
        if exact:  # right and wrong for the same subject: no credit, but not a confidently wrong fact
            return Verdict(0.0, f"You give both {exact[0].number.raw} and {found} {c.subject}; say which one is the "
                                f"legal limit ({citation}: {c.bound}) and what the other is for.",
                           evidence="; ".join(quote(n.snippet) for n in (exact[0], wrong[0])))
        return Verdict(0.0, f"You give {found} {c.subject}; {citation} sets {c.bound}.",
                       evidence="; ".join(quote(n.snippet) for n in wrong[:2]), wrong=True)
    if exact:
        return Verdict(1.0, f"States {exact[0].number.raw} {c.subject} ({citation}: {c.bound}).",
                       evidence=quote(exact[0].snippet))
    if not mine:
        return Verdict(0.0, f"No duration stated {c.subject}.")
    found = ", ".join(dict.fromkeys(n.number.raw for n in mine))
    return Verdict(c.stricter_credit,
                   f"You give {found} {c.subject}: stricter than the law, fine as an internal target, "
                   f"but also state the legal limit ({c.bound}).", evidence=quote(mine[0].snippet))


# --------------------------------------------------------------------------- co-occurrence


@dataclass(frozen=True)
class _Unit:
    text: str
    context: str
    snippets: tuple[Snippet, ...]


def _units(doc: Document, scope: str) -> list[_Unit]:
    content = doc.content
    if scope == "sentence":  # anchors may sit in a list's lead-in or a table's header, not a heading
        return [_Unit(s.text, s.lead, (s,)) for s in content]
    if scope == "block":
        blocks: dict[int, list[Snippet]] = {}
        for s in content:
            blocks.setdefault(s.block, []).append(s)
        return [_Unit(" ".join(s.text for s in ss), f"{ss[0].lead} | {ss[0].heading}", tuple(ss))
                for ss in blocks.values()]
    out = []
    for i, sec in enumerate(doc.sections):
        ss = doc.in_sections([i])
        if ss:
            out.append(_Unit(" ".join(s.text for s in ss), sec.heading, tuple(ss)))
    loose = [s for s in content if s.section is None and s.source != "metadata"]
    if loose:
        out.append(_Unit(" ".join(s.text for s in loose), "", tuple(loose)))
    return out


def cooccur(ri: RubricItem, c: CooccurCheck, doc: Document, ctx: RunbookContext, env: Env) -> Verdict:
    anchors = [phrase(a) for a in c.anchors]
    exclude = [phrase(e) for e in c.exclude]
    parts = [(p.name, [phrase(r) for r in p.all_of]) for p in c.parts]
    need = c.need or len(parts)
    best: tuple[int, list[str], _Unit | None] = (0, [], None)
    for unit in _units(doc, c.scope):
        text = unit.text
        for e in exclude:
            text = e.sub(" ", text)
        in_section = any(env.in_section(c.section, s, doc) for s in unit.snippets)
        if not in_section and not all(a.search(text) or a.search(unit.context) for a in anchors):
            continue
        for con in c.contradictions:
            if phrase(con.pattern).search(text) and not any(phrase(u).search(text) for u in con.unless):
                return Verdict(0.0, con.message[0].upper() + con.message[1:] + ".",
                               evidence=quote(unit.snippets[0]), wrong=True)
        got = [name for name, rxs in parts if all(r.search(text) for r in rxs)]
        if len(got) > best[0]:
            best = (len(got), got, unit)
    n, got, found = best
    names = [p.name for p in c.parts]
    if found is None or n == 0:
        return Verdict(0.0, "Not stated (its parts must be said together: in one sentence, list or section).")
    missing = [x for x in names if x not in got]
    evidence = quote(found.snippets[0])
    if n >= need:
        return Verdict(1.0, f"States {', '.join(got)}.", evidence=evidence)
    return Verdict(n / need, f"States {', '.join(got)}; missing {', '.join(missing)}.", evidence=evidence)


# --------------------------------------------------------------------------- counting

_LIST_SPLIT = re.compile(r",|;|\band\b|\bor\b|\bplus\b|\bas well as\b", re.I)


def count(ri: RubricItem, c: CountCheck, doc: Document, ctx: RunbookContext, env: Env) -> Verdict:
    """Distinct items named: in a list, table or metadata entry under the anchor, or in a sentence after it."""
    anchor = _any(c.anchors)
    item = phrase(c.item)
    found: dict[str, Snippet] = {}

    def add(key: str, s: Snippet) -> None:
        key = re.sub(r"\s+", " ", key.lower()).strip(" .:")
        if key:
            found.setdefault(key, s)

    for s in doc.non_template:  # a terse "Owners: a, b, c" list still names them
        listed = s.source in ("table", "metadata") or s.item
        if listed and (anchor.search(f"{s.heading} | {s.lead}") or env.in_section(c.section, s, doc)):
            if c.distinct == "items":
                if item.search(s.text):
                    add(s.text[:60], s)
            else:
                for m in item.finditer(s.text):
                    add(m.group(0), s)
            continue
        if s.keywords:
            continue
        m = anchor.search(s.text)
        if m is None:
            continue
        if c.distinct == "items":  # "We collect the request log, the delayed labels and complaints."
            tail = s.text[m.end():]
            colon = re.match(r"[^:]{0,40}:\s*(.+)$", tail)
            for piece in _LIST_SPLIT.split(colon.group(1) if colon else tail):
                if item.search(piece) and len(piece.strip()) >= 3:
                    add(piece[:60], s)
        else:
            for mm in item.finditer(s.text):
                add(mm.group(0), s)
    n = len(found)
    evidence = "; ".join(quote(s) for s in list(found.values())[:2])
    listed = ", ".join(list(found)[:5])
    if n >= c.need:
        return Verdict(1.0, f"Names {n}: {listed}.", evidence=evidence)
    where = env.section_names(c.section)
    where = f" (under a heading such as {where}, or in a sentence that names them)" if where else ""
    if n == 0:
        return Verdict(0.0, f"None named{where}.")
    return Verdict(n / c.need, f"Names only {n} ({listed}); at least {c.need} expected.", evidence=evidence)


# --------------------------------------------------------------------------- ordering


def before(ri: RubricItem, c: BeforeCheck, doc: Document, ctx: RunbookContext, env: Env) -> Verdict:
    preserve, objects, change, conn = _any(c.preserve), _any(c.objects), _any(c.change), _any(c.connectors)

    def preserves(t: str) -> bool:
        return bool(preserve.search(t) and objects.search(t))

    for s in doc.content:
        if preserves(s.text) and change.search(s.text) and conn.search(s.text):
            return Verdict(1.0, "Preserves the evidence before changing the system.", evidence=quote(s))
    blocks: dict[int, list[Snippet]] = {}
    for s in doc.content:
        if s.item or s.source == "table":
            blocks.setdefault(s.block, []).append(s)
    incident = phrase(r"incident|roll[\s-]*back|corrective|investigat|evidence|serious|malfunction|when (?:things|it|"
                      r"something) goes? wrong")
    wrong: Verdict | None = None
    for ss in blocks.values():
        keep = next((k for k, s in enumerate(ss) if preserves(s.text)), None)
        act = next((k for k, s in enumerate(ss) if change.search(s.text) and not preserves(s.text)), None)
        if keep is not None and act is not None:
            if keep < act:
                return Verdict(1.0, "Preserves the evidence (a step before) changing the system.",
                               evidence=f"{quote(ss[keep])} then {quote(ss[act])}")
            if incident.search(f"{ss[0].heading} | {ss[0].lead}"):  # a release checklist is not an incident's
                wrong = wrong or Verdict(0.0, "Your steps change the system before the evidence is preserved.",
                                         evidence=f"{quote(ss[act])} before {quote(ss[keep])}", wrong=True)
    if wrong:
        return wrong
    return Verdict(0.0, "No step preserves the evidence before the system is changed.")


# --------------------------------------------------------------------------- thresholds


def metrics_thresholds(ri: RubricItem, c: MetricsThresholdsCheck, doc: Document, ctx: RunbookContext,
                       env: Env) -> Verdict:
    names = {cat: "|".join(f"(?:{p})" for p in pats) for cat, pats in c.categories.items()}
    found = find_values(doc, names, cues="|".join(f"(?:{p})" for p in c.cues))
    cats = list(c.categories)
    got = [k for k in cats if k in found]
    missing = [k for k in cats if k not in found]
    evidence = "; ".join(quote(found[k][0].snippet) for k in got[:3])
    if not got:
        return Verdict(0.0, "No metric is given a numeric alert threshold.")
    if not missing:
        return Verdict(1.0, f"Gives numeric thresholds for {', '.join(got)} metrics.", evidence=evidence)
    return Verdict(len(got) / len(cats), f"Gives thresholds for {', '.join(got)} but not for {', '.join(missing)}.",
                   evidence=evidence)


def name_pattern(key: str) -> str:
    """A monitored column or metric as people write it; a dotted config path keeps its specific parts.

    >>> bool(re.search(name_pattern("years_experience"), "years experience drift"))
    True
    >>> bool(re.search(name_pattern("performance.roc_auc.min"), "roc-auc below 0.72"))
    True
    """
    generic = {"min", "max", "threshold", "data_drift", "columns", "column", "performance", "default", "metric",
               "prediction_drift", "max_drop"}
    parts = [p for p in key.lower().split(".") if p]
    keep = [p for p in parts if p not in generic] or parts
    words = [w for p in keep for w in re.split(r"[\s_\-]+", p) if w]
    return r"[\s_.\-]*".join(re.escape(w) for w in words) + r"(?![a-z0-9])"


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def thresholds_match(ri: RubricItem, c: ThresholdsMatchCheck, doc: Document, ctx: RunbookContext,
                     env: Env) -> Verdict:
    config = ctx.monitoring_thresholds or {}
    if not config:
        return Verdict(0.0, "monitoring.yaml gives no thresholds to compare with.")
    names = {k: name_pattern(k) for k in sorted(config)}
    cues = [phrase("|".join(f"(?:{p})" for p in c.cues))]
    quoted = find_values(doc, names, cues="|".join(f"(?:{p})" for p in c.cues))
    matched, mismatched = [], []
    for key, ns in quoted.items():
        want = config[key]
        if any(_close(n.number.value, want) or _close(n.number.fraction(), want) for n in ns):
            matched.append(key)
            continue
        bound = [n for n in ns if bound_here(n, phrase(names[key]), cues)]
        if bound:
            mismatched.append((key, bound))
    if mismatched:
        msgs = [f"{key}: the runbook says {', '.join(dict.fromkeys(n.number.raw for n in ns))}, "
                f"monitoring.yaml says {fmt(config[key])}" for key, ns in mismatched]
        return Verdict(0.0, "Thresholds disagree with monitoring.yaml (" + "; ".join(msgs) + ").",
                       evidence=quote(mismatched[0][1][0].snippet), wrong=True)
    need = min(c.need, len(config))
    if not matched:
        return Verdict(0.0, "None of the thresholds in monitoring.yaml is quoted.")
    ok = ", ".join(sorted(matched))
    if ctx.config_useful is False:
        return Verdict(0.0, f"Quotes thresholds that match monitoring.yaml ({ok}), but the hidden replay found that "
                            "config no better than its baselines (see the drift items): agreeing with a config "
                            "that does not detect drift earns nothing. Tune monitoring.yaml, then quote it.")
    if len(matched) >= need:
        return Verdict(1.0, f"Quotes thresholds that match monitoring.yaml ({ok}).")
    return Verdict(len(matched) / need, f"Quotes {ok} correctly; quote at least {need} of your thresholds.")


# --------------------------------------------------------------------------- rollback

_LAB_CMD = re.compile(r"(?:^|[\s$>`])(lab(?:\s+[a-z][\w-]*){1,2})", re.I)
_TARGET = re.compile(r"(?:--to\s*=?\s*|\bback to (?:version|v)\s*#?|\brestor\w* (?:version|v)\s*#?|"
                     r"\b(?:roll\w*|revert\w*) (?:\w+ ){0,3}?to (?:version|v)\s*#?)(\d+)\b", re.I)


_NOT = re.compile(r"\b(?:not|never|avoid|instead of|rather than)\b|n't\b", re.I)


def _bad_target(scope: Sequence[Snippet], ctx: RunbookContext) -> Verdict | None:
    """A rollback to the defective release, or to a version the registry does not have."""
    for s in scope:
        for m in _TARGET.finditer(s.text):
            if _NOT.search(s.text[max(0, m.start() - 40) : m.start()]):
                continue  # "never roll back to version 3"
            v = int(m.group(1))
            if v in ctx.defective_versions:
                return Verdict(0.0, f"The procedure rolls back to version {v}, the defective release; roll back to a "
                                    f"known-good version.", evidence=quote(s), wrong=True)
            if ctx.registered_versions and v not in ctx.registered_versions:
                known = ", ".join(str(x) for x in ctx.registered_versions)
                return Verdict(0.0, f"The procedure rolls back to version {v}, which the registry does not have "
                                    f"(versions {known}).", evidence=quote(s), wrong=True)
    return None


def rollback(ri: RubricItem, c: RollbackCheck, doc: Document, ctx: RunbookContext, env: Env) -> Verdict:
    rx = _any(c.context)
    in_sections = set(doc.sections_matching(rx))
    sec_rx = env.section_regex(c.section)
    if sec_rx is not None:
        in_sections |= set(doc.sections_matching(sec_rx))
    scope = list(doc.in_sections(in_sections))
    scope += [s for s in doc.content if rx.search(s.text) and s not in scope]
    if not scope:
        return Verdict(0.0, "No rollback or corrective-action procedure.")
    name_rx = re.compile(rf"(?<![\w-]){re.escape(ctx.model_name)}(?![\w-])", re.I)
    named = [s for s in scope if name_rx.search(s.text)]
    real = sorted(ctx.real_commands, key=len, reverse=True)
    used: list[str] = []
    unknown: list[str] = []
    for s in scope:
        for cmd in real:
            if re.search(rf"(?<![\w-]){re.escape(cmd)}(?![\w-])", s.text, re.I) and cmd not in used:
                used.append(cmd)
        codes = list(s.code) if s.source != "code" else [s.text]
        for code in codes:
            for m in _LAB_CMD.finditer(code):
                words = m.group(1).split()
                candidates = {" ".join(words[:k]).lower() for k in (2, 3)}
                if real and not any(r.lower() in candidates for r in real):
                    unknown.append(" ".join(words[:2]))
    bad = _bad_target(scope, ctx)
    if bad is not None:
        return bad
    if unknown:
        names = ", ".join(dict.fromkeys(unknown))
        return Verdict(0.0, f"The procedure uses {names}, which the lab does not have; real commands: "
                            f"{', '.join(ctx.real_commands)}.", evidence=quote(scope[0]), wrong=True)
    if named and used:
        return Verdict(1.0, f"Rolls back {ctx.model_name} with {', '.join(used)}.", evidence=quote(named[0]))
    if used:
        return Verdict(0.5, f"Uses {', '.join(used)} but does not name the model ({ctx.model_name}).",
                       evidence=quote(scope[0]))
    if named:
        return Verdict(0.5, f"Names {ctx.model_name} but no lab command to run.", evidence=quote(named[0]))
    return Verdict(0.0, "The procedure names neither the model nor a command.", evidence=quote(scope[0]))
