"""The lab's services, in one table: what runs, how it is started, how its health is read.

Read by everything that starts or watches services, so a fact lives in one place:

* ``lab up``'s supervisor (lab.stack.supervisor) builds each command line from
  ``program`` and ``entry`` and starts services in ``needs`` order;
* ``lab status`` (lab.stack.control), the liveness checks (lab.core.liveness) and the
  compose agent (lab.stack.compose_agent) probe ``health``: an HTTP path, or a heartbeat
  file under the lab home;
* the timeline, monitor and shadow workers touch the heartbeat file the table names for them;
* ``docker-compose.yml`` and ``infra/k8s`` spell the same facts in their own syntax;
  tests/test_services_table.py holds them to this table.

Standard library only: the table is data, cheap to import from any stage.

>>> [s.name for s in TABLE if s.kind == "heartbeat"], DEFAULT_PORTS["serving"], SERVED[-1]
(['timeline', 'monitor', 'shadow', 'drill-agent'], 3000, 'exporter')
>>> OPTIONAL
{'drill-agent': 'drill'}
>>> command_head(service("traffic"), python="py")
['py', '-m', 'lab.world.traffic']
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

#: How a service says it is healthy: ``http`` answers 200 on its health path; ``heartbeat``
#: touches a file under the lab home (lab.core.worker); a ``job`` runs once and exits 0.
Kind = Literal["http", "heartbeat", "job"]
#: A heartbeat counts while the file was touched within this many seconds (workers touch it every 2 s).
HEARTBEAT_SECONDS = 10.0
#: The compose/k8s agent's own heartbeat (its container's healthcheck), under the lab home.
AGENT_HEARTBEAT = "compose/heartbeat"
#: A home that joined a drill holds this file (lab.core.drill_client); its drill agent runs then.
DRILL_CREDENTIALS = "drill/credentials.json"


@dataclass(frozen=True)
class Service:
    """One service of the lab.

    ``program`` is ``python`` (the lab's own interpreter) or a console script installed
    beside it (``mlflow``, ``prefect``, ``bentoml``); ``entry`` is what follows it in every
    stack (``-m lab.world.traffic``, ``serve lab.serving.service:Screening``); the rest of
    a command line (host, port, stores) belongs to the stack that runs it.

    ``needs``: started only once these are healthy (a job: done), in every stack.
    ``after``: docker compose also starts it after these (its ``depends_on``); ``lab up``
    does not wait, to overlap start-ups: the service waits for them itself (serving for
    MLflow, traffic for serving, the timeline and the monitor for Prefect, the monitor also
    for training's reference data).
    """

    name: str
    program: str
    entry: tuple[str, ...]
    kind: Kind
    health: str | None = None  # http: the URL path answering 200; heartbeat: the file, relative to the home
    needs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    port: int | None = None  # its default port (a service with a URL)
    takes_home: bool = False  # the command takes ``--home HOME``
    process: str | None = None  # under `lab up`, runs in this shared process of PROCESSES, beside its other services
    startup_timeout: float = 240.0  # seconds `lab up` gives it to become healthy (a job: to finish)
    #: Runs only when the lab home has this (``drill``: it joined a drill, lab.core.drill_client);
    #: otherwise the supervisor, `lab status` and the compose agent leave it out.
    only_if: str | None = None
    #: A file under the home that the service rewrites with a new id each time it starts: the
    #: compose agent tells a restart quicker than two of its probes from a new id.
    instance: str | None = None

    @property
    def module(self) -> str:
        """The Python module the service runs (``lab.serving.service`` for a bentoml target)."""
        if self.program == "python":
            return self.entry[self.entry.index("-m") + 1]
        if self.program == "bentoml":
            return self.entry[-1].split(":")[0]
        return self.program


TABLE: tuple[Service, ...] = (
    Service("mlflow", "python", ("-m", "lab.stack.mlflow_server"), "http", "/health", port=5000),
    Service("prefect", "prefect", ("server", "start"), "http", "/api/health", port=4200),
    Service("train", "python", ("-m", "lab.release.train"), "job", needs=("mlflow",), takes_home=True,
            startup_timeout=600.0),
    Service("serving", "python", ("-m", "lab.serving.serve"), "http", "/readyz",
            needs=("train",), after=("mlflow",), port=3000, startup_timeout=300.0,
            instance="serving/instance.json"),
    Service("traffic", "python", ("-m", "lab.world.traffic"), "http", "/health", after=("serving",), port=3100,
            takes_home=True, startup_timeout=900.0, process="workers"),
    Service("exporter", "python", ("-m", "lab.monitoring.exporter"), "http", "/health", port=3200,
            takes_home=True, startup_timeout=180.0, process="workers"),
    Service("timeline", "python", ("-m", "lab.world.timeline_runner"), "heartbeat", "timeline/heartbeat",
            after=("prefect", "train"), takes_home=True, startup_timeout=180.0, process="workers"),
    Service("monitor", "python", ("-m", "lab.monitoring.runner"), "heartbeat", "monitoring/heartbeat",
            after=("prefect", "train"), takes_home=True, startup_timeout=240.0, process="workers"),
    Service("shadow", "python", ("-m", "lab.serving.shadow_service"), "heartbeat", "shadow/heartbeat",
            after=("train",), takes_home=True, startup_timeout=120.0),
    Service("drill-agent", "python", ("-m", "lab.stack.drill_agent"), "heartbeat", "drill/heartbeat",
            takes_home=True, startup_timeout=60.0, only_if="drill"),
)
#: Processes that run several services under `lab up` (lab.workers): name -> what follows
#: ``python``. Each service keeps its name, health and log; they share a pid, start together
#: (once every member's ``needs`` are met) and are restarted together. Compose and k8s run
#: each service alone, with its own ``entry``.
PROCESSES: dict[str, tuple[str, ...]] = {"workers": ("-m", "lab.workers.stack_worker")}
NAMES: tuple[str, ...] = tuple(s.name for s in TABLE)
#: The services with a URL (and a port), in port order: ``--port-base N`` gives them N, N+1, ...
SERVED: tuple[str, ...] = tuple(s.name for s in TABLE if s.port is not None)
DEFAULT_PORTS: dict[str, int] = {s.name: s.port for s in TABLE if s.port is not None}
#: Each HTTP service's health path (HTTP 200 = healthy).
HEALTH_PATHS: dict[str, str] = {s.name: s.health for s in TABLE if s.kind == "http" and s.health}
#: Each heartbeat worker's file, relative to the lab home.
HEARTBEATS: dict[str, str] = {s.name: s.health for s in TABLE if s.kind == "heartbeat" and s.health}
#: The services that say which process answers (``instance``): name -> its file under the home.
INSTANCES: dict[str, str] = {s.name: s.instance for s in TABLE if s.instance}
#: The services that run only when the home has something (``only_if``), and what.
OPTIONAL: dict[str, str] = {s.name: s.only_if for s in TABLE if s.only_if}


def service(name: str) -> Service:
    """The table's entry for ``name`` (KeyError for a name not in the table)."""
    for s in TABLE:
        if s.name == name:
            return s
    raise KeyError(f"no service {name!r} in the table (services: {', '.join(NAMES)})")


def command_head(s: Service, python: str, bindir: Path | None = None) -> list[str]:
    """The start of ``s``'s command line: the program, then its entry.

    ``python`` is the interpreter for ``program == "python"``; other programs are console
    scripts in ``bindir`` (the interpreter's own ``bin``), or found on ``PATH`` when None.
    """
    if s.program == "python":
        program = python
    else:
        program = str(bindir / s.program) if bindir is not None else s.program
    return [program, *s.entry]


def heartbeat_path(home_root: Path, name: str) -> Path:
    """Where worker ``name`` touches its heartbeat, under the lab home ``home_root``."""
    return home_root / HEARTBEATS[name]


def heartbeat_fresh(path: Path, now: float | None = None) -> bool:
    """Whether the heartbeat file was touched within :data:`HEARTBEAT_SECONDS`."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return (time.time() if now is None else now) - mtime < HEARTBEAT_SECONDS


def members(process: str) -> tuple[str, ...]:
    """The services that run in the shared ``process`` under `lab up`, in table order."""
    return tuple(s.name for s in TABLE if s.process == process)


def enabled(s: Service, home_root: Path) -> bool:
    """Whether ``s`` runs for the lab home ``home_root``: always, or (``only_if="drill"``) once it joined a drill."""
    if s.only_if is None:
        return True
    if s.only_if == "drill":
        return (home_root / DRILL_CREDENTIALS).is_file()
    raise ValueError(f"service {s.name}: unknown only_if {s.only_if!r}")


def start_order(skipped: frozenset[str] = frozenset()) -> dict[str, tuple[str, ...]]:
    """Each service's ``needs`` for ``lab up``, without the jobs in ``skipped`` (nothing to
    do, e.g. the registry is complete): who needed a skipped job starts without waiting.
    Services sharing a process start together: each needs what any of them needs."""
    own = {s.name: [n for n in s.needs if n not in skipped] for s in TABLE}
    out = {}
    for s in TABLE:
        group = members(s.process) if s.process else (s.name,)
        out[s.name] = tuple(dict.fromkeys(n for m in group for n in own[m]))
    return out
