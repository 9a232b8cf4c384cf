"""Bringing a lab up and down, and reading its state: what `lab up/down/status` do.

Everything is validated before the first side effect: the scenario, the home, the
ports, and that no other lab runs in the home. Then the supervisor is spawned
detached and ``up`` polls ``run.json`` until every service is healthy or one failed.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable

import psutil

from lab import __version__
from lab.core.checks import check_port_base, check_seed, check_speed
from lab.errors import ServiceError, StateError, UsageError
from lab.core.home import MARKER_ENV, Clock, Home, choose_ports, url_env, write_json_atomic
from lab.core.journal import Journal
from lab.scenario import answer_key
from lab.scenario.run import read_overrides
from lab.core.labconfig import DEFAULT_SPEED, STACKS, LabConfig
# liveness lives in core (release refuses to act on a stopped lab without importing the stack);
# its names stay importable from here for the CLI
from lab.core.liveness import is_compose, lab_running, probe, require_config, supervisor_alive  # noqa: F401
from lab.core.services import DEFAULT_PORTS, HEALTH_PATHS, SERVED, TABLE, heartbeat_fresh
from lab.core.services import enabled as services_enabled
from lab.core.access import admin_headers
from lab.scenario.schema import Scenario, load_scenario, resolve

UP_TIMEOUT_SECONDS = 900.0
DOWN_TIMEOUT_SECONDS = 60.0
#: The compose services' URLs on the compose network, unless ``$LAB_<SERVICE>_URL`` says otherwise.
COMPOSE_URLS = {s: f"http://{s}:{DEFAULT_PORTS[s]}" for s in SERVED}


def shadow_status(home: Home, timeout: float = 3.0) -> dict[str, Any] | None:
    """The shadow as serving sees it (``/admin/state``): None when there is no shadow.

    ``{version, state: warming|ready|restarting|crash_loop, mirrored, answered, dropped,
    failed, pending, ...}``; ``state`` is ``unknown`` (with ``error``) when serving does
    not answer.
    """
    import httpx

    try:
        r = httpx.post(home.url("serving") + "/admin/state", json={}, timeout=timeout, headers=admin_headers(home))
        r.raise_for_status()
        return r.json().get("shadow")
    except (httpx.HTTPError, ValueError) as exc:
        return {"state": "unknown", "error": f"serving did not answer: {exc}"[:200]}


def lab_processes(home: Home) -> list[psutil.Process]:
    """Every live process started for this home (they carry PRODML_LAB_HOME)."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(MARKER_ENV) == str(home.root) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def prepare(home: Home, scenario_ref: str, seed: int | None, speed: float | None, port_base: int | None,
            stack: str = "embedded") -> tuple[Scenario, LabConfig]:
    """Validate everything, then write the home's config. No process is started.

    Every check comes before the first side effect: the stack kind, speed, seed and port
    base, the scenario (and its seed), the home (writable; no lab running in it; the same
    scenario, seed and stack as before), and the ports. Only then are the home's folders
    made, processes left over from a killed supervisor stopped, and ``lab.json``, the
    answer key and the journal's header written. A refused ``lab up`` leaves the home as
    it was and stops nothing.

    ``stack="compose"`` (`lab init --stack compose`) writes a home for docker compose: the
    services' URLs come from ``$LAB_<SERVICE>_URL`` and no port here is checked.
    """
    # ---- validate: nothing below writes, creates or stops anything
    if stack not in STACKS:
        raise UsageError(f"--stack {stack!r} is not one of: {', '.join(STACKS)}")
    check_speed(speed)
    check_seed(seed)
    check_port_base(port_base)
    scenario = load_scenario(scenario_ref)
    _check_home_writable(home)
    pid = supervisor_alive(home)
    if pid:
        cfg = home.config()
        raise StateError(
            f"a lab is already running in {home.root} (scenario {cfg.scenario if cfg else None}, supervisor pid {pid})",
            hint="`lab status` shows it; `lab down` stops it; or use another --home",
        )
    previous = _previous_config(home, scenario, seed, stack)
    stray = lab_processes(home)  # left over from a supervisor that was killed: stopped once all is checked
    if stack == "compose":  # each service has its own container: its default port there
        ports = dict((previous.ports if previous else None) or DEFAULT_PORTS)
    else:
        ports = choose_ports(port_base, previous.ports if previous and port_base is None else None,
                             ours=_listening_ports(stray))  # the strays' ports are free once they are stopped
    seed = previous.seed if previous else (seed if seed is not None else secrets.randbelow(10_000))
    speed = speed if speed is not None else (previous.speed if previous else DEFAULT_SPEED)
    resolved, _ = resolve(scenario, seed)
    key = None if home.answer_key.exists() else answer_key.build(scenario, seed, read_overrides(home))
    header = None if home.journal.exists() else _header(scenario, seed)
    config = LabConfig.model_validate({
        **(previous.model_dump() if previous else {}),  # keeps what the run learnt, e.g. that the registry is complete
        "scenario": scenario.id,
        "scenario_file": str(load_scenario_path(scenario_ref)),
        "seed": seed,
        "speed": float(speed),
        "ports": ports,
        "lab_version": __version__,
        "created": (previous.created if previous else None) or datetime.now(timezone.utc).isoformat(),
        "stack": stack,
        "urls": ({s: (os.environ.get(url_env(s)) or COMPOSE_URLS[s]).rstrip("/") for s in SERVED}
                 if stack == "compose" else {}),
    })

    # ---- act
    home.ensure_writable()
    if stray:
        _terminate(stray)
    home.write_config(config)
    if key is not None:
        answer_key.write(home, key)
    if header is not None:
        Journal(home.journal).append("lab.header", header, day=0.0)
    return resolved, config


def _check_home_writable(home: Home) -> None:
    """The home can be made and written, checked without making it (``ensure_writable`` makes it, later)."""
    existing = home.root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"lab home {home.root} is not writable: {existing} is a file, not a folder",
                         hint="choose another directory with --home DIR or $LAB_HOME")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"lab home {home.root} is not writable: {existing} does not allow it",
                         hint="choose another directory with --home DIR or $LAB_HOME")


def _previous_config(home: Home, scenario: Scenario, seed: int | None, stack: str) -> LabConfig | None:
    """The home's config from an earlier run, checked to be the same run (scenario, seed, stack)."""
    if not home.lab_json.exists():
        return None
    previous = home.config()
    if previous is None:
        return None
    if previous.scenario != scenario.id:
        raise StateError(
            f"{home.root} holds scenario {previous.scenario!r}, not {scenario.id!r}",
            hint="use another --home, or delete that directory to start over",
        )
    if seed is not None and seed != previous.seed:
        raise StateError(
            f"{home.root} was started with seed {previous.seed}, not {seed}",
            hint="omit --seed to continue that run, or use another --home",
        )
    if previous.stack != stack:
        raise StateError(
            f"{home.root} belongs to a {previous.stack} stack, not {stack}",
            hint="a compose lab is started with `docker compose up`; or use another --home",
        )
    return previous


def _listening_ports(procs: list[psutil.Process]) -> set[int]:
    """The TCP ports ``procs`` listen on."""
    held: set[int] = set()
    for p in procs:
        try:
            held |= {c.laddr.port for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return held


def load_scenario_path(ref: str):
    from pathlib import Path

    from lab.scenario.schema import SCENARIO_DIR

    p = Path(ref)
    return p.resolve() if ref.endswith((".yaml", ".yml")) and p.exists() else SCENARIO_DIR / f"{ref}.yaml"


def _header(scenario: Scenario, seed: int) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "lab_version": __version__,
        "scenario": scenario.id,
        "seed": seed,
        "python": sys.version.split()[0],
        "services": {pkg: version(pkg) for pkg in ("mlflow", "bentoml", "prefect", "evidently", "scikit-learn")},
    }


def spawn_supervisor(home: Home) -> int:
    home.logs.mkdir(parents=True, exist_ok=True)
    if home.run_json.exists():
        home.run_json.unlink()
    log = open(home.logs / "supervisor.log", "ab")
    env = dict(os.environ)
    env[MARKER_ENV] = str(home.root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.stack.supervisor", "--home", str(home.root)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=home.root,
        env=env,
        start_new_session=True,
    )
    log.close()
    return proc.pid


def wait_until_up(home: Home, pid: int, on_state: Callable[[dict], None] | None = None,
                  timeout: float = UP_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Poll run.json until all services are healthy; raise ServiceError on failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = home.run_state() or {}
        if on_state and state:
            on_state(state)
        if state.get("status") == "running":
            return state
        if state.get("status") in ("failed", "stopped", "stopping") or not psutil.pid_exists(pid):
            down(home)
            raise ServiceError(
                state.get("error") or f"the supervisor stopped during start-up (see {home.logs / 'supervisor.log'})",
                hint=f"logs: `lab logs SERVICE --home {home.root}`",
            )
        time.sleep(0.25)
    down(home)
    raise ServiceError(f"the lab was not healthy after {timeout:.0f} s", hint="see `lab logs SERVICE`")


def _terminate(procs: list[psutil.Process], grace: float = 10.0) -> int:
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    return len(procs)


def down(home: Home) -> dict[str, Any]:
    """Stop everything this home started. Safe to call when nothing runs."""
    if is_compose(home):
        raise UsageError(f"the lab in {home.root} runs under docker compose",
                         hint="stop it with `docker compose down` (add -v to delete its data)")
    pid = supervisor_alive(home)
    had_state = home.run_json.exists()  # a lab ran here, even if its supervisor was killed
    stopped_by_supervisor = False
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
            psutil.Process(pid).wait(timeout=DOWN_TIMEOUT_SECONDS)
            stopped_by_supervisor = True
        except (psutil.NoSuchProcess, ProcessLookupError):
            stopped_by_supervisor = True
        except psutil.TimeoutExpired:
            pass
    leftovers = lab_processes(home)
    killed = _terminate(leftovers) if leftovers else 0
    was_running = bool(pid) or killed > 0 or had_state
    if home.clock_json.exists():
        Clock(home.clock_json).stop()
    if home.run_json.exists():
        home.run_json.unlink()
    if was_running and home.journal.exists():
        Journal(home.journal).append(
            "lab.down",
            {"supervisor_stopped_cleanly": stopped_by_supervisor, "stray_processes_killed": killed},
            day=Clock(home.clock_json).day(),
        )
    return {"was_running": was_running, "stray_processes_killed": killed}


def services_status(home: Home, probe: bool = True) -> dict[str, dict[str, Any]]:
    """Each long-running service of the table (jobs left out): URL, health, status, pid, restarts.

    An HTTP service is healthy when its health path answers 200; a heartbeat worker while
    its file is fresh (its URL: its flow runs in Prefect's UI)."""
    import httpx

    state = home.run_state() or {}
    running = lab_running(home)
    out = {}
    with httpx.Client(timeout=1.5) as client:
        for spec in TABLE:
            if spec.kind == "job" or not services_enabled(spec, home.root):
                continue
            entry = (state.get("services") or {}).get(spec.name, {})
            healthy = False
            if spec.kind == "http":
                url = home.url(spec.name)
                if running and probe:
                    try:
                        healthy = client.get(url + HEALTH_PATHS[spec.name]).status_code == 200
                    except httpx.HTTPError:
                        healthy = False
            else:
                url = home.url("prefect") + "/runs"
                if spec.only_if == "drill":  # the agent's work shows on the drill console
                    from lab.core.drill_client import load_credentials

                    url = load_credentials(home).url
                healthy = running and heartbeat_fresh(home.root / spec.health)
            out[spec.name] = {
                "url": url,
                "healthy": healthy,
                "status": entry.get("status", "stopped") if running else "stopped",
                "pid": entry.get("pid") if running else None,
                "restarts": entry.get("restarts", 0),
            }
    return out
