"""Grades ``model_card.md`` against the model registry (skill "model_card").

A strong card (Mitchell et al. 2019; the Hugging Face template's headings and common
synonyms are accepted) has every section filled in with real content, names the
registered model, version and MLflow run it documents, quotes metrics that match
what that run logged, reports results per sensitive group, states intended and
out-of-scope use and, for a high-risk system, human oversight and a pointer to the
post-market monitoring plan. Facts may sit in the YAML metadata (``model-index``
included), in tables or in prose.

>>> ctx = CardContext(scenario_id="s", risk_class="minimal", risk_basis="Not in Annex III",
...                   model_name="churn-predictor", champion_version=1,
...                   versions=[{"version": 1, "run_id": "a" * 32, "metrics": {"roc_auc": 0.81, "accuracy": 0.9}}],
...                   sensitive_attributes=[])
>>> items = grade_model_card("# churn-predictor\\nVersion 1 reaches a ROC AUC of 0.85 and accuracy 0.90.", ctx)
>>> item = next(i for i in items if i.id == "card.metrics.match")
>>> item.points, item.details["mismatches"]
(0.0, ['roc_auc: the card says 0.85, run aaaaaaaa (v1) logged 0.81'])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from lab.grading.items import Item
from lab.grading.markdown import (
    FUNCTION_WORDS,
    Document,
    Labelled,
    Pattern,
    Snippet,
    clause_of,
    label_numbers,
    parse_markdown,
    phrase,
    unit_of,
)

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "runbooks" / "model_card.md"
SKILL = "model_card"
TOLERANCE = 0.01  # absolute, on metrics in [0, 1]
RiskClass = Literal["prohibited", "high", "limited", "minimal"]


# --------------------------------------------------------------------------- context


class RegisteredVersion(BaseModel):
    """One registry version as :func:`lab.registry.model_versions` returns it (extra keys ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int
    run_id: str
    aliases: tuple[str, ...] = ()
    metrics: dict[str, float] = {}


class CardContext(BaseModel):
    """What the card is checked against: the scenario and the registry when it was submitted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario_id: str
    risk_class: RiskClass
    risk_basis: str
    model_name: str
    champion_version: int
    versions: tuple[RegisteredVersion, ...]
    sensitive_attributes: tuple[str, ...] = ()
    monitoring_thresholds: dict[str, float] | None = None

    def version(self, n: int | None) -> RegisteredVersion | None:
        return next((v for v in self.versions if v.version == n), None)


# --------------------------------------------------------------------------- vocabularies

#: Section groups: (id, title, heading pattern, headings that must not count, fact pattern).
SECTIONS: tuple[tuple[str, str, str, str | None], ...] = (
    ("model_details", "Model details",
     r"model (?:details|description|overview|information|summary)|overview|about (?:the|this) model|^model$", None),
    ("intended_use", "Intended use",
     r"intended (?:uses?|purpose)|primary (?:intended )?uses?|^uses?$|direct use|downstream use|use cases?|purpose",
     r"out of scope|misuse|not intended|prohibited|limitations"),
    ("factors", "Factors", r"factors|subgroups?|^groups|demographic|sensitive (?:attributes|features)|protected", None),
    ("metrics", "Metrics", r"metrics|performance measures|measures|decision threshold", None),
    ("evaluation_data", "Evaluation data",
     r"evaluation data|testing data|test data|eval data|evaluation set|test set|validation data|held ?out", None),
    ("training_data", "Training data",
     r"training data|training set|training details|data used (?:for|in) training", None),
    ("quantitative_analyses", "Quantitative analyses",
     r"quantitative analys|results|disaggregated|per group|subgroup|fairness (?:results|analysis|evaluation)|"
     r"performance by|model performance|evaluation$", None),
    ("ethical_considerations", "Ethical considerations",
     r"ethic|bias risks|risks and (?:harms|limitations)|fairness considerations|societal|^risks$|^bias", None),
    ("caveats", "Caveats and recommendations", r"caveats|recommendations|limitations|known issues|warnings", None),
)
_OUT_OF_SCOPE_HEADING = r"out of scope|misuse|not intended|prohibited use|limitations of use"
_OUT_OF_SCOPE_TEXT = (r"out[\s-]of[\s-]scope|not intended|must not be used|should not be used|"
                      r"not (?:be )?used (?:to|for|as)|"
                      r"not designed|do not use|never (?:be )?used|is not (?:suitable|meant)|misuse|prohibited")
_INTENDED_TEXT = (r"intended (?:to|for)|is used (?:to|for|by)|used by|designed to|helps?|supports?|ranks?|scores?|"
                  r"screens?|estimates?|predicts?")
METRICS: dict[str, str] = {
    "roc_auc": r"roc[\s_-]*auc|auroc|area under (?:the )?(?:roc )?curve|auc(?![a-z])",
    "accuracy": r"(?<!balanced )(?<!balanced_)accuracy",
    "f1": r"f1(?:[\s_-]*score)?(?![0-9])|f[\s-]score",
    "precision": r"(?<!average )(?<!average_)precision",
    "recall": r"recall|sensitivity",
    "selection_rate": r"selection[\s_-]*rates?|advance(?:ment)?[\s_-]*rates?|shortlist(?:ing)?[\s_-]*rates?|"
                      r"positive[\s_-]*prediction[\s_-]*rates?",
    "positive_rate": r"base[\s_-]*rates?|(?<!true )(?<!true_)(?<!false )positive[\s_-]*(?:label[\s_-]*)?rates?|"
                     r"prevalence",
    "tpr": r"tpr(?![a-z])|true[\s_-]*positive[\s_-]*rates?|equal[\s_-]*opportunity",
    "disparate_impact": r"disparate[\s_-]*impact(?:[\s_-]*ratio)?|impact[\s_-]*ratio|selection[\s_-]*rate[\s_-]*ratio|"
                        r"four[\s-]*fifths",
}
_OVERALL = ("roc_auc", "accuracy", "f1", "precision", "recall", "selection_rate", "positive_rate")
_GROUP_SYNONYMS = {"female": ["female", "wom[ae]n"], "male": ["male", "m[ae]n"]}
_ATTR_SYNONYMS = {"gender": "gender|sex", "age_band": r"age[\s_-]*bands?|age[\s_-]*groups?|age(?![a-z])"}
_NOT_A_VALUE = re.compile(r"version|run(?![a-z])|step|rows?(?![a-z])|(?<![a-z])n(?![a-z])|count|days?(?![a-z])|seed|"
                          r"share|proportion|population|support", re.I)


_BOUND = re.compile(r"threshold|cut[\s-]*off|at least|at most|above|below|under|over(?![a-z])|target|minimum|"
                    r"maximum|[<>]", re.I)


def group_pattern(group: str) -> str:
    """A pattern for a logged group name, as people write it.

    >>> import re
    >>> bool(re.fullmatch(group_pattern("50plus"), "50+")), bool(re.fullmatch(group_pattern("18-29"), "18 to 29"))
    (True, True)
    >>> bool(re.fullmatch(group_pattern("non_binary"), "non-binary"))
    True
    """
    g = group.lower()
    if g in _GROUP_SYNONYMS:
        return "(?:" + "|".join(_GROUP_SYNONYMS[g]) + ")(?![a-z0-9])"
    m = re.fullmatch(r"(\d+)plus", g)
    if m:
        n = m.group(1)
        return rf"(?:{n}\s*(?:\+|plus|and (?:over|above|older)|or (?:over|older))|(?:over|above|aged) {n}(?![0-9]))"
    m = re.fullmatch(r"(\d+)-(\d+)", g)
    if m:
        return rf"{m.group(1)}\s*(?:-|to)\s*{m.group(2)}(?![0-9])"
    words = [w for w in re.split(r"[\s_\-]+", g) if w]
    return r"[\s_-]*".join(re.escape(w) for w in words) + r"(?![a-z0-9])"


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _attr_pattern(attr: str) -> str:
    return _ATTR_SYNONYMS.get(attr, r"[\s_-]*".join(re.escape(w) for w in re.split(r"[_\-\s]+", attr)))


# --------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class _Verdict:
    score: float
    reason: str
    evidence: str = ""
    details: dict[str, Any] | None = None


def grade_model_card(text: str | None, ctx: CardContext, *, template: str | None = None) -> list[Item]:
    """Score ``model_card.md`` (None: the file is missing); max points sum to 100.

    ``template`` is the untouched template (default: ``runbooks/model_card.md``); lines
    copied from it unchanged are not credited.
    """
    plan = _plan(ctx)
    if text is None:
        return [Item(id=i, skill=SKILL, title=t, points=0.0, max_points=p, feedback="model_card.md is missing.",
                     citation=c) for i, t, p, c, _ in plan]
    if template is None:
        try:
            template = TEMPLATE_PATH.read_text(encoding="utf-8")
        except OSError:
            template = None
    doc = parse_markdown(text, template=template)
    facts = _Facts(doc, ctx)
    items = []
    for item_id, title, points, citation, fn in plan:
        v = fn(facts)
        score = max(0.0, min(1.0, v.score))
        feedback = v.reason
        if doc.metadata_error and score < 1.0:
            feedback += f" (Not read: {doc.metadata_error}.)"
        items.append(Item(id=item_id, skill=SKILL, title=title, points=round(points * score, 6), max_points=points,
                          feedback=feedback, evidence=v.evidence, citation=citation, details=v.details or {}))
    return items


def _plan(ctx: CardContext) -> list[tuple[str, str, float, str | None, Any]]:
    plan: list[tuple[str, str, float, str | None, Any]] = []
    for sid, title, _, _ in SECTIONS:
        plan.append((f"card.section.{sid}", f"Section: {title}", 3.0, None, lambda f, sid=sid: f.section(sid)))
    plan += [
        ("card.registry.model-name", "Registered model name", 4.0, None, lambda f: f.model_name()),
        ("card.registry.version", "Registered version", 5.0, None, lambda f: f.version()),
        ("card.registry.run-id", "MLflow run id of that version", 6.0, None, lambda f: f.run_id()),
        ("card.metrics.match", "Metrics match the MLflow run", 16.0, None, lambda f: f.metrics()),
    ]
    attrs = list(ctx.sensitive_attributes)
    if attrs:
        share = 20.0 / len(attrs)
        cite = "AI Act Art. 13(3)(b)" if ctx.risk_class == "high" else None  # performance on specific groups
        for attr in attrs:
            plan.append((f"card.groups.{attr}", f"Per-group results for {attr}", share, cite,
                         lambda f, attr=attr: f.groups(attr)))
    else:
        plan.append(("card.groups", "Per-group results", 20.0, None,
                     lambda f: _Verdict(1.0, "The scenario has no sensitive attributes to report on.")))
    plan.append(("card.use.intended-and-out-of-scope", "Intended use and out-of-scope use", 12.0, None,
                 lambda f: f.uses()))
    if ctx.risk_class == "high":
        plan += [
            ("card.oversight", "Human oversight described", 5.0, "AI Act Art. 14", lambda f: f.oversight()),
            ("card.pmm-link", "Points to the post-market monitoring plan", 5.0, "AI Act Art. 72",
             lambda f: f.monitoring_link()),
        ]
    else:
        plan.append(("card.monitoring-link", "Points to the monitoring runbook", 10.0, None,
                     lambda f: f.monitoring_link()))
    return plan


def _quote(s: Snippet, limit: int = 140) -> str:
    text = s.text if len(s.text) <= limit else s.text[: limit - 3] + "..."
    return f'metadata: "{text}"' if s.source == "metadata" else f'line {s.line}: "{text}"'


def _substantive(s: Snippet) -> bool:
    """A statement, not keywords: a sentence with some grammar, or a filled table row."""
    if s.source == "table":
        return sum(1 for a, b in s.units if re.search(r"[A-Za-z0-9]", s.text[a:b])) >= 2
    if s.source != "prose":
        return False
    words = re.findall(r"[A-Za-z0-9][\w'.%+-]*", s.text)
    return len(words) >= 5 and sum(1 for w in words if w.lower() in FUNCTION_WORDS) >= 2


@dataclass(frozen=True)
class _Claim:
    key: str  # the logged metric key, e.g. "selection_rate.gender.female"
    value: float
    version: int | None  # None: the version the card documents
    source: Labelled


class _Facts:
    """Everything the card claims, extracted once; one method per item."""

    def __init__(self, doc: Document, ctx: CardContext) -> None:
        self.doc, self.ctx = doc, ctx
        self.section_ids = {sid: self._sections(pat, excl) for sid, _, pat, excl in SECTIONS}
        self.details = self.doc.in_sections(self.section_ids["model_details"])
        self.claimed_version, self.version_evidence = self._claimed_version()
        self.card_version = self.claimed_version if ctx.version(self.claimed_version) else ctx.champion_version
        self.claims = self._claims()

    # ------------------------------------------------------------- sections

    def _sections(self, pattern: str, exclude: str | None) -> list[int]:
        rx, ex = re.compile(pattern), re.compile(exclude) if exclude else None
        return [i for i, s in enumerate(self.doc.sections) if rx.search(s.key) and not (ex and ex.search(s.key))]

    def section(self, sid: str) -> _Verdict:
        title = next(t for s, t, _, _ in SECTIONS if s == sid)
        found = self.section_ids[sid]
        if not found:
            return _Verdict(0.0, f"No {title} section. A strong card has one (Mitchell et al. 2019), written for "
                                 f"this model; Hugging Face template headings and common synonyms are accepted.")
        snippets = self.doc.in_sections(found)
        real = [s for s in snippets if _substantive(s)]
        heading = self.doc.sections[found[0]].heading
        if not real:
            what = "is still template text" if not snippets else "lists keywords instead of statements"
            return _Verdict(0.0, f'"{heading}" {what}. Write sentences about this model ({title.lower()}).',
                            evidence=f"line {self.doc.sections[found[0]].line}")
        if self._section_fact(sid, snippets):
            return _Verdict(1.0, f'"{heading}" is filled in.', evidence=_quote(real[0]))
        return _Verdict(0.5, f'"{heading}" is filled in but misses what makes it useful: {_SECTION_NEEDS[sid]}.',
                        evidence=_quote(real[0]))

    def _section_fact(self, sid: str, snippets: list[Snippet]) -> bool:
        text = " ".join(s.text for s in snippets)
        if sid == "factors":
            return any(phrase(_attr_pattern(a)).search(text) for a in self.ctx.sensitive_attributes) or \
                not self.ctx.sensitive_attributes
        if sid == "metrics":
            return any(phrase(p).search(text) for p in METRICS.values())
        if sid in ("evaluation_data", "training_data"):
            return bool(re.search(r"\d", text))
        if sid == "quantitative_analyses":
            return any(c.source.snippet in snippets for c in self.claims)
        if sid == "model_details":
            return bool(phrase(re.escape(self.ctx.model_name)).search(text) or re.search(r"version|v\d", text, re.I))
        return True

    # ------------------------------------------------------------- identity

    def _identity_snippets(self) -> list[Snippet]:
        """Where the card says what it documents: metadata, title, model details, then anywhere."""
        meta = [s for s in self.doc.content if s.source == "metadata"]
        rest = [s for s in self.doc.content if s not in meta and s not in self.details]
        return meta + self.details + rest

    def model_name(self) -> _Verdict:
        name = self.ctx.model_name
        rx = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.I)
        for s in self.doc.content:
            if s.source == "metadata" and re.match(r"(?:.* )?(?:model name|registered model(?: name)?|model id|model):",
                                                    s.text, re.I):
                value = s.text.split(":", 1)[1].strip()
                if value and not rx.search(value):
                    return _Verdict(0.0, f'The card names the model "{value}"; the registry holds "{name}".',
                                    evidence=_quote(s))
        if rx.search(self.doc.title):
            return _Verdict(1.0, f"Names the registered model {name}.", evidence=f'title: "{self.doc.title}"')
        hits = [s for s in self._identity_snippets() if rx.search(s.text)]
        if hits:
            return _Verdict(1.0, f"Names the registered model {name}.", evidence=_quote(hits[0]))
        return _Verdict(0.0, f"The card never names the registered model ({name}); a reader must be able to find "
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
                    return int(m.group(1)), _quote(s)
        return None, ""

    def version(self) -> _Verdict:
        v, ev, champ = self.claimed_version, self.version_evidence, self.ctx.champion_version
        known = ", ".join(str(x.version) for x in self.ctx.versions)
        if v is None:
            return _Verdict(0.0, f"The card does not say which registered version it documents (champion is "
                                 f"version {champ}).")
        if self.ctx.version(v) is None:
            return _Verdict(0.0, f"The card documents version {v}, which the registry does not have (versions: "
                                 f"{known}).", evidence=ev)
        if v != champ:
            return _Verdict(0.5, f"The card documents version {v}, but champion points at version {champ}: "
                                 f"document the model that serves.", evidence=ev)
        return _Verdict(1.0, f"Documents version {v}, the champion.", evidence=ev)

    def run_id(self) -> _Verdict:
        ids: list[tuple[str, Snippet]] = []
        for s in self._identity_snippets():
            for m in re.finditer(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", s.text.lower()):
                ids.append((m.group(0), s))
        target = self.ctx.version(self.card_version)
        if not ids:
            return _Verdict(0.0, "No MLflow run id: give the 32-character run id of the documented version so "
                                 "its metrics and data can be traced.")
        if target is None:
            return _Verdict(0.0, "Cannot check the run id: the documented version is not in the registry.")
        for rid, s in ids:
            if rid == target.run_id.lower():
                return _Verdict(1.0, f"Run id {rid[:8]}... is the run of version {target.version}.", evidence=_quote(s))
        rid, s = ids[0]
        owner = next((x for x in self.ctx.versions if x.run_id.lower() == rid), None)
        where = f"it is the run of version {owner.version}" if owner else "no registered version has it"
        return _Verdict(0.0, f"Run id {rid} does not match version {target.version} (run {target.run_id}); {where}.",
                        evidence=_quote(s))

    # ------------------------------------------------------------- metrics

    def _claims(self) -> list[_Claim]:
        ctx = self.ctx
        groups: dict[str, Pattern | str] = {}
        for attr in ctx.sensitive_attributes:
            for key in self._logged_groups(attr):
                groups[f"{attr}\0{key}"] = group_pattern(key)
        versions: dict[str, Pattern | str] = {}
        for v in ctx.versions:
            pats = [rf"v{v.version}(?![0-9])", rf"version\s*:?\s*{v.version}(?![0-9])",
                    rf"models:/[\w.-]+/{v.version}(?![0-9])"]
            pats += [re.escape(a) for a in v.aliases]
            versions[str(v.version)] = "|".join(pats)
        attrs = {a: _attr_pattern(a) for a in ctx.sensitive_attributes}
        labels = {"metric": dict(METRICS), "group": groups, "version": versions, "attr": attrs}
        out = []
        for n in label_numbers(self.doc, labels):
            metric = n.labels["metric"]
            if metric is None or ("." not in n.number.raw and n.number.unit != "%"):
                continue
            if _NOT_A_VALUE.search(clause_of(n).split(":")[0] if n.snippet.source == "table" else ""):
                continue
            if n.snippet.source == "prose" and _BOUND.search(unit_of(n)):
                continue  # "accuracy at the 0.5 threshold", "AUC above 0.7": not a value claim
            value = n.number.fraction()
            if not 0.0 <= value <= 1.0:
                continue
            group = n.labels["group"]
            version = int(n.labels["version"]) if n.labels["version"] else None
            if group:
                attr, g = group.split("\0")
                if metric in ("selection_rate", "tpr", "recall"):
                    out.append(_Claim(f"{'selection_rate' if metric == 'selection_rate' else 'tpr'}.{attr}.{g}",
                                      value, version, n))
            elif metric == "disparate_impact":
                if n.labels["attr"]:
                    out.append(_Claim(f"disparate_impact.{n.labels['attr']}", value, version, n))
            elif metric in _OVERALL or metric == "tpr":
                out.append(_Claim("recall" if metric == "tpr" else metric, value, version, n))
        return out

    def _logged_groups(self, attr: str) -> list[str]:
        versions = [self.ctx.version(self.ctx.champion_version)] + list(self.ctx.versions)
        keys: dict[str, None] = {}
        for v in versions:
            if v is None:
                continue
            for k in v.metrics:
                parts = k.split(".")
                if len(parts) == 3 and parts[0] in ("selection_rate", "tpr") and parts[1] == attr:
                    keys[parts[2]] = None
        return sorted(keys)

    def _check(self, claims: Iterable[_Claim]) -> tuple[list[_Claim], list[str]]:
        ok, bad = [], []
        for c in claims:
            v = self.ctx.version(c.version if c.version is not None else self.card_version)
            if v is None or c.key not in v.metrics:
                continue
            logged = v.metrics[c.key]
            if abs(c.value - logged) <= TOLERANCE + 1e-9:
                ok.append(c)
            else:
                bad.append(f"{c.key}: the card says {c.source.number.raw}, run {v.run_id[:8]} (v{v.version}) "
                           f"logged {_fmt(logged)}")
        return ok, list(dict.fromkeys(bad))

    def metrics(self) -> _Verdict:
        overall = [c for c in self.claims if c.key in _OVERALL or c.key.startswith("disparate_impact")]
        ok, bad = self._check(overall)
        if bad:
            return _Verdict(0.0, "Metrics disagree with MLflow: " + "; ".join(bad) + ". Quote the logged values "
                                 "(latest value of the documented version's run), to two or three decimals.",
                            evidence=_quote(overall[0].source.snippet), details={"mismatches": bad})
        mine = {c.key for c in ok if c.version in (None, self.card_version)}
        ev = _quote(ok[0].source.snippet) if ok else ""
        if len(mine) >= 2:
            return _Verdict(1.0, f"Metrics match the run within {TOLERANCE} ({', '.join(sorted(mine))}).", evidence=ev)
        if mine:
            return _Verdict(0.5, f"Only {', '.join(mine)} is quoted; give at least two of the logged metrics "
                                 "(e.g. ROC AUC, accuracy, selection rate).", evidence=ev)
        return _Verdict(0.0, "No metric values found that can be checked against the run; quote the logged "
                             "metrics of the documented version (ROC AUC, accuracy, selection rate).")

    def groups(self, attr: str) -> _Verdict:
        v = self.ctx.version(self.card_version)
        metrics = v.metrics if v else {}
        names = sorted({k.split(".")[2] for k in metrics if k.startswith(f"selection_rate.{attr}.")})
        tpr_names = sorted({k.split(".")[2] for k in metrics if k.startswith(f"tpr.{attr}.")})
        mine = [c for c in self.claims if c.key.split(".")[1:2] == [attr] and not c.key.startswith("disparate")]
        ok, bad = self._check(mine)
        if bad:
            return _Verdict(0.0, f"Per-group results for {attr} disagree with MLflow: " + "; ".join(bad) + ".",
                            evidence=_quote(mine[0].source.snippet), details={"mismatches": bad})
        if not names:
            return _Verdict(1.0 if mine else 0.0, f"No per-group metrics for {attr} were logged to compare with.")
        cur = [c for c in ok if c.version in (None, self.card_version)]
        sr = {c.key.split(".")[2] for c in cur if c.key.startswith("selection_rate.")}
        tp = {c.key.split(".")[2] for c in cur if c.key.startswith("tpr.")}
        score = 0.6 * len(sr & set(names)) / len(names) + (0.4 * len(tp & set(tpr_names)) / len(tpr_names)
                                                            if tpr_names else 0.4)
        ev = _quote(cur[0].source.snippet) if cur else ""
        missing_sr = [g for g in names if g not in sr]
        missing_tp = [g for g in tpr_names if g not in tp]
        if not missing_sr and not missing_tp:
            return _Verdict(1.0, f"Selection rate and TPR match MLflow for every {attr} group ({', '.join(names)}).",
                            evidence=ev)
        gaps = []
        if missing_sr:
            gaps.append(f"selection rate for {', '.join(missing_sr)}")
        if missing_tp:
            gaps.append(f"TPR for {', '.join(missing_tp)}")
        return _Verdict(score, f"Per-group results for {attr} are incomplete: missing {'; '.join(gaps)}. A strong "
                               f"card reports selection rate and TPR for every group, as logged "
                               f"(selection_rate.{attr}.<group>, tpr.{attr}.<group>).", evidence=ev)

    # ------------------------------------------------------------- use, oversight, monitoring

    def uses(self) -> _Verdict:
        intended_secs = self.section_ids["intended_use"]
        oos_secs = self._sections(_OUT_OF_SCOPE_HEADING, None)
        intended = [s for s in self.doc.in_sections(intended_secs) if _substantive(s)]
        intended += [s for s in self.doc.content if _substantive(s) and phrase(_INTENDED_TEXT).search(s.text)
                     and s not in intended]
        oos = [s for s in self.doc.in_sections(oos_secs) if _substantive(s)]
        oos += [s for s in self.doc.content if _substantive(s) and phrase(_OUT_OF_SCOPE_TEXT).search(s.text)
                and s not in oos]
        if intended and oos:
            return _Verdict(1.0, "States the intended use and what is out of scope.", evidence=_quote(oos[0]))
        if intended:
            return _Verdict(0.5, "States the intended use but not what is out of scope; say which uses the model "
                                 "must not be put to (and why).", evidence=_quote(intended[0]))
        if oos:
            return _Verdict(0.5, "Says what is out of scope but not the intended use (purpose, users, setting).",
                            evidence=_quote(oos[0]))
        return _Verdict(0.0, "Neither the intended use (purpose, users, setting) nor out-of-scope uses are stated.")

    def oversight(self) -> _Verdict:
        parts = {
            "human review of each decision": r"review|decid|final (?:decision|say)|approv|sign[\s-]*off|in the loop",
            "people can override the output": r"overrid|disregard|revers|overturn|reject (?:the )?(?:ranking|score)",
            "people can stop the system": r"stop|halt|pause|suspend|switch off|kill[\s-]*switch|turn off",
        }
        anchor = phrase(r"oversight|human|recruiters?|reviewers?|loan officers?|people|staff|operators?")
        secs = self._sections(r"oversight|human review|human in the loop", None)
        units = [[s for s in self.doc.in_sections(secs) if _substantive(s)]]
        units += [[s] for s in self.doc.content if _substantive(s) and anchor.search(s.text)]
        best: list[str] = []
        best_ev = ""
        for unit in units:
            text = " ".join(s.text for s in unit)
            got = [name for name, p in parts.items() if phrase(p).search(text)]
            if len(got) > len(best):
                best, best_ev = got, _quote(unit[0]) if unit else ""
        if len(best) >= 2:
            return _Verdict(1.0, f"Describes human oversight: {', '.join(best)}.", evidence=best_ev)
        strong = ("Describe human oversight (Art. 14): who reviews the outputs, that they can disregard or override "
                  "them and stop the system, and their training.")
        if best:
            return _Verdict(0.5, f"Mentions {best[0]} only. {strong}", evidence=best_ev)
        return _Verdict(0.0, strong)

    def monitoring_link(self) -> _Verdict:
        rx = phrase(r"post[\s_-]*market[\s_-]*monitoring|monitoring (?:plan|runbook)")
        link = re.compile(r"post_market_monitoring(?:\.md)?|\(\S*monitoring\S*\.md\)", re.I)
        for s in self.doc.content:
            if link.search(s.text) or (rx.search(s.text) and _substantive(s)
                                       and phrase(r"plan|runbook|document|\.md").search(s.text)):
                return _Verdict(1.0, "Points to the monitoring plan.", evidence=_quote(s))
        return _Verdict(0.0, "Link the post-market monitoring plan (post_market_monitoring.md) and say what it "
                             "covers, so a reader of the card finds how the model is watched in production.")


_SECTION_NEEDS = {
    "model_details": "the registered model name and version",
    "intended_use": "the purpose",
    "factors": "the sensitive attributes results are broken down by",
    "metrics": "which metrics are used (and the decision threshold)",
    "evaluation_data": "which data, period and size",
    "training_data": "which data, period and size",
    "quantitative_analyses": "numbers (overall and per group)",
    "ethical_considerations": "the risks",
    "caveats": "recommendations",
}


def card_context_from_registry(scenario: Any, versions: Sequence[dict[str, Any]], champion_version: int,
                               sensitive_attributes: Sequence[str],
                               monitoring_thresholds: dict[str, float] | None = None) -> CardContext:
    """Build a :class:`CardContext` from a scenario and :func:`lab.registry.model_versions` output."""
    return CardContext(
        scenario_id=scenario.id, risk_class=scenario.risk.eu_ai_act_class, risk_basis=scenario.risk.basis,
        model_name=scenario.model.name, champion_version=champion_version,
        versions=tuple(RegisteredVersion.model_validate(v) for v in versions),
        sensitive_attributes=tuple(sensitive_attributes), monitoring_thresholds=monitoring_thresholds,
    )
