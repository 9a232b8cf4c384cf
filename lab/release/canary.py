"""Canary releases: a growing share of live traffic to a new version, rolled back by itself
when a guard is breached (`lab canary start|status|abort`).

The plan and its progress are ``<home>/canary/state.json``; the ``canary`` alias and the
registered model's tag ``lab.canary.percent`` tell serving which version answers which
share (lab.serving.service routes by a hash of the request id, so a retried request lands
on the same version). The controller (:func:`run_controller`, a thread of the timeline's
process, so it runs as long as the lab does, in every stack) reads serving's request log
once a second and, for the canary's requests:

* ``max_p99_ms``: p99 of the canary's own scoring latency in the current step;
* ``max_error_rate``: share of requests routed to the canary that it failed (serving
  answered them with the champion, so no client saw the failure);
* ``max_auc_drop``: on the canary's requests whose labels have arrived, the champion's ROC
  AUC minus the canary's, both scored on the same requests (paired; judged once
  ``min_labelled`` labelled requests with both outcomes are in).

A breach removes the canary at once (``canary.rolled_back``: the guard, its value and its
limit); a step that ran ``interval`` seconds with at least ``min_requests`` canary requests
and no breach moves to the next share (``canary.step``); after the last (100%) the canary is
promoted to champion (``canary.completed``, actor ``canary``). `lab canary abort` stops it.
Latency and error guards judge from ``min_requests`` requests on; errors also end a step at
once when ``MIN_ERRORS`` of them exceed the rate.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ContextManager

from lab.core.home import Clock, Home, file_lock, write_json_atomic
from lab.core.journal import Journal
from lab.core.stats import p99, roc_auc

STATE = "canary/state.json"
PERCENT_TAG = "lab.canary.percent"
ACTOR = "canary"
POLL_SECONDS = 1.0
MIN_ERRORS = 5


def state_path(home: Home) -> Path:
    return home.root / STATE


def locked(home: Home) -> ContextManager[None]:
    """Held around every read-modify-write of the state (the controller's ticks, start, abort)."""
    return file_lock(state_path(home).with_name(".lock"))


def read_new_lines(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The JSON lines of ``path`` after byte ``offset``, and the offset after the last whole line
    (a line still being written waits for the next read; a cut line is skipped)."""
    with open(path, "rb") as f:
        f.seek(offset)
        chunk = f.read()
    end = chunk.rfind(b"\n") + 1
    out = []
    for line in chunk[:end].splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out, offset + end


def read_state(home: Home) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class StepStats:
    """What the canary did in one step (latencies and errors) and over the whole canary (labelled pairs)."""

    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def breach(guards: dict[str, Any], step: StepStats, pairs: list[tuple[int, float, float]]) -> dict[str, Any] | None:
    """The first guard ``step`` (and the labelled ``pairs``: label, champion score, canary score) breaches, or None.

    >>> g = {"max_p99_ms": 50, "max_error_rate": 0.05, "max_auc_drop": None, "min_requests": 20, "min_labelled": 50}
    >>> breach(g, StepStats(requests=30, errors=6), [])["guard"]
    'max_error_rate'
    >>> breach(g, StepStats(requests=30, latencies=[1.0] * 30), []) is None
    True
    """
    n = step.requests
    limit = guards.get("max_error_rate")
    if limit is not None and n and step.errors / n > limit and (n >= guards["min_requests"] or step.errors >= MIN_ERRORS):
        return {"guard": "max_error_rate", "value": round(step.errors / n, 4), "limit": limit, "requests": n}
    limit = guards.get("max_p99_ms")
    if limit is not None and len(step.latencies) >= guards["min_requests"]:
        value = p99(step.latencies)
        if value is not None and value > limit:
            return {"guard": "max_p99_ms", "value": round(value, 3), "limit": limit, "requests": len(step.latencies)}
    limit = guards.get("max_auc_drop")
    if limit is not None and len(pairs) >= guards["min_labelled"]:
        y = [t for t, _, _ in pairs]
        champion, canary = roc_auc(y, [c for _, c, _ in pairs]), roc_auc(y, [k for _, _, k in pairs])
        if champion is not None and canary is not None and champion - canary > limit:
            return {"guard": "max_auc_drop", "value": round(champion - canary, 4), "limit": limit,
                    "labelled": len(pairs), "champion_auc": _rounded(champion), "canary_auc": _rounded(canary)}
    return None


class Controller:
    """One canary's progress, fed the request log and labels incrementally (:meth:`tick`)."""

    def __init__(self, home: Home, mlflow_url: str, model: str) -> None:
        self.home = home
        self.mlflow = mlflow_url
        self.model = model
        self.journal = Journal(home.journal)
        self.clock = Clock(home.clock_json)
        self.log_path = home.serving / "requests.jsonl"
        self.offset = 0
        self.canary_id: str | None = None
        self.step = StepStats()
        self.scored: dict[str, tuple[float, float]] = {}  # request id -> (champion score, canary score)
        self.pairs: list[tuple[int, float, float]] = []
        self.labels_offset = 0

    def _read_new(self, state: dict[str, Any]) -> None:
        records, self.offset = read_new_lines(self.log_path, self.offset)
        for r in records:
            if r.get("canary_version") != state["version"] or r.get("time", 0) < state["started_at"]:
                continue
            if r.get("champion_prediction") and r.get("canary_prediction"):  # the quality guard: every step
                self.scored[r["id"]] = (r["champion_prediction"], r["canary_prediction"])
            if r["time"] < state["step_started_at"]:
                continue
            self.step.requests += 1
            if "canary_error" in r:
                self.step.errors += 1
            elif r.get("canary_latency_ms") is not None:
                self.step.latencies.append(float(r["canary_latency_ms"]))
        if self.home.labels.exists():
            labels, self.labels_offset = read_new_lines(self.home.labels, self.labels_offset)
            for rec in labels:
                both = self.scored.pop(rec.get("request_id"), None)
                if both is not None:
                    self.pairs += [(int(y), float(c), float(k)) for y, c, k in zip(rec["labels"], *both)]

    def tick(self, now: float | None = None) -> dict[str, Any] | None:
        """Advance the running canary (if any) by what the logs say; returns the state written."""
        with locked(self.home):
            return self._tick(now)

    def _tick(self, now: float | None) -> dict[str, Any] | None:
        state = read_state(self.home)
        if not state or state.get("status") != "running":
            return state
        now = time.time() if now is None else now
        if state["id"] != self.canary_id:  # a new canary: read the logs from where it began
            self.canary_id, self.offset, self.labels_offset = state["id"], 0, 0
            self.step, self.scored, self.pairs = StepStats(), {}, []
        if self.log_path.exists():
            self._read_new(state)
        found = breach(state["guards"], self.step, self.pairs)
        state["figures"] = self.figures()
        if found is not None:
            return self._end(state, "rolled_back", "canary.rolled_back", {"breach": found}, now)
        if now - state["step_started_at"] >= state["interval_s"] and self.step.requests >= state["guards"]["min_requests"]:
            if state["step"] + 1 >= len(state["steps"]):
                return self._complete(state, now)
            return self._next_step(state, now)
        write_json_atomic(state_path(self.home), state)
        return state

    def figures(self) -> dict[str, Any]:
        y = [t for t, _, _ in self.pairs]
        return {"step_requests": self.step.requests, "step_errors": self.step.errors,
                "step_p99_ms": p99(self.step.latencies) if self.step.latencies else None,
                "labelled": len(self.pairs), "champion_auc": _rounded(roc_auc(y, [c for _, c, _ in self.pairs])),
                "canary_auc": _rounded(roc_auc(y, [k for _, _, k in self.pairs]))}

    def _append(self, kind: str, state: dict[str, Any], extra: dict[str, Any]) -> None:
        self.journal.append(kind, {"model": self.model, "version": state["version"], "percent": state["percent"],
                                   "step": state["step"], **extra, "figures": state["figures"]},
                            day=self.clock.day(), actor=ACTOR)

    def _next_step(self, state: dict[str, Any], now: float) -> dict[str, Any]:
        from lab.release.registry import set_model_tag

        state["step"] += 1
        state["percent"] = state["steps"][state["step"]]
        state["step_started_at"] = now
        set_model_tag(self.mlflow, self.model, PERCENT_TAG, str(state["percent"]))
        self._append("canary.step", state, {})
        self.step = StepStats()
        write_json_atomic(state_path(self.home), state)
        return state

    def _complete(self, state: dict[str, Any], now: float) -> dict[str, Any]:
        from lab.release.audit import request_alias_move

        request_alias_move(self.home, self.mlflow, self.model, "champion", state["version"], actor=ACTOR,
                           via="lab canary", reason=f"canary of v{state['version']} passed every step "
                                                    f"({', '.join(f'{p:g}%' for p in state['steps'])}) and its guards")
        return self._end(state, "completed", "canary.completed", {}, now)

    def _end(self, state: dict[str, Any], status: str, kind: str, extra: dict[str, Any], now: float) -> dict[str, Any]:
        from lab.release.audit import request_alias_move
        from lab.release.registry import delete_model_tag

        why = (f"guard {extra['breach']['guard']} breached: {extra['breach']['value']} > {extra['breach']['limit']}"
               if "breach" in extra else "every step passed its guards")
        request_alias_move(self.home, self.mlflow, self.model, "canary", None, actor=ACTOR, via="lab canary",
                           reason=f"canary of v{state['version']} {status.replace('_', ' ')}: {why}")
        delete_model_tag(self.mlflow, self.model, PERCENT_TAG)
        state.update(status=status, ended_at=now, **extra)
        self._append(kind, state, extra)
        write_json_atomic(state_path(self.home), state)
        return state


def run_controller(home: Home, stop: threading.Event) -> None:
    """The controller until ``stop``: a tick a second (errors are printed and retried)."""
    controller = None
    while not stop.wait(POLL_SECONDS):
        try:
            state = read_state(home)
            if not state or state.get("status") != "running":
                continue
            if controller is None:
                controller = Controller(home, home.url("mlflow"), state["model"])
            controller.tick()
        except Exception as exc:  # noqa: BLE001 (MLflow restarting: the next tick retries)
            print(f"canary controller: {exc!r}", flush=True)


__all__ = ["ACTOR", "Controller", "PERCENT_TAG", "STATE", "StepStats", "breach", "locked",
           "read_new_lines", "read_state", "run_controller", "state_path"]
