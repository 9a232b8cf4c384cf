"""The console grades a team's upload itself (lab.drill.verify): the board counts its grade.

A real evidence bundle (tests.grading_evidence: a lab home written the way the lab writes
it, collected by the real collector) and a real submission are uploaded through the API;
the console's child process loads, checks and grades them. No server: Starlette's test
client runs the app; the grading runs in a real child process as in `lab drill serve`.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lab.core.journal import Journal
from lab.drill.api import create_app
from lab.drill.store import Store
from lab.drill.tokens import RateLimiter
from lab.evidence.collect import collect_evidence
from lab.evidence.schema import FALLBACK_COMMANDS, bundle_archive, load_evidence
from lab.evidence.submission import read_submission
from lab.grading.grade import grade
from tests.drill_fixtures import make_drill
from tests.grading_evidence import Drill, build_home, scenario_clock, wall

FIXTURES = Path(__file__).parent / "fixtures" / "submissions"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A team's lab home, its bundle archive, a submission and the grade it earns."""
    tmp = tmp_path_factory.mktemp("verify")
    home = build_home(tmp / "home", Drill())
    archive = bundle_archive(collect_evidence(home, tmp / "evidence", FALLBACK_COMMANDS))
    sub = tmp / "answer"
    sub.mkdir()
    shutil.copy(FIXTURES / "expert" / "model_card.md", sub / "model_card.md")
    expected = grade(load_evidence(archive, work_dir=tmp), read_submission(str(sub), work_dir=tmp)).total
    return home, archive, sub, expected


def _console(tmp: Path, home) -> tuple[Store, TestClient, dict[str, str]]:
    drill = tmp / "drill"
    tokens = make_drill(drill)
    store = Store(drill)
    store.add_journal("red", 0, list(Journal(home.journal).entries()))  # what the lab streamed live
    return store, TestClient(create_app(drill, RateLimiter(limit=5, window=3600))), tokens


def _upload(client, token: str, archive: Path, sub: Path, claimed: float):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(sub.iterdir()):
            tar.add(p, arcname=p.name)
    bundle = archive.read_bytes()
    body = {"report": {"total": claimed, "max_total": 100}, "evidence_digest": "sha256:" + hashlib.sha256(bundle).hexdigest(),
            "evidence": base64.b64encode(bundle).decode(),
            "submission": {"name": "submission.tar.gz", "data": base64.b64encode(buf.getvalue()).decode()}}
    return client.post("/api/teams/red/report", json=body, headers={"Authorization": f"Bearer {token}"})


def _checked(store: Store, timeout: float = 600.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rep = store.report("red")
        if rep is not None and rep["check"] != "pending":
            return rep
        time.sleep(0.5)
    raise AssertionError(f"the console's check did not finish in {timeout} s: {store.report('red')}")


def test_an_honest_report_is_verified_and_an_inflated_one_scored_by_the_console(lab, tmp_path):
    home, archive, sub, expected = lab
    store, client, tokens = _console(tmp_path, home)
    r = _upload(client, tokens["red"], archive, sub, expected)
    assert r.status_code == 200 and r.json()["check"] == "pending"
    assert store.report("red")["check"] == "pending"
    rep = _checked(store)
    assert rep["check"] == "verified" and rep["score"] == pytest.approx(expected)
    board = client.get("/api/leaderboard", headers={"Authorization": f"Bearer {tokens['facilitator']}"}).json()
    assert board["teams"][0]["name"] == "red" and board["teams"][0]["check"] == "verified"

    r = _upload(client, tokens["red"], archive, sub, expected + 20)  # the team claims 20 points more
    rep = _checked(store)
    assert rep["check"] == "mismatch" and rep["score"] == pytest.approx(expected)
    assert rep["reported_score"] == pytest.approx(expected + 20)
    board = client.get("/api/leaderboard", headers={"Authorization": f"Bearer {tokens['facilitator']}"}).json()
    assert board["teams"][0]["score"] == pytest.approx(expected)


def test_a_bundle_that_lacks_what_the_lab_streamed_is_rejected(lab, tmp_path):
    home, archive, sub, expected = lab
    store, client, tokens = _console(tmp_path, home)
    # the lab's journal went on after this bundle was collected, long before the upload: an
    # old bundle, without the action that followed it (entries written in the minute before a
    # bundle is made may be missing from it: lab.drill.verify's doctest)
    j = Journal(tmp_path / "journal.jsonl")
    shutil.copy(home.journal, j.path)
    with scenario_clock() as now:
        now[0] = wall(25.0)
        j.append("rollback", {"from_version": 3, "to_version": 1, "reason": "late"}, day=25.0)
    entries = list(j.entries())
    store.add_journal("red", len(entries) - 1, entries[-1:])
    assert _upload(client, tokens["red"], archive, sub, expected).status_code == 200
    rep = _checked(store)
    assert rep["check"] == "rejected" and rep["score"] == 0.0
    assert "lacks journal entry" in rep["check_reason"]


def test_attachments_are_checked_before_anything_is_kept(lab, tmp_path):
    home, archive, sub, expected = lab
    store, client, tokens = _console(tmp_path, home)
    h = {"Authorization": f"Bearer {tokens['red']}"}
    base = {"report": {"total": 1, "max_total": 100}, "evidence_digest": "sha256:" + "0" * 64}
    r = client.post("/api/teams/red/report", json={**base, "evidence": base64.b64encode(b"x").decode(),
                                                   "submission": {"name": "a.tar.gz", "data": ""}}, headers=h)
    assert r.status_code == 400 and "evidence_digest" in r.json()["error"]
    r = client.post("/api/teams/red/report", json={**base, "evidence": "not base64!"}, headers=h)
    assert r.status_code == 400 and "both" in r.json()["error"]
    assert store.report("red") is None and not (store.home / "uploads").exists()


def test_re_grades_wait_for_a_slot_and_replay_serially(tmp_path, monkeypatch):
    """At most one re-grade runs at once (by default); the others wait, and each child replays serially."""
    import subprocess
    import threading
    import time

    from lab.drill import verify

    running, peak, envs, lock = [0], [0], [], threading.Lock()

    def fake_run(cmd, **kwargs):  # the child process: only its concurrency and environment are observed here
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            envs.append(kwargs["env"].get("LAB_REPLAY_WORKERS"))
        time.sleep(0.2)
        upload = Path(cmd[cmd.index("--upload") + 1])
        (upload / verify.RESULT).write_text('{"status": "verified"}')
        with lock:
            running[0] -= 1
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(verify.subprocess, "run", fake_run)
    monkeypatch.setattr(verify, "_SLOTS", threading.Semaphore(1))
    done = []
    threads = []
    for n in range(3):
        upload = tmp_path / str(n)
        upload.mkdir()
        threads.append(verify.start(upload, "sub.tar.gz", 50.0, "hiring-data-drift", 1, done.append))
    for t in threads:
        t.join(timeout=30)
    assert [r["status"] for r in done] == ["verified"] * 3
    assert peak[0] == 1 and envs == ["1", "1", "1"]


def test_verify_slots_come_from_the_environment(monkeypatch):
    from lab.drill import verify

    for raw, want in (("3", 3), ("", 1), ("0", 1), ("two", 1)):
        monkeypatch.setenv(verify.SLOTS_ENV, raw)
        assert verify._slots()._value == want, raw
