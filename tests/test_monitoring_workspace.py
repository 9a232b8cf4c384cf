"""The live monitor's Evidently workspace (lab.monitoring.workspace), without servers: a project per
lab run with the dashboard's four panels, a drift snapshot per window with the pinned tests, the
champion's snapshot when enough labelled rows have arrived, and a restarted monitor adding to the
same project."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lab.core.home import Home
from lab.monitoring.workspace import (MIN_LABELLED, WindowWorkspace, drift_snapshot, performance_snapshot, project_id,
                                      workspace_dir)

FEATURES = ["age", "region"]
PINS = {"age": SimpleNamespace(evidently_type="num", method="ks", threshold=0.01),
        "region": SimpleNamespace(evidently_type="cat", method="chisquare", threshold=None),
        "prediction": SimpleNamespace(evidently_type="num", method="wasserstein", threshold=0.1)}


def frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame({"age": rng.normal(40 + shift, 10, n), "region": rng.choice(["north", "south"], n),
                         "prediction": rng.uniform(0, 1, n)})


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("home"))
    rng = np.random.default_rng(3)
    reference = frame(rng, 400, 0.0)
    ws = WindowWorkspace(home, "hiring-data-drift (seed 7)", FEATURES, "prediction")
    ids = []
    for index, shift in enumerate((0.0, 15.0)):
        snap = drift_snapshot(reference, frame(rng, 200, shift), PINS, 0.5, index, index * 1.0, index + 0.9)
        ids.append(ws.add(snap))
    y = rng.integers(0, 2, 300)
    perf = performance_snapshot(y, np.clip(0.3 * y + 0.7 * rng.uniform(size=300), 0, 1), 0.4, 1, 1.0, 1.9)
    ids.append(ws.add(perf))
    return home, ws, ids


def test_one_project_with_the_four_panels_and_every_snapshot(written):
    home, ws, ids = written
    pid = project_id(home)
    assert pid == ws.project_id and len(set(ids)) == 3
    assert {str(r) for r in ws.workspace.list_runs(pid)} == set(ids)
    titles = [p.title for p in ws.workspace.get_dashboard(pid).panels]
    assert titles == ["Share of drifted columns", "Drift score per input", "Prediction drift",
                      "Champion on labelled rows"]


def test_a_drift_snapshot_holds_the_pinned_tests_and_the_window(written):
    home, ws, ids = written
    snap = ws.workspace.get_run(ws.project_id, ids[1])
    text = json.dumps(snap.dict() if hasattr(snap, "dict") else snap, default=str)
    assert '"column": "age"' in text and '"threshold": 0.01' in text  # the config's pin, not Evidently's default
    assert "window 1" in text and '"first_day": "1.00"' in text


def test_a_restarted_monitor_adds_to_the_same_project(written):
    home, ws, _ = written
    again = WindowWorkspace(home, "hiring-data-drift (seed 7)", FEATURES, "prediction")
    assert again.project_id == ws.project_id
    assert len(ws.workspace.list_projects()) == 1
    assert (workspace_dir(home) / "lab_project.json").is_file()


def test_too_few_labelled_rows_or_one_class_give_no_performance_snapshot():
    assert performance_snapshot(np.ones(MIN_LABELLED - 1), np.full(MIN_LABELLED - 1, 0.5), 0.4, 0, 0.0, 1.0) is None
    assert performance_snapshot(np.ones(500), np.full(500, 0.5), 0.4, 0, 0.0, 1.0) is None


def test_a_scenario_with_business_kpis_gets_their_panel_and_a_snapshot_per_window(tmp_path):
    from lab.monitoring.workspace import business_snapshot

    home = Home(tmp_path / "home")
    ws = WindowWorkspace(home, "kpi-silent-failure (seed 7)", FEATURES, "prediction",
                         ["approved_default_rate", "loss_rate"])
    titles = [p.title for p in ws.workspace.get_dashboard(ws.project_id).panels]
    assert titles[-1] == "Business KPIs"
    assert business_snapshot({"approved_default_rate": None, "loss_rate": None}, 0, 0.0, 0.9) is None  # no outcomes yet
    sid = ws.add(business_snapshot({"approved_default_rate": 0.083, "loss_rate": None}, 1, 1.0, 1.9))
    snap = ws.workspace.get_run(ws.project_id, sid)
    text = json.dumps(snap.dict() if hasattr(snap, "dict") else snap, default=str)
    assert '"type": "evidently:metric_v2:MeanValue", "column": "approved_default_rate"' in text
    assert "current: 0.083" in text and "loss_rate" not in text  # a KPI without a value is left out
