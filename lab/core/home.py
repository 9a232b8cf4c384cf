"""The lab home: every file a lab writes lives under one directory.

::

    <home>/
      lab.json            what this home holds: scenario, seed, speed, ports (kept across runs; lab.core.labconfig)
      run.json            the running stack: supervisor and service pids, health (gone after down)
      clock.json          the scenario clock
      journal.jsonl       the append-only evidence (lab.core.journal)
      answer_key.json     hidden ground truth for grading (never shown by `lab status`)
      registry_snapshot.json  the registry as last seen by `lab submit` (grading a stopped lab)
      timeline_overrides.json event days moved by `lab inject`
      alert_webhook.json  where the monitor POSTs alerts (lab.monitoring.alerts; kept out of evidence bundles)
      drill/              a lab that joined a drill: the console's URL and token, this lab's own
                          credentials (0600; lab.core.drill_client, lab.core.access), the agent's state
      data/               reference data the models were trained and evaluated on
      mlflow/             MLflow's sqlite store and proxied artifacts
      prefect/            PREFECT_HOME and Prefect's sqlite database
      serving/            the request log
      traffic/            the traffic replayer's log
      feedback/           labels of served requests, as they arrive
      monitoring/         the live monitor's config and per-window results
      reports/            Evidently HTML reports per window and drift.png
      submissions/        evidence bundles and grade reports of `lab submit`
      logs/<service>.log  each service's output

Choosing the home: ``--home DIR``, else ``$LAB_HOME``, else ``./.lab``.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.core.services import DEFAULT_PORTS, SERVED
from lab.errors import StateError, UsageError

if TYPE_CHECKING:
    from lab.core.labconfig import LabConfig

#: The services with a URL and a port (lab.core.services.SERVED), kept under this name for its readers.
SERVICES = SERVED
#: Environment variable set on every process the lab starts; `lab down` uses it as a safety net.
MARKER_ENV = "PRODML_LAB_HOME"


def url_env(service: str) -> str:
    """The environment variable that points ``service`` elsewhere: ``LAB_MLFLOW_URL``, ..."""
    return f"LAB_{service.upper()}_URL"


def resolve_home(home: str | os.PathLike | None) -> Path:
    raw = home or os.environ.get("LAB_HOME") or ".lab"
    return Path(raw).expanduser().resolve()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created with its folder), across processes, held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise StateError(f"{path}: unreadable ({exc})", hint="remove the lab home and start again") from None


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def lab_json(self) -> Path:
        return self.root / "lab.json"

    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def clock_json(self) -> Path:
        return self.root / "clock.json"

    @property
    def journal(self) -> Path:
        return self.root / "journal.jsonl"

    @property
    def answer_key(self) -> Path:
        return self.root / "answer_key.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def mlflow(self) -> Path:
        return self.root / "mlflow"

    @property
    def prefect(self) -> Path:
        return self.root / "prefect"

    @property
    def serving(self) -> Path:
        return self.root / "serving"

    @property
    def traffic(self) -> Path:
        return self.root / "traffic"

    @property
    def labels(self) -> Path:
        """The labelled feedback (lab.world.feedback): ``{"request_id", "day", "labels", "arrived_day"}`` lines."""
        return self.root / "feedback" / "labels.jsonl"

    def ensure_writable(self) -> None:
        try:
            for d in (self.root, self.data, self.logs, self.mlflow, self.prefect, self.serving, self.traffic):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise UsageError(
                f"lab home {self.root} is not writable: {exc.strerror or exc}",
                hint="choose another directory with --home DIR or $LAB_HOME",
            ) from None

    def config(self) -> LabConfig | None:
        """lab.json, typed (None when the home holds no lab); a StateError naming the field if it is bad."""
        from lab.core import labconfig  # pydantic: imported when a command reads the home, not before

        return labconfig.load(self.lab_json)

    def write_config(self, config: LabConfig) -> None:
        """Replace lab.json atomically (readers never see half a file)."""
        write_json_atomic(self.lab_json, config.model_dump(mode="json"))

    def run_state(self) -> dict[str, Any] | None:
        return read_json(self.run_json)

    def url(self, service: str) -> str:
        """The service's base URL: ``$LAB_<SERVICE>_URL`` (e.g. ``LAB_MLFLOW_URL``), else
        lab.json ``urls`` (a compose stack: ``http://mlflow:5000``), else its local port."""
        override = os.environ.get(url_env(service))
        if override:
            return override.rstrip("/")
        cfg = self.config()
        if cfg is not None and cfg.urls.get(service):
            return cfg.urls[service].rstrip("/")
        port = cfg.ports.get(service, DEFAULT_PORTS[service]) if cfg is not None else DEFAULT_PORTS[service]
        return f"http://127.0.0.1:{port}"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_ports(port_base: int | None, previous: dict[str, int] | None,
                 ours: Collection[int] = ()) -> dict[str, int]:
    """Ports for the services with a URL (:data:`SERVICES`).

    ``port_base`` N gives N, N+1, ... in table order; 0 picks free ports; None keeps the ports
    this home used before, else the usual defaults (MLflow 5000, Prefect 4200,
    serving 3000, traffic 3100, exporter 3200). A port in ``ours`` counts as free: this home's
    leftover processes hold it and are stopped before the services start.
    """
    if port_base == 0:
        ports: dict[str, int] = {}
        while len(set(ports.values())) < len(SERVICES):
            ports = {s: free_port() for s in SERVICES}
    elif port_base is not None:
        if not 1024 <= port_base <= 65530:
            raise UsageError(f"--port-base {port_base} is outside 1024..65530")
        ports = {s: port_base + i for i, s in enumerate(SERVICES)}
    else:  # a home from before a service was added keeps its ports and gets the new one's default
        ports = {**DEFAULT_PORTS, **{s: p for s, p in (previous or {}).items() if s in DEFAULT_PORTS}}
    taken = [f"{s} port {p}" for s, p in ports.items() if p not in ours and not port_free(p)]
    if taken:
        raise UsageError(
            f"{', '.join(taken)} already in use",
            hint="stop what uses it, or pick other ports with --port-base N (0 = any free ports)",
        )
    return ports


class Clock:
    """Scenario time: ``day = day_at_anchor + (now - anchor) / speed`` while running.

    ``speed`` is wall-clock seconds per scenario day. When the lab stops, the day is
    frozen; the next ``lab up`` resumes from it. ``lab pause`` freezes it too (``paused``)
    until ``lab resume``. With an ``end`` (the scenario's last day) the day never passes
    it: the scenario has ended.

    >>> import tempfile, pathlib
    >>> clock = Clock(pathlib.Path(tempfile.mkdtemp()) / "clock.json")
    >>> clock.start(speed=10.0, end=40, now=1000.0)
    >>> clock.day(now=1100.0), clock.day(now=9999.0), clock.ended(now=9999.0)
    (10.0, 40.0, True)
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _state(self) -> dict[str, Any]:
        return read_json(self.path) or {"day_at_anchor": 0.0, "anchor": None, "speed": 60.0}

    def _write(self, state: dict[str, Any], **changes: Any) -> None:
        write_json_atomic(self.path, {**state, **changes})

    def start(self, speed: float, end: float | None = None, now: float | None = None) -> None:
        """Run the clock (``lab up``); ``end`` caps the day (default: the end it already had)."""
        state = self._state()
        now = time.time() if now is None else now
        self._write(state, day_at_anchor=self.day(now), anchor=now, speed=speed, paused=False,
                    end=state.get("end") if end is None else float(end))

    def stop(self, now: float | None = None) -> None:
        """Freeze the day (``lab down``)."""
        state = self._state()
        self._write(state, day_at_anchor=self.day(now), anchor=None, paused=False)

    def pause(self, now: float | None = None) -> None:
        """Freeze the day until :meth:`resume` (``lab pause``)."""
        state = self._state()
        self._write(state, day_at_anchor=self.day(now), anchor=None, paused=True)

    def resume(self, now: float | None = None) -> None:
        """Run again from the frozen day (``lab resume``)."""
        state = self._state()
        if state["anchor"] is None:
            self._write(state, anchor=time.time() if now is None else now, paused=False)

    def set_end(self, end: float) -> None:
        self._write(self._state(), end=float(end))

    def jump_to(self, day: float) -> None:
        """Move the clock to ``day`` (used by `lab inject`, which fires an event now)."""
        state = self._state()
        anchor = time.time() if state["anchor"] is not None else None
        self._write(state, day_at_anchor=float(day), anchor=anchor)

    @property
    def speed(self) -> float:
        return float(self._state()["speed"])

    @property
    def running(self) -> bool:
        """True while scenario time passes: started, not paused, not stopped."""
        return self._state()["anchor"] is not None

    @property
    def paused(self) -> bool:
        return bool(self._state().get("paused"))

    @property
    def end(self) -> float | None:
        end = self._state().get("end")
        return None if end is None else float(end)

    def ended(self, now: float | None = None) -> bool:
        end = self.end
        return end is not None and self.day(now) >= end

    def day(self, now: float | None = None) -> float:
        state = self._state()
        if state["anchor"] is None:
            day = float(state["day_at_anchor"])
        else:
            now = time.time() if now is None else now
            day = float(state["day_at_anchor"]) + (now - float(state["anchor"])) / float(state["speed"])
        end = state.get("end")
        return day if end is None else min(day, float(end))
