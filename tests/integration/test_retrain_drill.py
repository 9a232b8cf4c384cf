"""The retraining drill end to end on the embedded stack (real MLflow, Prefect, serving, traffic):
retrain-after-shock, under CPU stress (two busy loops, as on a loaded two-core machine).

`lab up`, a gate applied, the concept shift fired early (`lab inject`), then, once labels of
the changed world have arrived: `lab retrain` on the days since the change (no label from the
future is read; the gate runs on the new version by itself), a shadow with live answers, the
promotion, and `lab submit` with a retraining.md. The grader rebuilds the retrained version
from the evidence (same rows as the live command: the digests match) and scores it well above
the stale champion; gate, live check and the document earn full marks, and the promotion comes
in time for timing points (under load the commands take a few scenario days).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import run_lab, status_json
from tests.integration.test_release import wait_for
from tests.integration.test_release_pipeline import journal
from tests.test_retrain_grading import GOOD_DOC

pytestmark = pytest.mark.integration

SCENARIO = "retrain-after-shock"
GATE = "metrics: {roc_auc: {min: 0.6}}\nschema: true\n"


def test_retrain_after_shock_drill_end_to_end_under_cpu_stress(cpu_stress, tmp_path):
    home = tmp_path / "home"
    run_lab("up", SCENARIO, "--detach", "--port-base", "0", "--seed", "11", "--speed", "20", home=home, check=True)
    try:
        gate = tmp_path / "release_gate.yaml"
        gate.write_text(GATE)
        run_lab("gate", "apply", str(gate), home=home, check=True)
        run_lab("inject", "new-hiring-manager", home=home, check=True)
        onset = next(e["day"] for e in journal(home) if e["kind"] == "event.fired"
                     and e["data"].get("event") == "new-hiring-manager")
        delay = 3.0
        ready = onset + delay + 2.2  # two days of the changed world's labels: about 800 rows at 20 s a day
        wait_for(f"day {ready:.1f}", lambda: status_json(home)["day"] >= ready, timeout=300, every=1.0)

        start = math.ceil(onset)
        proc = run_lab("retrain", "--from-day", str(start), "--to-day", "30", "--reason",
                       "ROC AUC on labelled rows fell below 0.72 after the change", "--json", home=home)
        assert proc.returncode == 0, proc.stderr
        done = json.loads(proc.stdout)
        assert done["version"] == 2 and done["gate"] == "passed", done
        assert done["last_row_day"] + delay <= done["labels_by_day"], "a label from the future was read"

        run_lab("shadow", "start", "--version", "2", "--timeout", "900", home=home, check=True)
        wait_for("40 mirrored requests", lambda: json.loads(run_lab("shadow", "report", "--json", home=home,
                                                                    check=True).stdout)["mirrored_requests"] >= 40,
                 timeout=300, every=1.0)
        run_lab("shadow", "stop", home=home, check=True)
        run_lab("promote", "--version", "2", "--reason", "v2 retrained on the days since the change; gate passed, "
                "shadow agreed on live requests", home=home, check=True)

        answer = tmp_path / "answer"
        run_lab("init-submission", str(answer), check=True)
        window = round(done["last_row_day"] + 1 - start)  # the days the rows came from
        (answer / "retraining.md").write_text(GOOD_DOC.replace("last 7 days", f"last {window} days"))
        out = tmp_path / "report.json"
        proc = run_lab("submit", str(answer), "--json", str(out), home=home)
        assert proc.returncode == 0, proc.stderr
        items = {i["id"]: i for i in json.loads(out.read_text())["items"] if i["skill"] == "retraining"}
        outcome = items["retraining.outcome"]
        assert outcome["details"]["digest_matches"], "the grader rebuilt other rows than `lab retrain` read"
        assert outcome["details"]["user_auc"] > outcome["details"]["stale_auc"] + 0.03, outcome
        assert outcome["points"] >= 0.7 * outcome["max_points"], outcome["feedback"]
        full = ("retraining.gated", "retraining.live-checked", "retraining.doc.triggers", "retraining.doc.guardrails",
                "retraining.doc.rollback")
        assert all(items[k]["passed"] for k in full), {k: items[k]["feedback"] for k in full if not items[k]["passed"]}
        assert items["retraining.timing"]["points"] > 0, items["retraining.timing"]["feedback"]
        assert all(Path(f"/proc/{pid}").exists() for pid in cpu_stress), "the busy loops must run for the whole test"
    finally:
        run_lab("down", home=home)
