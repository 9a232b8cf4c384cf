"""Grades the retraining drill (skill "retraining", max 48): outcome, timing, guardrails, procedure.

After a concept shift the champion decays; the user retrains (`lab retrain`), holds the new
version to guardrails and promotes it, then writes ``retraining.md``. Items:

* ``retraining.outcome`` (12): the champion the drill ended with, scored on hidden rows from after
  the drill (:mod:`lab.grading.retrain_outcome`), against the champion the drill began with and
  the best `lab retrain` the labels arrived by the user's own retrain allowed (the oracle).
  Share = (user - stale) / (oracle - stale), full within :data:`OUTCOME_TOLERANCE` of the oracle.
  A retrain made before labels of the changed world had arrived cannot beat the stale model and
  earns nothing here (the feedback says when they arrived);
* ``retraining.timing`` (6): a retrained version first became champion (after the change began)
  soon after the change could be seen in labels (the onset, plus half its ramp, plus the label delay, plus one day of rows):
  full within :data:`FULL_DAYS` days of that, nothing from :data:`ZERO_DAYS`, linear between;
* ``retraining.gated`` (4): a release gate passed the promoted version before its promotion
  (journal ``gate.run``);
* ``retraining.live-checked`` (4): it answered live traffic before promotion: shadowed with
  answers, or a completed canary;
* ``retraining.doc.*`` (22): ``retraining.md`` (:mod:`lab.grading.retraining_doc`), checked
  against what the drill did where the document makes a claim the journal can confirm.

Only versions registered by `lab retrain` can be rebuilt (their rows and recipe are in the
journal), so only they earn outcome points (the brief says so). When such a version's rows cannot
be rebuilt from the bundle (a log lost), its outcome is unverified: :data:`UNVERIFIED_SHARE`.
"""

from __future__ import annotations

import math
from typing import Any

from lab.evidence.schema import Evidence, parse_time
from lab.evidence.submission import RETRAINING, Submission
from lab.grading.items import Item
from lab.grading.release_facts import fmt, plan_item, release_facts, version_of

SKILL = "retraining"
PLAN = (("retraining.outcome", "The retrained champion predicts the changed world well", 12.0),
        ("retraining.timing", "The retrained version was in production soon after the change showed", 6.0),
        ("retraining.gated", "A release gate passed the retrained version before promotion", 4.0),
        ("retraining.live-checked", "The retrained version answered live traffic before promotion", 4.0))
OUTCOME_TOLERANCE = 0.005
MIN_GAIN = 0.01
FULL_DAYS = 6.0
ZERO_DAYS = 14.0
UNVERIFIED_SHARE = 0.5


def _item(id_: str, share: float, feedback: str, evidence: str = "", **details: Any) -> Item:
    return plan_item(SKILL, PLAN, id_, share, feedback, evidence, **details)


def _concept(ev: Evidence) -> tuple[float | None, float]:
    """The concept change's onset and ramp width (None: the scenario has none)."""
    drift = next((d for d in ev.answer_key.drifts if d.type == "concept"), None)
    if drift is None:
        return None, 0.0
    event = next((e for e in ev.scenario.timeline.events if e.name == drift.event), None)
    return float(drift.onset_day), float(getattr(event, "width_days", 0.0) or 0.0)


def visible_day(ev: Evidence) -> float | None:
    """The first day a retrain could hold a day of the changed world's labels."""
    onset, width = _concept(ev)
    if onset is None:
        return None
    return onset + width / 2 + ev.scenario.timeline.label_delay_days + 1


def _outcome(ev: Evidence, champion: int | None, entry: dict[str, Any] | None) -> Item:
    from lab.grading import retrain_outcome as ro

    features = ro.features_of(ev)
    hidden, stale = ro.baseline(ev)
    if entry is None:
        return _item("retraining.outcome", 0.0,
                     f"The drill ended with v{champion} as champion, which `lab retrain` did not produce: on rows from "
                     f"after the drill it reaches ROC AUC {fmt(stale)} (the model trained before the change). Retrain "
                     "on labelled rows from after the change, then promote the new version.",
                     evidence=f"champion v{champion}; hidden rows: {len(hidden)}", stale_auc=stale)
    d = entry["data"]
    batches = ro.served_batches(ev)
    rebuilt = ro.rebuild(ev, batches, entry)
    if rebuilt is None:
        return _item("retraining.outcome", UNVERIFIED_SHARE,
                     f"v{champion}'s training rows (days {d['from_day']:g}..{d['to_day']:g}, labels by day "
                     f"{float(d['labels_by_day']):.2f}) could not be rebuilt from the evidence, so its outcome is unverified: "
                     "half credit.", evidence=f"journal retrain seq {entry['seq']}")
    user = ro.auc_on(rebuilt.model, hidden, features)
    onset, _ = _concept(ev)
    best, where = ro.oracle(ev, batches, float(d["labels_by_day"]), onset, hidden)
    rows_to = f", rows of days up to {d['last_row_day']:g}" if d.get("last_row_day") is not None else ""
    window = (f"days {d['from_day']:g}..{d['to_day']:g} ({d['strategy']}{rows_to}), labels arrived by day "
              f"{float(d['labels_by_day']):.2f}")
    evidence = (f"hidden rows from after the drill: {len(hidden)}; v{champion} {fmt(user)}, the original champion "
                f"{fmt(stale)}, best retrain then {fmt(best)} ({where})"
                + ("" if rebuilt.matches else "; the rebuilt rows' digest differs from the one recorded"))
    details = {"user_auc": user, "stale_auc": stale, "oracle_auc": best, "oracle_window": where,
               "digest_matches": rebuilt.matches}
    if math.isnan(best) or best - stale < MIN_GAIN:
        vis = visible_day(ev)
        when = f"; labels of the changed world could fill a retrain from about day {vis:.1f}" if vis is not None else ""
        return _item("retraining.outcome", 0.0,
                     f"v{champion} was retrained on {window}, when no retrain could yet beat the original champion "
                     f"(best possible {fmt(best)} against {fmt(stale)}){when}.", evidence, **details)
    share = 1.0 if user >= best - OUTCOME_TOLERANCE else (user - stale) / (best - stale)
    verdict = ("as good as the best window the labels allowed" if share >= 1.0 else
               f"{max(0.0, share):.0%} of the way from the original champion to the best window the labels allowed")
    hint = "" if share >= 1.0 else (
        " Rows from before the change teach the old rule: start the window at the change, or weight recent rows.")
    return _item("retraining.outcome", share, f"v{champion}, retrained on {window}, is {verdict}.{hint}", evidence,
                 **details)


def _timing(ev: Evidence, retrained: set[int]) -> Item:
    """When a retrained version first served as champion after the change began (a later, better
    retrain promoted on top of it does not make the response later)."""
    vis = visible_day(ev)
    onset, _ = _concept(ev)
    first = next((m for m in ev.alias_history if m.alias == "champion" and m.model == ev.model and m.to in retrained
                  and m.day is not None and onset is not None and m.day >= onset), None)
    if vis is None or first is None:
        return _item("retraining.timing", 0.0, "No retrained version became champion after the change began.")
    late = float(first.day) - vis
    share = 1.0 if late <= FULL_DAYS else max(0.0, (ZERO_DAYS - late) / (ZERO_DAYS - FULL_DAYS))
    return _item("retraining.timing", share,
                 f"A retrained version (v{first.to}) first became champion on day {first.day:.1f}; labels showed the "
                 f"change from about day {vis:.1f} (full credit within {FULL_DAYS:g} days of that, none after "
                 f"{ZERO_DAYS:g}).", evidence=f"alias.moved seq {first.seq}", days_after_visible=round(late, 2))


def _guardrails(ev: Evidence, champion: int, became: Any) -> list[Item]:
    t = became.timestamp if became is not None else math.inf
    runs = [e for e in ev.entries("gate.run") if version_of(e["data"].get("version")) == champion
            and parse_time(e["time"]) <= t]
    passed = [e for e in runs if e["data"].get("verdict") == "passed"]
    if passed:
        gated = _item("retraining.gated", 1.0, f"The gate passed v{champion} before it became champion.",
                      evidence=f"gate.run seq {passed[-1]['seq']} (gate sha256 {str(passed[-1]['data'].get('gate_sha256'))[:12]})")
    elif runs:
        failed = ", ".join(runs[-1]["data"].get("failed") or [])
        gated = _item("retraining.gated", 0.0, f"v{champion} was promoted although its last gate run blocked it "
                      f"({failed}). If the gate's reference rows predate the change, say so and change the gate; do "
                      "not step around it.", evidence=f"gate.run seq {runs[-1]['seq']}")
    else:
        gated = _item("retraining.gated", 0.0, f"No release gate ran on v{champion} before its promotion "
                      "(`lab gate apply`, then `lab gate run` or `lab retrain` runs it).")
    facts = release_facts(ev)
    answered = facts.counts_of(champion).get("answered", 0)
    canaried = [e for e in ev.entries("canary.completed") if version_of(e["data"].get("version")) == champion]
    if canaried:
        live = _item("retraining.live-checked", 1.0, f"v{champion} became champion through a completed canary.",
                     evidence=f"canary.completed seq {canaried[0]['seq']}")
    elif answered:
        live = _item("retraining.live-checked", 1.0, f"v{champion} answered {answered} mirrored requests in shadow "
                     "before its promotion.", evidence="serving log: shadow answers", answered=answered)
    else:
        live = _item("retraining.live-checked", 0.0, f"v{champion} served no live traffic before it became champion: "
                     "shadow it (`lab shadow start`) or release it by canary (`lab canary start`).")
    return [gated, live]


def _window_days(d: dict[str, Any]) -> float:
    """The days a retrain's rows came from: its window, cut where labelled rows ended."""
    last = d.get("last_row_day")
    end = min(float(d["to_day"]), float(last) + 1) if last is not None else float(d["to_day"])
    return end - float(d["from_day"])


def grade_retraining(ev: Evidence, sub: Submission | None) -> list[Item]:
    from lab.grading.retraining_doc import DocFacts, grade_retraining_doc

    champion = ev.champion()
    retrains = {version_of(e["data"].get("version")): e for e in ev.entries("retrain")}
    entry = retrains.get(champion)
    items = [_outcome(ev, champion, entry)]
    moves = [m for m in ev.alias_history if m.alias == "champion" and m.model == ev.model and m.to == champion]
    became = moves[-1] if moves else None
    if entry is None:
        why = "No version from `lab retrain` became champion."
        items += [_item("retraining.timing", 0.0, why), _item("retraining.gated", 0.0, why),
                  _item("retraining.live-checked", 0.0, why)]
    else:
        items.append(_timing(ev, {v for v in retrains if v is not None}))
        items += _guardrails(ev, champion, became)
    done = {i.id: i.points >= i.max_points - 1e-9 for i in items}
    d = entry["data"] if entry else {}
    facts = DocFacts(label_delay_days=ev.scenario.timeline.label_delay_days,
                     window_days=_window_days(d) if d else None,
                     gated=done.get("retraining.gated", False), live_checked=done.get("retraining.live-checked", False))
    items += grade_retraining_doc(sub.text(RETRAINING) if sub else None, facts)
    return items


__all__ = ["PLAN", "grade_retraining", "visible_day"]
