"""A team lab's side of a drill against the real console (lab.drill.api under uvicorn, in a
thread of the test; no lab services): joining and its refusals, the agent's journal
streaming across a console outage, applying the facilitator's commands exactly once,
`lab hint`, and `lab submit`'s upload warnings. The whole drill with two real labs is
tests/integration/test_drill_console.py."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from lab.core import drill_client as dc
from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.core.labconfig import LabConfig
from lab.drill.api import create_app
from lab.drill.store import Store
from lab.errors import UsageError
from lab.stack.drill_agent import Agent
from tests.conftest import run_lab


class ConsoleThread:
    """The console's app served by uvicorn in a thread, on a port that survives a restart."""

    def __init__(self, home: Path) -> None:
        self.home = home
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.home), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def console(tmp_path):
    tokens = Store(tmp_path / "drill").create("spring", "hiring-data-drift", 5, 30.0, ["red", "blue"])
    con = ConsoleThread(tmp_path / "drill")
    con.start()
    yield con, tokens
    con.stop()


def _token(tokens, team):
    return next(t["token"] for t in tokens["teams"] if t["name"] == team)


def _home(tmp_path: Path, name: str = "red") -> Home:
    home = Home(tmp_path / name)
    home.ensure_writable()
    home.write_config(LabConfig(scenario="hiring-data-drift", scenario_file="hiring-data-drift", seed=5, speed=30.0))
    Journal(home.journal).append("lab.header", {"scenario": "hiring-data-drift", "seed": 5}, day=0.0)
    return home


def test_joining_takes_the_drills_incident_and_refuses_what_disagrees(console, tmp_path):
    con, tokens = console
    red = _token(tokens, "red")
    joining = dc.join_drill(con.url + "/", red, None, None, None)
    assert (joining.scenario, joining.seed, joining.speed, joining.creds.team) == ("hiring-data-drift", 5, 30.0, "red")
    assert dc.join_drill(con.url, red, "hiring-data-drift", 5, 30).creds.drill == "spring"  # agreeing is fine
    for args, named in (((None, "credit-concept-drift", None, None), "'credit-concept-drift'"),
                        ((None, None, 4, None), "--seed 4"), ((None, None, None, 10.0), "--speed 10")):
        with pytest.raises(UsageError, match=named) as exc:
            dc.join_drill(con.url, red, *args[1:])
        assert "'spring'" in exc.value.message
    with pytest.raises(UsageError, match="facilitator's token"):
        dc.join_drill(con.url, tokens["facilitator_token"], None, None, None)
    with pytest.raises(dc.DrillRefused) as refused:
        dc.join_drill(con.url, "not-a-token", None, None, None)
    assert refused.value.status == 401 and refused.value.exit_code == 2
    with pytest.raises(UsageError, match="go together"):
        dc.join_drill(con.url, None, None, None, None)

    home = _home(tmp_path)
    joining.save(home)
    assert (home.root / "drill" / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert (home.root / "drill" / "access.json").stat().st_mode & 0o777 == 0o600
    from lab.core import access

    creds = access.load(home)
    assert access.service_env(home) == {
        "MLFLOW_TRACKING_USERNAME": "lab-red", "MLFLOW_TRACKING_PASSWORD": creds["mlflow_password"],
        "PREFECT_API_AUTH_STRING": f"lab-red:{creds['mlflow_password']}",
        "PREFECT_SERVER_API_AUTH_STRING": f"lab-red:{creds['mlflow_password']}"}
    assert access.admin_headers(home) == {"X-Lab-Admin-Token": creds["admin_token"]}
    text = home.journal.read_text()
    assert red not in text and json.loads(text.splitlines()[-1])["data"] == {"drill": "spring", "team": "red"}


def test_lab_up_refuses_a_conflict_before_anything_is_written(console, tmp_path):
    con, tokens = console
    proc = run_lab("up", "churn-label-drift", "--drill", con.url, "--team-token", _token(tokens, "red"),
                   home=tmp_path / "h")
    assert proc.returncode == 2 and "'churn-label-drift'" in proc.stderr and "'hiring-data-drift'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "h").exists()
    proc = run_lab("up", "--team-token", "x", home=tmp_path / "h")
    assert proc.returncode == 2 and "--drill and --team-token go together" in proc.stderr


def _held(con, tokens, team="red") -> int:
    r = httpx.get(f"{con.url}/api/teams/{team}/journal/next_seq",
                  headers={"Authorization": f"Bearer {_token(tokens, team)}"}, timeout=10)
    return r.json()["next_seq"]


def test_the_agent_streams_the_whole_journal_across_an_outage(console, tmp_path):
    con, tokens = console
    home = _home(tmp_path)
    dc.join_drill(con.url, _token(tokens, "red"), None, None, None).save(home)
    journal = Journal(home.journal)
    for i in range(1100):  # more than two batches of 500
        journal.append("monitor.window", {"window": i}, day=0.0)
    agent = Agent(home, threading.Event())
    agent.step()
    assert _held(con, tokens) == agent.next_seq == len(home.journal.read_text().splitlines()) == 1102

    con.stop()
    for i in range(7):
        journal.append("labels.arrived", {"day": i}, day=float(i))
    agent.step()  # the console is away: nothing is lost, the agent backs off
    assert agent.next_seq is None and agent.backoff == 1.0
    con.start()
    agent.retry_at = 0.0  # the backoff is over
    agent.step()
    assert _held(con, tokens) == len(home.journal.read_text().splitlines()) == 1109
    assert agent.backoff == 0.0

    # a second agent (a restarted one) starts from the console's next_seq and sends nothing twice
    journal.append("submit", {"total": 1.0}, day=1.0)
    again = Agent(home, threading.Event())
    again.step()
    assert _held(con, tokens) == again.next_seq == 1110


def test_commands_are_applied_once_and_journaled(console, tmp_path):
    con, tokens = console
    home = _home(tmp_path)
    Clock(home.clock_json).start(speed=30.0, end=30)
    dc.join_drill(con.url, _token(tokens, "red"), None, None, None).save(home)
    facilitator = {"Authorization": f"Bearer {tokens['facilitator_token']}"}
    for kind in ("pause", "resume", "end", "pause"):
        r = httpx.post(con.url + "/api/commands", json={"kind": kind, "event": None}, headers=facilitator, timeout=10)
        if kind == "pause" and r.status_code == 409:  # the console refuses commands after the end
            break
        assert r.status_code == 200, r.text
    agent = Agent(home, threading.Event())
    agent.poll_commands()
    applied = [e for e in Journal(home.journal).entries() if e["kind"] == "drill.command"]
    assert [(e["data"]["kind"], e["data"]["ok"], e["actor"]) for e in applied][:3] == [
        ("pause", True, "facilitator"), ("resume", True, "facilitator"), ("end", True, "facilitator")]
    paused = next(Journal(home.journal).entries("lab.paused"))
    assert paused["actor"] == "facilitator"
    assert Clock(home.clock_json).ended()
    assert dc.read_state(home) == {"last_command": applied[-1]["data"]["id"], "unacked": []}
    Agent(home, threading.Event()).poll_commands()  # a restarted agent applies nothing twice
    assert len([e for e in Journal(home.journal).entries() if e["kind"] == "drill.command"]) == len(applied)


def test_hint_and_a_failed_upload(console, tmp_path):
    con, tokens = console
    home = _home(tmp_path)
    dc.join_drill(con.url, _token(tokens, "red"), None, None, None).save(home)
    proc = run_lab("hint", home=home.root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("hint 1 (costs 2 points): ") and "2 points off" in proc.stderr
    proc = run_lab("hint", "--json", home=home.root)
    assert json.loads(proc.stdout)["hints_used"] == 2

    from lab.cli.team import upload_submission
    from lab.errors import UploadError

    report, archive = tmp_path / "report.json", tmp_path / "evidence.tar.gz"
    report.write_text(json.dumps({"total": 50.0, "max_total": 100.0}))
    archive.write_bytes(b"bundle")  # not a bundle: the console's own check rejects it
    answer = tmp_path / "answer"
    answer.mkdir()
    (answer / "model_card.md").write_text("# Model card\n")
    stored = upload_submission(home, report, archive, answer)
    assert stored["stored"] is True and stored["check"] == "pending"
    client = dc.DrillClient(con.url, _token(tokens, "red"))
    deadline = time.monotonic() + 300
    while (rep := client._request("GET", "/api/teams/red/report"))["check"] == "pending":
        assert time.monotonic() < deadline, rep
        time.sleep(0.5)
    client.close()
    assert rep["check"] == "rejected" and rep["score"] == 0.0 and "cannot be read" in rep["check_reason"]
    con.stop()
    with pytest.raises(UploadError) as failed:
        upload_submission(home, report, archive, answer)
    assert failed.value.exit_code == 6 and str(report) in failed.value.message
    con.start()


def test_a_lab_that_joined_no_drill_has_no_hint(tmp_path):
    home = _home(tmp_path)
    proc = run_lab("hint", home=home.root)
    assert proc.returncode == 3 and "has not joined a drill" in proc.stderr
