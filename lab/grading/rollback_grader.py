"""Grades the response to the bad release (skill "rollback", max 20; 0 when the scenario has none).

Read from the same facts as the shadow items (:func:`lab.grading.release_facts.release_facts`):

* ``rollback.target``: ``champion`` was returned to a known-good version (the answer
  key's ``last_known_good_version``, or the champion that served just before the bad
  release if it was not the defective one);
* ``rollback.time``: how long that took, in scenario days (wall time beside);
* ``rollback.no-failed-requests``: no client request failed around the switch;
* ``rollback.reason``: the move carries a real reason in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.evidence.schema import AliasMove, Evidence, parse_time
from lab.grading.items import Item
from lab.grading.release_facts import (SWITCH_GRACE_SECONDS, ReleaseFacts, fmt, make_item, reason_quality,
                                       release_facts, substantive, version_of)
from lab.evidence.submission import Submission

#: Scenario days to recover from a bad release, and the share of points each band earns.
RECOVERY_BANDS: tuple[tuple[float, float], ...] = ((1.0, 1.0), (2.0, 0.75))

ROLLBACK = "rollback"
PLAN = (("rollback.target", "Champion back on the last known-good version", 8.0, "art20"),
        ("rollback.time", "Time from the bad release to the rollback", 5.0, "art20"),
        ("rollback.no-failed-requests", "No failed requests during the switch", 3.0, None),
        ("rollback.reason", "A reason recorded with the rollback", 4.0, "art12"))
CITATIONS = {"art20": "AI Act Art. 20", "art12": "AI Act Art. 12"}


@dataclass(frozen=True)
class _Ctx:
    ev: Evidence
    facts: ReleaseFacts
    high: bool
    bad_v: int
    t_bad: float
    day_bad: float | None
    seq_bad: int
    accepted: set[int]
    first_away: AliasMove | None  # the first champion move off the bad version
    recovery: AliasMove | None  # the first champion move to an accepted version
    final: int | None

    @property
    def ok_list(self) -> str:
        return "v" + " or v".join(str(v) for v in sorted(self.accepted))

    @property
    def history(self) -> str:
        return "champion history: " + " -> ".join(f"v{m.to}" for m in self.facts.champion_moves if m.to is not None)

    def item(self, id_: str, share: float, feedback: str, evidence: str = "", **details: object) -> Item:
        _, title, pts, cite = next(p for p in PLAN if p[0] == id_)
        citation = CITATIONS[cite] if cite and self.high else None
        return make_item(ROLLBACK, id_, title, share, pts, feedback, evidence, citation, **details)


def grade_rollback(evidence: Evidence, submission: Submission | None) -> list[Item]:
    """Score the response to the bad release; max points sum to 20 (0 when there is none)."""
    ev = evidence
    key = ev.answer_key
    high = ev.scenario.risk.eu_ai_act_class == "high"

    def cite(c: str | None) -> str | None:
        return CITATIONS[c] if c and high else None

    if key.bad_release is None:
        return [make_item(ROLLBACK, i, t, 0.0, 0.0, "Not applicable: this scenario has no bad release, so there is "
                          "nothing to roll back; these items count for nothing.", citation=cite(c))
                for i, t, _, c in PLAN]
    facts = release_facts(ev)
    bad_v = key.bad_release.version
    champ = facts.champion_moves
    release = next((m for m in champ if m.to == bad_v and (m.actor == "release-pipeline"
                                                             or (m.via or "").startswith("timeline event"))), None)
    fired = next((e for e in ev.entries("event.fired") if e["data"].get("type") == "bad_release"), None)
    if release is not None:
        t_bad, day_bad, seq_bad = release.timestamp, release.day, release.seq
    elif fired is not None:
        t_bad, day_bad, seq_bad = parse_time(fired["time"]), fired.get("day"), fired["seq"]
    else:
        return [make_item(ROLLBACK, i, t, 0.0, p, "The bad release had not happened when you submitted, so there was "
                          "nothing to roll back yet: work the drill to the end of the scenario (`lab status` shows "
                          "the day) before submitting.", citation=cite(c)) for i, t, p, c in PLAN]
    rolled_from = {version_of(e["data"].get("from")) for e in ev.entries("rollback") if e["data"].get("from")}
    accepted = {key.last_known_good_version}
    before = [m for m in champ if m.seq < seq_bad]
    pre = before[-1].to if before else None
    if pre is not None and pre != bad_v and pre not in rolled_from:
        accepted.add(pre)
    after = [m for m in champ if m.seq > seq_bad]
    ctx = _Ctx(ev, facts, high, bad_v, t_bad, day_bad if day_bad is not None else key.bad_release.day, seq_bad,
               accepted, next((m for m in after if m.to != bad_v), None),
               next((m for m in after if m.to in accepted), None), champ[-1].to if champ else None)
    return [_target_item(ctx), _time_item(ctx), _failed_requests_item(ctx), _reason_item(ctx, submission)]


def _target_item(c: _Ctx) -> Item:
    details = {"accepted": sorted(c.accepted), "final": c.final}
    away = c.first_away
    if c.final == c.bad_v:
        return c.item("rollback.target", 0.0, f"champion still points at v{c.bad_v}, the bad release. Roll back to "
                      f"the last known-good version ({c.ok_list}): `lab rollback --reason ...`.", c.history, **details)
    if away is not None and away.to in c.accepted:
        later = "" if c.final == away.to else f" (champion later moved on to v{c.final})"
        return c.item("rollback.target", 1.0, f"Rolled back to v{away.to}, a version known to work before the bad "
                      f"release{later}.", c.history, **details)
    if away is not None:
        fix = f" and then to v{c.recovery.to}" if c.recovery else ""
        return c.item("rollback.target", 0.25 if c.recovery else 0.0,
                      f"You moved champion from v{c.bad_v} to v{away.to}{fix}. v{away.to} is not a known-good "
                      "version: it never served as the healthy champion before the bad release. Rolling back means "
                      f"returning to the last version known to work ({c.ok_list}), not to the previous version "
                      "number.", c.history, **details)
    return c.item("rollback.target", 0.0, "champion never moved after the bad release.", c.history, **details)


def _time_item(c: _Ctx) -> Item:
    key = c.ev.answer_key
    bad_served = sum(1 for r in c.ev.traffic_requests if r.get("status") == 200
                     and version_of(r.get("model_version")) == c.bad_v
                     and float(r["time"]) >= c.t_bad - SWITCH_GRACE_SECONDS)
    rec = c.recovery
    if rec is None:
        return c.item("rollback.time", 0.0,
                      f"No rollback to a known-good version, so v{c.bad_v} kept serving ({bad_served} requests "
                      "answered by it). A strong engineer alarms on the prediction distribution and rolls back "
                      "within a day of scenario time, before labels confirm it.",
                      f"bad release at day {fmt(c.day_bad, 2)}", requests_on_bad_version=bad_served)
    days = None if rec.day is None or c.day_bad is None else round(rec.day - float(c.day_bad), 4)
    wall = round(rec.timestamp - c.t_bad, 3)
    share = 0.0
    if days is not None:
        share = next((s for limit, s in RECOVERY_BANDS if days <= limit), None) or \
            (0.5 if days <= key.label_delay_days + 1 else 0.25)
    band = ("within a day" if share == 1 else "within two days" if share == 0.75 else
            "about when the labels would have shown it" if share == 0.5 else "late")
    fb = (f"Recovered {band}: {fmt(days, 2)} scenario days ({wall:.0f} s wall time) after the bad release; "
          f"{bad_served} requests were answered by v{c.bad_v}.")
    if share < 1:
        fb += (" A strong engineer rolls back within a day: the defect moves the prediction distribution at once, so "
               f"a prediction-drift alarm catches it long before labels do ({key.label_delay_days:g} days late).")
    return c.item("rollback.time", share, fb, f"bad release day {fmt(c.day_bad, 2)}, rollback day {fmt(rec.day, 2)}",
                  days=days, wall_seconds=wall, requests_on_bad_version=bad_served)


def _failed_requests_item(c: _Ctx) -> Item:
    facts = c.facts
    switches = [s for s in facts.switches if s.move.seq > c.seq_bad]
    if not switches:
        return c.item("rollback.no-failed-requests", 0.0, "No rollback switch to check.", c.history)
    around = [r for r in c.ev.traffic_requests
              if facts.in_switch(float(r["time"]), c.seq_bad) is not None
              or facts.in_switch(float(r["time"]) + float(r.get("latency_ms") or 0) / 1000, c.seq_bad) is not None]
    failed = [r for r in around if r.get("status") != 200]
    where = f"{len(switches)} switch(es) after the bad release"
    if failed:
        codes = sorted({str(r.get("status")) for r in failed})
        return c.item("rollback.no-failed-requests", 0.0,
                      f"{len(failed)} of {len(around)} client requests failed within {SWITCH_GRACE_SECONDS:g} s of the "
                      f"switch (status {', '.join(codes)}). Switch by moving the alias while serving keeps answering "
                      "(load the new version, then swap), never by restarting the server.", where,
                      failed=len(failed), checked=len(around))
    if not around:
        return c.item("rollback.no-failed-requests", 0.5, "No traffic around the switch, so nothing shows it was "
                      "seamless; switch while traffic flows.", where)
    return c.item("rollback.no-failed-requests", 1.0, f"All {len(around)} client requests within "
                  f"{SWITCH_GRACE_SECONDS:g} s of the switch succeeded.", where, checked=len(around))


def _reason_item(c: _Ctx, submission: Submission | None) -> Item:
    ev = c.ev
    target = c.recovery or c.first_away
    if target is None:
        return c.item("rollback.reason", 0.0, "No rollback, so no reason was recorded.")
    entry = next((e for e in ev.entries("rollback") + ev.entries("promote")
                  if version_of(e["data"].get("to")) == target.to and e["seq"] > c.seq_bad
                  and int(e["data"].get("requested_seq") or e["seq"]) < target.seq), None)
    reason = target.reason or (entry["data"].get("reason") if entry else None)
    said = submission.decisions.rollback if submission and submission.decisions and submission.decisions.rollback \
        else None
    share, why = reason_quality(reason)
    if share < 1 and said and substantive(said.rationale):
        share = max(share, 0.5)
        why += "; decisions.yaml explains it, but the audit trail should carry the reason itself"
    fb = (f"The rollback's reason in the audit trail: {why}." if share >= 1 else
          f"The rollback's reason in the audit trail: {why}. Record why you rolled back where the move is logged "
          "(`lab rollback --reason \"vN scores jumped on day D: prediction PSI 0.8 against the reference, selection "
          "rate doubled\"`): the symptom, the evidence and the version.")
    return c.item("rollback.reason", share, fb, f"alias.moved seq {target.seq} ({target.via or target.actor})")
