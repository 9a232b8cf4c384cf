"""Grades the drill's canary releases (skill "canary", max 24), from the journal and the alias history.

The scenario's candidates are known: one carrying a defect must stay out of production, the
sound one must ship; its ``service_level`` (p99 latency, error rate) is what the guards are
judged by. Items:

* ``canary.guards`` (6): every canary the user started had a latency guard within the
  latency objective and an error-rate guard within the error objective (each guard half of a
  canary's share; a guard looser than the objective, or missing, earns nothing);
* ``canary.first-step`` (2): every canary began at 25% of requests or less (how many people a
  bad version reaches before its guards can judge it);
* ``canary.bad-stopped`` (8): no defective candidate became champion, and it was tried by
  canary and stopped before 100% (rolled back by a guard or aborted: full; never tried: half;
  promoted without a canary, or reached champion: 0);
* ``canary.good-shipped`` (8): the sound candidate became champion through a completed
  canary (full), by a direct promotion (3 of 8: shipped untested on live traffic), or not at
  all (0; the feedback names a guard that rolled it back, a false alarm).
"""

from __future__ import annotations

from typing import Any

from lab.evidence.schema import Evidence
from lab.grading.items import Item
from lab.grading.release_facts import plan_item

CANARY = "canary"
PLAN = (("canary.guards", "Guards set from the service's objectives", 6.0),
        ("canary.first-step", "Canaries began with a small share of requests", 2.0),
        ("canary.bad-stopped", "The failing candidate was stopped before full traffic", 8.0),
        ("canary.good-shipped", "The sound candidate shipped through a completed canary", 8.0))
MAX_FIRST_STEP = 25.0
DIRECT_PROMOTION_SHARE = 3.0 / 8.0


def _item(id_: str, share: float, feedback: str, evidence: str = "", **details: Any) -> Item:
    return plan_item(CANARY, PLAN, id_, share, feedback, evidence, **details)


def _guard_share(guards: dict[str, Any], slo: Any) -> tuple[float, list[str]]:
    """Half a canary's share per guard set within its objective; what is missing or loose."""
    notes, share = [], 0.0
    for key, objective, what, unit in (("max_p99_ms", slo.p99_ms, "latency", " ms"),
                                       ("max_error_rate", slo.error_rate, "error-rate", "")):
        limit = guards.get(key)
        if limit is None:
            notes.append(f"no {what} guard")
        elif limit > objective:
            notes.append(f"{what} guard {limit:g}{unit} is looser than the {objective:g}{unit} objective")
        else:
            share += 0.5
    return share, notes


def grade_canary(ev: Evidence) -> list[Item]:
    versions = ev.scenario.model.versions
    bad = {i for i, v in enumerate(versions, 1) if v.role == "candidate" and v.defect is not None}
    good = {i for i, v in enumerate(versions, 1) if v.role == "candidate" and v.defect is None}
    slo = ev.scenario.service_level
    started = [e for e in ev.entries("canary.started") if e["actor"] == "user"]
    ends = {k: ev.entries(k) for k in ("canary.rolled_back", "canary.completed", "canary.aborted")}
    champions = [m for m in ev.alias_history if m.alias == "champion" and m.model == ev.model]
    items = []

    if not started or slo is None:
        why = "No canary was started (`lab canary start`)." if slo is not None else "The scenario states no objectives."
        items += [_item("canary.guards", 0.0, why), _item("canary.first-step", 0.0, why)]
    else:
        shares, lines = [], []
        for e in started:
            share, notes = _guard_share(e["data"]["guards"], slo)
            shares.append(share)
            lines.append(f"v{e['data']['version']}: " + ("; ".join(notes) if notes else "both guards within the objectives"))
        items.append(_item("canary.guards", sum(shares) / len(shares),
                           f"Objectives: p99 <= {slo.p99_ms:g} ms, error rate <= {slo.error_rate:g}. " + ". ".join(lines)
                           + ".", evidence="; ".join(f"v{e['data']['version']}: {e['data']['guards']}" for e in started)))
        small = [e for e in started if e["data"]["steps"][0] <= MAX_FIRST_STEP]
        items.append(_item("canary.first-step", len(small) / len(started),
                           f"{len(small)} of {len(started)} canaries began at {MAX_FIRST_STEP:g}% of requests or less ("
                           + ", ".join(f"v{e['data']['version']} at {e['data']['steps'][0]:g}%" for e in started) + ")."))

    # the defective candidates
    reached = [m for m in champions if m.to in bad]
    tried = {e["data"]["version"] for e in started}
    stopped = {e["data"]["version"]: e for k in ("canary.rolled_back", "canary.aborted") for e in ends[k]}
    if reached:
        m = reached[0]
        fb, share = (f"v{m.to} became champion on day {m.day or 0.0:.2f} ({m.actor}: {m.reason or 'no reason'}): a version "
                     "that fails live requests reached every applicant."), 0.0
    elif bad and all(v in stopped for v in bad):
        e = stopped[min(bad)]
        how = (f"rolled back by its guard {e['data']['breach']['guard']} ({e['data']['breach']['value']} > "
               f"{e['data']['breach']['limit']})" if e["kind"] == "canary.rolled_back" else "aborted by you")
        fb, share = f"v{min(bad)} was stopped at {e['data']['percent']:g}% of requests: {how}.", 1.0
    elif bad - tried:
        fb, share = (f"v{', v'.join(map(str, sorted(bad - tried)))} was never released, so it never reached production; "
                     "the task was to release it by canary and let its guards judge it."), 0.5
    else:
        fb, share = "The defective candidate's canary did not end before the drill did.", 0.5
    items.append(_item("canary.bad-stopped", share, fb))

    # the sound candidate
    shipped = [m for m in champions if m.to in good]
    completed = {e["data"]["version"] for e in ends["canary.completed"]}
    if shipped and shipped[0].to in completed:
        fb, share = f"v{shipped[0].to} became champion when its canary completed every step.", 1.0
    elif shipped:
        fb, share = (f"v{shipped[0].to} became champion by a direct move ({shipped[0].actor}), not through a completed "
                     "canary: shipped untested on live traffic."), DIRECT_PROMOTION_SHARE
    else:
        rolled = [e for e in ends["canary.rolled_back"] if e["data"]["version"] in good]
        if rolled:
            b = rolled[0]["data"]["breach"]
            fb = (f"v{rolled[0]['data']['version']}'s canary was rolled back by {b['guard']} ({b['value']} > "
                  f"{b['limit']}): a guard tighter than the objectives stopped a sound version.")
        else:
            fb = f"v{', v'.join(map(str, sorted(good)))} never became champion."
        share = 0.0
    items.append(_item("canary.good-shipped", share, fb))
    return items


__all__ = ["PLAN", "grade_canary"]
