"""Services sharing one process (lab.core.services' ``process``) under the supervisor: one
process for the group, and when it dies every member is journaled and restarted together.
Real child processes (a few lines of Python touching heartbeat files), no server."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from lab.core import services
from lab.core.home import Home
from lab.core.labconfig import LabConfig
from lab.stack.supervisor import Service, Supervisor

BEAT = "import pathlib, sys, time\nwhile True:\n    [pathlib.Path(p).touch() for p in sys.argv[1:]]\n    time.sleep(0.2)\n"


@pytest.fixture
def supervisor(tmp_path):
    home = Home(tmp_path / "home")
    home.ensure_writable()
    ports = {name: 15000 + i for i, name in enumerate(services.SERVED)}
    home.write_config(LabConfig(scenario="credit-concept-drift", scenario_file="/s/credit-concept-drift.yaml",
                                seed=4, speed=10.0, ports=ports))
    sup = Supervisor(home)
    beats = [home.root / "one.beat", home.root / "two.beat"]
    cmd = [sys.executable, "-c", BEAT, *map(str, beats)]
    sup.services = [Service("one", cmd, None, heartbeat=beats[0], process="pair"),
                    Service("two", cmd, None, heartbeat=beats[1], process="pair")]
    sup.status = "running"  # past start-up: no clock to start from a scenario file
    yield sup
    sup.stop_all()


def _step_until(sup: Supervisor, done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, [(s.name, s.status) for s in sup.services]
        sup.step()
        time.sleep(0.1)


def test_a_shared_process_starts_once_and_restarts_with_all_its_services(supervisor: Supervisor):
    one, two = supervisor.services
    _step_until(supervisor, lambda: one.status == two.status == "healthy")
    assert one.proc is two.proc and one.log_path == two.log_path == supervisor.home.logs / "pair.log"
    assert (supervisor.home.logs / "one.log").resolve() == one.log_path.resolve()  # `lab logs one` reads it
    first = one.proc.pid
    os.kill(first, signal.SIGKILL)
    _step_until(supervisor, lambda: one.proc.pid != first and one.status == two.status == "healthy")
    assert one.proc is two.proc and one.restarts == two.restarts == 1
    entries = [json.loads(x) for x in supervisor.home.journal.read_text().splitlines()]
    exited = [e["data"] for e in entries if e["kind"] == "service.exited"]
    assert [(e["service"], e["code"], e["process"]) for e in exited] == [("one", -9, "pair"), ("two", -9, "pair")]
    restarted = [e["data"] for e in entries if e["kind"] == "service.restarted"]
    assert restarted == [{"service": "one", "restarts": 1}, {"service": "two", "restarts": 1}]
    started = [e["data"]["pid"] for e in entries if e["kind"] == "service.started"]
    assert started == [first, first, one.proc.pid, one.proc.pid]
