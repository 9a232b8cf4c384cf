"""A lab home for docker compose, without Docker: `lab init --stack compose`, service URLs,
the commands that refuse a compose home, and the compose agent's health journal (against
a real HTTP server that goes away and comes back). tests/compose runs the real stack."""

from __future__ import annotations

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab.core.home import Home
from tests.conftest import run_lab


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def compose_env(monkeypatch):
    """Service URLs on closed local ports (nothing answers), scenario and seed by variable."""
    for service in ("mlflow", "prefect", "serving", "traffic", "exporter"):
        monkeypatch.setenv(f"LAB_{service.upper()}_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("LAB_SCENARIO", "churn-label-drift")
    monkeypatch.setenv("LAB_SEED", "11")
    monkeypatch.delenv("LAB_SPEED", raising=False)


def test_init_writes_a_compose_home_from_the_environment(tmp_path, compose_env, monkeypatch):
    home = tmp_path / "home"
    run_lab("init", "--stack", "compose", home=home, check=True)
    cfg = json.loads((home / "lab.json").read_text())
    assert cfg["stack"] == "compose" and cfg["scenario"] == "churn-label-drift" and cfg["seed"] == 11
    assert cfg["urls"]["mlflow"] == os.environ["LAB_MLFLOW_URL"]
    assert (home / "answer_key.json").exists()
    header = json.loads((home / "journal.jsonl").read_text().splitlines()[0])
    assert header["kind"] == "lab.header" and header["data"]["seed"] == 11
    # the URLs stay with the home; the variable still wins
    monkeypatch.delenv("LAB_MLFLOW_URL")
    assert Home(home).url("mlflow") == cfg["urls"]["mlflow"]
    monkeypatch.setenv("LAB_MLFLOW_URL", "http://mlflow:5000/")
    assert Home(home).url("mlflow") == "http://mlflow:5000"
    # again: the same run continues; another seed is refused
    monkeypatch.setenv("LAB_MLFLOW_URL", cfg["urls"]["mlflow"])
    run_lab("init", "--stack", "compose", home=home, check=True)
    assert len((home / "journal.jsonl").read_text().splitlines()) == 1
    other = run_lab("init", "--stack", "compose", "--seed", "12", home=home)
    assert other.returncode == 3 and "seed 11, not 12" in other.stderr


def test_compose_defaults_to_the_service_names(tmp_path, monkeypatch):
    for service in ("mlflow", "prefect", "serving", "traffic", "exporter"):
        monkeypatch.delenv(f"LAB_{service.upper()}_URL", raising=False)
    home = tmp_path / "home"
    run_lab("init", "hiring-data-drift", "--seed", "3", "--stack", "compose", home=home, check=True)
    urls = json.loads((home / "lab.json").read_text())["urls"]
    assert urls == {"mlflow": "http://mlflow:5000", "prefect": "http://prefect:4200",
                    "serving": "http://serving:3000", "traffic": "http://traffic:3100",
                    "exporter": "http://exporter:3200"}


def test_commands_that_do_not_apply_to_a_compose_home(tmp_path, compose_env):
    home = tmp_path / "home"
    run_lab("init", "--stack", "compose", home=home, check=True)
    up = run_lab("up", "churn-label-drift", home=home)
    assert up.returncode == 3 and "compose" in up.stderr
    down = run_lab("down", home=home)
    assert down.returncode == 2 and "docker compose down" in down.stderr
    status = json.loads(run_lab("status", "--json", home=home, check=True).stdout)
    assert status["running"] is False and not any(s["healthy"] for s in status["services"].values())
    shadow = run_lab("shadow", "start", "--version", "2", home=home)
    assert shadow.returncode == 3 and "not running" in shadow.stderr
    bad = run_lab("init", "--stack", "embedded", home=tmp_path / "other")
    assert bad.returncode == 2


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _serve(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _agent(tmp_path, monkeypatch):
    """A compose home whose serving URL is a free local port, and its agent."""
    from lab.stack.compose_agent import ComposeAgent

    port = free_port()
    monkeypatch.setenv("LAB_SERVING_URL", f"http://127.0.0.1:{port}")
    home = tmp_path / "home"
    run_lab("init", "--stack", "compose", home=home, check=True)
    agent = ComposeAgent(Home(home))
    return agent, agent.by_name("serving"), home, port


def test_agent_journals_a_service_that_dies_and_comes_back(tmp_path, compose_env, monkeypatch):
    from lab.stack.compose_agent import FAILED_PROBES_TO_DOWN
    from lab.core.journal import Journal, verify

    agent, serving, home, port = _agent(tmp_path, monkeypatch)

    server = _serve(port)
    agent.observe(serving)
    assert serving.status == "healthy"
    server.shutdown()
    server.server_close()
    for _ in range(FAILED_PROBES_TO_DOWN):
        agent.observe(serving)
    assert serving.status == "down"
    server = _serve(port)
    agent.observe(serving)
    server.shutdown()
    server.server_close()
    assert serving.status == "healthy" and serving.restarts == 1

    kinds = [(e["kind"], e["data"].get("service")) for e in Journal(Path(home) / "journal.jsonl").entries()]
    assert kinds[1:] == [("service.healthy", "serving"), ("service.exited", "serving"),
                         ("service.restarted", "serving"), ("service.healthy", "serving")]
    verify(Path(home) / "journal.jsonl")
    agent.write_state()
    state = json.loads((home / "run.json").read_text())
    assert state["stack"] == "compose" and state["supervisor_pid"] is None
    assert state["services"]["serving"]["restarts"] == 1


def test_agent_journals_a_restart_quicker_than_its_probes(tmp_path, compose_env, monkeypatch):
    """Serving killed and back between two probes (CI saw it: one process restarts in seconds):
    the new id in serving's instance file is the outage the probes missed."""
    from lab.core.home import write_json_atomic
    from lab.core.journal import Journal
    from lab.core.services import INSTANCES

    agent, serving, home, port = _agent(tmp_path, monkeypatch)
    marker = home / INSTANCES["serving"]
    server = _serve(port)
    try:
        write_json_atomic(marker, {"id": "first"})
        agent.observe(serving)
        agent.observe(serving)  # the same process again: nothing to journal
        write_json_atomic(marker, {"id": "second"})  # it died and its successor already answers
        agent.observe(serving)
        agent.observe(serving)
    finally:
        server.shutdown()
        server.server_close()
    entries = [e for e in Journal(Path(home) / "journal.jsonl").entries() if e["data"].get("service") == "serving"]
    assert [e["kind"] for e in entries] == ["service.healthy", "service.exited", "service.restarted",
                                            "service.healthy"]
    assert "second" in entries[1]["data"]["observed"]
    assert entries[2]["data"]["down_seconds"] > 0 and serving.restarts == 1 and serving.status == "healthy"
