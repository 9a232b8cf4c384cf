"""What happened in a drill's releases, read once from the evidence for every shadow and rollback item.

Actions are facts of the alias history and the request logs, not of the commands'
own journal entries: a ``lab shadow start`` that timed out while the shadow warmed
still moved the ``shadow`` alias, and serving still mirrored requests. So a shadow
period is an interval in which the ``shadow`` alias pointed at a version (from
``alias.moved``); mirrored requests that no alias move explains (an older bundle, a
move made while the watcher was down) add a period spanning them. ``shadow.started``
entries only mark a period as journaled. :func:`release_facts` derives the periods,
the champion's moves, promotions and switches, the mirrored-request counts of each
shadowed version before its promotion and the journal's ``shadow.crash_loop`` entries; the graders (lab.grading.shadow_grader,
lab.grading.rollback_grader) read nothing else about the timeline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lab.evidence.schema import AliasMove, Evidence, JournalEntry, parse_time
from lab.grading.items import Item, Skill
from lab.release.shadow_report import shadow_counts

#: Seconds around an alias move in which answers from either version are expected.
SWITCH_GRACE_SECONDS = 5.0
#: Seconds serving is assumed to take to follow a move whose command did not journal it.
DEFAULT_SECONDS_TO_SERVE = 10.0
SYMPTOMS = (r"drift|scores?|predict|auc|accura|latenc|error|alert|alarm|labels?|complain|selection|rate|defect|wrong|"
            r"psi|distribution|spike|drop|regress|skill|feature|column|schema|percent|shift|broke|fail|monitor|"
            r"precision|recall|f1|outlier|mean|median")
BOILERPLATE = frozenset({
    "", "rollback", "roll back", "rolling back", "rolled back", "revert", "reverted", "bad release", "fix", "fixed",
    "test", "testing", "n a", "na", "none", "asdf", "todo", "tbd", "reason", "because", "x", "issue", "problem",
    "bug", "oops", "rollback requested", "manual rollback", "shadow stopped", "promote", "promotion", "ok", "done",
})


def version_of(v: Any) -> int | None:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


def fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}".rstrip("0").rstrip(".")


def make_item(skill: Skill, id_: str, title: str, share: float, max_points: float, feedback: str, evidence: str = "",
              citation: str | None = None, **details: Any) -> Item:
    share = max(0.0, min(1.0, share))
    return Item(id=id_, skill=skill, title=title, points=round(max_points * share, 6), max_points=max_points,
                feedback=feedback, evidence=evidence, citation=citation, details=details)


def plan_item(skill: Skill, plan: Sequence[tuple[str, str, float]], id_: str, share: float, feedback: str,
              evidence: str = "", **details: Any) -> Item:
    """The item ``id_`` of a grader's ``plan`` (``(id, title, points)`` rows), scored at ``share``."""
    _, title, pts = next(p for p in plan if p[0] == id_)
    return make_item(skill, id_, title, share, pts, feedback, evidence, **details)


@dataclass(frozen=True)
class Switch:
    """A champion move with the seconds serving took to follow it."""

    move: AliasMove
    seconds_to_serve: float


@dataclass(frozen=True)
class ShadowPeriod:
    """An interval in which requests could be mirrored to ``version``."""

    version: int
    start: float
    end: float
    seq: int | None  # the alias.moved entry that began it (None: seen in the request logs only)
    via: str  # "lab shadow start", "MLflow UI or API", "request logs"
    journaled: bool  # a shadow.started entry supports it

    def holds(self, t: float) -> bool:
        return self.start <= t <= self.end

    @property
    def source(self) -> str:
        where = f"alias.moved seq {self.seq}" if self.seq is not None else "mirrored requests in the serving log"
        return f"{where} ({self.via}{', journaled shadow.started' if self.journaled else ''})"


@dataclass(frozen=True)
class ReleaseFacts:
    champion_moves: list[AliasMove]
    shadow_moves: list[AliasMove]
    shadow_periods: list[ShadowPeriod]
    promotions: list[AliasMove]  # champion moves that promote a candidate (lab promote, or an external move)
    switches: list[Switch]
    end_time: float
    crash_loops: list[JournalEntry]
    counts: dict[int, dict[str, Any]]  # shadow version -> lab.release.shadow_report.shadow_counts, before its promotion

    @property
    def first_promotion(self) -> AliasMove | None:
        return self.promotions[0] if self.promotions else None

    def promotion_of(self, version: int | None) -> AliasMove | None:
        return next((m for m in self.promotions if m.to == version), None)

    def counts_of(self, version: int) -> dict[str, Any]:
        """What became of the requests mirrored to ``version`` before its promotion (all zero if none)."""
        return self.counts.get(version) or shadow_counts((), version)

    def champion_at(self, t: float) -> int | None:
        current = None
        for m in self.champion_moves:
            if m.timestamp > t:
                break
            current = m.to
        return current

    def shadow_at(self, t: float) -> int | None:
        return next((p.version for p in self.shadow_periods if p.holds(t)), None)

    def in_switch(self, t: float, after_seq: int = -1) -> Switch | None:
        for s in self.switches:
            t0 = s.move.timestamp
            if s.move.seq > after_seq and t0 - SWITCH_GRACE_SECONDS <= t <= t0 + s.seconds_to_serve \
                    + SWITCH_GRACE_SECONDS:
                return s
        return None


def moves_of(ev: Evidence, alias: str) -> list[AliasMove]:
    return sorted((m for m in ev.alias_history if m.alias == alias and m.model == ev.model), key=lambda m: m.seq)


def end_time(ev: Evidence) -> float:
    times = [parse_time(e["time"]) for e in ev.journal]
    times += [float(r["time"]) for r in ev.traffic_requests if r.get("time") is not None]
    times += [float(r["time"]) for r in ev.serving_requests if r.get("time") is not None]
    return max(times) if times else 0.0


def _switches(ev: Evidence, champion: Sequence[AliasMove]) -> list[Switch]:
    served: dict[int, float] = {}
    for kind in ("promote", "rollback"):
        for e in ev.entries(kind):
            if e["data"].get("requested_seq") is not None:
                served[int(e["data"]["requested_seq"])] = float(e["data"].get("seconds_to_serve") or 0.0)
    requested = [e for e in ev.entries("alias.requested") if e["data"].get("alias") == "champion"]
    out = []
    for m in champion:
        req = next((r for r in reversed(requested) if r["seq"] < m.seq and version_of(r["data"].get("to")) == m.to),
                   None)
        out.append(Switch(m, served.get(req["seq"], DEFAULT_SECONDS_TO_SERVE) if req else DEFAULT_SECONDS_TO_SERVE))
    return out


def _is_promotion(m: AliasMove, earlier: set[int | None], ev: Evidence) -> bool:
    """A champion move that promotes a candidate (not the initial deployment, a bad release or a rollback)."""
    via = m.via or ""
    if m.actor in ("lab", "release-pipeline") or via.startswith("timeline event") or via == "lab rollback":
        return False
    if via == "lab promote":
        return True
    # moved in the MLflow UI/API: a promotion unless it returns to a version that served before
    bad = ev.answer_key.bad_release
    return not (m.to in earlier or (bad is not None and m.to == ev.answer_key.last_known_good_version))


def _shadow_periods(ev: Evidence, moves: Sequence[AliasMove], end: float) -> list[ShadowPeriod]:
    started = [(parse_time(e["time"]), version_of(e["data"].get("version"))) for e in ev.entries("shadow.started")]
    periods: list[ShadowPeriod] = []
    for i, m in enumerate(moves):
        if m.to is None:
            continue
        stop = moves[i + 1].timestamp if i + 1 < len(moves) else end
        journaled = any(v == m.to and m.timestamp - SWITCH_GRACE_SECONDS <= t <= stop for t, v in started)
        periods.append(ShadowPeriod(m.to, m.timestamp, stop, m.seq, m.via or m.actor, journaled))
    # mirrored requests no alias move explains: the request logs alone show the shadow ran
    loose: dict[int, list[float]] = {}
    for r in ev.serving_requests:
        v = version_of(r.get("shadow_version"))
        if v is None or r.get("time") is None:
            continue
        t = float(r["time"])
        if not any(p.version == v and p.start - SWITCH_GRACE_SECONDS <= t <= p.end + SWITCH_GRACE_SECONDS
                   for p in periods):
            loose.setdefault(v, []).append(t)
    for v, times in sorted(loose.items()):
        journaled = any(sv == v for _, sv in started)
        periods.append(ShadowPeriod(v, min(times), max(times), None, "request logs", journaled))
    return sorted(periods, key=lambda p: p.start)


def release_facts(ev: Evidence) -> ReleaseFacts:
    """Every fact the shadow and rollback items read, derived once."""
    champion = moves_of(ev, "champion")
    shadow = moves_of(ev, "shadow")
    end = end_time(ev)
    promotions = [m for i, m in enumerate(champion) if _is_promotion(m, {x.to for x in champion[:i]}, ev)]
    periods = _shadow_periods(ev, shadow, end)
    counts = {}
    for v in sorted({p.version for p in periods}):
        promo = next((m for m in promotions if m.to == v), None)
        cut = promo.timestamp if promo else float("inf")
        counts[v] = shadow_counts((r for r in ev.serving_requests if float(r.get("time") or 0) < cut), v)
    return ReleaseFacts(champion_moves=champion, shadow_moves=shadow, shadow_periods=periods, promotions=promotions,
                        switches=_switches(ev, champion), end_time=end, crash_loops=ev.entries("shadow.crash_loop"),
                        counts=counts)


def substantive(text: str | None) -> bool:
    if not text:
        return False
    words = re.findall(r"[A-Za-z0-9][\w.%+-]*", text)
    return len(words) >= 6 and " ".join(w.lower() for w in words) not in BOILERPLATE


def reason_quality(reason: str | None) -> tuple[float, str]:
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
