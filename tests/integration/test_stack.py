"""The foundation against the real servers: no mocks of MLflow, BentoML or Prefect."""

from __future__ import annotations

import json
import time

import httpx
import psutil
import pytest

from lab.scenario.generators.hiring import HiringGenerator
from lab.core.home import MARKER_ENV
from lab.core.journal import verify
from tests.conftest import run_lab, status_json

pytestmark = pytest.mark.integration

ROW = {
    "years_experience": 6.5, "education_level": "master", "skills_match": 0.71, "num_prior_jobs": 2,
    "employment_gap_months": 0, "certifications": 1, "referral": 0, "source_channel": "linkedin",
}


def _expected_champion(st: dict) -> int:
    """The shared lab's timeline keeps running: once its bad-release event has fired (day
    18-24, about ten minutes in at --speed 30), the release pipeline has moved champion to
    the defective v3. Before that, the champion is v1."""
    fired = {e["name"] for e in st["events"] if e["status"] == "fired"}
    return 3 if "bad-release" in fired else 1


def test_status_json_lists_services_and_registry(lab_home):
    st = status_json(lab_home)
    assert st["schema_version"] == 1
    assert st["scenario"] == "hiring-data-drift" and st["seed"] == 7
    assert {"mlflow", "prefect", "serving", "traffic", "timeline"} <= set(st["services"])
    for name, svc in st["services"].items():
        assert svc["healthy"], f"{name} not healthy: {svc}"
        assert svc["url"].startswith("http://127.0.0.1:")
    versions = {v["version"]: v for v in st["model_versions"]}
    assert sorted(versions) == [1, 2, 3]
    champion = _expected_champion(st)
    assert [n for n, v in versions.items() if "champion" in v["aliases"]] == [champion]
    assert "challenger" in versions[2]["aliases"]
    assert versions[3]["aliases"] == (["champion"] if champion == 3 else [])
    for v in versions.values():
        assert v["name"] == "resume-screener" and len(v["run_id"]) == 32
        assert 0.6 < v["metrics"]["roc_auc"] < 1.0
        assert "selection_rate.gender.female" in v["metrics"]
        assert "tpr.age_band.50plus" in v["metrics"]
    assert "answer" not in json.dumps(st["events"])  # hidden parameters stay hidden
    coming = [e for e in st["events"] if e["status"] == "coming"]  # incidents: name only; the calendar: day too
    assert all(e["day"] is None for e in coming if e["type"] is None)
    assert all(e["type"] in (None, "deploy", "release") for e in coming)


def test_predict_returns_champion_probabilities(lab_home):
    before = status_json(lab_home)
    url = before["services"]["serving"]["url"]
    r = httpx.post(f"{url}/predict", json={"rows": [ROW, {**ROW, "skills_match": 0.1}]}, timeout=10,
                   headers={"X-Request-ID": "test-req-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    # The champion at the time of the request: the timeline may release v3 meanwhile.
    allowed = {_expected_champion(before), _expected_champion(status_json(lab_home))}
    assert int(body["model_version"]) in allowed and body["model"] == "resume-screener"
    assert body["request_id"] == "test-req-1"
    p = body["probabilities"]
    assert len(p) == 2 and all(0 <= x <= 1 for x in p)
    if body["model_version"] == "1":  # v3 saw skills_match x100 in training: it cannot rank these two
        assert p[0] > p[1]  # a much weaker skills match must not score higher
    log = (lab_home / "serving" / "requests.jsonl").read_text().splitlines()
    mine = [json.loads(line) for line in log if '"test-req-1"' in line]
    assert mine and mine[0]["champion_version"] == int(body["model_version"]) and mine[0]["status"] == 200
    serving = psutil.Process(before["services"]["serving"]["pid"])  # lab.serving.serve: one process, no parent of BentoML's
    assert serving.children() == [] and "_bentoml_impl.worker.service" in " ".join(serving.cmdline())
    metrics = httpx.get(f"{url}/metrics", timeout=10)
    assert metrics.status_code == 200 and "bentoml_service_request_total" in metrics.text


def test_predict_rejects_bad_rows_with_a_clear_message(lab_home):
    url = status_json(lab_home)["services"]["serving"]["url"]
    r = httpx.post(f"{url}/predict", json={"rows": [{**ROW, "skills_match": "high"}]}, timeout=10)
    assert r.status_code == 400
    assert "rows[0].skills_match" in r.text
    r = httpx.post(f"{url}/predict", json={"rows": [{k: v for k, v in ROW.items() if k != "referral"}]}, timeout=10)
    assert r.status_code == 400 and "rows[0].referral: missing" in r.text


def test_traffic_flows_and_is_recorded(lab_home):
    url = status_json(lab_home)["services"]["traffic"]["url"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/health", timeout=5).json()
        if health["ok"] >= 5:
            break
        time.sleep(0.5)
    assert health["ok"] >= 5 and health["failed"] == 0
    records = [json.loads(x) for x in (lab_home / "traffic" / "requests.jsonl").read_text().splitlines()[:5]]
    assert all(r["status"] == 200 and r["latency_ms"] > 0 for r in records)


def test_prefect_server_is_the_labs_own(lab_home):
    st = status_json(lab_home)
    r = httpx.get(st["services"]["prefect"]["url"] + "/api/health", timeout=5)
    assert r.status_code == 200
    assert (lab_home / "prefect" / "prefect.db").exists()  # PREFECT_HOME inside the lab home


def test_second_up_is_refused_without_clobbering(lab_home):
    before = status_json(lab_home)
    proc = run_lab("up", "hiring-data-drift", "--detach", home=lab_home)
    assert proc.returncode == 3
    assert "already running" in proc.stderr and "Traceback" not in proc.stderr
    after = status_json(lab_home)
    assert after["services"]["serving"]["pid"] == before["services"]["serving"]["pid"]


def test_journal_is_a_valid_chain(lab_home):
    n = verify(lab_home / "journal.jsonl")
    kinds = [json.loads(x)["kind"] for x in (lab_home / "journal.jsonl").read_text().splitlines()]
    assert n == len(kinds) and kinds[0] == "lab.header"
    assert kinds.count("model.registered") == 3 and "lab.up" in kinds


def test_crashed_service_is_restarted_and_journaled(lab_home):
    st = status_json(lab_home)
    pid = st["services"]["traffic"]["pid"]
    psutil.Process(pid).kill()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = status_json(lab_home)
        svc = st["services"]["traffic"]
        if svc["pid"] not in (None, pid) and svc["healthy"]:
            break
        time.sleep(0.5)
    assert svc["pid"] != pid and svc["healthy"] and svc["restarts"] >= 1
    kinds = [json.loads(x)["kind"] for x in (lab_home / "journal.jsonl").read_text().splitlines()]
    assert "service.exited" in kinds and "service.restarted" in kinds


def test_down_leaves_no_process_and_up_again_is_warm(tmp_path_factory, lab_home):
    """Runs last in this module: stops the shared lab, checks nothing survives, restarts it."""
    proc = run_lab("down", home=lab_home, check=True)
    assert "stopped" in proc.stderr
    survivors = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get(MARKER_ENV) == str(lab_home):
                survivors.append(p.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    assert survivors == []
    assert not (lab_home / "run.json").exists()
    day_after_down = status_json(lab_home)["day"]
    # A second start reuses the registry: no retraining, same versions.
    run_lab("up", "--detach", "hiring-data-drift", home=lab_home, check=True)
    st = status_json(lab_home)
    assert [v["version"] for v in st["model_versions"]] == [1, 2, 3]
    assert st["day"] >= day_after_down
    kinds = [json.loads(x)["kind"] for x in (lab_home / "journal.jsonl").read_text().splitlines()]
    assert kinds.count("model.registered") == 3


def test_alias_moved_directly_with_mlflowclient_is_journaled(lab_home):
    from mlflow import MlflowClient

    st = status_json(lab_home)
    client = MlflowClient(st["services"]["mlflow"]["url"])
    before = len((lab_home / "journal.jsonl").read_text().splitlines())
    client.set_registered_model_alias("resume-screener", "challenger", "3")
    try:
        deadline = time.monotonic() + 20
        found = None
        while time.monotonic() < deadline and not found:
            lines = (lab_home / "journal.jsonl").read_text().splitlines()[before:]
            found = next((json.loads(x) for x in lines if '"alias.moved"' in x), None)
            time.sleep(0.2)
        assert found, "the watcher did not journal the move"
        assert found["actor"] == "external"
        assert found["data"] == {"model": "resume-screener", "alias": "challenger", "from": 2, "to": 3,
                                 "reason": None, "via": "MLflow UI or API"}
        tags = client.get_model_version("resume-screener", "3").tags
        assert "external" in tags.get("lab.became_challenger", "")
    finally:
        client.set_registered_model_alias("resume-screener", "challenger", "2")


def test_release_gate_blocks_the_defective_version_and_records_the_verdict(lab_home, tmp_path):
    """v3 was trained on skills scaled to percent: on the reference rows its ROC AUC falls
    below the floor; v2 (the challenger) passes. The verdict lands on the version and in the journal."""
    import hashlib

    from mlflow import MlflowClient

    gate = tmp_path / "release_gate.yaml"
    # v3's ROC AUC on the reference rows is 0.69-0.71, v1's and v2's at least 0.775 (seeds 0-3, 11, 12345)
    gate.write_text("metrics:\n  roc_auc: {min: 0.74}\nschema: true\n"
                    "directional:\n  - {column: skills_match, direction: increasing, delta: 0.1, max_violation_rate: 0.05}\n")
    blocked = run_lab("gate", "run", "--version", "3", "--gate", str(gate), "--json", home=lab_home)
    assert blocked.returncode == 7, blocked.stderr
    data = json.loads(blocked.stdout)
    assert data["verdict"] == "blocked" and "metric roc_auc" in data["failed"], data
    passed = run_lab("gate", "run", "--version", "2", "--gate", str(gate), home=lab_home)
    assert passed.returncode == 0, passed.stderr + passed.stdout
    assert "v2: passed" in passed.stderr
    client = MlflowClient(status_json(lab_home)["services"]["mlflow"]["url"])
    tags = client.get_model_version("resume-screener", "3").tags
    assert tags["lab.gate.verdict"] == "blocked" and "metric roc_auc" in tags["lab.gate.failed"]
    assert tags["lab.gate.file_sha256"] == hashlib.sha256(gate.read_bytes()).hexdigest()
    assert client.get_model_version("resume-screener", "2").tags["lab.gate.reference_sha256"] == \
        tags["lab.gate.reference_sha256"]  # the same frozen reference rows for every version
    runs = [json.loads(x) for x in (lab_home / "journal.jsonl").read_text().splitlines() if '"gate.run"' in x]
    assert [(e["data"]["version"], e["data"]["verdict"]) for e in runs[-2:]] == [(3, "blocked"), (2, "passed")]
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics: {auc: {min: 0.7}}\n")
    refused = run_lab("gate", "run", "--version", "2", "--gate", str(bad), home=lab_home)
    assert refused.returncode == 2 and "metrics.auc" in refused.stderr and "Traceback" not in refused.stderr


def test_retrain_on_arrived_labels_registers_a_version_with_its_lineage(lab_home):
    """`lab retrain` reads only labels that have arrived (the rows' days end a label delay before
    today), registers a new version (not promoted) with its lineage on the version and in the
    journal, and refuses a window with no arrived labels, changing nothing."""
    from mlflow import MlflowClient

    delay = 3  # hiring-data-drift's label delay, in days
    labels = lab_home / "feedback" / "labels.jsonl"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # 500 labelled rows (one per request) before a retrain can run
        if labels.exists() and len(labels.read_text().splitlines()) >= 600:
            break
        time.sleep(2)
    day = status_json(lab_home)["day"]
    too_new = run_lab("retrain", "--from-day", f"{day - 1:.2f}", "--to-day", f"{day + 5:.2f}", home=lab_home)
    assert too_new.returncode == 2 and "labelled rows" in too_new.stderr and "Traceback" not in too_new.stderr
    before = {v["version"] for v in status_json(lab_home)["model_versions"]}
    proc = run_lab("retrain", "--from-day", "0", "--to-day", "30", "--strategy", "weighted", "--reason",
                   "champion decays on live labels", "--json", home=lab_home)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["version"] not in before and data["rows"] >= 500 and data["strategy"] == "weighted"
    assert data["last_row_day"] + delay <= data["labels_by_day"] + 1e-9, data  # no label from the future
    client = MlflowClient(status_json(lab_home)["services"]["mlflow"]["url"])
    mv = client.get_model_version("resume-screener", str(data["version"]))
    assert mv.tags["lab.retrain.window"] == "0..30" and mv.tags["lab.retrain.data_sha256"] == data["data_sha256"]
    assert mv.tags["lab.retrain.parent_version"] == str(data["parent"]) and mv.aliases == []
    run = client.get_run(mv.run_id)
    assert run.data.params["strategy"] == "weighted" and int(run.data.params["n_train"]) == data["rows"]
    assert [i.dataset.name for i in run.inputs.dataset_inputs] == ["train", "eval"]
    entry = [json.loads(x) for x in (lab_home / "journal.jsonl").read_text().splitlines() if '"retrain"' in x][-1]
    assert entry["data"]["version"] == data["version"] and entry["data"]["reason"] == "champion decays on live labels"


def _survivors(home) -> list:
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get(MARKER_ENV) == str(home):
                found.append(p.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def test_killed_supervisor_leaves_nothing_after_down(lab_home):
    import signal

    state = json.loads((lab_home / "run.json").read_text())
    os_pid = state["supervisor_pid"]
    psutil.Process(os_pid).send_signal(signal.SIGKILL)
    psutil.Process(os_pid).wait(10) if psutil.pid_exists(os_pid) else None
    proc = run_lab("down", home=lab_home, check=True)
    assert "stopped" in proc.stderr
    assert _survivors(lab_home) == []


def test_ctrl_c_on_foreground_up_stops_everything(lab_home):
    """Last: `lab up` in the foreground, then Ctrl-C (SIGINT), as a user at a terminal would."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "LAB_HOME"}
    # A terminal delivers Ctrl-C to a process whose SIGINT is at its default; CI may run us
    # as a background job, where SIGINT is inherited as ignored: restore the default.
    fg = subprocess.Popen([sys.executable, "-m", "lab.cli", "up", "hiring-data-drift", "--home", str(lab_home)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    running = False
    while time.monotonic() < deadline and fg.poll() is None and not running:
        state = lab_home / "run.json"
        running = state.exists() and '"status": "running"' in state.read_text()
        time.sleep(0.5)
    assert running, fg.stderr.read() if fg.poll() is not None else "not up in time"
    fg.send_signal(signal.SIGINT)
    out, err = fg.communicate(timeout=120)
    assert fg.returncode == 0, err
    assert "stopped." in err
    assert _survivors(lab_home) == []


def test_a_service_that_fails_to_start_stops_the_lab_cleanly(tmp_path):
    home = tmp_path / "broken"
    (home / "mlflow").mkdir(parents=True)
    (home / "mlflow" / "mlflow.db").write_bytes(b"this is not a sqlite database" * 100)
    proc = run_lab("up", "hiring-data-drift", "--detach", "--port-base", "0", "--seed", "1", home=home)
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr.split("error:")[0]
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "mlflow failed to start" in error_lines[0]
    assert _survivors(home) == []
    assert not (home / "run.json").exists()
