"""Shadow, promote, rollback: moving model aliases safely, with an audit trail.

Every move goes through :func:`lab.release.audit.request_alias_move` (journal the intent with
its reason, then move the alias in MLflow); the supervisor's watcher journals the
move itself. Each command then waits until serving answers with the new version and
reports how long that took. Nothing changes when a check fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from lab.release.audit import request_alias_move
from lab.release.options import check_shadow_options
from lab.errors import InProgressError, ServiceError, StateError, UsageError
from lab.core.access import admin_headers
from lab.core.aliases import alias_versions
from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.core.liveness import lab_running, require_config
from lab.release.registry import aliases, delete_model_tag, model_tags, model_versions, set_model_tag
from lab.scenario.run import effective_scenario
from lab.serving.requestlog import merged
from lab.serving.shadow_state import (CRASH_LOOP_CRASHES, CRASH_LOOP_WINDOW_SECONDS,
                                      shadow_counts)

SWITCH_TIMEOUT_SECONDS = 30.0
#: How long `lab shadow start` waits for a new shadow to warm up (start its worker, load the model).
WARM_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Ctx:
    home: Home
    model: str
    mlflow: str
    serving: str


def context(home: Home) -> Ctx:
    require_config(home)
    if not lab_running(home):
        raise StateError(f"the lab in {home.root} is not running", hint="`lab up` first")
    scenario, _ = effective_scenario(home)
    return Ctx(home, scenario.model.name, home.url("mlflow"), home.url("serving"))


def serving_state(ctx: Ctx) -> dict[str, Any]:
    try:
        r = httpx.post(f"{ctx.serving}/admin/state", json={}, timeout=5, headers=admin_headers(ctx.home))
        r.raise_for_status()
    except httpx.HTTPError as exc:
        raise ServiceError(f"the serving API at {ctx.serving} did not answer: {exc}") from None
    return r.json()


def require_registered(ctx: Ctx, version: int) -> None:
    """``version`` is a registered version of the lab's model; else a UsageError listing them."""
    known = [v["version"] for v in model_versions(ctx.mlflow, ctx.model)]
    if version not in known:
        raise UsageError(f"{ctx.model} has no version {version}", hint=f"versions: {', '.join(map(str, known))}")


def require_loadable(ctx: Ctx, version: int) -> None:
    """Registered, and serving can load it (serving is unchanged either way)."""
    require_registered(ctx, version)
    try:
        r = httpx.post(f"{ctx.serving}/admin/check", json={"version": version}, timeout=120,
                       headers=admin_headers(ctx.home))
    except httpx.HTTPError as exc:
        raise ServiceError(f"the serving API at {ctx.serving} did not answer: {exc}") from None
    if r.status_code != 200:
        raise UsageError(f"{ctx.model} v{version} fails to load in serving: {r.text[:300]}",
                         hint="serving is unchanged")


def _wait_serving(ctx: Ctx, key: str, version: int | None, timeout: float = SWITCH_TIMEOUT_SECONDS,
                  **also: Any) -> float:
    """Poll serving until ``key`` is ``version`` (and every ``also`` field matches)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        state = serving_state(ctx)
        if state.get(key) == version and all(state.get(k) == v for k, v in also.items()):
            return time.monotonic() - started
        time.sleep(0.05)
    raise ServiceError(f"serving did not switch {key} to {version} within {SWITCH_TIMEOUT_SECONDS:.0f} s",
                       hint="see `lab logs serving`")


def _journal(ctx: Ctx, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return Journal(ctx.home.journal).append(kind, data, day=Clock(ctx.home.clock_json).day(), actor="user")


def shadow_state(ctx: Ctx) -> dict[str, Any] | None:
    """The shadow as serving sees it (None when there is none): version, state, counts."""
    return serving_state(ctx).get("shadow")


def _wait_shadow_ready(ctx: Ctx, version: int, percent: float, fault: str | None, timeout: float) -> float:
    """Poll serving until shadow ``version`` has warmed up (its first worker loaded the model,
    mirroring began); InProgressError when it is still warming, ServiceError on a crash loop."""
    started = time.monotonic()
    state: dict[str, Any] | None = None
    while True:
        state = shadow_state(ctx)
        if state and (state["version"], state["percent"], state["fault"]) == (version, percent, fault):
            if state["state"] == "ready" or (state["warmed"] and state["state"] != "crash_loop"):
                return time.monotonic() - started  # (a worker that crashes on requests may be restarting now)
            if state["state"] == "crash_loop":
                raise ServiceError(f"shadow v{version} crash-looped ({state['crashes']} crashes of its worker, "
                                   f"{CRASH_LOOP_CRASHES} within {CRASH_LOOP_WINDOW_SECONDS:.0f} s): "
                                   "the shadow service no longer restarts it",
                                   hint="see `lab logs shadow`; `lab shadow stop`, then start it again")
        if time.monotonic() - started >= timeout:
            break
        time.sleep(0.2)
    where = f"it is {state['state']}" if state and state["version"] == version else "serving has not picked it up yet"
    raise InProgressError(
        f"shadow v{version} is still warming up after {timeout:.0f} s ({where}); the shadow alias is set and "
        "mirroring begins once its worker has loaded the model",
        hint="run the same `lab shadow start` again to wait for it (nothing is moved twice); `lab status` "
             "shows the shadow's state")


def shadow_start(ctx: Ctx, version: int, percent: float = 100.0, fault: str | None = None,
                 reason: str | None = None, timeout: float = WARM_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Set the shadow (journaled before waiting), then wait until it answers.

    Idempotent: with the same version, share and fault already set, nothing moves and
    nothing is journaled; the command only waits again. A changed share or fault is
    set and journaled without moving the alias.
    """
    check_shadow_options(percent, fault, timeout)
    percent = float(f"{percent:g}")  # as the registry tag keeps it, and serving reads it back
    current = aliases(ctx.mlflow, ctx.model)
    if current.get("champion") == version:
        raise UsageError(f"v{version} is the champion already: shadow another version")
    tags = model_tags(ctx.mlflow, ctx.model)
    was = {"version": current.get("shadow"), "percent": tags.get("lab.shadow.percent"),
           "fault": tags.get("lab.shadow.fault") or None}
    now = {"version": version, "percent": f"{percent:g}", "fault": fault}
    changed = [k for k in now if was[k] != now[k]] if was["version"] is not None else ["version"]
    data = {"model": ctx.model, "version": version, "percent": percent, "fault": fault,
            "champion": current.get("champion"), "changed": changed}
    if changed:
        if "version" in changed:
            require_loadable(ctx, version)
        set_model_tag(ctx.mlflow, ctx.model, "lab.shadow.percent", f"{percent:g}")
        if fault:
            set_model_tag(ctx.mlflow, ctx.model, "lab.shadow.fault", fault)
        else:
            delete_model_tag(ctx.mlflow, ctx.model, "lab.shadow.fault")
        if "version" in changed:
            request_alias_move(ctx.home, ctx.mlflow, ctx.model, "shadow", version, actor="user",
                               reason=reason or f"shadow v{version} at {percent:g}%", via="lab shadow start")
        previous = was if was["version"] is not None else None
        data = _journal(ctx, "shadow.started", {**data, "previous": previous})["data"]
    # a new shadow worker imports and loads the model before it is ready
    took = _wait_shadow_ready(ctx, version, percent, fault, timeout)
    return {**data, "seconds_to_mirror": round(took, 3)}


def shadow_stop(ctx: Ctx) -> dict[str, Any]:
    """Stop mirroring; journals what became of the requests mirrored to the shadow."""
    current = aliases(ctx.mlflow, ctx.model)
    version = current.get("shadow")
    if version is None:
        raise UsageError("no shadow is running", hint="start one with `lab shadow start --version N`")
    request_alias_move(ctx.home, ctx.mlflow, ctx.model, "shadow", None, actor="user", reason="shadow stopped",
                       via="lab shadow stop")
    _wait_serving(ctx, "shadow_version", None)
    counts = shadow_counts(merged(ctx.home.serving / "requests.jsonl"), version)
    return _journal(ctx, "shadow.stopped", {"model": ctx.model, "version": version, **counts})["data"]


def shadowed_requests(ctx: Ctx, version: int) -> int:
    """Mirrored requests the shadow ``version`` answered (ok or late)."""
    return shadow_counts(merged(ctx.home.serving / "requests.jsonl"), version)["answered"]


def promote(ctx: Ctx, version: int, reason: str, by: str | None = None) -> dict[str, Any]:
    if not reason.strip():
        raise UsageError("--reason is empty: say why (it goes into the audit trail)")
    current = aliases(ctx.mlflow, ctx.model)
    previous = current.get("champion")
    if previous == version:
        raise UsageError(f"v{version} is the champion already")
    require_loadable(ctx, version)
    shadowed = shadowed_requests(ctx, version)
    warning = None
    if shadowed == 0:
        warning = f"v{version} has seen no shadow traffic: promoting it untested on live requests"
    entry = request_alias_move(ctx.home, ctx.mlflow, ctx.model, "champion", version, actor="user", reason=reason,
                               via="lab promote")
    took = _wait_serving(ctx, "champion_version", version)
    data = {"model": ctx.model, "from": previous, "to": version, "reason": reason, "shadowed_requests": shadowed,
            "warning": warning, "seconds_to_serve": round(took, 3), "requested_seq": entry["seq"], "decided_by": by}
    _journal(ctx, "promote", data)
    if current.get("shadow") == version:  # the shadow is now the champion: nothing left to compare
        shadow_stop(ctx)
    return data


def champion_history(home: Home, model: str) -> list[int]:
    """Champion versions in the order they served (from the journal), without repeats in a row."""
    return alias_versions(Journal(home.journal).entries("alias.moved"), model, "champion")


def rolled_back_from(home: Home) -> set[int]:
    return {e["data"]["from"] for e in Journal(home.journal).entries("rollback") if e["data"].get("from")}


def last_known_good(home: Home, model: str, current: int | None) -> int | None:
    """The most recent earlier champion that was never rolled back from."""
    bad = rolled_back_from(home) | ({current} if current is not None else set())
    for version in reversed(champion_history(home, model)):
        if version not in bad:
            return version
    return None


def rollback(ctx: Ctx, reason: str, to: int | None = None, by: str | None = None) -> dict[str, Any]:
    if not reason.strip():
        raise UsageError("--reason is empty: say why (it goes into the audit trail)")
    current = aliases(ctx.mlflow, ctx.model).get("champion")
    if to is None:
        to = last_known_good(ctx.home, ctx.model, current)
        chosen_by = "last known-good champion"
        if to is None:
            raise UsageError("there is no earlier champion to roll back to", hint="serving is unchanged")
    else:
        chosen_by = "--to"
        if to == current:
            raise UsageError(f"v{to} is the champion already", hint="serving is unchanged")
    require_loadable(ctx, to)
    entry = request_alias_move(ctx.home, ctx.mlflow, ctx.model, "champion", to, actor="user", reason=reason,
                               via="lab rollback")
    took = _wait_serving(ctx, "champion_version", to)
    data = {"model": ctx.model, "from": current, "to": to, "reason": reason, "chosen_by": chosen_by,
            "seconds_to_serve": round(took, 3), "requested_seq": entry["seq"], "decided_by": by}
    _journal(ctx, "rollback", data)
    return data
