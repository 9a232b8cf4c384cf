"""Grades the release skills from evidence: shadow deployment (skill "shadow") and rollback ("rollback").

The actions are never declared by the user: they are read from the journal (alias
moves, ``shadow.started``, ``promote``, ``rollback``, ``event.fired``), the request logs
and the labels in the evidence bundle. ``decisions.yaml`` only adds the user's reasons.

Shadow (max 24): the challenger (the answer key's ``challenger_version``) was shadowed
before any promotion; at least :data:`MIN_MIRRORED` requests were mirrored to it; every
client answer came from the champion of its moment, never from the shadow; the champion's
p99 latency on mirrored requests stayed within :data:`LATENCY_RATIO` of the others; and
the decision (promote or keep) agrees with the labelled comparison
(:func:`lab.shadow_report.shadow_report`): clearly better by more than
:data:`DECISION_MARGIN` in ROC AUC means promote, clearly worse means keep, in between
either, if ``decisions.yaml`` says why.

Rollback (max 20): ``champion`` was returned to a known-good version (the answer key's
``last_known_good_version``, or the champion that served just before the bad release if
it was not the defective one), how long that took (scenario days, with wall time beside),
no client request failed around the switch, and the move carries a real reason.
Scenarios without a bad release: every rollback item has ``max_points`` 0 and says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.grading.evidence import AliasMove, Evidence, parse_time
from lab.grading.items import Item
from lab.grading.submission import Submission

#: Requests mirrored before a shadow can speak for the candidate. 300 one-row requests
#: (75 s of traffic at the scenarios' 4 requests/s) put the standard error of an
#: accuracy or agreement estimate near 3 points, enough to see a gross regression, and
#: leave 3 samples above a p99 latency; label-based metrics need the labels on top.
MIN_MIRRORED = 300
#: Labelled mirrored rows below which the comparison is inconclusive.
MIN_LABELLED = 200
#: A shadow is "clearly" better or worse when ROC AUC differs by more than this.
DECISION_MARGIN = 0.01
#: Champion p99 latency on mirrored requests may be at most this multiple of the rest ...
LATENCY_RATIO = 1.25
#: ... or this many milliseconds above it (a tiny p99 is noisy in ratio).
LATENCY_SLACK_MS = 5.0
#: Samples needed on each side before latencies are compared.
MIN_LATENCY_SAMPLES = 100
#: Seconds around an alias move in which answers from either version are expected.
SWITCH_GRACE_SECONDS = 5.0
#: Scenario days to recover from a bad release, and the share of points each band earns.
RECOVERY_BANDS: tuple[tuple[float, float], ...] = ((1.0, 1.0), (2.0, 0.75))
SYMPTOMS = (r"drift|scores?|predict|auc|accura|latenc|error|alert|alarm|labels?|complain|selection|rate|defect|wrong|"
            r"psi|distribution|spike|drop|regress|skill|feature|column|schema|percent|shift|broke|fail|monitor|"
            r"precision|recall|f1|outlier|mean|median")
BOILERPLATE = frozenset({
    "", "rollback", "roll back", "rolling back", "rolled back", "revert", "reverted", "bad release", "fix", "fixed",
    "test", "testing", "n a", "na", "none", "asdf", "todo", "tbd", "reason", "because", "x", "issue", "problem",
    "bug", "oops", "rollback requested", "manual rollback", "shadow stopped", "promote", "promotion", "ok", "done",
})

SHADOW, ROLLBACK = "shadow", "rollback"


# --------------------------------------------------------------------------- shared reading of the evidence


def _version(v: Any) -> int | None:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


def _moves(ev: Evidence, alias: str) -> list[AliasMove]:
    return sorted((m for m in ev.alias_history if m.alias == alias and m.model == ev.model), key=lambda m: m.seq)


def _alias_at(moves: Sequence[AliasMove], t: float) -> int | None:
    current = None
    for m in moves:
        if m.timestamp <= t:
            current = m.to
        else:
            break
    return current


def _end_time(ev: Evidence) -> float:
    times = [parse_time(e["time"]) for e in ev.journal]
    times += [float(r["time"]) for r in ev.traffic_requests if r.get("time") is not None]
    return max(times) if times else 0.0


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}".rstrip("0").rstrip(".")


def _item(skill: str, id_: str, title: str, share: float, max_points: float, feedback: str, evidence: str = "",
          citation: str | None = None, **details: Any) -> Item:
    share = max(0.0, min(1.0, share))
    return Item(id=id_, skill=skill, title=title, points=round(max_points * share, 6), max_points=max_points,  # type: ignore[arg-type]
                feedback=feedback, evidence=evidence, citation=citation, details=details)


@dataclass(frozen=True)
class _Switch:
    """A champion move with the seconds serving took to follow it."""

    move: AliasMove
    seconds_to_serve: float


def _champion_switches(ev: Evidence) -> list[_Switch]:
    served: dict[int, float] = {}
    for kind in ("promote", "rollback"):
        for e in ev.entries(kind):
            if e["data"].get("requested_seq") is not None:
                served[int(e["data"]["requested_seq"])] = float(e["data"].get("seconds_to_serve") or 0.0)
    requested = [e for e in ev.entries("alias.requested") if e["data"].get("alias") == "champion"]
    out = []
    for m in _moves(ev, "champion"):
        req = next((r for r in reversed(requested) if r["seq"] < m.seq and _version(r["data"].get("to")) == m.to), None)
        secs = served.get(req["seq"], 10.0) if req else 10.0
        out.append(_Switch(m, secs))
    return out


def _in_switch(t: float, switches: Sequence[_Switch]) -> _Switch | None:
    for s in switches:
        t0 = s.move.timestamp
        if t0 - SWITCH_GRACE_SECONDS <= t <= t0 + s.seconds_to_serve + SWITCH_GRACE_SECONDS:
            return s
    return None


def _is_promotion(m: AliasMove, ev: Evidence) -> bool:
    """A champion move that promotes a candidate (not the initial deployment, a bad release or a rollback)."""
    if m.actor in ("lab", "release-pipeline") or (m.via or "").startswith("timeline event"):
        return False
    if (m.via or "") == "lab rollback":
        return False
    bad = ev.answer_key.bad_release
    if m.via == "lab promote":
        return True
    # moved in the MLflow UI/API: a promotion unless it returns to a version that served before
    earlier = {x.to for x in _moves(ev, "champion") if x.seq < m.seq}
    return not (m.to in earlier or (bad is not None and m.to == ev.answer_key.last_known_good_version))


def _substantive(text: str | None) -> bool:
    if not text:
        return False
    words = re.findall(r"[A-Za-z0-9][\w.%+-]*", text)
    return len(words) >= 6 and " ".join(w.lower() for w in words) not in BOILERPLATE


def _reason_quality(reason: str | None) -> tuple[float, str]:
    """(share, why) for a free-text reason in the audit trail."""
    norm = " ".join(re.findall(r"[a-z0-9]+", (reason or "").lower()))
    if not norm:
        return 0.0, "no reason"
    if norm in BOILERPLATE or len(norm.split()) < 3:
        return 0.3, f'"{reason}" is boilerplate'
    specific = bool(re.search(r"\bv?\d", norm)) or bool(re.search(SYMPTOMS, norm))
    if len(norm.split()) >= 5 and specific:
        return 1.0, f'"{reason}"'
    return 0.6, f'"{reason}" says little: name the symptom and the evidence'


# --------------------------------------------------------------------------- shadow


def grade_shadow(evidence: Evidence, submission: Submission | None) -> list[Item]:
    """Score the shadow deployment; max points sum to 24."""
    ev = evidence
    cand = ev.answer_key.challenger_version
    high = ev.scenario.risk.eu_ai_act_class == "high"
    plan = [("shadow.version", "Shadowed the candidate before any promotion", 5.0),
            ("shadow.mirrored", f"Mirrored at least {MIN_MIRRORED} requests", 4.0),
            ("shadow.clients-champion-only", "Clients were answered by the champion only", 4.0),
            ("shadow.latency", "Champion latency unaffected by mirroring", 3.0),
            ("shadow.decision", "Promote-or-keep decision agrees with the labelled comparison", 8.0)]
    if cand is None:
        return [_item(SHADOW, i, t, 0.0, 0.0, "Not applicable: this scenario has no challenger to shadow.")
                for i, t, _ in plan]
    maxes = {i: p for i, _, p in plan}
    titles = {i: t for i, t, _ in plan}

    shadow_moves = _moves(ev, "shadow")
    starts = [(e["seq"], parse_time(e["time"]), _version(e["data"].get("version")), "lab shadow start")
              for e in ev.entries("shadow.started")]
    starts += [(m.seq, m.timestamp, m.to, m.via or m.actor) for m in shadow_moves
               if m.to is not None and m.actor == "external"]
    starts.sort()
    champ_moves = _moves(ev, "champion")
    promotions = [m for m in champ_moves if _is_promotion(m, ev)]
    first_promo = promotions[0] if promotions else None
    cand_promo = next((m for m in promotions if m.to == cand), None)
    cut = cand_promo.timestamp if cand_promo else _end_time(ev) + 1
    cand_starts = [s for s in starts if s[2] == cand]
    before = [s for s in cand_starts if first_promo is None or s[0] < first_promo.seq]
    items: list[Item] = []

    # 1. the right version, before any promotion
    if before:
        others = sorted({s[2] for s in starts if s[2] != cand and s[2] is not None})
        extra = f" (you also shadowed v{', v'.join(map(str, others))})" if others else ""
        when = "before promoting" if first_promo else "and did not promote anything"
        items.append(_item(SHADOW, "shadow.version", titles["shadow.version"], 1.0, maxes["shadow.version"],
                           f"Shadowed the candidate v{cand} {when}{extra}.",
                           f"shadow started at seq {before[0][0]} ({before[0][3]})"))
    elif cand_starts:
        items.append(_item(SHADOW, "shadow.version", titles["shadow.version"], 0.0, maxes["shadow.version"],
                           f"You shadowed v{cand} only after promoting v{first_promo.to} (seq {first_promo.seq}); "  # type: ignore[union-attr]
                           "a shadow is the test before the release, not after it. Start the shadow, compare, then "
                           "decide.", f"first promotion seq {first_promo.seq}, shadow seq {cand_starts[0][0]}"))  # type: ignore[union-attr]
    elif starts:
        wrong = sorted({s[2] for s in starts if s[2] is not None})
        items.append(_item(SHADOW, "shadow.version", titles["shadow.version"], 0.0, maxes["shadow.version"],
                           f"You shadowed v{', v'.join(map(str, wrong))}, but the candidate is v{cand} (the version "
                           f"the `challenger` alias pointed at). Shadow the version you mean to release.",
                           f"shadow.started versions: {wrong}"))
    else:
        promo = f" and promoted v{first_promo.to} untested" if first_promo else ""
        items.append(_item(SHADOW, "shadow.version", titles["shadow.version"], 0.0, maxes["shadow.version"],
                           f"No shadow ran{promo}. A strong answer mirrors live traffic to the candidate "
                           f"(`lab shadow start --version {cand}`) before deciding anything."))

    # 2. how much was mirrored (before the candidate's promotion)
    ok_status = ("ok", "late")
    mirrored = [r for r in ev.serving_requests if _version(r.get("shadow_version")) == cand
                and r.get("status") == 200 and float(r.get("time", 0)) < cut]
    good = [r for r in mirrored if r.get("shadow_status") in ok_status]
    statuses: dict[str, int] = {}
    for r in mirrored:
        statuses[str(r.get("shadow_status", "pending"))] = statuses.get(str(r.get("shadow_status", "pending")), 0) + 1
    share = len(good) / MIN_MIRRORED
    fb = (f"{len(good)} requests mirrored to v{cand} with a usable answer"
          + (" before its promotion" if cand_promo else "") + ".")
    if share < 1:
        fb += (f" Mirror at least {MIN_MIRRORED} (about {MIN_MIRRORED / 4 / 60:.1f} min of traffic): fewer cannot "
               "show a regression or a p99 latency with any confidence.")
    items.append(_item(SHADOW, "shadow.mirrored", titles["shadow.mirrored"], share, maxes["shadow.mirrored"], fb,
                       f"mirrored {len(mirrored)}, shadow statuses {dict(sorted(statuses.items()))}; need "
                       f"{MIN_MIRRORED}", mirrored=len(good), needed=MIN_MIRRORED))

    # 3. clients answered by the champion only, during shadow periods
    periods = _shadow_periods(shadow_moves, _end_time(ev))
    switches = _champion_switches(ev)
    checked = wrong_version = from_shadow = 0
    examples: list[str] = []
    for r in ev.traffic_requests:
        if r.get("status") != 200 or r.get("model_version") is None:
            continue
        t = float(r["time"])
        shadow_v = next((v for a, b, v in periods if a <= t <= b), None)
        if shadow_v is None:
            continue
        checked += 1
        got = _version(r.get("model_version"))
        want = _alias_at(champ_moves, t)
        sw = _in_switch(t, switches)
        allowed = {want} | ({sw.move.from_, sw.move.to} if sw else set())
        if got not in allowed:
            wrong_version += 1
            if got == shadow_v:
                from_shadow += 1
            if len(examples) < 3:
                examples.append(f"{r.get('id', '?')[:8]} got v{got}, champion was v{want}")
    if not periods:
        items.append(_item(SHADOW, "shadow.clients-champion-only", titles["shadow.clients-champion-only"], 0.0,
                           maxes["shadow.clients-champion-only"], "No shadow ran, so nothing shows that clients are "
                           "kept on the champion while a candidate is tested."))
    elif checked == 0:
        items.append(_item(SHADOW, "shadow.clients-champion-only", titles["shadow.clients-champion-only"], 0.0,
                           maxes["shadow.clients-champion-only"], "No client request was answered while the shadow "
                           "ran; let traffic flow through the shadow period."))
    elif wrong_version:
        items.append(_item(SHADOW, "shadow.clients-champion-only", titles["shadow.clients-champion-only"], 0.0,
                           maxes["shadow.clients-champion-only"],
                           f"{wrong_version} of {checked} client answers during the shadow came from a version that "
                           f"was not the champion ({from_shadow} from the shadow itself). A shadow must never answer "
                           "clients: mirror, don't split traffic.", "; ".join(examples),
                           checked=checked, wrong=wrong_version, from_shadow=from_shadow))
    else:
        items.append(_item(SHADOW, "shadow.clients-champion-only", titles["shadow.clients-champion-only"], 1.0,
                           maxes["shadow.clients-champion-only"],
                           f"All {checked} client answers during the shadow came from the champion.",
                           f"{checked} answers checked against the champion alias at their time", checked=checked))

    # 4. latency: champion p99 on mirrored vs non-mirrored requests
    items.append(_latency_item(ev, cand, maxes["shadow.latency"], titles["shadow.latency"], bool(periods)))

    # 5. the decision
    items.append(_decision_item(ev, submission, cand, cand_promo, bool(cand_starts), maxes["shadow.decision"],
                                titles["shadow.decision"], "AI Act Art. 15(1)" if high else None))
    return items


def _shadow_periods(moves: Sequence[AliasMove], end: float) -> list[tuple[float, float, int]]:
    out = []
    for i, m in enumerate(moves):
        if m.to is None:
            continue
        stop = moves[i + 1].timestamp if i + 1 < len(moves) else end
        out.append((m.timestamp, stop, m.to))
    return out


def _p99(values: list[float]) -> float:
    return float(np.percentile(values, 99))


def _latency_item(ev: Evidence, cand: int, max_points: float, title: str, shadow_ran: bool) -> Item:
    client = {r["id"]: float(r["latency_ms"]) for r in ev.traffic_requests
              if r.get("status") == 200 and r.get("latency_ms") is not None and "id" in r}
    mirrored: list[float] = []
    unmirrored: list[tuple[float, float]] = []  # (time, latency)
    times: list[float] = []
    source = "client-side (traffic log)"
    for r in ev.serving_requests:
        if r.get("status") != 200:
            continue
        lat = client.get(r.get("id"))
        if lat is None:
            lat = r.get("latency_ms")
            source = "client-side where logged, else serving's champion path"
        if lat is None:
            continue
        sv = _version(r.get("shadow_version"))
        if sv == cand:
            mirrored.append(float(lat))
            times.append(float(r.get("time", 0)))
        elif sv is None:
            unmirrored.append((float(r.get("time", 0)), float(lat)))
    if times:  # compare like with like: unmirrored requests just before and after the shadow ran
        a, b = min(times), max(times)
        span = max(b - a, 60.0)
        near = [lat for t, lat in unmirrored if a - span <= t <= b + span]
        plain = near if len(near) >= MIN_LATENCY_SAMPLES else [lat for _, lat in unmirrored]
        if len(near) >= MIN_LATENCY_SAMPLES:
            source += ", unmirrored requests from around the shadow period"
    else:
        plain = [lat for _, lat in unmirrored]
    if not shadow_ran or not mirrored:
        return _item(SHADOW, "shadow.latency", title, 0.0, max_points,
                     "No mirrored requests, so nothing shows the shadow leaves the champion's latency alone. "
                     "A strong answer compares the champion's p99 with and without mirroring (`lab shadow report`).")
    if len(mirrored) < MIN_LATENCY_SAMPLES or len(plain) < MIN_LATENCY_SAMPLES:
        return _item(SHADOW, "shadow.latency", title, 0.5, max_points,
                     f"Too few samples to compare p99 latencies ({len(mirrored)} mirrored, {len(plain)} not; need "
                     f"{MIN_LATENCY_SAMPLES} each). Keep traffic flowing with and without the shadow.",
                     f"{source}", mirrored=len(mirrored), plain=len(plain))
    pm, pp = _p99(mirrored), _p99(plain)
    ratio = pm / pp if pp > 0 else float("inf")
    ev_text = (f"{source} p99: {pm:.1f} ms mirrored (n={len(mirrored)}) vs {pp:.1f} ms not (n={len(plain)}), "
               f"ratio {ratio:.2f}")
    details = dict(p99_mirrored_ms=round(pm, 3), p99_plain_ms=round(pp, 3), ratio=round(ratio, 4),
                   n_mirrored=len(mirrored), n_plain=len(plain))
    if ratio <= LATENCY_RATIO or pm - pp <= LATENCY_SLACK_MS:
        return _item(SHADOW, "shadow.latency", title, 1.0, max_points,
                     f"Champion p99 with mirroring is {ratio:.2f}x the p99 without (limit {LATENCY_RATIO}x).",
                     ev_text, **details)
    share = 0.5 if ratio <= 1.5 else 0.0
    return _item(SHADOW, "shadow.latency", title, share, max_points,
                 f"Mirroring slowed the champion: p99 {ratio:.2f}x (limit {LATENCY_RATIO}x). The shadow must run off "
                 "the request path (asynchronously, with its own resources) or at a lower --percent.", ev_text,
                 **details)


def _decision_item(ev: Evidence, sub: Submission | None, cand: int, promo: AliasMove | None, shadowed: bool,
                   max_points: float, title: str, citation: str | None) -> Item:
    from lab.shadow_report import shadow_report

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

    if not shadowed:
        if promo:
            return _item(SHADOW, "shadow.decision", title, 0.0, max_points,
                         f"You promoted v{cand} with no shadow comparison behind it." + note, evidence, citation,
                         **details)
        return _item(SHADOW, "shadow.decision", title, 0.0, max_points,
                     f"No decision was made on evidence: v{cand} was never shadowed." + note, evidence, citation,
                     **details)
    if cmp is None or final["labelled_rows"] < MIN_LABELLED:
        if promo:
            return _item(SHADOW, "shadow.decision", title, 0.0, max_points,
                         f"You promoted v{cand} on {final['labelled_rows']} labelled rows (need {MIN_LABELLED}); "
                         f"labels arrive {ev.answer_key.label_delay_days:g} days late, so wait for them before "
                         "deciding." + note, evidence, citation, **details)
        return _item(SHADOW, "shadow.decision", title, 0.5, max_points,
                     f"Keeping the champion while the comparison is inconclusive is right, but the drill ended with "
                     f"only {final['labelled_rows']} labelled mirrored rows (need {MIN_LABELLED}): keep the shadow "
                     f"running until labels arrive ({ev.answer_key.label_delay_days:g} days late), then decide."
                     + note, evidence, citation, **details)
    delta = cmp["delta"]
    verdict = "better" if delta > DECISION_MARGIN else "worse" if delta < -DECISION_MARGIN else "similar"
    details["verdict"] = verdict
    early = promo is not None and (at_decision is None or at_decision["rows"] < MIN_LABELLED)
    if verdict == "better":
        if promo and not early:
            return _item(SHADOW, "shadow.decision", title, 1.0, max_points,
                         f"Promoted v{cand}, which the labelled comparison shows is better "
                         f"({cmp['metric']} {delta:+.3f})." + note, evidence, citation, **details)
        if promo:
            return _item(SHADOW, "shadow.decision", title, 0.5, max_points,
                         f"Promoting v{cand} was right ({cmp['metric']} {delta:+.3f} once labels arrived), but you "
                         f"promoted before enough labels had arrived to show it: a lucky call, not a tested one."
                         + note, evidence, citation, **details)
        return _item(SHADOW, "shadow.decision", title, 0.0, max_points,
                     f"The shadow was clearly better ({cmp['metric']} {delta:+.3f}, beyond the {DECISION_MARGIN} "
                     f"margin) but you kept the champion. Promote when the evidence says so "
                     f"(`lab promote --version {cand} --reason ...`)." + note, evidence, citation, **details)
    if verdict == "worse":
        if promo:
            return _item(SHADOW, "shadow.decision", title, 0.0, max_points,
                         f"You promoted v{cand} although the labelled comparison shows it is worse "
                         f"({cmp['metric']} {delta:+.3f}). Keep the champion when the candidate loses." + note,
                         evidence, citation, **details)
        return _item(SHADOW, "shadow.decision", title, 1.0, max_points,
                     f"Kept the champion: the shadow is worse ({cmp['metric']} {delta:+.3f})." + note, evidence,
                     citation, **details)
    if _substantive(rationale):
        return _item(SHADOW, "shadow.decision", title, 1.0, max_points,
                     f"The two are within {DECISION_MARGIN} {cmp['metric']} ({delta:+.3f}); you "
                     f"{'promoted' if promo else 'kept the champion'} and said why in decisions.yaml." + note,
                     evidence, citation, **details)
    return _item(SHADOW, "shadow.decision", title, 0.5, max_points,
                 f"The two are within {DECISION_MARGIN} {cmp['metric']} ({delta:+.3f}): either decision is defensible, "
                 "but say why in decisions.yaml (shadow.rationale: cost, latency, fairness, risk)." + note, evidence,
                 citation, **details)


def _comparison(report: dict[str, Any]) -> dict[str, Any] | None:
    lab = report.get("labelled")
    if not lab:
        return None
    metric = "roc_auc" if lab["champion"].get("roc_auc") is not None and lab["shadow"].get("roc_auc") is not None \
        else "accuracy"
    c, s = float(lab["champion"][metric]), float(lab["shadow"][metric])
    return {"metric": metric, "champion": c, "shadow": s, "delta": round(s - c, 6), "rows": report["labelled_rows"],
            "text": f"{report['labelled_rows']} labelled mirrored rows: {metric} champion {c:.3f}, shadow {s:.3f}"}


# --------------------------------------------------------------------------- rollback


def grade_rollback(evidence: Evidence, submission: Submission | None) -> list[Item]:
    """Score the response to the bad release; max points sum to 20 (0 when there is none)."""
    ev = evidence
    key = ev.answer_key
    high = ev.scenario.risk.eu_ai_act_class == "high"
    art20 = "AI Act Art. 20" if high else None
    plan = [("rollback.target", "Champion back on the last known-good version", 8.0, art20),
            ("rollback.time", "Time from the bad release to the rollback", 5.0, art20),
            ("rollback.no-failed-requests", "No failed requests during the switch", 3.0, None),
            ("rollback.reason", "A reason recorded with the rollback", 4.0, "AI Act Art. 12" if high else None)]
    if key.bad_release is None:
        return [_item(ROLLBACK, i, t, 0.0, 0.0, "Not applicable: this scenario has no bad release, so there is "
                      "nothing to roll back; these items count for nothing.", citation=c) for i, t, _, c in plan]
    bad_v = key.bad_release.version
    champ = _moves(ev, "champion")
    release = next((m for m in champ if m.to == bad_v and (m.actor == "release-pipeline"
                                                             or (m.via or "").startswith("timeline event"))), None)
    fired = next((e for e in ev.entries("event.fired") if e["data"].get("type") == "bad_release"), None)
    if release is None and fired is None:
        return [_item(ROLLBACK, i, t, 0.0, p, "The bad release had not happened when you submitted, so there was "
                      "nothing to roll back yet: work the drill to the end of the scenario (`lab status` shows the "
                      "day) before submitting.", citation=c) for i, t, p, c in plan]
    t_bad = release.timestamp if release else parse_time(fired["time"])  # type: ignore[index]
    day_bad = (release.day if release and release.day is not None else (fired or {}).get("day")) or key.bad_release.day
    seq_bad = release.seq if release else fired["seq"]  # type: ignore[index]

    before = [m for m in champ if m.seq < seq_bad]
    rolled_from = {_version(e["data"].get("from")) for e in ev.entries("rollback") if e["data"].get("from")}
    accepted = {key.last_known_good_version}
    pre = before[-1].to if before else None
    if pre is not None and pre != bad_v and pre not in rolled_from:
        accepted.add(pre)
    after = [m for m in champ if m.seq > seq_bad]
    first_away = next((m for m in after if m.to != bad_v), None)
    recovery = next((m for m in after if m.to in accepted), None)
    final = champ[-1].to if champ else None
    ok_list = "v" + " or v".join(str(v) for v in sorted(accepted))
    items: list[Item] = []
    p = {i: (t, pts, c) for i, t, pts, c in plan}

    # 1. target
    t, pts, c = p["rollback.target"]
    hist = " -> ".join(f"v{m.to}" for m in champ if m.to is not None)
    if final == bad_v:
        items.append(_item(ROLLBACK, "rollback.target", t, 0.0, pts,
                           f"champion still points at v{bad_v}, the bad release. Roll back to the last known-good "
                           f"version ({ok_list}): `lab rollback --reason ...`.", f"champion history: {hist}", c,
                           accepted=sorted(accepted), final=final))
    elif first_away is not None and first_away.to in accepted:
        later = "" if final == first_away.to else f" (champion later moved on to v{final})"
        items.append(_item(ROLLBACK, "rollback.target", t, 1.0, pts,
                           f"Rolled back to v{first_away.to}, a version known to work before the bad release{later}.",
                           f"champion history: {hist}", c, accepted=sorted(accepted), final=final))
    elif first_away is not None:
        fix = f" and then to v{recovery.to}" if recovery else ""
        items.append(_item(ROLLBACK, "rollback.target", t, 0.25 if recovery else 0.0, pts,
                           f"You moved champion from v{bad_v} to v{first_away.to}{fix}. v{first_away.to} is not a "
                           f"known-good version: it never served as the healthy champion before the bad release. "
                           f"Rolling back means returning to the last version known to work ({ok_list}), not to the "
                           f"previous version number.", f"champion history: {hist}", c, accepted=sorted(accepted),
                           final=final))
    else:
        items.append(_item(ROLLBACK, "rollback.target", t, 0.0, pts, "champion never moved after the bad release.",
                           f"champion history: {hist}", c, accepted=sorted(accepted), final=final))

    # 2. time to recover
    t, pts, c = p["rollback.time"]
    bad_served = sum(1 for r in ev.traffic_requests if r.get("status") == 200 and _version(r.get("model_version")) == bad_v
                     and float(r["time"]) >= t_bad - SWITCH_GRACE_SECONDS)
    if recovery is None:
        items.append(_item(ROLLBACK, "rollback.time", t, 0.0, pts,
                           f"No rollback to a known-good version, so v{bad_v} kept serving ({bad_served} requests "
                           "answered by it). A strong engineer alarms on the prediction distribution and rolls back "
                           "within a day of scenario time, before labels confirm it.", f"bad release at day "
                           f"{_fmt(day_bad, 2)}", c, requests_on_bad_version=bad_served))
    else:
        days = None if recovery.day is None or day_bad is None else round(recovery.day - float(day_bad), 4)
        wall = round(recovery.timestamp - t_bad, 3)
        share = 0.0
        if days is not None:
            share = next((s for limit, s in RECOVERY_BANDS if days <= limit), None) or \
                (0.5 if days <= key.label_delay_days + 1 else 0.25)
        band = ("within a day" if share == 1 else "within two days" if share == 0.75 else
                "about when the labels would have shown it" if share == 0.5 else "late")
        fb = (f"Recovered {band}: {_fmt(days, 2)} scenario days ({wall:.0f} s wall time) after the bad release; "
              f"{bad_served} requests were answered by v{bad_v}.")
        if share < 1:
            fb += (f" A strong engineer rolls back within a day: the defect moves the prediction distribution at "
                   f"once, so a prediction-drift alarm catches it long before labels do ({key.label_delay_days:g} "
                   "days late).")
        items.append(_item(ROLLBACK, "rollback.time", t, share, pts, fb,
                           f"bad release day {_fmt(day_bad, 2)}, rollback day {_fmt(recovery.day, 2)}", c,
                           days=days, wall_seconds=wall, requests_on_bad_version=bad_served))

    # 3. no failed requests around the switch(es) after the bad release
    t, pts, c = p["rollback.no-failed-requests"]
    switches = [s for s in _champion_switches(ev) if s.move.seq > seq_bad]
    if not switches:
        items.append(_item(ROLLBACK, "rollback.no-failed-requests", t, 0.0, pts,
                           "No rollback switch to check."))
    else:
        around = [r for r in ev.traffic_requests if _in_switch(float(r["time"]), switches) is not None
                  or _in_switch(float(r["time"]) + float(r.get("latency_ms") or 0) / 1000, switches) is not None]
        failed = [r for r in around if r.get("status") != 200]
        if failed:
            codes = sorted({str(r.get("status")) for r in failed})
            items.append(_item(ROLLBACK, "rollback.no-failed-requests", t, 0.0, pts,
                               f"{len(failed)} of {len(around)} client requests failed within "
                               f"{SWITCH_GRACE_SECONDS:g} s of the switch (status {', '.join(codes)}). Switch by "
                               "moving the alias while serving keeps answering (load the new version, then swap), "
                               "never by restarting the server.",
                               f"{len(switches)} switch(es) after the bad release", c, failed=len(failed),
                               checked=len(around)))
        elif not around:
            items.append(_item(ROLLBACK, "rollback.no-failed-requests", t, 0.5, pts,
                               "No traffic around the switch, so nothing shows it was seamless; switch while "
                               "traffic flows.", f"{len(switches)} switch(es) after the bad release", c))
        else:
            items.append(_item(ROLLBACK, "rollback.no-failed-requests", t, 1.0, pts,
                               f"All {len(around)} client requests within {SWITCH_GRACE_SECONDS:g} s of the switch "
                               "succeeded.", f"{len(switches)} switch(es) after the bad release", c,
                               checked=len(around)))

    # 4. a reason
    t, pts, c = p["rollback.reason"]
    target = recovery or first_away
    reason = None
    if target is not None:
        entry = next((e for e in ev.entries("rollback") + ev.entries("promote")
                      if _version(e["data"].get("to")) == target.to and e["seq"] > seq_bad
                      and int(e["data"].get("requested_seq") or e["seq"]) < target.seq), None)
        reason = target.reason or (entry["data"].get("reason") if entry else None)
    said = submission.decisions.rollback if submission and submission.decisions and submission.decisions.rollback \
        else None
    if target is None:
        items.append(_item(ROLLBACK, "rollback.reason", t, 0.0, pts, "No rollback, so no reason was recorded.",
                           citation=c))
    else:
        share, why = _reason_quality(reason)
        if share < 1 and said and _substantive(said.rationale):
            share = max(share, 0.5)
            why += "; decisions.yaml explains it, but the audit trail should carry the reason itself"
        fb = (f"The rollback's reason in the audit trail: {why}." if share >= 1 else
              f"The rollback's reason in the audit trail: {why}. Record why you rolled back where the move is "
              "logged (`lab rollback --reason \"vN scores jumped on day D: prediction PSI 0.8 against the "
              "reference, selection rate doubled\"`): the symptom, the evidence and the version.")
        items.append(_item(ROLLBACK, "rollback.reason", t, share, pts, fb, f"alias.moved seq {target.seq} "
                           f"({target.via or target.actor})", c))
    return items
