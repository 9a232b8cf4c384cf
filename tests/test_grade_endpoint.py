"""The grading endpoint (lab.workers.grade_endpoint): a real server on 127.0.0.1 over a planted
lab home (tests/grading_evidence.py), its token, its files, and `lab submit` through it.

The endpoint runs lab.workers.submit_job.run_submission, as `lab submit` does in its own
process when no endpoint answers; both must give the same report. The submission here has
no monitoring.yaml (replaying the hidden drift suite takes minutes on a loaded machine;
bench/bench_grade.py compares the two paths with a replayed config).
"""

from __future__ import annotations

import json
import shutil
import stat

import pytest

from lab.errors import SubmissionError, UsageError
from lab.workers import grade_client
from lab.workers.grade_client import INFO_FILE, TOKEN_FILE, request, submit_via_endpoint
from lab.workers.grade_endpoint import start_grade_endpoint
from lab.workers.submit_job import run_submission
from tests.grading_evidence import Drill, build_home
from tests.test_grading_report import planted
from tests.test_usage_errors import run_watched

COMMANDS = ["lab rollback", "lab shadow start", "lab shadow stop", "lab status", "lab submit"]


@pytest.fixture
def lab_home(tmp_path):
    home = build_home(tmp_path / "home", Drill(shadow_quality="worse", promote_version=None))
    subs = tmp_path / "subs"
    subs.mkdir()
    sub = planted(subs, "expert")
    (sub / "monitoring.yaml").unlink()
    return home, sub


@pytest.fixture
def endpoint(lab_home):
    ep = start_grade_endpoint(lab_home[0], warm_up=False)
    yield ep
    ep.close()


def _comparable(answer: dict) -> dict:
    """A report without what differs between two submissions of the same work: when it was graded,
    and the bundle's creation time and file digests (the journal holds the first `submit`)."""
    report = json.loads(json.dumps(answer["report"]))
    report.pop("graded_at")
    evidence = report.pop("evidence")
    evidence.pop("created"), evidence.pop("files")
    return report | {"evidence_rest": evidence}


def test_the_endpoint_records_its_port_and_a_private_token(lab_home, endpoint):
    home = lab_home[0]
    info = json.loads((home.root / INFO_FILE).read_text())
    assert info["port"] == endpoint.port and info["home"] == str(home.root.resolve())
    token_file = home.root / TOKEN_FILE
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text() == endpoint.token
    assert grade_client.endpoint_info(home.root) == (endpoint.port, endpoint.token)


def test_every_request_needs_the_token(endpoint):
    assert request(endpoint.port, "wrong", "GET", "/health", timeout=30)[0] == 403
    assert request(endpoint.port, "", "POST", "/submit", {"submission": "/x", "commands": []}, timeout=30)[0] == 403
    status, body = request(endpoint.port, endpoint.token, "GET", "/health", timeout=30)
    assert status == 200 and body["ok"] is True and body["warm"] is True
    assert request(endpoint.port, endpoint.token, "POST", "/submit", {"submission": 3}, timeout=30)[0] == 422


def test_endpoint_and_in_process_give_the_same_report(lab_home, endpoint):
    home, sub = lab_home
    served = submit_via_endpoint(home.root, str(sub), COMMANDS)
    assert served is not None
    here = run_submission(home, str(sub), COMMANDS)
    assert _comparable(served) == _comparable(here)
    assert served["folder"] != here["folder"]
    for answer in (served, here):
        assert json.loads((home.root / answer["folder"] / "report.json").read_text())["total"] == answer["report"]["total"]
    submits = [json.loads(line) for line in home.journal.read_text().splitlines()]
    assert [e["data"]["total"] for e in submits if e["kind"] == "submit"] == [served["report"]["total"]] * 2


def test_a_bad_submission_is_the_same_error_either_way(lab_home, endpoint, tmp_path):
    home, _ = lab_home
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError) as here:
        run_submission(home, str(empty), COMMANDS)
    with pytest.raises(UsageError) as served:
        submit_via_endpoint(home.root, str(empty), COMMANDS)
    assert type(served.value) is type(here.value) and served.value.message == here.value.message
    assert isinstance(here.value, SubmissionError) or type(here.value) is UsageError
    assert not (home.root / "submissions").exists()  # nothing was written


def test_no_endpoint_means_none(lab_home, tmp_path):
    home, sub = lab_home
    assert submit_via_endpoint(home.root, str(sub), COMMANDS) is None  # never started
    ep = start_grade_endpoint(home, warm_up=False)
    other = tmp_path / "other"
    shutil.copytree(home.root / "run", other / "run")  # files naming another home
    assert submit_via_endpoint(other, str(sub), COMMANDS) is None
    ep.close()
    assert not (home.root / INFO_FILE).exists() and not (home.root / TOKEN_FILE).exists()
    assert submit_via_endpoint(home.root, str(sub), COMMANDS) is None


def test_lab_submit_through_the_endpoint_imports_nothing_heavy(lab_home, endpoint, tmp_path):
    home, sub = lab_home
    out = tmp_path / "r.json"
    proc, heavy = run_watched("submit", str(sub), "--home", str(home.root), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "by the lab's grading endpoint" in proc.stderr
    assert heavy == []
    assert json.loads(out.read_text())["total"] > 0


def test_the_live_config_is_replayed_ahead_so_its_submit_replays_nothing(lab_home, tmp_path, monkeypatch):
    import hashlib
    import time

    from lab.grading import drift_grader
    from lab.monitoring.evaluate import SuiteSpec
    from lab.monitoring.runner import config_path
    from lab.workers import grade_endpoint
    from tests.test_grading_report import CONFIGS

    home, sub = lab_home
    small = SuiteSpec(data_magnitudes=(1.0,), concept_magnitudes=(1.0,), label_magnitudes=(0.15,), no_drift_streams=1)
    monkeypatch.setattr(drift_grader, "grading_suite", lambda: small)  # a short hidden suite
    monkeypatch.setattr(grade_endpoint, "LIVE_CONFIG_POLL", 0.1)
    text = CONFIGS["expert"]
    live = config_path(home)
    live.parent.mkdir(parents=True, exist_ok=True)
    live.write_text(text)  # what `lab monitor --config` applies
    ep = start_grade_endpoint(home)
    try:
        digest, deadline = hashlib.sha256(text.encode()).hexdigest(), time.monotonic() + 600
        while request(ep.port, ep.token, "GET", "/health", timeout=30)[1]["live_config"] != digest:
            assert time.monotonic() < deadline, "the live config was never replayed"
            time.sleep(0.2)

        replay = drift_grader.evaluate

        def no_replay(config, *args, **kwargs):  # the baselines may be replayed, not the submitted config
            assert config != text, "the submitted config was replayed again"
            return replay(config, *args, **kwargs)

        monkeypatch.setattr(drift_grader, "evaluate", no_replay)
        (sub / "monitoring.yaml").write_text(text)  # the submission holds the config the lab runs
        served = submit_via_endpoint(home.root, str(sub), COMMANDS)
        drift = served["report"]["skills"]["drift_thresholds"]
        assert drift["score"] > 0, drift
    finally:
        ep.close()
