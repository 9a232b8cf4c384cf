"""A team drill end to end: the real console (`lab drill create` + `lab drill serve`) and two
real team labs (`lab up --drill URL --team-token T`, embedded, free ports), at once.

Both labs join; a facilitator's inject reaches both journals; a team's `lab hint` and
`lab submit` reach the console (the score on the leaderboard); the console keeps teams
apart (its own report 200, another team's 403, no token 401, the facilitator 200), and so
does each lab (another lab's client cannot move this lab's champion alias, nor read its
serving's admin state or its Prefect API); the console is stopped mid-run and restarted, and no journal entry
is lost (next_seq reaches the team's journal length); after `lab drill end` the debrief
lists both teams. One module-scoped drill: two labs on two cores are costly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from lab.core.home import free_port
from tests.conftest import ROOT, run_lab

pytestmark = pytest.mark.integration

SCENARIO = "hiring-data-drift"
SEED = 5
SPEED = 30  # seconds per scenario day: pool-shift (day 7-13) is still to come when both labs are up
TEAMS = ("red", "blue")
SUBMISSION = ROOT / "tests" / "fixtures" / "submissions" / "expert"


def _lab_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LAB_HOME"}


def _journal(home: Path) -> list[dict]:
    return [json.loads(line) for line in (home / "journal.jsonl").read_text().splitlines() if line.strip()]


def _poll(what: str, check, timeout: float = 120.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"{what}: not seen within {timeout:.0f} s")


class Console:
    def __init__(self, home: Path, port: int, log: Path) -> None:
        self.home, self.port, self.log = home, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lab.cli", "drill", "serve", "--home", str(self.home), "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=_lab_env(), start_new_session=True)

        def healthy():
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                return httpx.get(self.url + "/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _poll("the console's /api/health", healthy)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def drill():
    root = Path(tempfile.mkdtemp(prefix="drillteam-", dir="/tmp"))
    drill_home = root / "drill"
    created = json.loads(run_lab("drill", "create", "spring", "--scenario", SCENARIO, "--teams", ",".join(TEAMS),
                                 "--seed", str(SEED), "--speed", str(SPEED), "--json", "--home", str(drill_home),
                                 check=True).stdout)
    tokens = {t["name"]: t["token"] for t in created["teams"]}
    console = Console(drill_home, free_port(), root / "console.log")
    homes = {team: root / team for team in TEAMS}
    console.start()
    try:
        def up(team: str):
            return run_lab("up", "--drill", console.url, "--team-token", tokens[team], "--detach", "--port-base", "0",
                           home=homes[team])

        with ThreadPoolExecutor(len(TEAMS)) as pool:  # both labs start at once, as in a real drill
            results = dict(zip(TEAMS, pool.map(up, TEAMS)))
        for team, proc in results.items():
            assert proc.returncode == 0, f"{team}: lab up failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        yield {"console": console, "facilitator": created["facilitator_token"], "tokens": tokens, "homes": homes,
               "root": root}
    finally:
        for home in homes.values():
            run_lab("down", home=home)
        console.stop()
        shutil.rmtree(root, ignore_errors=True)


def _api(drill, method: str, path: str, token: str | None, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, drill["console"].url + path, headers=headers, timeout=30, **kw)


def test_both_labs_joined_the_drill_with_its_scenario_and_seed(drill):
    for team, home in drill["homes"].items():
        cfg = json.loads((home / "lab.json").read_text())
        assert (cfg["scenario"], cfg["seed"], cfg["speed"]) == (SCENARIO, SEED, SPEED)
        joined = [e for e in _journal(home) if e["kind"] == "drill.joined"]
        assert [e["data"] for e in joined] == [{"drill": "spring", "team": team}]
        creds = home / "drill" / "credentials.json"
        assert creds.stat().st_mode & 0o777 == 0o600 and (home / "drill" / "access.json").stat().st_mode & 0o777 == 0o600
        assert drill["tokens"][team] not in (home / "journal.jsonl").read_text()  # the token never in the journal
        status = json.loads(run_lab("status", "--json", home=home, check=True).stdout)
        assert status["services"]["drill-agent"]["url"] == drill["console"].url


def test_a_facilitator_inject_reaches_both_journals(drill):
    posted = _api(drill, "POST", "/api/commands", drill["facilitator"], json={"kind": "inject", "event": "pool-shift"})
    assert posted.status_code == 200, posted.text
    cid = posted.json()["id"]
    applied = {}
    for team, home in drill["homes"].items():
        entry = _poll(f"{team}: drill.command {cid}", lambda: next(
            (e for e in _journal(home) if e["kind"] == "drill.command" and e["data"]["id"] == cid), None), timeout=60)
        assert entry["actor"] == "facilitator" and entry["data"]["kind"] == "inject"
        fired = [e for e in _journal(home) if e["kind"] == "event.fired" and e["data"]["event"] == "pool-shift"]
        assert len(fired) == 1  # by the facilitator, or by the timeline just before (then the command says so)
        assert entry["data"]["ok"] or "already fired" in entry["data"]["message"], entry
        issued = datetime.fromisoformat(posted.json().get("issued_at") or entry["data"]["issued_at"])
        applied[team] = (datetime.fromisoformat(entry["time"]) - issued).total_seconds()
    print(f"inject applied after {applied} s")  # figures for the report (the protocol asks for <= 10 s)


def test_a_hint_and_a_submission_reach_the_leaderboard(drill):
    blue, red = drill["homes"]["blue"], drill["homes"]["red"]
    hint = run_lab("hint", "--json", home=blue, check=True)
    given = json.loads(hint.stdout)
    assert given["hint"]["index"] == 0 and given["hints_used"] == 1 and given["hint_points"] == given["hint"]["cost"]

    proc = run_lab("submit", str(SUBMISSION), home=red)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sent to the drill console" in proc.stderr
    report = json.loads(sorted((red / "submissions").glob("*/report.json"))[-1].read_text())
    # the console grades red's bundle and submission again itself (lab.drill.verify)
    deadline = time.monotonic() + 900
    while True:
        board = _api(drill, "GET", "/api/leaderboard", drill["facilitator"]).json()["teams"]
        rows = {row["name"]: row for row in board}
        if rows["red"]["check"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert rows["red"]["check"] == "verified", _api(drill, "GET", "/api/teams/red/report", drill["facilitator"]).json()
    assert rows["red"]["score"] == pytest.approx(report["total"])
    assert rows["blue"]["hint_points"] == given["hint_points"]


def test_the_console_keeps_teams_apart(drill):
    path = "/api/teams/red/report"
    assert _api(drill, "GET", path, drill["tokens"]["red"]).status_code == 200
    assert _api(drill, "GET", path, drill["tokens"]["blue"]).status_code == 403
    assert _api(drill, "GET", path, None).status_code == 401
    assert _api(drill, "GET", path, drill["facilitator"]).status_code == 200


def test_another_lab_cannot_move_this_labs_champion(drill):
    red, blue = drill["homes"]["red"], drill["homes"]["blue"]
    ports = json.loads((red / "lab.json").read_text())["ports"]
    mlflow, serving = f"http://127.0.0.1:{ports['mlflow']}", f"http://127.0.0.1:{ports['serving']}"
    move = {"name": "resume-screener", "alias": "champion", "version": "3"}
    endpoint = mlflow + "/api/2.0/mlflow/registered-models/alias"
    assert httpx.post(endpoint, json=move, timeout=10).status_code == 401
    theirs = json.loads((blue / "drill" / "access.json").read_text())
    assert httpx.post(endpoint, json=move, timeout=10,
                      auth=(theirs["mlflow_username"], theirs["mlflow_password"])).status_code == 403
    assert httpx.post(serving + "/admin/state", json={}, timeout=10).status_code == 401
    assert httpx.post(serving + "/admin/state", json={}, timeout=10,
                      headers={"X-Lab-Admin-Token": theirs["admin_token"]}).status_code == 403
    prefect = f"http://127.0.0.1:{ports['prefect']}/api"
    assert httpx.post(prefect + "/flow_runs/filter", json={}, timeout=10).status_code == 401
    assert httpx.get(prefect + "/health", timeout=10).status_code == 200  # the supervisor's probe needs no credentials
    # the lab's own commands still work: status reads the registry, the champion is where it was
    versions = json.loads(run_lab("status", "--json", home=red, check=True).stdout)["model_versions"]
    assert versions and "champion" not in next(v["aliases"] for v in versions if v["version"] == 3)
    moves = [e for e in _journal(red) if e["kind"] == "alias.moved"]
    assert any(e["data"]["alias"] == "champion" for e in moves)  # the lab's own watcher reads its MLflow
    assert not [e for e in moves if e["actor"] == "external"]


def test_no_journal_entry_is_lost_while_the_console_is_away(drill):
    console = drill["console"]
    console.stop()
    lengths = {team: len(_journal(home)) for team, home in drill["homes"].items()}
    for team, home in drill["homes"].items():  # the labs go on writing while the console is away
        _poll(f"{team}: new journal entries", lambda: len(_journal(home)) > lengths[team] + 2, timeout=180)
    console.start()
    for team, home in drill["homes"].items():
        token = drill["tokens"][team]

        def caught_up():
            held = _api(drill, "GET", f"/api/teams/{team}/journal/next_seq", token).json()["next_seq"]
            return held == len(_journal(home))

        _poll(f"{team}: the console holds the whole journal", caught_up, timeout=180)


def test_after_the_end_the_debrief_lists_both_teams(drill):
    proc = run_lab("drill", "end", "--url", drill["console"].url, "--token", drill["facilitator"])
    assert proc.returncode == 0, proc.stderr
    for team, home in drill["homes"].items():
        _poll(f"{team}: drill end applied", lambda: any(
            e["kind"] == "drill.command" and e["data"]["kind"] == "end" and e["data"]["ok"] for e in _journal(home)),
            timeout=60)
        _poll(f"{team}: scenario ended", lambda: any(e["kind"] == "scenario.ended" for e in _journal(home)), timeout=60)
    debrief = _api(drill, "GET", "/api/debrief", drill["facilitator"])
    assert debrief.status_code == 200, debrief.text
    assert sorted(t["name"] for t in debrief.json()["teams"]) == sorted(TEAMS)
