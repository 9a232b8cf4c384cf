"""Live monitoring on the real stack: a Prefect flow run per window, reports, journaled alerts."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import run_lab, status_json

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
    assert all(r["report"] is None for r in pinned if not r["signals"])  # a quiet window needs no report
    html = [p for p in st["reports"] if p.endswith(".html")]
    if any(r["signals"] for r in records):  # each window that raised a signal has its Evidently report
        assert html and "<html" in open(html[-1], encoding="utf-8").read(2000).lower()
    runs = httpx.post(st["services"]["prefect"]["url"] + "/api/flow_runs/filter",
                      json={"limit": 200, "sort": "START_TIME_DESC"}, timeout=10).json()
    assert any(r["name"] == f"window {w['index']}" for r in runs)
