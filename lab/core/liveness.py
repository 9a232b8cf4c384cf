"""Is there a lab in this home, and is it up? Read from the home and the service table only.

Every stage that refuses to act on a stopped lab (``lab shadow``, ``lab promote``,
``lab inject``, ...) asks here, so none of them has to import the stack that runs the
lab (lab.stack): an embedded lab is up while its supervisor lives (``run.json`` names
its pid); a compose lab, whose processes live in other containers, while its services
answer their health URLs (lab.core.services).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psutil

from lab.core.services import HEALTH_PATHS, SERVED
from lab.errors import StateError

if TYPE_CHECKING:
    from lab.core.home import Home
    from lab.core.labconfig import LabConfig

#: What the supervisor's command line holds (``python -m lab.stack.supervisor``): a pid in
#: run.json reused by another process does not count as this lab.
SUPERVISOR_MODULE = "lab.stack.supervisor"


def require_config(home: Home) -> LabConfig:
    """The home's lab.json; a StateError when the home holds no lab."""
    cfg = home.config()
    if cfg is None:
        raise StateError(f"no lab in {home.root}", hint="start one with `lab up SCENARIO` (or pass --home DIR)")
    return cfg


def is_compose(home: Home) -> bool:
    """Whether the home belongs to a docker compose stack (made by `lab init --stack compose`)."""
    cfg = home.config()
    return cfg is not None and cfg.stack == "compose"


def probe(home: Home, services: tuple[str, ...] = SERVED, timeout: float = 1.5) -> dict[str, bool]:
    """Which services answer their health URL (HTTP 200)."""
    import httpx

    out = {}
    with httpx.Client(timeout=timeout) as client:
        for name in services:
            try:
                out[name] = client.get(home.url(name) + HEALTH_PATHS[name]).status_code == 200
            except httpx.HTTPError:
                out[name] = False
    return out


def supervisor_alive(home: Home) -> int | None:
    """The pid of this home's running supervisor, if any."""
    state = home.run_state()
    if not state:
        return None
    pid = state.get("supervisor_pid")
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if SUPERVISOR_MODULE not in " ".join(proc.cmdline()):
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return pid


def lab_running(home: Home) -> bool:
    """Is the lab up? Embedded: its supervisor is alive. Compose (the containers are not
    this process's to see): the stack's services answer their health URLs."""
    if is_compose(home):
        return any(probe(home).values())
    return supervisor_alive(home) is not None
