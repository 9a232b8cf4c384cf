"""`lab up` validates everything before its first side effect (lab.stack.control.prepare). No servers.

A refused `lab up` (bad scenario, busy port, a lab already running, another scenario in
the home) must leave the home byte for byte as it was, or not there at all, and stop no
process: the home's leftover processes are real sleeping interpreters carrying the home's
marker, as a killed supervisor's children do.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import psutil
import pytest

from lab.core.home import MARKER_ENV, SERVICES, Home, free_port, write_json_atomic
from lab.errors import ScenarioError, StateError, UsageError
from lab.scenario.schema import SCENARIO_DIR
from lab.stack import control as stack
from tests.conftest import run_lab

_LISTENER = ("import socket, sys, time\n"
             "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
             "print(s.getsockname()[1], flush=True); time.sleep(300)\n")


@pytest.fixture
def spawn() -> Iterator:
    """Start a sleeping interpreter (listening on a port with ``listen=0`` for any); every one is killed after."""
    started: list[subprocess.Popen] = []

    def start(*, marker: Path | None = None, listen: int | None = None, argv: tuple[str, ...] = ()) -> subprocess.Popen:
        env = dict(os.environ)
        if marker is not None:
            env[MARKER_ENV] = str(marker)
        code = _LISTENER if listen is not None else "import time; time.sleep(300)"
        args = [str(listen)] if listen is not None else list(argv)
        proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, text=True)
        started.append(proc)
        if listen is not None:
            proc.port = int(proc.stdout.readline())  # listening once it printed its port
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on (a socket of this test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _tree(root: Path) -> dict[str, tuple[str, bytes | None]]:
    """Every folder and file under ``root``, with file contents: a home's state, byte for byte."""
    return {str(p.relative_to(root)): ("dir", None) if p.is_dir() else ("file", p.read_bytes())
            for p in sorted(root.rglob("*"))}


def _alive(proc: subprocess.Popen) -> bool:
    return proc.poll() is None and psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE


def _bad_scenario(tmp_path: Path) -> Path:
    text = (SCENARIO_DIR / "hiring-data-drift.yaml").read_text().replace("label_delay_days: 3", "label_delay_days: -3")
    assert "label_delay_days: -3" in text
    path = tmp_path / "bad-scenario.yaml"
    path.write_text(text)
    return path


def test_a_refused_first_up_creates_no_home_and_stops_nothing(tmp_path, spawn, busy_port):
    home = Home(tmp_path / "home")
    stray = spawn(marker=home.root)  # a process of this home's path: must survive a refusal
    with pytest.raises(UsageError, match=f"mlflow port {busy_port} already in use"):
        stack.prepare(home, "hiring-data-drift", 1, 10.0, busy_port)
    with pytest.raises(ScenarioError, match="label_delay_days"):
        stack.prepare(home, str(_bad_scenario(tmp_path)), 1, 10.0, 0)
    with pytest.raises(UsageError, match="--speed 0"):
        stack.prepare(home, "hiring-data-drift", 1, 0.0, 0)
    assert not home.root.exists()
    assert _alive(stray)


def test_a_refused_up_leaves_an_existing_home_as_it_was(tmp_path, spawn, busy_port):
    home = Home(tmp_path / "home")
    stack.prepare(home, "hiring-data-drift", 1, 10.0, 0)
    before = _tree(home.root)
    stray = spawn(marker=home.root)
    refusals = [
        (UsageError, "already in use", ("hiring-data-drift", None, None, busy_port)),
        (ScenarioError, "label_delay_days", (str(_bad_scenario(tmp_path)), None, None, 0)),
        (StateError, "holds scenario 'hiring-data-drift', not 'credit-concept-drift'",
         ("credit-concept-drift", None, None, 0)),
        (StateError, "was started with seed 1, not 2", ("hiring-data-drift", 2, None, 0)),
    ]
    for error, message, args in refusals:
        with pytest.raises(error, match=message):
            stack.prepare(home, *args)
    assert _tree(home.root) == before
    assert _alive(stray)


def test_a_second_up_is_refused_before_anything_is_touched(tmp_path, spawn):
    home = Home(tmp_path / "home")
    stack.prepare(home, "hiring-data-drift", 1, 10.0, 0)
    supervisor = spawn(argv=("lab.stack.supervisor",))  # what supervisor_alive recognises
    write_json_atomic(home.run_json, {"supervisor_pid": supervisor.pid, "status": "running"})
    before = _tree(home.root)
    child = spawn(marker=home.root)
    with pytest.raises(StateError, match=f"already running in .*supervisor pid {supervisor.pid}"):
        stack.prepare(home, "hiring-data-drift", None, None, None)
    assert _tree(home.root) == before
    assert _alive(supervisor) and _alive(child)


def test_once_everything_is_checked_leftovers_are_stopped_and_their_ports_reused(tmp_path, spawn):
    """A killed supervisor's child still holds the home's MLflow port: not a busy port, a leftover to stop."""
    home = Home(tmp_path / "home")
    _, cfg = stack.prepare(home, "hiring-data-drift", 1, 10.0, 0)
    leftover = spawn(marker=home.root, listen=0)
    ports = {s: free_port() for s in SERVICES} | {"mlflow": leftover.port}
    write_json_atomic(home.lab_json, {**cfg.model_dump(mode="json"), "ports": ports})
    _, again = stack.prepare(home, "hiring-data-drift", None, None, None)
    assert again.ports == ports
    assert leftover.wait(timeout=30) is not None  # stopped by prepare


def test_lab_up_on_a_busy_port_fails_cleanly_and_writes_no_home(tmp_path, busy_port):
    home = tmp_path / "home"
    try:
        proc = run_lab("up", "hiring-data-drift", "--seed", "1", "--port-base", str(busy_port), "--detach",
                       home=home, timeout=300)
    finally:
        if (home / "run.json").exists():  # it must never get this far; if it did, stop what it started
            run_lab("down", home=home)
    assert proc.returncode == 2, proc.stderr
    assert f"mlflow port {busy_port} already in use" in proc.stderr and "Traceback" not in proc.stderr
    assert not home.exists()
