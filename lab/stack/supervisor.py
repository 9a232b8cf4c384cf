"""The supervisor: starts the lab's services in dependency order, watches them, stops them.

``lab up`` spawns it detached (``python -m lab.stack.supervisor --home H``). It:

* starts each service once everything it ``needs`` is healthy (MLflow and Prefect
  at once; then training, a one-shot job; then serving; then traffic),
* polls each service's health URL (never a blind sleep) until healthy or timed out,
* restarts a service that dies after it was healthy (at most ``MAX_RESTARTS`` times),
  journaling ``service.exited`` and ``service.restarted``; services that share a process
  (the table's ``process``: timeline, monitor, traffic and the exporter in lab.workers.stack_worker) are
  started, stopped and restarted together, each journaled under its own name,
* on a failure during start-up, or on SIGTERM/SIGINT, stops every process it
  started (the whole process group, then any stray descendant) and exits.

Its state, read by ``lab up`` and ``lab status``, is ``<home>/run.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from lab import __version__
from lab.core import access, services
from lab.core.home import MARKER_ENV, Clock, Home, resolve_home, write_json_atomic
from lab.core import safe_yaml
from lab.core.journal import Journal

MAX_RESTARTS = 5
POLL_SECONDS = 0.25
STOP_GRACE_SECONDS = 15.0
ALIAS_POLL_SECONDS = 0.5


@dataclass
class Service:
    name: str
    cmd: list[str]
    health_url: str | None  # None for a one-shot job (healthy = exited 0) or a heartbeat file
    needs: tuple[str, ...] = ()
    heartbeat: Path | None = None  # healthy while this file was touched lately (lab.core.services.heartbeat_fresh)
    skip: bool = False  # a job with nothing to do (e.g. the registry is already complete)
    startup_timeout: float = 240.0
    url: str | None = None
    job: bool = False
    process: str | None = None  # the shared process it runs in (lab.core.services.PROCESSES)
    # runtime
    proc: subprocess.Popen | None = None
    status: str = "waiting"  # waiting, starting, healthy, done, failed, restarting, stopped
    started_at: float | None = None
    healthy_at: float | None = None
    restarts: int = 0
    error: str | None = None
    log_path: Path | None = None
    descendants: set[int] = field(default_factory=set)


def _set_pdeathsig() -> None:
    """Ask the kernel to SIGTERM this child if the supervisor dies (Linux only)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def service_plan(home: Home) -> list[Service]:
    """The services and their order, from the service table (lab.core.services).

    On a warm start (the registry already holds every version) training is skipped and
    serving starts at once, beside MLflow: the service waits for MLflow itself, so its
    slow imports overlap MLflow's start-up. Traffic always starts at once and waits for
    the serving API before it sends anything.
    """
    cfg = home.config()
    ports = cfg.ports
    skipped = frozenset({"train"}) if cfg.registered_versions else frozenset()
    needs = services.start_order(skipped)
    bindir = Path(sys.executable).parent
    plan = []
    for spec in services.TABLE:
        if not services.enabled(spec, home.root):  # e.g. the drill agent of a lab that joined no drill
            continue
        if spec.process is not None:
            cmd = [sys.executable, *services.PROCESSES[spec.process], "--home", str(home.root)]
            cmd += _arguments(spec.process, home, ports)
        else:
            cmd = services.command_head(spec, python=sys.executable, bindir=bindir)
            if spec.takes_home:
                cmd += ["--home", str(home.root)]
            cmd += _arguments(spec.name, home, ports)
        url = f"http://127.0.0.1:{ports[spec.name]}" if spec.port is not None else None
        plan.append(Service(
            spec.name, cmd,
            health_url=url + spec.health if spec.kind == "http" else None,
            needs=needs[spec.name],
            heartbeat=services.heartbeat_path(home.root, spec.name) if spec.kind == "heartbeat" else None,
            skip=spec.name in skipped,
            startup_timeout=spec.startup_timeout,
            url=url,
            job=spec.kind == "job",
            process=spec.process,
        ))
    return plan


def _arguments(name: str, home: Home, ports: dict[str, int]) -> list[str]:
    """What follows a service's program, entry and ``--home`` under ``lab up``: local stores, host, port."""
    if name == "mlflow":
        return [
            "--backend-store-uri", f"sqlite:///{home.mlflow / 'mlflow.db'}",
            "--artifacts-destination", str(home.mlflow / "artifacts"),
            "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(ports["mlflow"]),
            *(["--auth-file", str(access.access_path(home))] if access.load(home) else []),
        ]
    if name == "prefect":
        return ["--host", "127.0.0.1", "--port", str(ports["prefect"]), "--analytics-off", "--no-late-runs"]
    if name == "serving":
        return ["--host", "127.0.0.1", "--port", str(ports["serving"])]
    if name == "traffic":
        return ["--port", str(ports["traffic"])]
    if name == "exporter":
        return ["--port", str(ports["exporter"])]
    if name == "workers":
        return ["--traffic-port", str(ports["traffic"]), "--exporter-port", str(ports["exporter"])]
    return []


def service_env(home: Home) -> dict[str, str]:
    ports = home.config().ports
    env = dict(os.environ)
    env.update(
        {
            MARKER_ENV: str(home.root),
            "LAB_HOME": str(home.root),
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{ports['mlflow']}",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "PREFECT_HOME": str(home.prefect),
            "PREFECT_API_URL": f"http://127.0.0.1:{ports['prefect']}/api",
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home.prefect / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "BENTOML_HOME": str(home.root / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "True",
        }
    )
    env.update(access.service_env(home))  # a lab that joined a drill: MLflow and Prefect want its credentials
    return env


def scenario_facts(home: Home) -> tuple[float, str]:
    """The scenario's length in days and its model's name, read from its YAML.

    Not through lab.scenario's schema, which imports pandas and numpy (about 80 MB in a
    process that otherwise needs none): `lab up` validated the file before starting this
    supervisor. Should the scenario randomise either fact, the seeded scenario is asked.
    """
    data = safe_yaml.parse(Path(home.config().scenario_file).read_text(encoding="utf-8")).data
    if any(str(r.get("path", "")) in ("timeline.days", "model.name") for r in data.get("randomised") or []):
        from lab.scenario.run import effective_scenario  # heavy: pandas, only for such a scenario

        scenario, _ = effective_scenario(home)
        return float(scenario.timeline.days), scenario.model.name
    return float(data["timeline"]["days"]), str(data["model"]["name"])


def _link(link: Path, target: Path) -> None:
    """``link`` -> ``target`` (a sibling), replacing a file of an earlier run."""
    if link.is_symlink() and link.readlink() == Path(target.name):
        return
    link.unlink(missing_ok=True)
    link.symlink_to(target.name)


def tail(path: Path | None, lines: int = 5) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])


class Supervisor:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.services = service_plan(home)
        self.env = service_env(home)
        self.journal = Journal(home.journal)
        self.clock = Clock(home.clock_json)
        self.stopping = False
        self.status = "starting"
        self.error: str | None = None
        self.http = httpx.Client(timeout=2.0)
        self.watcher = None
        self.last_alias_poll = 0.0

    # -- state -----------------------------------------------------------------
    def write_state(self) -> None:
        write_json_atomic(
            self.home.run_json,
            {
                "supervisor_pid": os.getpid(),
                "status": self.status,
                "error": self.error,
                "updated": time.time(),
                "services": {
                    s.name: {
                        "status": "skipped" if s.skip and s.status == "done" else s.status,
                        "pid": s.proc.pid if s.proc else None,
                        "url": s.url,
                        "restarts": s.restarts,
                        "error": s.error,
                        "job": s.job,
                        "started_at": s.started_at,
                        "healthy_at": s.healthy_at,
                        "log": str(s.log_path) if s.log_path else None,
                        "process": s.process,
                    }
                    for s in self.services
                },
            },
        )

    def by_name(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    # -- process control ---------------------------------------------------------
    def group(self, s: Service) -> list[Service]:
        """``s`` and the services sharing its process (started, stopped and restarted together)."""
        return [m for m in self.services if m.process == s.process] if s.process else [s]

    def start(self, s: Service) -> None:
        group = self.group(s)
        for m in group:
            if m.heartbeat is not None:  # a beat left by an earlier run must not count as this one's
                m.heartbeat.unlink(missing_ok=True)
        self.home.logs.mkdir(parents=True, exist_ok=True)
        name = s.process or s.name
        log_path = self.home.logs / f"{name}.log"
        log = open(log_path, "ab")
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(s.cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            s.cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.home.root,
            env=self.env,
            start_new_session=True,
            preexec_fn=_set_pdeathsig,
        )
        log.close()
        for m in group:
            m.proc, m.log_path = proc, log_path
            m.status = "starting"
            m.started_at = time.time()
            m.error = None
            if m.process:  # `lab logs traffic` reads the shared process's log
                _link(self.home.logs / f"{m.name}.log", log_path)
            self.journal.append("service.started", {"service": m.name, "pid": proc.pid,
                                                    **({"process": m.process} if m.process else {})},
                                day=self.clock.day())

    def healthy(self, s: Service) -> bool:
        if s.heartbeat is not None:
            return services.heartbeat_fresh(s.heartbeat)
        try:
            r = self.http.get(s.health_url)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def stop_one(self, s: Service) -> None:
        if s.proc is None or s.proc.poll() is not None:
            return
        try:
            procs = [psutil.Process(s.proc.pid), *psutil.Process(s.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        try:
            os.killpg(s.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _, alive = psutil.wait_procs(procs, timeout=STOP_GRACE_SECONDS)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(s.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        s.proc.wait(timeout=5)
        for m in self.group(s):
            m.status = "stopped"

    def stop_all(self) -> None:
        self.status = "stopping"
        self.write_state()
        for s in reversed(self.services):
            self.stop_one(s)
        self.write_state()

    # -- main loop ----------------------------------------------------------------
    def fail(self, s: Service, reason: str) -> None:
        s.status = "failed"
        s.error = reason
        self.error = f"{s.name} failed to start: {reason}"
        self.journal.append("service.failed", {"service": s.name, "reason": reason}, day=self.clock.day())

    def step(self) -> None:
        now = time.time()
        for s in self.services:
            if s.status == "waiting":
                if all(self.by_name(n).status in ("healthy", "done") for n in s.needs):
                    if s.skip:
                        s.status, s.started_at, s.healthy_at = "done", now, now
                    else:
                        self.start(s)
                continue
            if s.proc is None:
                continue
            code = s.proc.poll()
            if s.status == "starting":
                if s.job:
                    if code == 0:
                        s.status = "done"
                        s.healthy_at = now
                        self.on_job_done(s)
                    elif code is not None:
                        self.fail(s, f"exited with code {code}: {tail(s.log_path)}")
                elif code is not None:
                    if not any(m.status == "healthy" for m in self.group(s)):  # else: restarted with them, below
                        self.fail(s, f"exited with code {code} before becoming healthy: {tail(s.log_path)}")
                elif self.healthy(s):
                    s.status = "healthy"
                    s.healthy_at = now
                    self.journal.append(
                        "service.healthy",
                        {"service": s.name, "seconds": round(now - s.started_at, 2), "restarts": s.restarts},
                        day=self.clock.day(),
                    )
                if s.status == "starting" and now - s.started_at > s.startup_timeout:
                    self.fail(s, f"not healthy after {s.startup_timeout:.0f} s: {tail(s.log_path)}")
            elif s.status == "healthy" and (code is not None or not self.alive(s)):
                if code is None:  # hung (heartbeat stopped): treat as dead
                    self.stop_one(s)
                    code = s.proc.returncode
                group = self.group(s)
                for m in group:  # a shared process: its services exited together
                    self.journal.append("service.exited", {
                        "service": m.name, "code": code, "log": tail(m.log_path, 3),
                        **({"process": m.process} if m.process else {})}, day=self.clock.day())
                if s.restarts >= MAX_RESTARTS:
                    self.fail(s, f"exited with code {code} after {MAX_RESTARTS} restarts")
                    continue
                for m in group:
                    m.restarts += 1
                    self.journal.append(
                        "service.restarted", {"service": m.name, "restarts": m.restarts}, day=self.clock.day()
                    )
                self.stop_one(s)  # reap anything left of the old process group
                self.start(s)
        if self.status == "starting" and all(s.status in ("healthy", "done") for s in self.services):
            self.status = "running"
            # scenario time runs only while the lab is up, and stops at the scenario's last day
            days, _ = scenario_facts(self.home)
            ended_early = self.clock.end  # a drill's facilitator may have ended it before its last day
            self.clock.start(self.home.config().speed, end=days if ended_early is None else min(days, ended_early))
            self.journal.append(
                "lab.up",
                {name: round(s.healthy_at - s.started_at, 2) for name, s in ((s.name, s) for s in self.services)},
                day=self.clock.day(),
            )

    def alive(self, s: Service) -> bool:
        return s.heartbeat is None or self.healthy(s)

    def on_job_done(self, s: Service) -> None:
        if s.name == "train":
            self.home.write_config(self.home.config().model_copy(update={"registered_versions": True}))

    def watch_aliases(self) -> None:
        """Journal alias moves, whoever made them (see lab.release.audit)."""
        if self.watcher is None:
            if self.by_name("train").status != "done" or self.by_name("mlflow").status != "healthy":
                return
            from lab.release.audit import AliasWatcher

            _, model = scenario_facts(self.home)
            self.watcher = AliasWatcher(self.home, self.by_name("mlflow").url, model)
        if time.monotonic() - self.last_alias_poll < ALIAS_POLL_SECONDS:
            return
        self.last_alias_poll = time.monotonic()
        try:
            self.watcher.poll()
        except Exception as exc:  # MLflow restarting: try again on the next poll
            print(f"alias watch failed: {exc}", flush=True)

    def run(self) -> int:
        def on_signal(signum, frame):  # noqa: ARG001
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.write_state()
        try:
            while not self.stopping:
                self.step()
                self.watch_aliases()
                self.write_state()
                if self.error:
                    break
                time.sleep(POLL_SECONDS)
        finally:
            self.stop_all()
            if self.error:
                self.status = "failed"
            else:
                self.status = "stopped"
            self.write_state()
        return 1 if self.error else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    home = Home(resolve_home(args.home))
    access.export_env(home)  # its alias watcher reads this lab's MLflow (credentials in a lab that joined a drill)
    print(f"prodml-lab {__version__} supervisor pid {os.getpid()} for {home.root}", flush=True)
    return Supervisor(home).run()


if __name__ == "__main__":
    sys.exit(main())
