"""Grades ``model_card.md`` against the model registry (skill "model_card").

A strong card (Mitchell et al. 2019; the Hugging Face template's headings and the
synonyms the rubric lists are accepted) fills every section with statements about this model, names the
registered model, version and MLflow run it documents, quotes metrics that match what
that run logged, reports results per sensitive group and names the group the numbers
show disadvantaged, states intended and out-of-scope use and, for a high-risk system,
human oversight and a pointer to the post-market monitoring plan. Facts may sit in the
YAML metadata (``model-index`` included), in tables or in prose. Items, points and
feedback are data (``rubrics/model_card.yaml``, see :mod:`lab.grading.card_rubric`);
the facts are read by :mod:`lab.grading.card_facts`.

Each quoted metric has its share of the metrics item; a wrong number costs its share:

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

from collections.abc import Callable, Sequence
from typing import Any

from lab.grading.card_checks import CardChecks, Verdict, quote
from lab.grading.card_facts import CardContext, Claim, RegisteredVersion, group_pattern
from lab.grading.card_groups import GroupClaim, disadvantaged_end
from lab.grading.card_rubric import CardItem, CardRubric, load_card_rubric
from lab.grading.items import Item
from lab.grading.markdown import parse_markdown
from lab.core.paths import TEMPLATE_DIR, read_template

__all__ = ["CardContext", "RegisteredVersion", "card_context_from_registry", "grade_model_card", "group_pattern"]

TEMPLATE_PATH = TEMPLATE_DIR / "model_card.md"
SKILL = "model_card"


def grade_model_card(text: str | None, ctx: CardContext, *, template: str | None = None,
                     rubric: CardRubric | None = None) -> list[Item]:
    """Score ``model_card.md`` (None: the file is missing); max points sum to 100.

    ``template`` is the untouched template (default: ``runbooks/model_card.md``); lines
    copied from it unchanged are not credited.
    """
    rubric = rubric or load_card_rubric()
    plan = _plan(ctx, rubric)
    if text is None:
        return [Item(id=i, skill=SKILL, title=t, points=0.0, max_points=p, feedback="model_card.md is missing.",
                     citation=c, details=_details(rubric, False)) for i, t, p, c, _, _ in plan]
    if template is None:
        template = read_template(TEMPLATE_PATH)
    doc = parse_markdown(text, template=template)
    card = CardFacts(CardChecks(doc, ctx, rubric))
    items = []
    for item_id, title, points, citation, spec, fn in plan:
        v = fn(card)
        score = max(0.0, min(1.0, v.score))
        feedback = v.reason if score >= 1.0 else f"{v.reason} {spec.feedback}".strip()
        if doc.metadata_error and score < 1.0:
            feedback += f" (Not read: {doc.metadata_error}.)"
        details = {**_details(rubric, v.wrong), **(v.details or {})}
        items.append(Item(id=item_id, skill=SKILL, title=title, points=round(points * score, 6),
                          max_points=round(points, 6), feedback=feedback, evidence=v.evidence, citation=citation,
                          details=details))
    return items


def _details(rubric: CardRubric, wrong: bool) -> dict[str, Any]:
    return {"rubric_version": rubric.rubric_version, "wrong": wrong}


Plan = list[tuple[str, str, float, str | None, CardItem, Callable[["CardFacts"], Verdict]]]


def _plan(ctx: CardContext, rubric: CardRubric) -> Plan:
    plan: Plan = []
    for spec in rubric.applicable(ctx.risk_class):
        citation = spec.citation_if_high if ctx.risk_class == "high" and spec.citation_if_high else spec.citation
        if spec.check == "section":
            for sec in rubric.sections:
                plan.append((f"{spec.id}.{sec.id}", spec.title.format(title=sec.title), spec.points, citation, spec,
                             lambda f, sid=sec.id: f.checks.section(sid)))
        elif spec.check == "groups":
            attrs = list(ctx.sensitive_attributes)
            if not attrs:
                plan.append((spec.id, "Per-group results", spec.points, None, spec,
                             lambda f: Verdict(1.0, "The scenario has no sensitive attributes to report on.")))
            for attr in attrs:
                plan.append((f"{spec.id}.{attr}", spec.title.format(attr=attr), spec.points / len(attrs), citation,
                             spec, lambda f, attr=attr: f.gated(f.groups(attr))))
        else:
            plan.append((spec.id, spec.title, spec.points, citation, spec, _CHECKS[spec.check]))
    return plan


_CHECKS: dict[str, Callable[["CardFacts"], Verdict]] = {
    "model_name": lambda f: f.gated(f.checks.model_name()),
    "version": lambda f: f.gated(f.version()),
    "run_id": lambda f: f.gated(f.run_id()),
    "metrics": lambda f: f.gated(f.metrics()),
    "disadvantaged": lambda f: f.disadvantaged(),
    "uses": lambda f: f.checks.uses(),
    "oversight": lambda f: f.checks.oversight(),
    "monitoring_link": lambda f: f.checks.monitoring_link(),
}


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


class CardFacts:
    """The registry checks: identity, metrics, per-group results and the disadvantaged group."""

    def __init__(self, checks: CardChecks) -> None:
        self.checks = checks
        self.ctx, self.rubric = checks.ctx, checks.rubric
        self.card_version = checks.card_version
        self.claims = [c for c in checks.claims if c.population == "evaluation"]
        self.live = [c for c in checks.claims if c.population == "live"]
        self._disadvantaged = self._judge_groups()  # before any section is judged: wrong claims void a section

    # ------------------------------------------------------------- identity

    def gated(self, v: Verdict) -> Verdict:
        """Registry facts (identity, metrics) earn their points only in a card that documents the model.

        Pasting the name, version, run id and metrics from ``lab status`` above a list of
        keywords documents nothing: below ``substance_gate.min_sections`` sections with
        facts about the model, these items earn ``substance_gate.factor`` of their score.
        """
        gate = self.rubric.substance_gate
        n = self.checks.fact_sections()
        if v.score <= 0 or n >= gate.min_sections:
            return v
        return Verdict(v.score * gate.factor, f"{v.reason} But only {n} section(s) state facts about this model; "
                                              f"registry facts alone document nothing (at least {gate.min_sections} "
                                              f"needed for full credit).", v.evidence, v.wrong, v.details)

    def version(self) -> Verdict:
        v, ev, champ = self.checks.claimed_version, self.checks.version_evidence, self.ctx.champion_version
        known = ", ".join(str(x.version) for x in self.ctx.versions)
        if v is None:
            return Verdict(0.0, f"The card does not say which registered version it documents (champion is "
                                f"version {champ}).")
        if self.ctx.version(v) is None:
            return Verdict(0.0, f"The card documents version {v}, which the registry does not have (versions: "
                                f"{known}).", evidence=ev, wrong=True)
        if v != champ:
            return Verdict(0.0, f"The card documents version {v}, but champion points at version {champ}: "
                                f"document the model that serves.", evidence=ev, wrong=True)
        return Verdict(1.0, f"Documents version {v}, the champion.", evidence=ev)

    def run_id(self) -> Verdict:
        ids = self.checks.run_ids()
        champ = self.ctx.version(self.ctx.champion_version)
        if not ids:
            return Verdict(0.0, "No MLflow run id: give the 32-character run id of the documented version so "
                                "its metrics and data can be traced.")
        if champ is None:
            return Verdict(0.0, "Cannot check the run id: the champion is not in the registry snapshot.")
        for rid, s in ids:
            if rid == champ.run_id.lower():
                return Verdict(1.0, f"Run id {rid[:8]}... is the run of version {champ.version}, the champion.",
                               evidence=quote(s))
        rid, s = ids[0]
        owner = next((x for x in self.ctx.versions if x.run_id.lower() == rid), None)
        where = f"it is the run of version {owner.version}" if owner else "no registered version has it"
        return Verdict(0.0, f"Run id {rid} is not the champion's (version {champ.version}, run {champ.run_id}); "
                            f"{where}.", evidence=quote(s), wrong=True)

    # ------------------------------------------------------------- metrics

    def _logged(self, c: Claim) -> tuple[RegisteredVersion, float] | None:
        v = self.ctx.version(c.version if c.version is not None else self.card_version)
        if v is None:
            return None
        for key in (c.key, self.rubric.metric_aliases.get(c.key, "")):
            if key in v.metrics:
                return v, v.metrics[key]
        return None

    def _check(self, claims: Sequence[Claim]) -> tuple[dict[tuple[int, str], bool], list[str], list[Claim],
                                                       Claim | None]:
        """Per (version, key): True when every claim of it matches; the mismatches; the claims that
        matched; the first claim that did not (for the item's evidence)."""
        ledger: dict[tuple[int, str], bool] = {}
        bad: list[str] = []
        ok: list[Claim] = []
        first_bad: Claim | None = None
        for c in claims:
            found = self._logged(c)
            if found is None:
                continue
            v, logged = found
            accepted = [logged, *self.ctx.values_for(c.key, v)[1:]]  # an approval-rate ratio, where flags are adverse
            good = any(abs(c.value - x) <= self.rubric.tolerance + 1e-9 for x in accepted)
            ledger[(v.version, c.key)] = ledger.get((v.version, c.key), True) and good
            if good:
                ok.append(c)
            else:
                first_bad = first_bad or c
                said = (f"an approval rate of {c.source.number.raw} (a selection rate of {_fmt(c.value)})"
                        if c.approval else c.source.number.raw)
                bad.append(f"{c.key}: the card says {said}, run {v.run_id[:8]} (v{v.version}) logged {_fmt(logged)}")
        return ledger, list(dict.fromkeys(bad)), ok, first_bad

    @staticmethod
    def _per_group(c: Claim) -> bool:
        return c.key.count(".") == 2

    def metrics(self) -> Verdict:
        r = self.rubric
        overall = [c for c in self.claims if not self._per_group(c)]
        ledger, bad, ok, first_bad = self._check(overall)
        group_ledger, _, _, _ = self._check([c for c in self.claims if self._per_group(c)
                                             and c.version in (None, self.card_version)])
        card = self.ctx.version(self.card_version)
        own = {k: good for k, good in ledger.items() if card is not None and k[0] == card.version}
        shares = set(own)
        if card is not None and r.headline_metric in card.metrics:
            shares.add((card.version, r.headline_metric))
        has_groups = card is not None and any(self._per_group_key(k) for k in card.metrics)
        # Another version's numbers earn nothing (the card documents one model) but cost when wrong.
        right, wrong = sum(own.values()), sum(1 for x in ledger.values() if not x)
        group_right = sum(group_ledger.values())
        group_slot = int(group_right >= 1 and group_right >= len(group_ledger) - group_right) if has_groups else 0
        logged = {k for k in (card.metrics if card else {}) if k in r.metrics or k.startswith("disparate_impact.")}
        need = min(r.min_quoted, len(logged))  # a run that logged two metrics cannot be quoted three times
        denom = max(len(shares), need, 1) + (1 if has_groups else 0)
        score = max(0.0, (right - wrong + group_slot) / denom)
        details: dict[str, Any] = {"mismatches": bad, "shares": denom, "matched": right, "wrong": wrong > 0,
                                   "live": [f"{c.key} {c.source.number.raw}" for c in self.live]}
        notes = []
        if bad:
            notes.append("Metrics disagree with MLflow, each costing its share: " + "; ".join(bad) + ".")
        if ok:
            named = sorted({k for (_, k), good in own.items() if good}) + (["per-group values"] if group_slot else [])
            notes.append(f"{right + group_slot} of {denom} shares match the run within {r.tolerance} "
                         f"({', '.join(named)}).")
        missing = []
        if card is not None and (card.version, r.headline_metric) not in own and r.headline_metric in card.metrics:
            missing.append(f"the headline metric {r.headline_metric}")
        if has_groups and not group_slot:
            missing.append("per-group values that match")
        if len(shares) < need:
            missing.append(f"at least {need} logged metrics")
        if missing:
            notes.append("Missing for full credit: " + ", ".join(missing) + ".")
        if not ledger and not bad:
            notes.append("No metric values found that can be checked against the run.")
        if self.ctx.positive_for_person == "adverse" and any(c.key.startswith("disparate_impact.") for c in overall):
            notes.append(f"Here a positive decision means {self.ctx.decision_meaning}: the logged disparate impact "
                         f"is the lowest group selection rate over the highest, so it compares flag rates, not "
                         f"approval rates (a ratio of approval rates, lowest over highest, is accepted too).")
        if self.live:
            notes.append(f"{len(self.live)} live figure(s) in a production section were read as the champion's "
                         f"live metrics, not compared with the evaluation run: reporting drift is good practice.")
        shown = first_bad or (ok[0] if ok else None) or (self.live[0] if self.live else None)
        ev = quote(shown.source.snippet) if shown else ""
        return Verdict(score, " ".join(notes), evidence=ev, wrong=wrong > 0, details=details)

    @staticmethod
    def _per_group_key(key: str) -> bool:
        return key.count(".") == 2 and key.split(".")[0] in ("selection_rate", "tpr")

    def groups(self, attr: str) -> Verdict:
        sr_names = sorted(self.ctx.groups_of(attr, "selection_rate", self.card_version))
        tpr_names = sorted(self.ctx.groups_of(attr, "tpr", self.card_version))
        mine = [c for c in self.claims if c.key.split(".")[1:2] == [attr] and self._per_group(c)]
        ledger, bad, ok, _ = self._check(mine)
        if not sr_names:
            return Verdict(1.0 if mine else 0.0, f"No per-group metrics for {attr} were logged to compare with.")
        cur = [c for c in ok if c.version in (None, self.card_version)]
        sr = {c.key.split(".")[2] for c in cur if c.key.startswith("selection_rate.")} & set(sr_names)
        tp = {c.key.split(".")[2] for c in cur if c.key.startswith("tpr.")} & set(tpr_names)
        sr_share, tp_share = (0.6, 0.4) if tpr_names else (1.0, 0.0)
        wrong_cost = sum(tp_share / len(tpr_names) if k.startswith("tpr.") and tpr_names else sr_share / len(sr_names)
                         for (_, k), good in ledger.items() if not good)
        score = sr_share * len(sr) / len(sr_names) + (tp_share * len(tp) / len(tpr_names) if tpr_names else 0.0)
        score = max(0.0, score - wrong_cost)
        ev = quote(cur[0].source.snippet) if cur else (quote(mine[0].source.snippet) if mine else "")
        notes = []
        if bad:
            notes.append(f"Per-group results for {attr} disagree with MLflow, each costing its share: "
                         + "; ".join(bad) + ".")
        missing_sr = [g for g in sr_names if g not in sr]
        missing_tp = [g for g in tpr_names if g not in tp]
        if not missing_sr and not missing_tp and not bad:
            return Verdict(1.0, f"Selection rate and TPR match MLflow for every {attr} group "
                                f"({', '.join(sr_names)}).", evidence=ev)
        gaps = []
        if missing_sr:
            gaps.append(f"selection rate for {', '.join(missing_sr)}")
        if missing_tp:
            gaps.append(f"TPR for {', '.join(missing_tp)}")
        if gaps:
            notes.append(f"Per-group results for {attr} are incomplete: missing {'; '.join(gaps)}.")
        return Verdict(score, " ".join(notes), evidence=ev, wrong=bool(bad), details={"mismatches": bad})

    # ------------------------------------------------------------- the disadvantaged group

    def disadvantaged(self) -> Verdict:
        return self._disadvantaged

    def _rate_name(self, measure: str) -> str:
        """What the registered rate counts, in the scenario's terms ("share flagged as likely default")."""
        if measure == "tpr":
            return "TPR"
        if self.ctx.positive_for_person == "favourable":
            return "selection rate"
        return f"selection rate (share {self.ctx.decision_meaning.split(' (')[0].strip()})"

    def _truth(self, sr: dict[str, dict[str, float]]) -> str:
        """Which group the registry shows disadvantaged, per attribute, in the scenario's terms."""
        if self.ctx.positive_for_person == "favourable":
            lows = "; ".join(f"{a}: lowest selection rate for {g} ({_fmt(v[g])})"
                             for a, v in sr.items() for g in [min(v, key=v.get)])
            return f"The registry says {lows}."
        highs = "; ".join(f"{a}: {hi} most often ({_fmt(v[hi])}; least often {lo}, {_fmt(v[lo])})"
                          for a, v in sr.items() for hi, lo in [(max(v, key=v.get), min(v, key=v.get))])
        return (f"In this scenario a positive decision means {self.ctx.decision_meaning}, which is adverse for "
                f"the person, so the disadvantaged group is the one decided positive most often (the highest "
                f"selection rate). The registry says {highs}.")

    def _judge_groups(self) -> Verdict:
        """Each statement about groups, read in the scenario's terms (see ``disadvantage_cues`` in the
        rubric): where a positive decision is favourable the disadvantaged group has the lowest
        selection rate (or TPR), where it is adverse the highest selection rate. With an adverse
        decision a per-group TPR says how often a group's defaulters are declined, which is neither
        better nor worse for the person, so TPR statements and statements that name no rate are
        not graded there (neither credited nor wrong)."""
        ctx, tol = self.ctx, self.rubric.tolerance
        if not ctx.sensitive_attributes:
            return Verdict(1.0, "The scenario has no sensitive attributes to report on.")
        rates = {(a, m): ctx.groups_of(a, m, self.card_version) for a in ctx.sensitive_attributes
                 for m in ("selection_rate", "tpr")}
        sr = {a: rates[(a, "selection_rate")] for a in ctx.sensitive_attributes if rates[(a, "selection_rate")]}
        if not sr:
            named = bool(self.checks.group_claims)
            return Verdict(1.0 if named else 0.0, "No per-group selection rates were logged to compare the group "
                                                  "the card names with.")
        adverse = ctx.positive_for_person == "adverse"
        worst = disadvantaged_end(ctx.positive_for_person)
        truth = self._truth(sr)
        right: list[tuple[GroupClaim, tuple[str, ...]]] = []
        wrong: list[tuple[GroupClaim, str, bool]] = []
        unread: list[GroupClaim] = []
        for gc in self.checks.group_claims:
            if gc.kind == "parity":
                spread = {a: max(v.values()) - min(v.values()) for a, v in sr.items()}
                uneven = {a: d for a, d in spread.items() if d > self.rubric.parity_tolerance}
                if uneven:
                    a, d = max(uneven.items(), key=lambda kv: kv[1])
                    wrong.append((gc, f"the card says groups are treated alike, but {a} "
                                      f"{self._rate_name('selection_rate')}s differ by {_fmt(d)}", True))
                continue
            end = gc.positive_end(ctx.positive_for_person)
            measures = ("selection_rate", "tpr") if gc.measure == "any" else (gc.measure,)
            if adverse:
                measures = tuple(m for m in measures if m != "tpr")
            if end is None or not measures:
                unread.append(gc)
                continue
            verdicts = [self._group_claim_holds(gc, end, m, rates.get((gc.attr, m), {}), tol) for m in measures]
            verdicts = [v for v in verdicts if v is not None]
            if not verdicts:
                continue
            names = gc.groups if end == worst else gc.ref  # "men are advanced more often than women": women
            if any(ok for ok, _ in verdicts):
                if names:
                    right.append((gc, names))
            else:
                wrong.append((gc, verdicts[0][1], bool(names)))
        self.checks.wrong_group_claims = [gc for gc, _, _ in wrong]
        if wrong:
            gc, why, warns = wrong[0]
            what = "warns about the wrong group" if warns else "says the wrong group is favoured"
            return Verdict(0.0, f"The card {what}: {why}. {truth}", evidence=quote(gc.snippet), wrong=True,
                           details={"claims_wrong": [w for _, w, _ in wrong]})
        if right:
            named = sorted({f"{g} ({gc.attr})" for gc, gs in right for g in gs})
            why = (f" (a positive decision here means {ctx.decision_meaning}: the group decided positive most "
                   f"often is the disadvantaged one)" if adverse else "")
            return Verdict(1.0, f"Names the disadvantaged group(s) the numbers show: {', '.join(named)}{why}.",
                           evidence=quote(right[0][0].snippet))
        if not adverse:
            return Verdict(0.0, "The card does not say which group the model disadvantages (e.g. \"the lowest "
                                "selection rate is for ...\", \"... are advanced less often than ...\").")
        skipped = (f" {len(unread)} statement(s) about groups were not graded: with an adverse positive decision "
                   f"a per-group TPR, or a rate the sentence does not name, does not say who is worse off."
                   if unread else "")
        return Verdict(0.0, f"The card does not say which group the model disadvantages. {truth.split(' The registry')[0]} "
                            f"Name it (e.g. \"... are declined most often\", \"the highest rejection rate is for ...\", "
                            f"\"... are approved less often than ...\").{skipped}",
                       evidence=quote(unread[0].snippet) if unread else "")

    def _group_claim_holds(self, gc: GroupClaim, end: str, measure: str, values: dict[str, float],
                           tol: float) -> tuple[bool, str] | None:
        """Whether ``gc``'s groups sit at ``end`` of ``measure`` (on the registered positive rate), and
        if not, why, quoting the words that were read."""
        groups = [g for g in gc.groups if g in values]
        if not groups:
            return None
        name = self._rate_name(measure)
        shown = ", ".join(f"{g} {_fmt(values[g])}" for g in sorted(values, key=values.get))
        said = f'"{gc.said}" read as a {end} {name}: ' if gc.said else ""
        who = ", ".join(groups)
        if gc.kind == "lowest":
            edge = min(values.values()) if end == "low" else max(values.values())
            ok = all(abs(values[g] - edge) <= tol for g in groups)
            return ok, f"{said}{who} is not the group with the {'lowest' if end == 'low' else 'highest'} {name} ({shown})"
        ref = [g for g in gc.ref if g in values]
        if ref:
            if end == "low":
                ok = all(values[g] < values[r] + tol / 2 for g in groups for r in ref)
            else:
                ok = all(values[g] > values[r] - tol / 2 for g in groups for r in ref)
            return ok, f"{said}{who} is not {'below' if end == 'low' else 'above'} {', '.join(ref)} ({name}: {shown})"
        if end == "low":
            ok = all(values[g] < max(values.values()) - 1e-9 for g in groups)
            return ok, f"{said}{who} has the highest {name} of its attribute ({shown})"
        ok = all(values[g] > min(values.values()) + 1e-9 for g in groups)
        return ok, f"{said}{who} has the lowest {name} of its attribute ({shown})"


def card_context_from_registry(scenario: Any, versions: Sequence[dict[str, Any]], champion_version: int,
                               sensitive_attributes: Sequence[str], *,
                               features: Sequence[str] = ()) -> CardContext:
    """Build a :class:`CardContext` from a scenario and :func:`lab.release.registry.model_versions` output."""
    decision = scenario.model.decision_threshold.positive_decision
    return CardContext(
        scenario_id=scenario.id, risk_class=scenario.risk.eu_ai_act_class, risk_basis=scenario.risk.basis,
        model_name=scenario.model.name, champion_version=champion_version,
        versions=tuple(RegisteredVersion.model_validate(v) for v in versions),
        sensitive_attributes=tuple(sensitive_attributes),
        domain=getattr(scenario, "domain", "") or "", features=tuple(features),
        decision_meaning=decision.meaning, positive_for_person=decision.for_person,
    )

