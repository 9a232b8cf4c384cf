"""The business-observability drill end to end on the embedded stack (real MLflow, Prefect, serving,
traffic, monitor and KPI exporter): kpi-silent-failure, under CPU stress (two busy loops).

`lab up`, a monitoring.yaml with `business:` and `system:` applied live, the segment's change fired
early (`lab inject`); the live monitor computes the KPIs from outcomes as they arrive and, once the
changed world's outcomes are in, raises a `business` alert; the exporter serves the same figures in
Prometheus' format; the system figures are measured from the request log. `lab submit` with the config
and an observability.md earns the live item and the replayed config's business detection.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import run_lab, status_json
from tests.integration.test_release import wait_for
from tests.integration.test_release_pipeline import journal
from tests.test_observability_grading import GOOD_DOC, SOUND

pytestmark = pytest.mark.integration

SCENARIO = "kpi-silent-failure"
DELAY = 4.0
#: Live at 20 s a scenario day traffic sends 400 rows a day: a KPI on 800 rows with outcomes, one window a day.
LIVE = """window: {size: 400}
business:
  rows: 800
  kpis:
    approved_default_rate: {max_rise: 0.01}
    loss_rate: {max_rise: 0.01}
system:
  p99_latency_ms: {max: 300}
  error_rate: {max: 0.01}
  consecutive_windows: 2
"""


def _windows(home: Path) -> list[dict]:
    path = home / "monitoring" / "windows.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_kpi_silent_failure_drill_end_to_end_under_cpu_stress(cpu_stress, tmp_path):
    home = tmp_path / "home"
    run_lab("up", SCENARIO, "--detach", "--port-base", "0", "--seed", "11", "--speed", "20", home=home, check=True)
    try:
        config = tmp_path / "live.yaml"
        config.write_text(LIVE)
        run_lab("monitor", "--config", str(config), home=home, check=True)
        run_lab("inject", "regional-layoffs", home=home, check=True)
        onset = next(e["day"] for e in journal(home) if e["kind"] == "event.fired"
                     and e["data"].get("event") == "regional-layoffs")

        def business_alert():
            return [e for e in journal(home) if e["kind"] == "monitor.alert"
                    and "business" in e["data"]["signals"] and e["day"] >= onset + DELAY]

        alert = wait_for("a business alert once the changed world's outcomes arrived", business_alert,
                         timeout=600, every=2.0)[0]
        detail = next(a["detail"] for a in alert["data"]["alerts"] if a["signal"] == "business")
        assert "decided rows with outcomes" in detail and "bound: max" in detail, detail

        windows = _windows(home)
        judged = [w for w in windows if w["business"]["approved_default_rate"]["value"] is not None]
        assert judged, "no window computed the KPI from outcomes"
        assert all(w["system"]["requests"] > 0 and w["system"]["p99_ms"] > 0 for w in windows[1:])
        # the inputs do not move (no data alarm); whether the KPI's rise is caught reliably is the replay's
        # business (tests/test_observability_grading.py), not one live run's
        assert not any("data" in w["signals"] for w in windows), [w["signals"] for w in windows]

        status = status_json(home)
        exporter = status["services"]["exporter"]
        assert exporter["healthy"], exporter
        metrics = urllib.request.urlopen(exporter["url"] + "/metrics", timeout=10).read().decode()
        assert 'lab_business_kpi{kpi="approved_default_rate"}' in metrics
        assert 'lab_business_kpi_threshold{kpi="loss_rate",bound="max"}' in metrics
        assert "lab_window_p99_latency_seconds" in metrics and "lab_scenario_day" in metrics
        assert status["business"]["business"]["approved_default_rate"]["rows"] > 0

        answer = tmp_path / "answer"
        run_lab("init-submission", str(answer), check=True)
        (answer / "monitoring.yaml").write_text(SOUND)
        (answer / "observability.md").write_text(GOOD_DOC)
        out = tmp_path / "report.json"
        proc = run_lab("submit", str(answer), "--json", str(out), home=home)
        assert proc.returncode == 0, proc.stderr
        items = {i["id"]: i for i in json.loads(out.read_text())["items"] if i["skill"] == "observability"}
        assert items["observability.live"]["passed"], items["observability.live"]["feedback"]
        assert items["observability.business.detect"]["points"] >= 6, items["observability.business.detect"]
        assert all(items[k]["passed"] for k in items if k.startswith("observability.doc.")), \
            {k: v["feedback"] for k, v in items.items() if not v["passed"]}
        assert all(Path(f"/proc/{pid}").exists() for pid in cpu_stress), "the busy loops must run for the whole test"
    finally:
        run_lab("down", home=home)
