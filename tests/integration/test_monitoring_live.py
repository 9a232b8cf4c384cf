"""Live monitoring on the real stack: a Prefect flow run per window, an Evidently snapshot per window
served by `lab dashboard` (Evidently's UI, its dashboard opened in a real headless Chromium),
journaled alerts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from lab.core.home import free_port
from tests.conftest import ROOT, run_lab, status_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.integration

CONFIG = """\
window: {size: 30}
data_drift:
  default: {method: ks, threshold: 0.01}
  columns:
    education_level: {method: chisquare, threshold: 0.001}
  dataset_drift_share: 0.3
prediction_drift: {method: wasserstein, threshold: 0.2}
alerting: {consecutive_windows: 1}
"""


def test_bad_config_is_refused_with_lines_and_nothing_changes(lab_home, tmp_path):
    bad = tmp_path / "monitoring.yaml"
    bad.write_text("window: {size: 0}\ndata_drift:\n  default: {method: kss, threshold: -1}\n  columns:\n    height: {method: ks, threshold: 0.05}\n")
    before = (lab_home / "monitoring" / "config.yaml").read_bytes() if (lab_home / "monitoring" / "config.yaml").exists() else None
    proc = run_lab("monitor", "--config", str(bad), home=lab_home)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    for needle in ("monitoring.yaml:1", "monitoring.yaml:3", "monitoring.yaml:5", "height", "kss"):
        assert needle in proc.stderr, proc.stderr
    after = (lab_home / "monitoring" / "config.yaml").read_bytes() if (lab_home / "monitoring" / "config.yaml").exists() else None
    assert before == after


def test_config_applies_live_and_windows_are_flow_runs(lab_home, tmp_path):
    cfg = tmp_path / "monitoring.yaml"
    cfg.write_text(CONFIG)
    run_lab("monitor", "--config", str(cfg), home=lab_home, check=True)
    windows_file = lab_home / "monitoring" / "windows.jsonl"
    deadline = time.monotonic() + 240
    pinned = []
    while time.monotonic() < deadline:
        if windows_file.exists():
            records = [json.loads(x) for x in windows_file.read_text().splitlines()]
            pinned = [r for r in records if r["rows"] == 30]
            if len(pinned) >= 2:
                break
        time.sleep(1)
    assert len(pinned) >= 2, "no 30-row windows judged with the new config"
    w = pinned[-1]
    assert set(w["column_scores"]) >= {"years_experience", "education_level", "prediction"}
    entries = [json.loads(x) for x in (lab_home / "journal.jsonl").read_text().splitlines()]
    configs = [e for e in entries if e["kind"] == "monitor.config"]
    assert configs[-1]["data"]["pins"]["years_experience"] == {"method": "ks", "threshold": 0.01}
    assert configs[-1]["data"]["source"] == "monitoring/config.yaml"  # no path of the home in the journal
    assert configs[-1]["data"]["pins"]["education_level"] == {"method": "chisquare", "threshold": 0.001}
    assert any(e["kind"] == "monitor.window" and e["data"]["index"] == w["index"] for e in entries)
    alarms = [r for r in pinned if r["alarm"]]
    assert len([e for e in entries if e["kind"] == "monitor.alert"]) >= len(alarms)
    st = status_json(lab_home)
    assert any(p.endswith("drift.png") for p in st["reports"])
    # every window is an Evidently snapshot in the lab run's workspace, which `lab status` names
    assert all(r["snapshots"]["drift"] for r in records), [r["snapshots"] for r in records]
    dashboard = st["dashboard"]
    drift_ids = {r["snapshots"]["drift"] for r in records}
    on_disk = {p.stem for p in (lab_home / "monitoring" / "evidently" / dashboard["project_id"] / "snapshots").glob("*.json")}
    assert drift_ids <= on_disk and dashboard["snapshots"] >= len(records)
    runs = httpx.post(st["services"]["prefect"]["url"] + "/api/flow_runs/filter",
                      json={"limit": 200, "sort": "START_TIME_DESC"}, timeout=10).json()
    assert any(r["name"] == f"window {w['index']}" for r in runs)


def test_lab_dashboard_serves_the_windows_in_evidentlys_ui(lab_home):
    """`lab dashboard` runs Evidently's UI on the workspace: the project answers with a snapshot per
    window, and its dashboard's four panels render in a real headless Chromium."""
    windows = lab_home / "monitoring" / "windows.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (windows.exists() and windows.read_text().strip()):
        time.sleep(1)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LAB_HOME"}
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "dashboard", "--port", str(port), "--home", str(lab_home)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        projects = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"{url}/api/projects", timeout=5)
                if answer.status_code == 200 and isinstance(answer.json(), list):
                    projects = answer.json()
                    break
            except (httpx.HTTPError, ValueError):  # not listening yet, or not answering JSON yet
                pass
            time.sleep(1)
        assert projects, f"Evidently's UI did not answer (exit {proc.poll()})"
        project = json.loads((lab_home / "monitoring" / "evidently" / "lab_project.json").read_text())
        assert [p["id"] for p in projects] == [project["project_id"]] and "hiring-data-drift" in projects[0]["name"]
        judged = [json.loads(x) for x in windows.read_text().splitlines() if x.strip()]  # before: windows go on
        runs = httpx.get(f"{url}/api/projects/{project['project_id']}/snapshots", timeout=10).json()
        drift = {str(r["id"]) for r in runs if "drift" in (r.get("tags") or [])} or {str(r["id"]) for r in runs}
        assert {w["snapshots"]["drift"] for w in judged} <= drift, (len(judged), len(runs))
        if CHROMIUM is None:
            pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it in .ci/run")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{url}/projects/{project['project_id']}", wait_until="networkidle", timeout=60_000)
                for title in ("Share of drifted columns", "Drift score per input", "Prediction drift",
                              "Champion on labelled rows"):
                    page.get_by_text(title, exact=True).wait_for(timeout=30_000)
                assert "skills_match" in page.inner_text("body")  # a per-input series, by its legend
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
