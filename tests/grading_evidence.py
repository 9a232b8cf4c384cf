"""Synthetic drills for the grading tests: a lab home written the way the lab writes it, no servers.

:func:`build_home` plays a :class:`Drill` into a temporary lab home: the journal through
the real :class:`lab.core.journal.Journal` (its clock patched to scenario time, 60 s of wall
time per scenario day), and the serving log, traffic log and labels in the lab's
formats. :func:`build_evidence` then runs the real :func:`lab.evidence.collect.collect_evidence`
on it and loads the bundle. Predictions are drawn so each version has a known quality:
``score = sigmoid(s * (2y - 1) + N(0, 1))``, ROC AUC ``Phi(sqrt(2) s)``.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import yaml

import lab.core.journal as journal_module
from lab.scenario import answer_key
from lab.evidence.collect import collect_evidence
from lab.evidence.schema import FALLBACK_COMMANDS, Evidence, load_evidence
from lab.core.home import Home, write_json_atomic
from lab.core.journal import Journal
from lab.scenario.schema import SCENARIO_DIR, load_scenario, resolve

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SPEED = 60.0  # wall seconds per scenario day
CONTEXTS = yaml.safe_load((Path(__file__).parent / "fixtures" / "submissions" / "contexts.yaml").read_text())
SEPARATION = {"good": 0.55, "better": 0.95, "worse": 0.25, "same": 0.55, "defective": 0.02}


@dataclass
class Drill:
    """What the user did. Days are scenario days; None means the action did not happen."""

    scenario: str = "hiring-data-drift"
    seed: int = 7
    rps: float = 2.0  # client requests per wall second
    shadow_version: int | None = 2
    shadow_days: tuple[float, float] = (2.0, 6.0)
    shadow_quality: str = "better"  # the candidate's quality: better, worse or same as the champion
    promote_version: int | None = 2
    promote_day: float = 10.0
    promote_reason: str = "v2 beats v1 on 450 labelled shadow requests: ROC AUC +0.1"
    rollback_to: int | None = -1  # -1: the last known-good (the champion before the bad release)
    rollback_after_days: float = 0.5
    rollback_reason: str | None = "v3 scores collapsed right after the release: prediction PSI 0.9 vs reference"
    rollback_via: str = "lab rollback"  # or "external" (MLflow UI, no reason)
    failed_during_switch: int = 0
    end_day: float | None = None  # default: the scenario's last day
    journal_shadow_started: bool = True  # False: `lab shadow start` timed out warming (alias moved, no entry)
    shadow_warm_days: float = 0.0  # the shadow mirrors nothing this long after the alias moved
    shadow_stopped: bool = True  # False: the shadow alias stays set to the end of the drill
    # shares of mirrored requests whose shadow ended so ("crashed", "dropped", "late", "no_answer": no shadow line ...)
    shadow_statuses: tuple[tuple[str, float], ...] = ()
    # machine load on every request's latency: ("ramp", slope per day) -> 1 + slope * day;
    # ("step", day, factor) -> factor from that day on
    load: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _logit(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@contextmanager
def scenario_clock() -> Iterator[list[float]]:
    """Patch the journal's clock; set ``now[0]`` to the wall time of the next entry."""
    now = [T0]

    class _Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.fromtimestamp(now[0], tz=timezone.utc)

    original = journal_module.datetime
    journal_module.datetime = _Clock  # type: ignore[misc]
    try:
        yield now
    finally:
        journal_module.datetime = original  # type: ignore[misc]


def wall(day: float) -> float:
    return T0 + day * SPEED


def _registry(scenario_id: str, model: str) -> list[dict[str, Any]]:
    if scenario_id in CONTEXTS:
        return CONTEXTS[scenario_id]["versions"]
    return [{"version": 1, "run_id": "a1" * 16, "aliases": ["champion"], "metrics": {"roc_auc": 0.79, "accuracy": 0.8}},
            {"version": 2, "run_id": "b2" * 16, "aliases": [], "metrics": {"roc_auc": 0.78, "accuracy": 0.79}}]


def build_home(root: Path, drill: Drill) -> Home:
    home = Home(root)
    home.ensure_writable()
    scenario_file = SCENARIO_DIR / f"{drill.scenario}.yaml"
    base = load_scenario(str(scenario_file))
    sc, _ = resolve(base, drill.seed)
    key = answer_key.build(base, drill.seed)
    write_json_atomic(home.lab_json, {"scenario": sc.id, "scenario_file": str(scenario_file), "seed": drill.seed,
                                      "speed": SPEED, "ports": {}, "lab_version": "0.1.0",
                                      "created": "2026-01-01T00:00:00+00:00"})
    answer_key.write(home, key)
    model = sc.model.name
    versions = _registry(sc.id, model)
    write_json_atomic(home.root / "registry_snapshot.json",
                      {"source": "mlflow", "taken_at": "2026-01-01T00:00:00+00:00", "model": model,
                       "versions": [{"name": model, **v} for v in versions], "note": "synthetic"})
    end = drill.end_day if drill.end_day is not None else float(sc.timeline.days) - 0.01
    champion_v = sc.version_of("champion")
    challenger_v = sc.version_of("challenger")
    defective_v = sc.version_of("defective")
    delay = sc.timeline.label_delay_days

    # ------------------------------------------------------------------ the journal's events, in time order
    events: list[tuple[float, str, dict[str, Any], str]] = []  # (wall time, kind, data, actor)

    def move(t: float, alias: str, frm: int | None, to: int | None, actor: str, reason: str | None, via: str | None,
             request: bool = True) -> None:
        if request:
            events.append((t, "alias.requested", {"model": model, "alias": alias, "to": to, "actor": actor,
                                                  "reason": reason, "via": via}, actor))
        events.append((t + 0.4, "alias.moved", {"model": model, "alias": alias, "from": frm, "to": to,
                                                "reason": reason, "via": via}, actor))

    events.append((T0, "lab.header", {"lab_version": "0.1.0", "scenario": sc.id, "seed": drill.seed}, "lab"))
    for v in versions:
        events.append((T0 + 0.01, "model.registered", {"model": model, "version": v["version"], "run_id": v["run_id"],
                                                       "estimator": "x"}, "lab"))
    events.append((T0 + 0.02, "alias.moved", {"model": model, "alias": "champion", "from": None, "to": champion_v,
                                              "reason": "initial deployment"}, "lab"))
    if challenger_v:
        events.append((T0 + 0.03, "alias.moved", {"model": model, "alias": "challenger", "from": None,
                                                  "to": challenger_v, "reason": "initial deployment"}, "lab"))
    events.append((T0 + 0.05, "event.fired", {"event": "deploy", "type": "deploy", "scheduled_day": 0.0}, "timeline"))

    champ_timeline: list[tuple[float, int]] = [(T0 + 0.02, champion_v)]
    champion = champion_v
    shadow_periods: list[tuple[float, float, int]] = []
    if drill.shadow_version is not None:
        a, b = wall(drill.shadow_days[0]), wall(drill.shadow_days[1])
        move(a, "shadow", None, drill.shadow_version, "user", f"shadow v{drill.shadow_version} at 100%",
             "lab shadow start")
        if drill.journal_shadow_started:
            events.append((a + 1.5, "shadow.started", {"model": model, "version": drill.shadow_version,
                                                       "percent": 100.0, "fault": None, "champion": champion,
                                                       "seconds_to_mirror": 1.1}, "user"))
        if not drill.shadow_stopped:
            b = wall(end + 1)
        shadow_periods.append((a + 0.4 + drill.shadow_warm_days * SPEED, b + 0.4, drill.shadow_version))
        if drill.shadow_stopped:
            move(b, "shadow", drill.shadow_version, None, "user", "shadow stopped", "lab shadow stop")
            events.append((b + 1.0, "shadow.stopped", {"model": model, "version": drill.shadow_version}, "user"))
    if drill.promote_version is not None:
        t = wall(drill.promote_day)
        move(t, "champion", champion, drill.promote_version, "user", drill.promote_reason, "lab promote")
        events.append((t + 1.2, "promote", {"model": model, "from": champion, "to": drill.promote_version,
                                            "reason": drill.promote_reason, "shadowed_requests": 0, "warning": None,
                                            "seconds_to_serve": 0.8, "requested_seq": ("req", t)}, "user"))
        champion = drill.promote_version
        champ_timeline.append((t + 0.4, champion))
    for e in sc.timeline.events:
        if e.type in ("data_drift", "concept_drift", "label_drift") and e.day <= end:
            events.append((wall(e.day), "event.fired", {"event": e.name, "type": e.type, "scheduled_day": e.day},
                           "timeline"))
    bad = key.bad_release
    rollback_t = None
    if bad is not None and bad.day <= end:
        t = wall(bad.day)
        move(t, "champion", champion, defective_v, "release-pipeline", f"scheduled release of v{defective_v}",
             "timeline event bad-release")
        events.append((t + 0.5, "event.fired", {"event": bad.event, "type": "bad_release",
                                                "scheduled_day": bad.day, "version": defective_v}, "timeline"))
        before_bad = champion
        champion = defective_v
        champ_timeline.append((t + 0.4, champion))
        if drill.rollback_to is not None:
            target = before_bad if drill.rollback_to == -1 else drill.rollback_to
            rollback_t = wall(bad.day + drill.rollback_after_days)
            if drill.rollback_via == "external":
                move(rollback_t, "champion", champion, target, "external", None, "MLflow UI or API", request=False)
            else:
                move(rollback_t, "champion", champion, target, "user", drill.rollback_reason, "lab rollback")
                events.append((rollback_t + 1.0, "rollback", {"model": model, "from": champion, "to": target,
                                                              "reason": drill.rollback_reason,
                                                              "chosen_by": "last known-good champion",
                                                              "seconds_to_serve": 0.7,
                                                              "requested_seq": ("req", rollback_t)}, "user"))
            champion = target
            champ_timeline.append((rollback_t + 0.4, champion))

    # ------------------------------------------------------------------ requests, predictions, labels
    rng = np.random.default_rng(drill.seed)
    quality = {champion_v: "good"}
    if challenger_v:
        quality[challenger_v] = drill.shadow_quality
    if defective_v:
        quality[defective_v] = "defective"
    n = int((end * SPEED) * drill.rps)
    times = T0 + 1.0 + np.arange(n) / drill.rps
    ys = (rng.random(n) < 0.3).astype(int)
    noise = {v: rng.normal(size=n) for v in sorted(quality)}
    if drill.shadow_quality == "same" and challenger_v:
        noise[challenger_v] = noise[champion_v] + rng.normal(scale=0.05, size=n)
    scores = {v: _logit(SEPARATION[q] * (2 * ys - 1) + noise[v]) for v, q in quality.items()}
    latency = (8.0 + rng.exponential(4.0, size=n)) * _load(drill.load, (times - T0) / SPEED)
    fates = _fates(drill.shadow_statuses, n, np.random.default_rng(drill.seed + 1))
    switch_times = [t for t, _ in champ_timeline]
    failed_left = drill.failed_during_switch
    serving, traffic, labels = [], [], []
    ci = 0
    for i in range(n):
        t = float(times[i])
        while ci + 1 < len(champ_timeline) and champ_timeline[ci + 1][0] <= t:
            ci += 1
        v = champ_timeline[ci][1]
        day = (t - T0) / SPEED
        rid = f"{i:032x}"
        rec_t = {"id": rid, "time": round(t, 3), "day": round(day, 4), "row_day": int(day), "row_start": i % 600,
                 "n_rows": 1}
        if failed_left and rollback_t is not None and rollback_t + 0.4 <= t:
            failed_left -= 1
            traffic.append({**rec_t, "status": 503, "error": "service unavailable", "latency_ms": 2.0})
            continue
        p = float(scores[v][i])
        rec_s = {"kind": "request", "id": rid, "time": round(t, 3), "day": round(day, 4), "model": model,
                 "champion_version": v, "champion_prediction": [round(p, 6)], "latency_ms": round(float(latency[i]), 3),
                 "status": 200, "inputs": {"x": [1.0]}}
        sv = next((s for a, b, s in shadow_periods if a <= t <= b), None)
        if sv is not None:
            rec_s["shadow_version"] = sv
            serving.append(rec_s)
            fate = fates[i]
            answered = fate in ("ok", "late")
            if fate != "no_answer":
                serving.append({"kind": "shadow", "id": rid, "shadow_version": sv,
                                "shadow_prediction": [round(float(scores[sv][i]), 6)] if answered else None,
                                "shadow_latency_ms": round(float(latency[i]) * 1.5, 3) if answered else None,
                                "shadow_status": fate})
        else:
            serving.append(rec_s)
        traffic.append({**rec_t, "status": 200, "latency_ms": round(float(latency[i]) + 1.0, 3),
                        "model_version": str(v)})
        arrived = int(day) + delay
        if arrived <= end:
            labels.append({"request_id": rid, "day": int(day), "labels": [int(ys[i])], "arrived_day": float(arrived)})
    for d in range(int(end) + 1):
        if d + delay <= end:
            events.append((wall(d + delay), "labels.arrived", {"day": d, "requests": 0}, "timeline"))
    del switch_times

    _write_jsonl(home.serving / "requests.jsonl", serving)
    _write_jsonl(home.traffic / "requests.jsonl", traffic)
    _write_jsonl(home.root / "feedback" / "labels.jsonl", labels)

    # ------------------------------------------------------------------ play the journal
    events.sort(key=lambda e: e[0])
    journal = Journal(home.journal)
    requested: dict[tuple[str, float], int] = {}
    with scenario_clock() as now:
        for t, kind, data, actor in events:
            now[0] = t
            data = dict(data)
            if isinstance(data.get("requested_seq"), tuple):
                data["requested_seq"] = requested.get(data["requested_seq"][1])
            entry = journal.append(kind, data, day=(t - T0) / SPEED, actor=actor)
            if kind == "alias.requested":
                requested[t] = entry["seq"]
    return home


def _load(load: tuple[Any, ...], days: np.ndarray) -> np.ndarray:
    if not load:
        return np.ones_like(days)
    if load[0] == "ramp":
        return 1.0 + float(load[1]) * days
    if load[0] == "step":
        return np.where(days >= float(load[1]), float(load[2]), 1.0)
    raise ValueError(f"unknown load {load!r}")


def _fates(shares: tuple[tuple[str, float], ...], n: int, rng: np.random.Generator) -> list[str]:
    """Each request's shadow status if it is mirrored: "ok" unless drawn into one of ``shares``."""
    names = [name for name, _ in shares] + ["ok"]
    probs = [share for _, share in shares]
    draws = rng.choice(len(names), size=n, p=probs + [1.0 - sum(probs)])
    return [names[k] for k in draws]


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


def build_evidence(tmp: Path, drill: Drill | None = None) -> Evidence:
    """Play ``drill`` into ``tmp/home`` and return the loaded evidence bundle (``tmp/evidence``)."""
    home = build_home(tmp / "home", drill or Drill())
    return load_evidence(collect_evidence(home, tmp / "evidence", FALLBACK_COMMANDS))


def auc_of(separation: float) -> float:
    return 0.5 * (1 + math.erf(separation))  # Phi(sqrt(2) s) = (1 + erf(s)) / 2
