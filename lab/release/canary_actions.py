"""`lab canary start|abort|status`: what the commands do (the controller that steps and guards
a running canary is :mod:`lab.release.canary`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from lab.core.home import Clock, write_json_atomic
from lab.core.journal import Journal
from lab.errors import ServiceError, UsageError
from lab.release.actions import Ctx, require_loadable, serving_state
from lab.release.canary import PERCENT_TAG, locked, read_state, state_path
from lab.release.audit import request_alias_move
from lab.release.registry import aliases, delete_model_tag, set_model_tag

#: Canary requests a step needs before it may end, and labelled ones before the quality guard judges.
MIN_REQUESTS = 30
MIN_LABELLED = 200
LOAD_TIMEOUT_SECONDS = 120.0


def check_plan(steps: list[float], interval: float, guards: dict[str, float | None]) -> None:
    """The plan's own checks, before any lab lookup (UsageError naming the option).

    >>> check_plan([5, 50, 100], 30, {"max_p99_ms": 50})
    >>> check_plan([50, 5, 100], 30, {"max_p99_ms": 50})
    Traceback (most recent call last):
    lab.errors.UsageError: --steps must rise strictly, each above 0 and at most 100, and end at 100: got 50,5,100
    """
    shown = ",".join(f"{p:g}" for p in steps)
    if not steps or any(not 0 < p <= 100 for p in steps) or any(b <= a for a, b in zip(steps, steps[1:])) \
            or steps[-1] != 100:
        raise UsageError(f"--steps must rise strictly, each above 0 and at most 100, and end at 100: got {shown}")
    if interval <= 0:
        raise UsageError(f"--interval must be above 0 seconds: got {interval:g}")
    if all(v is None for v in guards.values()):
        raise UsageError("a canary without a guard cannot roll itself back",
                         hint="give --max-p99-ms, --max-error-rate and/or --max-auc-drop")
    for name, value in guards.items():
        if value is not None and (value < 0 or (name != "max_p99_ms" and value > 1)):
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} must be {'>= 0' if name == 'max_p99_ms' else 'within 0..1'}: got {value:g}")


def start(ctx: Ctx, version: int, steps: list[float], interval: float, guards: dict[str, float | None],
          reason: str | None) -> dict[str, Any]:
    """Route ``steps[0]`` % of requests to ``version`` and hand the plan to the controller."""
    with locked(ctx.home):
        running = read_state(ctx.home)
        if running and running.get("status") == "running":
            raise UsageError(f"a canary of v{running['version']} is running", hint="`lab canary abort` first")
        champion = aliases(ctx.mlflow, ctx.model).get("champion")
        if champion == version:
            raise UsageError(f"v{version} is the champion already")
        require_loadable(ctx, version)  # registered, and serving loads it: a broken version fails here
        now = time.time()
        state = {"id": uuid.uuid4().hex, "model": ctx.model, "version": version, "champion": champion,
                 "steps": steps, "step": 0, "percent": steps[0], "interval_s": interval,
                 "guards": {**guards, "min_requests": MIN_REQUESTS, "min_labelled": MIN_LABELLED},
                 "status": "running", "started_at": now, "step_started_at": now, "reason": reason, "figures": {}}
        set_model_tag(ctx.mlflow, ctx.model, PERCENT_TAG, str(steps[0]))
        request_alias_move(ctx.home, ctx.mlflow, ctx.model, "canary", version, actor="user", via="lab canary start",
                           reason=reason or f"canary of v{version} at {steps[0]:g}% of requests")
        write_json_atomic(state_path(ctx.home), state)
    Journal(ctx.home.journal).append("canary.started", {k: state[k] for k in (
        "model", "version", "champion", "steps", "interval_s", "guards", "reason")}, day=Clock(ctx.home.clock_json).day(),
        actor="user")
    deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if serving_state(ctx).get("canary_version") == version:
            return state
        time.sleep(0.1)
    raise ServiceError(f"serving did not pick up canary v{version} within {LOAD_TIMEOUT_SECONDS:.0f} s",
                       hint="the plan is set; see `lab logs serving`, or `lab canary abort`")


def abort(ctx: Ctx, reason: str) -> dict[str, Any]:
    if not reason.strip():
        raise UsageError("--reason is empty: say why (it goes into the audit trail)")
    with locked(ctx.home):
        state = read_state(ctx.home)
        if not state or state.get("status") != "running":
            raise UsageError("no canary is running", hint="`lab canary status` shows the last one")
        request_alias_move(ctx.home, ctx.mlflow, ctx.model, "canary", None, actor="user", reason=reason,
                           via="lab canary abort")
        delete_model_tag(ctx.mlflow, ctx.model, PERCENT_TAG)
        state.update(status="aborted", ended_at=time.time(), abort_reason=reason)
        write_json_atomic(state_path(ctx.home), state)
    Journal(ctx.home.journal).append("canary.aborted", {"model": ctx.model, "version": state["version"],
                                                        "percent": state["percent"], "step": state["step"],
                                                        "reason": reason, "figures": state.get("figures")},
                                     day=Clock(ctx.home.clock_json).day(), actor="user")
    return state


__all__ = ["LOAD_TIMEOUT_SECONDS", "MIN_LABELLED", "MIN_REQUESTS", "abort", "check_plan", "start"]
