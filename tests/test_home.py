from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lab.errors import UsageError
from lab.core.home import Clock, Home, choose_ports, resolve_home


def test_home_resolution_order(tmp_path, monkeypatch):
    monkeypatch.delenv("LAB_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_home(None) == tmp_path / ".lab"
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "env"))
    assert resolve_home(None) == tmp_path / "env"
    assert resolve_home(str(tmp_path / "flag")) == tmp_path / "flag"


def test_taken_port_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UsageError, match=f"mlflow port {port} already in use"):
            choose_ports(port, None)


def test_free_ports_are_distinct():
    ports = choose_ports(0, None)
    assert len(set(ports.values())) == len(ports) == 5


def test_unwritable_home(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UsageError, match="is not writable"):
        Home(blocker / "home").ensure_writable()


def test_clock_runs_only_while_started(tmp_path: Path):
    clock = Clock(tmp_path / "clock.json")
    assert clock.day() == 0.0
    clock.start(speed=10.0)
    import json

    state = json.loads((tmp_path / "clock.json").read_text())
    assert clock.day(now=state["anchor"] + 25) == pytest.approx(2.5)
    clock.stop()
    frozen = clock.day()
    assert clock.day() == frozen
    clock.jump_to(12.0)
    assert clock.day() == 12.0
