"""The drill console's store, auth, rate limiting, escaping, headers and debrief, through the
real Starlette application (Starlette's TestClient drives it over ASGI; nothing is mocked),
and its CLI against a real `lab drill serve`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lab.drill.api import CSP, create_app
from lab.drill.store import Store
from lab.drill.tokens import RateLimiter
from tests.drill_fixtures import BLUE_STEPS, RED_STEPS, ROOT, SEED, free_server, journal_entries, make_drill, report, stop


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def drill(tmp_path: Path):
    home = tmp_path / "drill"
    tokens = make_drill(home)
    client = TestClient(create_app(home, RateLimiter(limit=5, window=3600)))
    red = journal_entries(tmp_path / "red.jsonl", RED_STEPS)
    blue = journal_entries(tmp_path / "blue.jsonl", BLUE_STEPS)
    return home, tokens, client, red, blue


# ---------------------------------------------------------------------------- store


def test_tokens_are_random_long_and_stored_hashed(drill):
    home, tokens, _, _, _ = drill
    assert len(set(tokens.values())) == 3
    assert all(len(t) >= 32 for t in tokens.values())  # token_urlsafe(24): 192 bits
    raw = (home / "drill.db").read_bytes() + b"".join(p.read_bytes() for p in home.glob("drill.db-*"))
    assert not any(t.encode() in raw for t in tokens.values())
    with sqlite3.connect(home / "drill.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT COUNT(*) FROM tokens").fetchone()[0] == 3


def test_journal_upload_is_idempotent_refuses_gaps_and_broken_chains(drill):
    home, tokens, client, red, _ = drill
    url = "/api/teams/red/journal"
    r = client.post(url, json={"from_seq": 0, "entries": red[:3]}, headers=bearer(tokens["red"]))
    assert r.status_code == 200 and r.json()["next_seq"] == 3
    # a retry of an overlapping batch stores nothing twice
    r = client.post(url, json={"from_seq": 1, "entries": red[1:5]}, headers=bearer(tokens["red"]))
    assert r.json()["next_seq"] == 5
    assert [e["seq"] for e in Store(home).journal("red")] == [0, 1, 2, 3, 4]
    r = client.post(url, json={"from_seq": 7, "entries": red[7:]}, headers=bearer(tokens["red"]))
    assert r.status_code == 409 and r.json()["next_seq"] == 5 and "gap" in r.json()["error"]
    edited = dict(red[5], day=99.0)
    r = client.post(url, json={"from_seq": 5, "entries": [edited]}, headers=bearer(tokens["red"]))
    assert r.status_code == 400 and "hash chain broken" in r.json()["error"]
    r = client.get("/api/teams/red/journal/next_seq", headers=bearer(tokens["red"]))
    assert r.json() == {"schema_version": 1, "next_seq": 5}
    assert client.get("/api/drill", headers=bearer(tokens["red"])).json()["state"] == "running"


def test_hints_cost_points_and_run_out(drill):
    _, tokens, client, _, _ = drill
    got = [client.post("/api/teams/red/hints", json={}, headers=bearer(tokens["red"])) for _ in range(4)]
    assert [g.status_code for g in got] == [200, 200, 200, 409]
    assert got[2].json()["hints_used"] == 3 and got[2].json()["hint_points"] == 12.0  # 2 + 4 + 6 in the scenario
    assert got[0].json()["hint"]["index"] == 0 and "reference window" in got[0].json()["hint"]["text"]
    client.post("/api/teams/red/report", json={"report": report(70), "evidence_digest": "sha256:" + "a" * 64},
                headers=bearer(tokens["red"]))
    board = client.get("/api/leaderboard", headers=bearer(tokens["blue"])).json()["teams"]
    assert board[0] == {"name": "red", "score": 70, "max_score": 100, "hint_points": 12.0, "total": 58.0,
                        "check": "unverified", "submitted_at": board[0]["submitted_at"]}
    assert board[1]["name"] == "blue" and board[1]["total"] == 0


# ---------------------------------------------------------------------------- auth


def test_report_access_own_other_none_facilitator(drill):
    _, tokens, client, _, _ = drill
    body = {"report": report(64.5), "evidence_digest": "sha256:" + "b" * 64}
    r = client.post("/api/teams/red/report", json=body, headers=bearer(tokens["red"]))
    assert r.status_code == 200 and r.json() == {"schema_version": 1, "stored": True, "score": 64.5, "max_score": 100,
                                              "check": "unverified"}  # no evidence sent: the console cannot check it
    assert client.get("/api/teams/red/report", headers=bearer(tokens["red"])).status_code == 200
    other = client.get("/api/teams/red/report", headers=bearer(tokens["blue"]))
    assert other.status_code == 403 and "team blue may not read team 'red'" in other.json()["error"]
    assert client.get("/api/teams/red/report").status_code == 401
    fac = client.get("/api/teams/red/report", headers=bearer(tokens["facilitator"]))
    assert fac.status_code == 200 and fac.json()["report"]["total"] == 64.5
    assert client.get("/api/teams/blue/report", headers=bearer(tokens["facilitator"])).status_code == 404
    # writing for another team, or as the facilitator, is refused
    assert client.post("/api/teams/red/report", json=body, headers=bearer(tokens["blue"])).status_code == 403
    assert client.post("/api/teams/red/journal", json={"from_seq": 0, "entries": []},
                       headers=bearer(tokens["facilitator"])).status_code == 403
    # a team learns nothing of names that do not exist; the facilitator gets a 404
    assert client.get("/api/teams/green/report", headers=bearer(tokens["red"])).status_code == 403
    assert client.get("/api/teams/green/report", headers=bearer(tokens["facilitator"])).status_code == 404
    # a team lists itself only
    teams = client.get("/api/teams", headers=bearer(tokens["blue"])).json()["teams"]
    assert [t["name"] for t in teams] == ["blue"]
    assert client.post("/api/commands", json={"kind": "pause"}, headers=bearer(tokens["red"])).status_code == 403


def test_bad_bodies_are_400_naming_the_field(drill):
    _, tokens, client, _, _ = drill
    h = bearer(tokens["red"])
    assert "evidence_digest" in client.post("/api/teams/red/report", json={"report": report(1), "evidence_digest": "x"},
                                            headers=h).json()["error"]
    assert "report.total" in client.post("/api/teams/red/report", json={"report": {}, "evidence_digest": "x"},
                                         headers=h).json()["error"]
    r = client.post("/api/teams/red/journal", content=b"{not json", headers=h)
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = client.post("/api/teams/red/journal", json={"from_seq": -1, "entries": []}, headers=h)
    assert r.status_code == 400 and "from_seq" in r.json()["error"]
    big = {"report": {**report(1), "pad": "x" * (2 * 1024 * 1024)}, "evidence_digest": "sha256:" + "c" * 64}
    assert client.post("/api/teams/red/report", json=big, headers=h).status_code == 413


def test_bad_tokens_are_rate_limited_per_client(drill):
    _, tokens, client, _, _ = drill
    for _ in range(5):
        assert client.get("/api/drill", headers=bearer("guess-" + "x" * 30)).status_code == 401
    r = client.get("/api/drill", headers=bearer(tokens["facilitator"]))  # even a good token waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "too many bad tokens" in r.json()["error"]
    assert client.get("/login", params={"token": tokens["red"]}, follow_redirects=False).status_code == 429


def test_rate_limit_counts_only_failures():
    limiter = RateLimiter(limit=2, window=60, clock=lambda: 0.0)
    limiter.fail("1.2.3.4")
    assert not limiter.blocked("1.2.3.4") and not limiter.blocked("5.6.7.8")
    limiter.fail("1.2.3.4")
    assert limiter.blocked("1.2.3.4") and not limiter.blocked("5.6.7.8")


# ---------------------------------------------------------------------------- commands


def test_commands_queue_for_every_team_and_end_opens_the_debrief(drill):
    home, tokens, client, red, blue = drill
    f = bearer(tokens["facilitator"])
    r = client.post("/api/commands", json={"kind": "inject", "event": "meteor"}, headers=f)
    assert r.status_code == 400 and "valid events: deploy, pool-shift, bad-release" in r.json()["error"]
    assert client.post("/api/commands", json={"kind": "explode"}, headers=f).status_code == 400
    r = client.post("/api/commands", json={"kind": "inject", "event": "pool-shift"}, headers=f)
    assert r.json() == {"schema_version": 1, "id": 1, "teams": ["red", "blue"]}
    assert client.post("/api/commands", json={"kind": "pause"}, headers=f).json()["id"] == 2
    assert client.get("/api/drill", headers=f).json()["state"] == "paused"
    got = client.get("/api/teams/blue/commands", params={"after": 1}, headers=bearer(tokens["blue"])).json()["commands"]
    assert [(c["id"], c["kind"], c["event"]) for c in got] == [(2, "pause", None)]
    r = client.post("/api/teams/blue/commands/2/ack", json={"ok": True, "message": "paused"}, headers=bearer(tokens["blue"]))
    assert r.json()["acked"] == 2
    assert client.post("/api/teams/blue/commands/9/ack", json={"ok": True}, headers=bearer(tokens["blue"])).status_code == 404
    assert Store(home).acks()[2]["blue"]["ok"] is True

    assert client.get("/api/debrief", headers=f).status_code == 409
    client.post("/api/teams/red/journal", json={"from_seq": 0, "entries": red}, headers=bearer(tokens["red"]))
    client.post("/api/teams/blue/journal", json={"from_seq": 0, "entries": blue}, headers=bearer(tokens["blue"]))
    assert client.post("/api/commands", json={"kind": "end"}, headers=f).status_code == 200
    assert client.post("/api/commands", json={"kind": "resume"}, headers=f).status_code == 409
    assert client.get("/api/debrief", headers=bearer(tokens["red"])).status_code == 403
    d = client.get("/api/debrief", headers=f).json()
    assert d["answer_key"]["seed"] == SEED and d["answer_key"]["bad_release"]["version"] == 3
    teams = {t["name"]: t for t in d["teams"]}
    # each team is measured from the day the drift began in its own lab (day 9: injected)
    assert teams["red"]["incident_day"] == 9.0
    assert teams["red"]["answer_key"]["drifts"][0]["onset_day"] == 9.0
    assert teams["red"]["time_to_detect_days"] == 1.0 and teams["red"]["time_to_act_days"] == 1.5
    assert teams["blue"]["time_to_detect_days"] is None and teams["blue"]["time_to_act_days"] == 5.0


def test_team_progress_from_its_journal(drill):
    _, tokens, client, red, _ = drill
    client.post("/api/teams/red/journal", json={"from_seq": 0, "entries": red}, headers=bearer(tokens["red"]))
    view = client.get("/api/teams", headers=bearer(tokens["facilitator"])).json()["teams"][0]
    assert view["name"] == "red" and view["day"] == 21.0 and view["alerts"] == 2
    assert [a["kind"] for a in view["last_actions"]] == ["monitor.config", "shadow.started", "rollback"]
    assert view["last_seen"] is not None


# ---------------------------------------------------------------------------- pages


def login(client: TestClient, token: str):
    return client.get("/login", params={"token": token}, follow_redirects=False)


def test_login_sets_a_strict_session_cookie_and_opens_the_right_page(drill):
    _, tokens, client, _, _ = drill
    r = login(client, tokens["facilitator"])
    assert r.status_code == 303 and r.headers["location"] == "/board"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and tokens["facilitator"].lower() not in cookie
    assert client.get("/board").status_code == 200
    team = TestClient(client.app)
    r = login(team, tokens["blue"])
    assert r.headers["location"] == "/team/blue"
    assert team.get("/team/blue").status_code == 200
    assert team.get("/team/red").status_code == 403
    assert team.get("/board").status_code == 403
    assert TestClient(client.app).get("/board").status_code == 401
    assert login(TestClient(client.app), "nope").status_code == 401


def test_pages_send_a_strict_csp(drill):
    _, tokens, client, _, _ = drill
    login(client, tokens["facilitator"])
    for path in ("/", "/board", "/team/red", "/api/health", "/debrief", "/no-such-page"):
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert "script-src" not in CSP and "default-src 'none'" in CSP and "unsafe-inline" not in CSP
        assert r.headers["x-content-type-options"] == "nosniff"
    html = client.get("/board").text
    assert "<script" not in html and " style=" not in html  # nothing the CSP would have to allow


def test_user_strings_are_escaped_on_every_page(drill):
    _, tokens, client, red, blue = drill
    client.post("/api/teams/red/journal", json={"from_seq": 0, "entries": red}, headers=bearer(tokens["red"]))
    client.post("/api/teams/blue/journal", json={"from_seq": 0, "entries": blue}, headers=bearer(tokens["blue"]))
    client.post("/api/teams/red/report", json={"report": report(50, skill="<img src=x onerror=alert(1)>"),
                                               "evidence_digest": "sha256:" + "d" * 64}, headers=bearer(tokens["red"]))
    login(client, tokens["facilitator"])
    board = client.get("/board").text
    team = client.get("/team/red").text
    assert "<script>alert(1)" not in board and "&lt;script&gt;alert(1)" in board
    assert "<b>looked fine</b>" not in board and "&lt;b&gt;looked fine&lt;/b&gt;" in board
    assert "<img src=x" not in team and "&lt;img src=x onerror=alert(1)&gt;" in team
    client.post("/api/commands", json={"kind": "end"}, headers=bearer(tokens["facilitator"]))
    debrief = client.get("/debrief").text
    assert "<img src=x" not in debrief and "<script>alert(1)" not in debrief and "&lt;img src=x" in debrief


def test_board_buttons_need_the_sessions_form_token(drill):
    home, tokens, client, _, _ = drill
    login(client, tokens["facilitator"])
    r = client.post("/board/command", data={"kind": "pause"}, follow_redirects=False)
    assert r.status_code == 403 and Store(home).commands() == []
    csrf = client.get("/board").text.split('name="csrf" value="')[1].split('"')[0]
    r = client.post("/board/command", data={"kind": "inject", "event": "bad-release", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    assert [(c["kind"], c["event"]) for c in Store(home).commands()] == [("inject", "bad-release")]


def test_debrief_page_only_after_end(drill):
    _, tokens, client, _, _ = drill
    login(client, tokens["facilitator"])
    r = client.get("/debrief")
    assert r.status_code == 409 and "opens when the drill ends" in r.text
    client.post("/api/commands", json={"kind": "end"}, headers=bearer(tokens["facilitator"]))
    r = client.get("/debrief")
    assert r.status_code == 200 and "pool-shift" in r.text and 'class="timeline"' in r.text


# ---------------------------------------------------------------------------- CLI


def lab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_create_prints_tokens_once_and_refuses_bad_input(tmp_path: Path):
    home = tmp_path / "d"
    p = lab("drill", "create", "spring", "--scenario", "churn-label-drift", "--teams", "red,blue,green", "--seed", "3",
            "--home", str(home), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["drill"] == "spring" and out["scenario"] == "churn-label-drift" and out["seed"] == 3
    assert [t["name"] for t in out["teams"]] == ["red", "blue", "green"] and len(out["facilitator_token"]) >= 32
    again = lab("drill", "create", "spring", "--scenario", "churn-label-drift", "--teams", "red", "--home", str(home))
    assert again.returncode == 3 and "already holds a drill" in again.stderr and "Traceback" not in again.stderr
    bad = lab("drill", "create", "x", "--scenario", "churn-label-drift", "--teams", "Red Team", "--home", str(tmp_path / "e"))
    assert bad.returncode == 2 and "--teams" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "e").exists()
    unknown = lab("drill", "create", "x", "--scenario", "nope", "--teams", "red", "--home", str(tmp_path / "f"))
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    noserver = lab("drill", "pause", "--url", "http://127.0.0.1:9", "--token", "t")
    assert noserver.returncode == 4 and "did not answer" in noserver.stderr


def test_cli_commands_reach_a_real_console(tmp_path: Path):
    home = tmp_path / "d"
    tokens = make_drill(home)
    proc, url = free_server(home, tmp_path / "serve.log")
    try:
        p = lab("drill", "inject", "pool-shift", "--url", url, "--token", tokens["facilitator"])
        assert p.returncode == 0 and "queued for red, blue" in p.stderr, p.stderr
        p = lab("drill", "inject", "meteor", "--url", url, "--token", tokens["facilitator"])
        assert p.returncode == 2 and "valid events: deploy, pool-shift, bad-release" in p.stderr
        p = lab("drill", "pause", "--url", url, "--token", tokens["red"])
        assert p.returncode == 2 and "only the facilitator" in p.stderr
        p = lab("drill", "end", "--home", str(home))  # on the console's machine: straight into its database
        assert p.returncode == 0, p.stderr
        import httpx

        state = httpx.get(url + "/api/drill", headers=bearer(tokens["red"])).json()["state"]
        assert state == "ended"
        cmds = httpx.get(url + "/api/teams/red/commands", headers=bearer(tokens["red"])).json()["commands"]
        assert [(c["kind"], c["event"]) for c in cmds] == [("inject", "pool-shift"), ("end", None)]
    finally:
        stop(proc)
