"""Liveness from the home alone (lab.core.liveness): release refuses to act on a stopped lab
without importing the stack. A real process stands in for the supervisor (only its pid and
command line are read); no server starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lab.core import liveness
from lab.core.home import Home
from lab.core.services import SERVED
from lab.core.labconfig import LabConfig
from lab.errors import StateError


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    home.ensure_writable()
    home.write_config(LabConfig(scenario="credit-concept-drift", scenario_file="/s/credit-concept-drift.yaml", seed=4))
    return home


def test_no_lab_is_a_state_error(tmp_path):
    with pytest.raises(StateError, match="no lab in"):
        liveness.require_config(Home(tmp_path / "empty"))


def test_the_lab_runs_while_its_supervisor_lives(home: Home):
    assert not liveness.lab_running(home) and liveness.supervisor_alive(home) is None
    # a pid that is not a supervisor (pytest itself) does not count
    home.run_json.write_text(json.dumps({"supervisor_pid": os.getpid()}))
    assert liveness.supervisor_alive(home) is None
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", liveness.SUPERVISOR_MODULE],
                            stdin=subprocess.PIPE)
    try:
        home.run_json.write_text(json.dumps({"supervisor_pid": proc.pid}))
        assert liveness.supervisor_alive(home) == proc.pid and liveness.lab_running(home)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert not liveness.lab_running(home)


def test_release_refuses_a_stopped_lab(home: Home):
    from lab.release.actions import context

    with pytest.raises(StateError, match="is not running"):
        context(home)


def test_a_compose_lab_is_down_when_no_service_answers(home: Home):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    home.write_config(home.config().model_copy(update={
        "stack": "compose", "urls": {n: f"http://127.0.0.1:{closed}" for n in SERVED}}))
    assert liveness.is_compose(home)
    assert liveness.probe(home, timeout=0.5) == {n: False for n in SERVED}
    assert not liveness.lab_running(home)
