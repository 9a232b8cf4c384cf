"""The compose stack's agent: what the embedded supervisor does besides starting processes.

Under docker compose, Docker starts, health-checks and restarts the services; this agent
runs in the ``lab`` control container (``python -m lab.stack.compose_agent``) and keeps the
evidence and the clock, as lab.stack.supervisor does for ``lab up``:

* it probes each service twice a second (the HTTP health URLs of MLflow, Prefect,
  serving and traffic, and the heartbeat files of the timeline and the drift monitor)
  and journals what it sees:
  ``service.healthy`` when a service first answers; ``service.exited`` when a healthy
  service stops answering (it crashed, or its container was killed); and
  ``service.restarted`` then ``service.healthy`` when it answers again (compose's
  restart policy brought it back). A service that names an ``instance`` file (serving) can
  come back quicker than two probes; a new id in that file counts as the same outage;
* once every service is healthy it starts the scenario clock and journals ``lab.up``;
  when the container is stopped it stops the clock and journals ``lab.down``;
* it runs the alias watcher (:class:`lab.release.audit.AliasWatcher`), the only writer of
  ``alias.moved`` after training;
* it keeps ``<home>/run.json`` for ``lab status`` (no pids: processes belong to other
  containers) and touches ``<home>/compose/heartbeat`` for its own healthcheck.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from lab import __version__
from lab.core.home import Clock, Home, read_json, resolve_home, write_json_atomic
from lab.core.journal import Journal
from lab.core.services import AGENT_HEARTBEAT, HEALTH_PATHS, HEARTBEATS, INSTANCES, OPTIONAL, SERVED, heartbeat_fresh

POLL_SECONDS = 0.5
#: Consecutive failed probes before a healthy service counts as gone (one slow answer is not a crash).
FAILED_PROBES_TO_DOWN = 2
INIT_TIMEOUT_SECONDS = 600.0


@dataclass
class Observed:
    name: str
    url: str | None
    status: str = "waiting"  # waiting, healthy, down
    healthy_at: float | None = None
    down_since: float | None = None
    restarts: int = 0
    failures: int = 0
    instance: str | None = None  # the id in its INSTANCES file when it last answered
    last_ok: float | None = None


def agent_heartbeat(home: Home) -> Path:
    return home.root / AGENT_HEARTBEAT


class ComposeAgent:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.started = time.time()
        self.journal = Journal(home.journal)
        self.clock = Clock(home.clock_json)
        self.http = httpx.Client(timeout=2.0)
        self.health_urls = {s: home.url(s) + HEALTH_PATHS[s] for s in SERVED}
        previous = (home.run_state() or {}).get("services") or {}
        self.services = [Observed(s, home.url(s)) for s in SERVED]
        self.services += [Observed(s, home.url("prefect") + "/runs") for s in HEARTBEATS if s not in OPTIONAL]
        for s in self.services:  # restarts seen by an earlier agent of this stack
            s.restarts = int((previous.get(s.name) or {}).get("restarts", 0))
        self.status = "starting"
        self.watcher = None
        self.stop = threading.Event()

    # -- observing -------------------------------------------------------------------
    def answers(self, s: Observed) -> bool:
        if s.name in HEARTBEATS:
            return heartbeat_fresh(self.home.root / HEARTBEATS[s.name])
        try:
            return self.http.get(self.health_urls[s.name]).status_code == 200
        except httpx.HTTPError:
            return False

    def instance_id(self, s: Observed) -> str | None:
        if s.name not in INSTANCES:
            return None
        return (read_json(self.home.root / INSTANCES[s.name]) or {}).get("id")

    def observe(self, s: Observed) -> None:
        now = time.time()
        if self.answers(s):
            s.failures = 0
            instance = self.instance_id(s)
            if s.status == "healthy" and instance != s.instance and s.instance is not None:
                # a new process answers: the old one died and came back between two probes
                s.status, s.down_since = "down", s.last_ok
                self.journal.append(
                    "service.exited",
                    {"service": s.name, "code": None, "observed": f"a new process answers (id {instance}): "
                     f"the one seen {now - s.last_ok:.1f} s ago is gone"},
                    day=self.clock.day(),
                )
            s.instance, s.last_ok = instance, now
            if s.status == "down":
                s.restarts += 1
                self.journal.append(
                    "service.restarted",
                    {"service": s.name, "restarts": s.restarts, "down_seconds": round(max(now - s.down_since, 0.01), 2),
                     "by": "docker compose restart policy"},
                    day=self.clock.day(),
                )
            if s.status != "healthy":
                s.status, s.healthy_at, s.down_since = "healthy", now, None
                self.journal.append("service.healthy",
                                    {"service": s.name, "seconds": round(now - self.started, 2), "restarts": s.restarts},
                                    day=self.clock.day())
            return
        s.failures += 1
        if s.status == "healthy" and s.failures >= FAILED_PROBES_TO_DOWN:
            s.status, s.down_since = "down", now
            self.journal.append(
                "service.exited",
                {"service": s.name, "code": None, "observed": f"stopped answering {self.health_target(s)}"},
                day=self.clock.day(),
            )

    def health_target(self, s: Observed) -> str:
        return str(HEARTBEATS[s.name]) if s.name in HEARTBEATS else self.health_urls[s.name]

    def by_name(self, name: str) -> Observed:
        return next(s for s in self.services if s.name == name)

    # -- the clock and the alias audit ---------------------------------------------------
    def maybe_up(self) -> None:
        if self.status != "starting" or not all(s.status == "healthy" for s in self.services):
            return
        self.status = "running"
        if not self.clock.running:  # scenario time runs only while the lab is up
            self.clock.start(self.home.config().speed)
        self.journal.append("lab.up", {s.name: round(s.healthy_at - self.started, 2) for s in self.services},
                            day=self.clock.day())

    def watch_aliases(self) -> None:
        if self.watcher is None:
            if self.by_name("mlflow").status != "healthy":
                return
            from lab.release.audit import AliasWatcher
            from lab.scenario.run import effective_scenario

            scenario, _ = effective_scenario(self.home)
            self.watcher = AliasWatcher(self.home, self.home.url("mlflow"), scenario.model.name)
        try:
            self.watcher.poll()
        except Exception as exc:  # MLflow restarting: try again on the next poll
            print(f"alias watch failed: {exc}", flush=True)

    # -- state ---------------------------------------------------------------------------
    def write_state(self) -> None:
        services = {
            s.name: {"status": s.status, "pid": None, "url": s.url, "restarts": s.restarts, "error": None,
                     "job": False, "started_at": self.started, "healthy_at": s.healthy_at}
            for s in self.services
        }
        services["train"] = {"status": "done", "pid": None, "url": None, "restarts": 0, "error": None, "job": True}
        write_json_atomic(self.home.run_json, {
            "stack": "compose", "supervisor_pid": None, "agent": socket.gethostname(), "status": self.status,
            "error": None, "updated": time.time(), "services": services,
        })
        beat = agent_heartbeat(self.home)
        beat.parent.mkdir(parents=True, exist_ok=True)
        beat.touch()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        try:
            while not self.stop.is_set():
                for s in self.services:
                    self.observe(s)
                self.maybe_up()
                self.watch_aliases()
                self.write_state()
                self.stop.wait(POLL_SECONDS)
        finally:
            self.status = "stopped"
            self.write_state()
            if self.clock.running:
                self.clock.stop()
            self.journal.append("lab.down", {"stack": "compose", "by": "the lab container stopped"},
                                day=self.clock.day())
        return 0


def wait_for_init(home: Home, timeout: float = INIT_TIMEOUT_SECONDS) -> None:
    """The `init` service writes the home; wait for it rather than racing it."""
    deadline = time.monotonic() + timeout
    while not ((cfg := home.config()) is not None and cfg.stack == "compose"):
        if time.monotonic() > deadline:
            raise SystemExit(f"no compose lab home in {home.root} after {timeout:.0f} s: did `lab init` run?")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=None, help="lab home (default: $LAB_HOME)")
    args = parser.parse_args(argv)
    home = Home(resolve_home(args.home))
    wait_for_init(home)
    print(f"prodml-lab {__version__} compose agent for {home.root}", flush=True)
    return ComposeAgent(home).run()


if __name__ == "__main__":
    sys.exit(main())
