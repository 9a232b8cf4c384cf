"""What a model card states, each fact bound to what it is about.

A number is bound to a metric, to the version it is stated for and to the population it
describes: the registry's evaluation run (graded), the champion's live traffic in a
section or lead-in labelled as production (reported, never compared with the run), or
another population such as the training set (ignored). A number right after "at", "@",
"threshold" or "cut-off" is a threshold, not a metric value, and a selection rate stated
as a ratio between groups is disparate impact:

>>> from lab.grading.card_rubric import load_card_rubric
>>> from lab.grading.markdown import parse_markdown
>>> ctx = CardContext(scenario_id="s", risk_class="minimal", risk_basis="-", model_name="m",
...                   champion_version=1, sensitive_attributes=["gender"],
...                   versions=[{"version": 1, "run_id": "a" * 32, "metrics": {"f1": 0.55}},
...                             {"version": 2, "run_id": "b" * 32, "metrics": {"roc_auc": 0.8}}])
>>> doc = parse_markdown("F1 at 0.5 is 0.55.\\n\\n- v2: ROC AUC 0.80\\n\\nLowest-to-highest selection rate "
...                      "ratio: gender 0.82.\\n\\n## Production\\n\\nLive ROC AUC 0.70.\\n")
>>> [(c.key, c.value, c.version, c.population) for c in extract_claims(doc, ctx, load_card_rubric())]
... # doctest: +NORMALIZE_WHITESPACE
[('decision_threshold', 0.5, None, 'evaluation'), ('f1', 0.55, None, 'evaluation'),
 ('roc_auc', 0.8, 2, 'evaluation'), ('disparate_impact.gender', 0.82, None, 'evaluation'),
 ('roc_auc', 0.7, None, 'live')]

Whether a number is a threshold is the parser's reading (:attr:`Number.threshold
<lab.grading.markdown.Number.threshold>`); this module decides which thresholds are the decision
threshold (a threshold-dependent metric "at" it, or a decision cue in its clause).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict

from lab.core.frozen import Frozen
from lab.grading.card_rubric import CardRubric, RiskClass
from lab.grading.markdown import Document, Labelled, Pattern, clause_of, label_numbers, phrase

Population = Literal["evaluation", "live"]


# --------------------------------------------------------------------------- context


class RegisteredVersion(Frozen):
    """One registry version as :func:`lab.release.registry.model_versions` returns it (extra keys ignored)."""

    model_config = ConfigDict(extra="ignore")  # the registry may say more than the card needs

    version: int
    run_id: str
    aliases: tuple[str, ...] = ()
    metrics: dict[str, float] = {}


class CardContext(Frozen):
    """What the card is checked against: the scenario and the registry when it was submitted.

    ``domain`` (the scenario's, e.g. "hiring") and ``features`` (the model's input
    columns) tell a statement about this model from generic text. ``decision_meaning`` and
    ``positive_for_person`` say what a positive decision (score at or above the decision
    threshold, counted by ``selection_rate``) means for the person: "favourable" (advanced,
    offered retention) makes the group with the lowest selection rate the disadvantaged one,
    "adverse" (flagged as likely default) the group with the highest.
    """

    scenario_id: str
    risk_class: RiskClass
    risk_basis: str
    model_name: str
    champion_version: int
    versions: tuple[RegisteredVersion, ...]
    sensitive_attributes: tuple[str, ...] = ()
    domain: str = ""
    features: tuple[str, ...] = ()
    decision_meaning: str = "selected"
    positive_for_person: Literal["favourable", "adverse"] = "favourable"

    def version(self, n: int | None) -> RegisteredVersion | None:
        return next((v for v in self.versions if v.version == n), None)

    def values_for(self, key: str, version: RegisteredVersion) -> list[float]:
        """The values a card may state for ``key`` of ``version``: the logged one and, where a
        positive decision is adverse, for ``disparate_impact.<attr>`` (logged as the lowest over the
        highest flag rate) also the ratio of approval rates (lowest over highest share not flagged),
        the four-fifths reading of the same slice. Empty when ``key`` is not logged.

        >>> ctx = CardContext(scenario_id="s", risk_class="high", risk_basis="-", model_name="m", champion_version=1,
        ...                   positive_for_person="adverse", versions=[{"version": 1, "run_id": "a" * 32, "metrics": {
        ...                   "selection_rate.age.young": 0.4, "selection_rate.age.old": 0.1,
        ...                   "disparate_impact.age": 0.25}}])
        >>> ctx.values_for("disparate_impact.age", ctx.versions[0])
        [0.25, 0.666667]
        """
        if key not in version.metrics:
            return []
        out = [version.metrics[key]]
        if self.positive_for_person == "adverse" and key.startswith("disparate_impact."):
            rates = self.groups_of(key.split(".", 1)[1], "selection_rate", version.version)
            approve = [1 - r for r in rates.values()]
            if approve and max(approve) > 0:
                out.append(round(min(approve) / max(approve), 6))
        return out

    def groups_of(self, attr: str, family: str = "selection_rate", version: int | None = None) -> dict[str, float]:
        """``{group: value}`` logged for ``family.attr.<group>`` by ``version`` (default: the champion)."""
        v = self.version(self.champion_version if version is None else version)
        prefix = f"{family}.{attr}."
        return {k[len(prefix):]: x for k, x in (v.metrics.items() if v else ()) if k.startswith(prefix)}


# --------------------------------------------------------------------------- vocabularies

_GROUP_SYNONYMS = {"female": ["female", "wom[ae]n", "girls?"], "male": ["male", "m[ae]n", "boys?"]}
_ATTR_SYNONYMS = {"gender": "gender|sex", "age_band": r"age[\s_-]*bands?|age[\s_-]*groups?|age(?![a-z])"}
_NUMBER_IN = re.compile(r"(?<![\w.])\d*\.\d+|(?<![\w.])\d+\s*%")
_NOT_A_VALUE = re.compile(r"version|run(?![a-z])|step|rows?(?![a-z])|(?<![a-z])n(?![a-z])|count|days?(?![a-z])|seed|"
                          r"share|proportion|population|support", re.I)


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
        return rf"{m.group(1)}\s*(?:-|\u2013|\u2014|to)\s*{m.group(2)}(?![0-9])"
    words = [w for w in re.split(r"[\s_\-]+", g) if w]
    return r"[\s_-]*".join(re.escape(w) for w in words) + r"(?![a-z0-9])"


def group_patterns(ctx: CardContext, attr: str) -> dict[str, str]:
    """``{group: pattern}`` for every logged group of ``attr``; the youngest age band is also
    "under 25" / "below 25" / "younger than 25" when it ends at 24 (no other band can be).

    >>> ctx = CardContext(scenario_id="s", risk_class="high", risk_basis="-", model_name="m", champion_version=1,
    ...                   versions=[{"version": 1, "run_id": "a" * 32, "metrics": {
    ...                       "selection_rate.age_band.21-24": 0.44, "selection_rate.age_band.25-34": 0.27}}])
    >>> [bool(re.search(p, "applicants under 25")) for p in group_patterns(ctx, "age_band").values()]
    [True, False]
    """
    groups = logged_groups(ctx, attr)
    bands = {g: (int(m.group(1)), int(m.group(2))) for g in groups if (m := re.fullmatch(r"(\d+)-(\d+)", g))}
    youngest = min(bands, key=lambda g: bands[g][0]) if bands else None
    out = {}
    for g in groups:
        p = group_pattern(g)
        if g == youngest:
            p += rf"|(?:under|below|younger than)[\s-]*{bands[g][1] + 1}s?(?![0-9])"
        out[g] = p
    return out


def attr_pattern(attr: str) -> str:
    """A pattern for a sensitive attribute's name ("age_band" also as "age band", "age")."""
    return _ATTR_SYNONYMS.get(attr, r"[\s_-]*".join(re.escape(w) for w in re.split(r"[_\-\s]+", attr)))


def any_of(patterns: Sequence[str]) -> re.Pattern[str]:
    """One :func:`phrase` pattern matching any of ``patterns``."""
    return phrase("|".join(f"(?:{p})" for p in patterns) or "(?!)")


def logged_groups(ctx: CardContext, attr: str) -> list[str]:
    """Every group of ``attr`` any version logged a selection rate or TPR for."""
    keys: dict[str, None] = {}
    for v in ctx.versions:
        for k in v.metrics:
            parts = k.split(".")
            if len(parts) == 3 and parts[0] in ("selection_rate", "tpr") and parts[1] == attr:
                keys[parts[2]] = None
    return sorted(keys)


def specific_pattern(ctx: CardContext, rubric: CardRubric) -> re.Pattern[str]:
    """Words that make a statement about this model: its domain, name, features, attributes, groups, versions."""
    parts = list(rubric.domains.get(ctx.domain, ()))
    name_words = [w for w in re.split(r"[\W_]+", ctx.model_name) if len(w) >= 4]
    parts += [re.escape(ctx.model_name)] + [re.escape(w) for w in name_words]
    parts += [attr_pattern(f) for f in ctx.features]
    for attr in ctx.sensitive_attributes:
        parts.append(attr_pattern(attr))
        parts += list(group_patterns(ctx, attr).values())
    parts += [r"v\d+(?![0-9])", r"version\s*:?\s*\d", r"[0-9a-f]{32}"]
    return any_of(parts)


# --------------------------------------------------------------------------- metric claims


@dataclass(frozen=True)
class Claim:
    """One number the card states: ``key`` as MLflow logs it (``selection_rate.gender.female``)."""

    key: str
    value: float
    version: int | None  # None: the version the card documents
    source: Labelled
    population: Population = "evaluation"
    approval: bool = False  # stated as an approval rate where a positive decision is adverse: value is 1 - it


def _is_live(n: Labelled, doc: Document, live_heading: re.Pattern[str], live_cue: re.Pattern[str],
             evaluation: re.Pattern[str]) -> bool:
    s = n.snippet
    if s.section is not None and any(live_heading.search(k) for k in doc.sections[s.section].path):
        return True
    for lead in (s.lead, s.lead_in):
        if lead and (live_heading.search(lead) or live_cue.search(lead)) and not evaluation.search(lead):
            return True
    if s.source == "table":
        return bool(live_heading.search(clause_of(n).split(":")[0]))
    return bool(live_cue.search(s.text[: n.number.start])) and not evaluation.search(s.text)


def extract_claims(doc: Document, ctx: CardContext, rubric: CardRubric) -> list[Claim]:
    """Every metric value the card states, bound to metric, version and population (see the module doc)."""
    cues = _Cues.of(rubric)
    found = (_claim(n, doc, ctx, rubric, cues) for n in label_numbers(doc, _claim_labels(ctx, rubric)))
    return [c for c in found if c is not None]


def _claim_labels(ctx: CardContext, rubric: CardRubric) -> dict[str, dict[str, Pattern | str]]:
    """What a number may be labelled with: the rubric's metrics, the run's groups, versions and attributes."""
    groups: dict[str, Pattern | str] = {}
    for attr in ctx.sensitive_attributes:
        for g, pattern in group_patterns(ctx, attr).items():
            groups[f"{attr}\0{g}"] = pattern
    versions: dict[str, Pattern | str] = {}
    for v in ctx.versions:
        pats = [rf"v{v.version}(?![0-9])", rf"version\s*:?\s*{v.version}(?![0-9])", rf"models:/[\w.-]+/{v.version}(?![0-9])"]
        pats += [re.escape(a) for a in v.aliases]
        versions[str(v.version)] = "|".join(pats)
    attrs: dict[str, Pattern | str] = {a: attr_pattern(a) for a in ctx.sensitive_attributes}
    return {"metric": dict(rubric.metrics), "group": groups, "version": versions, "attr": attrs}


@dataclass(frozen=True)
class _Cues:
    """The rubric's cue phrases, compiled once per card."""

    decision: re.Pattern[str]
    bound: re.Pattern[str]
    ratio: re.Pattern[str]
    live_heading: re.Pattern[str]
    live_cue: re.Pattern[str]
    evaluation: re.Pattern[str]
    other: re.Pattern[str]
    overall: re.Pattern[str]
    favourable: re.Pattern[str]
    others: list[tuple[str, re.Pattern[str]]]  # every metric but the decision threshold, as a phrase

    @classmethod
    def of(cls, rubric: CardRubric) -> _Cues:
        return cls(decision=any_of(rubric.decision_cues), bound=re.compile(rubric.bound_cues, re.I),
                   ratio=any_of(rubric.ratio_cues), live_heading=any_of(rubric.live_headings),
                   live_cue=any_of(rubric.live_cues), evaluation=any_of(rubric.evaluation_cues),
                   other=any_of(rubric.other_population_cues), overall=any_of(rubric.overall_cues),
                   favourable=any_of(rubric.disadvantage_cues.favourable),
                   others=[(k, phrase(p)) for k, p in rubric.metrics.items() if k != "decision_threshold"])


def _claim(n: Labelled, doc: Document, ctx: CardContext, rubric: CardRubric, cues: _Cues) -> Claim | None:
    """The claim one labelled number makes, or None (not a metric value, a bound, another population)."""
    metric = n.labels["metric"]
    s, num = n.snippet, n.number
    if metric is None or ("." not in num.raw and num.unit != "%" and metric != "decision_threshold"):
        return None
    clause = clause_of(n)
    if s.source == "table" and _NOT_A_VALUE.search(clause.split(":")[0]):
        return None
    u0, u1 = n.unit_span
    before = s.text[n.clause_span[0] : num.start]
    version = int(n.labels["version"]) if n.labels["version"] else None
    live = _is_live(n, doc, cues.live_heading, cues.live_cue, cues.evaluation)
    population: Population = "live" if live else "evaluation"
    threshold = n.threshold  # "F1 at 0.5", "the 0.5 decision threshold" (see lab.grading.markdown.numbers)
    if metric == "decision_threshold" and not threshold and _NUMBER_IN.search(before):
        # "accuracy at the 0.5 decision threshold is 0.734": the threshold is 0.5, 0.734 is accuracy
        ends = {k: max(m.end() for m in rx.finditer(before)) for k, rx in cues.others if rx.search(before)}
        if not ends:
            return None
        metric = max(ends, key=lambda k: ends[k])
    if threshold or metric == "decision_threshold":
        # "F1 at 0.5": a threshold-dependent metric taken at a threshold states the decision threshold
        at_only = bool(re.search(r"(?:(?<![a-z])at|@)\s*(?:the\s+|a\s+)?$", before, re.I))
        metric_at = at_only and any(rx.search(before) for k, rx in cues.others if k in rubric.threshold_metrics)
        if metric == "decision_threshold" or metric_at or cues.decision.search(clause) or cues.decision.search(s.lead):
            return Claim("decision_threshold", num.fraction(), version, n, population)
        return None
    if s.source in ("prose", "table") and cues.bound.search(s.text[u0:u1] if s.source == "prose" else clause):
        return None  # "AUC above 0.7", "alert below 0.72": a bound, not a value
    if cues.other.search(s.text[: num.start]) or cues.other.search(clause):
        return None
    value = num.fraction()
    if not 0.0 <= value <= 1.0:
        return None
    if metric == "selection_rate" and (cues.ratio.search(s.text[: num.start]) or cues.ratio.search(clause)
                                       or cues.ratio.search(s.lead)):
        metric = "disparate_impact"
    approval = (metric == "selection_rate" and ctx.positive_for_person == "adverse"
                and bool(cues.favourable.search(_mention_text(n, "metric"))))
    if approval:  # "approval rate 0.56" where a positive decision is a flag: flagged 0.44
        value = round(1.0 - value, 6)
    group = n.labels["group"]
    if group and s.source == "prose" and not (n.bound_in_unit("group") or (
            n.bound_by_clause_lead("group") and not cues.overall.search(s.text[u0:u1]))):
        # in prose a group holds for its own unit ("AUC 0.78, 0.26 for women"), or for its whole
        # clause when it opens it ("for women the selection rate is 0.26 and the TPR 0.51")
        group = None
    key = _key(metric, group, n.labels["attr"])
    return Claim(key, value, version, n, population, approval) if key else None


def _mention_text(n: Labelled, dim: str) -> str:
    """The words that gave ``n`` its label for ``dim`` ("approval rate")."""
    m = n.mentions.get(dim)
    if m is None:
        return ""
    return (n.snippet.context if n.scopes.get(dim) == "context" else n.snippet.text)[m.start:m.end]


def _key(metric: str, group: str | None, attr: str | None) -> str | None:
    if group:
        g_attr, g = group.split("\0")
        if metric in ("selection_rate", "tpr", "recall"):
            return f"{'selection_rate' if metric == 'selection_rate' else 'tpr'}.{g_attr}.{g}"
        return None  # a ratio between two named groups is not the attribute's lowest-to-highest ratio
    if metric == "disparate_impact":
        return f"disparate_impact.{attr}" if attr else None
    return "recall" if metric == "tpr" else metric
