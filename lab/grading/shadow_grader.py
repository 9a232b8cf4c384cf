"""Grades the shadow deployment (skill "shadow", max 24) from the evidence.

Every item reads the same facts (:func:`lab.grading.release_facts.release_facts`): a
shadow is a period in which the ``shadow`` alias pointed at a version, or in which the
serving log shows requests mirrored to it; ``shadow.started`` is not required.

* ``shadow.version``: the challenger (the answer key's ``challenger_version``) was
  shadowed before any promotion.
* ``shadow.mirrored``: at least :data:`MIN_MIRRORED` mirrored requests got an answer
  (``ok`` or ``late``) before the candidate's promotion; mirrored, answered, late,
  dropped, failed, cancelled and unanswered requests are reported separately
  (:func:`lab.release.shadow_report.shadow_counts`).
* ``shadow.clients-champion-only``: every client answer during a shadow period came
  from the champion of its moment.
* ``shadow.latency``: the champion's p99 with mirroring within :data:`LATENCY_RATIO`
  of without, on the same minutes of the run (:func:`lab.release.shadow_report.interleaved_latency`,
  which ``lab shadow report`` prints too), so machine load does not decide it.
* ``shadow.decision``: promote or keep agrees with the labelled comparison
  (:func:`lab.release.shadow_report.shadow_report`): better by more than :data:`DECISION_MARGIN`
  in ROC AUC means promote, worse means keep, in between either with a rationale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.evidence.schema import AliasMove, Evidence
from lab.grading.items import Item
from lab.grading.release_facts import (ReleaseFacts, ShadowPeriod, fmt, make_item, release_facts, substantive,
                                       version_of)
from lab.evidence.submission import Submission
from lab.release.shadow_report import counts_line, interleaved_latency, latency_samples, shadow_report, shadow_warnings

#: Requests mirrored before a shadow can speak for the candidate. 300 one-row requests
#: (75 s of traffic at the scenarios' 4 requests/s) put the standard error of an
#: accuracy or agreement estimate near 3 points, enough to see a gross regression, and
#: leave 3 samples above a p99 latency; label-based metrics need the labels on top.
MIN_MIRRORED = 300
#: Labelled mirrored rows below which the comparison is inconclusive.
MIN_LABELLED = 200
#: A shadow is "clearly" better or worse when ROC AUC differs by more than this.
DECISION_MARGIN = 0.01
#: Champion p99 latency with mirroring may be at most this multiple of without ...
LATENCY_RATIO = 1.25
#: ... or this many milliseconds above it (a tiny p99 is noisy in ratio).
LATENCY_SLACK_MS = 5.0
#: Samples needed on each side before latencies are compared.
MIN_LATENCY_SAMPLES = 100

SHADOW = "shadow"
PLAN = (("shadow.version", "Shadowed the candidate before any promotion", 5.0),
        ("shadow.mirrored", f"Mirrored at least {MIN_MIRRORED} requests", 4.0),
        ("shadow.clients-champion-only", "Clients were answered by the champion only", 4.0),
        ("shadow.latency", "Champion latency unaffected by mirroring", 3.0),
        ("shadow.decision", "Promote-or-keep decision agrees with the labelled comparison", 8.0))
TITLES = {i: t for i, t, _ in PLAN}
MAX = {i: p for i, _, p in PLAN}


@dataclass(frozen=True)
class _Ctx:
    ev: Evidence
    facts: ReleaseFacts
    cand: int
    periods: list[ShadowPeriod]  # the candidate's
    before: list[ShadowPeriod]  # the candidate's, begun before any promotion
    promo: AliasMove | None  # the candidate's promotion


def _item(id_: str, share: float, feedback: str, evidence: str = "", citation: str | None = None,
          **details: Any) -> Item:
    return make_item(SHADOW, id_, TITLES[id_], share, MAX[id_], feedback, evidence, citation, **details)


def grade_shadow(evidence: Evidence, submission: Submission | None) -> list[Item]:
    """Score the shadow deployment; max points sum to 24."""
    ev = evidence
    cand = ev.answer_key.challenger_version
    if cand is None:
        return [make_item(SHADOW, i, t, 0.0, 0.0, "Not applicable: this scenario has no challenger to shadow.")
                for i, t, _ in PLAN]
    facts = release_facts(ev)
    first = facts.first_promotion
    periods = [p for p in facts.shadow_periods if p.version == cand]
    before = [p for p in periods if first is None
              or (p.seq < first.seq if p.seq is not None else p.start < first.timestamp)]
    ctx = _Ctx(ev, facts, cand, periods, before, facts.promotion_of(cand))
    citation = "AI Act Art. 15(1)" if ev.scenario.risk.eu_ai_act_class == "high" else None
    return [_version_item(ctx), _mirrored_item(ctx), _clients_item(ctx), _latency_item(ctx),
            _decision_item(ctx, submission, citation)]


def _version_item(c: _Ctx) -> Item:
    first, all_periods = c.facts.first_promotion, c.facts.shadow_periods
    if c.before:
        others = sorted({p.version for p in all_periods if p.version != c.cand})
        extra = f" (you also shadowed v{', v'.join(map(str, others))})" if others else ""
        when = "before promoting" if first else "and did not promote anything"
        note = "" if c.before[0].journaled else (" `lab shadow start` journaled no shadow.started (it may have timed "
                                                 "out while the shadow warmed), but the alias and the serving log "
                                                 "show the shadow ran.")
        return _item("shadow.version", 1.0, f"Shadowed the candidate v{c.cand} {when}{extra}.{note}",
                     f"shadow from {c.before[0].source}")
    if c.periods:
        assert first is not None  # a candidate period that is not "before" began after a promotion
        return _item("shadow.version", 0.0,
                     f"You shadowed v{c.cand} only after promoting v{first.to} (seq {first.seq}); a shadow is the "
                     "test before the release, not after it. Start the shadow, compare, then decide.",
                     f"first promotion seq {first.seq}, shadow from {c.periods[0].source}")
    if all_periods:
        wrong = sorted({p.version for p in all_periods})
        return _item("shadow.version", 0.0,
                     f"You shadowed v{', v'.join(map(str, wrong))}, but the candidate is v{c.cand} (the version the "
                     "`challenger` alias pointed at). Shadow the version you mean to release.",
                     f"shadowed versions: {wrong}")
    promo = f" and promoted v{first.to} untested" if first else ""
    return _item("shadow.version", 0.0,
                 f"No shadow ran{promo}: the `shadow` alias never pointed at a version and no request was mirrored. "
                 f"A strong answer mirrors live traffic to the candidate (`lab shadow start --version {c.cand}`) "
                 "before deciding anything.", "alias history and serving log")


def _mirrored_item(c: _Ctx) -> Item:
    counts = c.facts.counts_of(c.cand)
    answered = counts["answered"]
    fb = (f"{answered} requests mirrored to v{c.cand} got an answer" + (" before its promotion" if c.promo else "")
          + f" ({counts_line(counts)}).")
    if answered < MIN_MIRRORED:
        fb += (f" Mirror at least {MIN_MIRRORED} answered requests (about {MIN_MIRRORED / 4 / 60:.1f} min of "
               "traffic): fewer cannot show a regression or a p99 latency with any confidence.")
    warnings = shadow_warnings(counts, c.facts.crash_loops, c.cand)
    if warnings:
        fb += " " + " ".join(w[0].upper() + w[1:] for w in warnings)
    details = {k: counts[k] for k in ("mirrored", "answered", "ok", "late", "dropped", "failed", "cancelled",
                                      "no_answer")}
    return _item("shadow.mirrored", answered / MIN_MIRRORED, fb,
                 f"{counts_line(counts)}; shadow statuses {counts['by_status']}; need {MIN_MIRRORED} answered",
                 needed=MIN_MIRRORED, warnings=warnings, **details)


def _clients_item(c: _Ctx) -> Item:
    facts = c.facts
    if not facts.shadow_periods:
        return _item("shadow.clients-champion-only", 0.0, "No shadow ran, so nothing shows that clients are kept on "
                     "the champion while a candidate is tested.", "alias history and serving log")
    checked = wrong = from_shadow = 0
    examples: list[str] = []
    for r in c.ev.traffic_requests:
        if r.get("status") != 200 or r.get("model_version") is None:
            continue
        t = float(r["time"])
        shadow_v = facts.shadow_at(t)
        if shadow_v is None:
            continue
        checked += 1
        got, want = version_of(r.get("model_version")), facts.champion_at(t)
        sw = facts.in_switch(t)
        if got not in {want} | ({sw.move.from_, sw.move.to} if sw else set()):
            wrong += 1
            from_shadow += got == shadow_v
            if len(examples) < 3:
                examples.append(f"{str(r.get('id', '?'))[:8]} got v{got}, champion was v{want}")
    if checked == 0:
        return _item("shadow.clients-champion-only", 0.0, "No client request was answered while the shadow ran; "
                     "let traffic flow through the shadow period.", f"{len(facts.shadow_periods)} shadow period(s)")
    if wrong:
        return _item("shadow.clients-champion-only", 0.0,
                     f"{wrong} of {checked} client answers during the shadow came from a version that was not the "
                     f"champion ({from_shadow} from the shadow itself). A shadow must never answer clients: mirror, "
                     "don't split traffic.", "; ".join(examples), checked=checked, wrong=wrong,
                     from_shadow=from_shadow)
    return _item("shadow.clients-champion-only", 1.0,
                 f"All {checked} client answers during the shadow came from the champion.",
                 f"{checked} answers checked against the champion alias at their time", checked=checked)


def _latency_item(c: _Ctx) -> Item:
    samples, source = latency_samples(c.ev.serving_requests, c.ev.traffic_requests, c.cand)
    cmp = interleaved_latency(samples)
    mirrored = sum(1 for _, _, m in samples if m)
    details = {k: cmp[k] for k in ("n_with", "n_without", "unmatched", "ratio", "p99_with_ms", "p99_without_ms")}
    ev_text = (f"{source}; mirrored requests compared with unmirrored ones within {cmp['reach_seconds']:g} s: "
               f"p99 {cmp['p99_with_ms']} ms (n={cmp['n_with']}) vs {cmp['p99_without_ms']} ms "
               f"(n={cmp['n_without']}), load-normalised ratio {fmt(cmp['ratio'], 2)}; {cmp['unmatched']} mirrored requests "
               "had no unmirrored neighbours")
    if not c.periods or not mirrored:
        return _item("shadow.latency", 0.0, "No mirrored requests, so nothing shows the shadow leaves the champion's "
                     "latency alone. A strong answer compares the champion's p99 with and without mirroring "
                     "(`lab shadow report`).", ev_text, **details)
    if cmp["ratio"] is None or cmp["n_with"] < MIN_LATENCY_SAMPLES or cmp["n_without"] < MIN_LATENCY_SAMPLES:
        return _item("shadow.latency", 0.5,
                     f"Too few requests to compare the champion's p99 with and without mirroring on the same minutes "
                     f"({cmp['n_with']} mirrored and {cmp['n_without']} unmirrored requests within "
                     f"{cmp['reach_seconds']:g} s of each other; need {MIN_LATENCY_SAMPLES} each). Let traffic flow "
                     "for a few minutes before starting the shadow and after stopping it (or mirror with "
                     "--percent below 100), then check `lab shadow report`.", ev_text, **details)
    ratio, pm, pp = cmp["ratio"], cmp["p99_with_ms"], cmp["p99_without_ms"]
    if ratio <= LATENCY_RATIO or pm - pp <= LATENCY_SLACK_MS:
        return _item("shadow.latency", 1.0,
                     f"Champion p99 with mirroring is {ratio:.2f}x the p99 without, on the same minutes of the run "
                     f"(limit {LATENCY_RATIO}x).", ev_text, **details)
    return _item("shadow.latency", 0.5 if ratio <= 1.5 else 0.0,
                 f"Mirroring slowed the champion: p99 {ratio:.2f}x the p99 of unmirrored requests of the same minutes "
                 f"(limit {LATENCY_RATIO}x). The shadow must run off the request path (asynchronously, with its own "
                 "resources) or at a lower --percent.", ev_text, **details)


def _comparison(report: dict[str, Any]) -> dict[str, Any] | None:
    lab = report.get("labelled")
    if not lab:
        return None
    metric = "roc_auc" if lab["champion"].get("roc_auc") is not None and lab["shadow"].get("roc_auc") is not None \
        else "accuracy"
    c, s = float(lab["champion"][metric]), float(lab["shadow"][metric])
    return {"metric": metric, "champion": c, "shadow": s, "delta": round(s - c, 6), "rows": report["labelled_rows"],
            "text": f"{report['labelled_rows']} labelled mirrored rows: {metric} champion {c:.3f}, shadow {s:.3f}"}


def _decision_item(c: _Ctx, sub: Submission | None, citation: str | None) -> Item:
    ev, cand, promo = c.ev, c.cand, c.promo
    decided = "promote" if promo else "keep"
    said = sub.decisions.shadow if sub and sub.decisions and sub.decisions.shadow else None
    rationale = said.rationale if said else ""
    note = ""
    if said and said.decision in ("promote", "keep") and said.decision != decided:
        note = (f" decisions.yaml says '{said.decision}', but the evidence shows you "
                f"{'promoted' if promo else 'kept the champion'}: grading follows what you did.")
    threshold = ev.scenario.model.decision_threshold.value
    final = shadow_report(ev.serving_requests, ev.labels, cand, decision_threshold=threshold)
    cmp = _comparison(final)
    at_decision = None
    if promo is not None:
        day = promo.day if promo.day is not None else float("inf")
        records = [r for r in ev.serving_requests if float(r.get("time", 0)) < promo.timestamp]
        labels = [lab for lab in ev.labels if float(lab.get("arrived_day", 0)) <= day]
        at_decision = _comparison(shadow_report(records, labels, cand, decision_threshold=threshold))
    evidence = cmp["text"] if cmp else f"{final['labelled_rows']} labelled mirrored rows"
    details: dict[str, Any] = {"decision": decided, "labelled_rows": final["labelled_rows"]}
    if cmp:
        details.update(metric=cmp["metric"], champion=cmp["champion"], shadow=cmp["shadow"], delta=cmp["delta"])

    def item(share: float, text: str) -> Item:
        return _item("shadow.decision", share, text + note, evidence, citation, **details)

    if not c.periods:
        if promo:
            return item(0.0, f"You promoted v{cand} with no shadow comparison behind it.")
        return item(0.0, f"No decision was made on evidence: v{cand} was never shadowed.")
    if cmp is None or final["labelled_rows"] < MIN_LABELLED:
        if promo:
            return item(0.0, f"You promoted v{cand} on {final['labelled_rows']} labelled rows (need {MIN_LABELLED}); "
                             f"labels arrive {ev.answer_key.label_delay_days:g} days late, so wait for them before "
                             "deciding.")
        return item(0.5, f"Keeping the champion while the comparison is inconclusive is right, but the drill ended "
                         f"with only {final['labelled_rows']} labelled mirrored rows (need {MIN_LABELLED}): keep the "
                         f"shadow running until labels arrive ({ev.answer_key.label_delay_days:g} days late), then "
                         "decide.")
    delta = cmp["delta"]
    verdict = "better" if delta > DECISION_MARGIN else "worse" if delta < -DECISION_MARGIN else "similar"
    details["verdict"] = verdict
    early = promo is not None and (at_decision is None or at_decision["rows"] < MIN_LABELLED)
    shown = f"{cmp['metric']} {delta:+.3f}"
    if verdict == "better":
        if promo and not early:
            return item(1.0, f"Promoted v{cand}, which the labelled comparison shows is better ({shown}).")
        if promo:
            return item(0.5, f"Promoting v{cand} was right ({shown} once labels arrived), but you promoted before "
                             "enough labels had arrived to show it: a lucky call, not a tested one.")
        return item(0.0, f"The shadow was clearly better ({shown}, beyond the {DECISION_MARGIN} margin) but you kept "
                         f"the champion. Promote when the evidence says so (`lab promote --version {cand} --reason "
                         "...`).")
    if verdict == "worse":
        if promo:
            return item(0.0, f"You promoted v{cand} although the labelled comparison shows it is worse ({shown}). "
                             "Keep the champion when the candidate loses.")
        return item(1.0, f"Kept the champion: the shadow is worse ({shown}).")
    if substantive(rationale):
        return item(1.0, f"The two are within {DECISION_MARGIN} {cmp['metric']} ({delta:+.3f}); you "
                         f"{'promoted' if promo else 'kept the champion'} and said why in decisions.yaml.")
    return item(0.5, f"The two are within {DECISION_MARGIN} {cmp['metric']} ({delta:+.3f}): either decision is "
                     "defensible, but say why in decisions.yaml (shadow.rationale: cost, latency, fairness, risk).")
