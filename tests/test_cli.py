"""The CLI without servers: user mistakes give one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import run_lab


def assert_clean_error(proc, code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


def test_unknown_scenario(tmp_path):
    proc = run_lab("up", "no-such-scenario", home=tmp_path / "h")
    assert_clean_error(proc, 2, "unknown scenario 'no-such-scenario'", "hiring-data-drift")
    assert not (tmp_path / "h" / "run.json").exists()


def test_corrupt_scenario_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ntitle: [oops\n")
    proc = run_lab("up", str(bad), home=tmp_path / "h")
    assert_clean_error(proc, 2, str(bad), "not valid YAML")


def test_unwritable_home(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_lab("up", "--port-base", "0", home=blocker / "home")
    assert_clean_error(proc, 2, "not writable")


def test_status_without_a_lab(tmp_path):
    proc = run_lab("status", home=tmp_path / "empty")
    assert_clean_error(proc, 3, "no lab in")


def test_logs_unknown_service(tmp_path):
    proc = run_lab("logs", "kafka", home=tmp_path)
    assert_clean_error(proc, 2, "unknown service 'kafka'")


def test_down_when_nothing_runs(tmp_path):
    proc = run_lab("down", home=tmp_path / "h")
    assert proc.returncode == 0 and "no lab running" in proc.stderr


def test_scenarios_json():
    proc = run_lab("scenarios", "--json", check=True)
    data = json.loads(proc.stdout)
    assert data["schema_version"] == 1
    ids = {s["id"]: s for s in data["scenarios"]}
    assert {"hiring-data-drift", "credit-concept-drift", "churn-label-drift", "bad-release-rollback"} <= set(ids)
    assert ids["hiring-data-drift"]["eu_ai_act_class"] == "high"
    assert ids["churn-label-drift"]["eu_ai_act_class"] != "high"


def test_export_data_writes_parquet_with_labels(tmp_path):
    out = tmp_path / "out"
    run_lab("export-data", "hiring-data-drift", "--seed", "5", "--out", str(out), check=True)
    ref = pd.read_parquet(out / "reference.parquet")
    traffic = pd.read_parquet(out / "traffic.parquet")
    for df in (ref, traffic):
        assert {"years_experience", "skills_match", "gender", "age_band", "label", "day"} <= set(df.columns)
        assert set(df["label"].unique()) <= {0, 1}
    assert ref["day"].max() < 0 <= traffic["day"].min()
    assert traffic["day"].nunique() == 30
    again = tmp_path / "again"
    run_lab("export-data", "hiring-data-drift", "--seed", "5", "--out", str(again), check=True)
    assert pd.read_parquet(again / "traffic.parquet").equals(traffic)
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_export_data_bad_out(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_lab("export-data", "hiring-data-drift", "--out", str(blocker / "sub"))
    assert_clean_error(proc, 2, "--out")


def test_usage_mistakes_are_one_message_not_a_traceback(tmp_path):
    for args in (("export-data", "hiring-data-drift"), ("no-such-command",), ("up", "--seed", "abc")):
        proc = run_lab(*args, home=tmp_path / "h")
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "Error:" in proc.stderr, proc.stderr
