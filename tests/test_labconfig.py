"""lab.json, typed (lab.core.labconfig): what `lab up` writes reads back the same; a file
from an older lab loads with defaults; a broken or hand-edited file is a clear error
naming the file and the field, from Python and from the CLI (exit 3, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.core.home import Home
from lab.core.labconfig import DEFAULT_SPEED, LabConfig, load
from lab.core.services import DEFAULT_PORTS
from lab.errors import StateError
from tests.conftest import run_lab

#: lab.json as an older lab wrote it for an embedded stack: no stack, urls, lab_version, registered_versions.
OLD_FILE = {"scenario": "credit-concept-drift", "scenario_file": "/somewhere/credit-concept-drift.yaml", "seed": 4,
            "speed": 10, "ports": {"mlflow": 5000, "prefect": 4200, "serving": 3000, "traffic": 3100},
            "created": "2026-01-01T00:00:00+00:00"}


def _write(home: Path, data) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "lab.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_prepare_writes_a_file_that_reads_back_the_same(tmp_path):
    from lab.stack import control as stack

    home = Home(tmp_path / "home")
    _, written = stack.prepare(home, "credit-concept-drift", 4, 10.0, 0)
    assert isinstance(written, LabConfig)
    on_disk = json.loads(home.lab_json.read_text())
    assert on_disk == written.model_dump(mode="json")  # every field written, nothing else
    assert home.config() == written
    assert written.stack == "embedded" and written.seed == 4 and written.speed == 10.0
    assert set(written.ports) == set(DEFAULT_PORTS) and written.scenario_file.endswith("credit-concept-drift.yaml")
    # what the run learns is kept when the lab comes up again
    home.write_config(written.model_copy(update={"registered_versions": True}))
    _, again = stack.prepare(home, "credit-concept-drift", None, None, None)
    assert again.registered_versions and again.ports == written.ports and again.created == written.created


def test_model_round_trip():
    cfg = LabConfig(scenario="churn-label-drift", scenario_file="/s/churn-label-drift.yaml", seed=11, speed=0.5,
                    urls={"mlflow": "http://mlflow:5000"}, stack="compose", registered_versions=True)
    assert LabConfig.model_validate(json.loads(json.dumps(cfg.model_dump(mode="json")))) == cfg
    with pytest.raises(Exception):  # frozen: a reader cannot change the home's config by accident
        cfg.seed = 12  # type: ignore[misc]


def test_an_older_file_loads_with_defaults(tmp_path):
    cfg = load(_write(tmp_path, OLD_FILE))
    assert cfg.stack == "embedded" and cfg.urls == {} and not cfg.registered_versions and cfg.lab_version is None
    assert cfg.speed == 10.0 and isinstance(cfg.speed, float)
    minimal = load(_write(tmp_path, {k: OLD_FILE[k] for k in ("scenario", "scenario_file", "seed")}))
    assert minimal.speed == DEFAULT_SPEED and minimal.ports == {}
    assert Home(tmp_path).url("serving") == "http://127.0.0.1:3000"  # no ports: the default ones


def test_an_older_home_is_continued_in_the_new_format(tmp_path):
    from lab.stack import control as stack

    scenario_file = str(Path(stack.load_scenario_path("credit-concept-drift")))
    _write(tmp_path / "home", {**OLD_FILE, "scenario_file": scenario_file, "registered_versions": True,
                               "ports": {}})
    home = Home(tmp_path / "home")
    _, cfg = stack.prepare(home, "credit-concept-drift", None, None, 0)
    assert cfg.registered_versions and cfg.speed == 10.0 and cfg.created == OLD_FILE["created"]
    assert json.loads(home.lab_json.read_text())["stack"] == "embedded"


def test_no_file_is_no_lab(tmp_path):
    assert Home(tmp_path / "nothing").config() is None


@pytest.mark.parametrize(("data", "says"), [
    ({**OLD_FILE, "seed": "four"}, "field 'seed': Input should be a valid integer (found 'four')"),
    ({**OLD_FILE, "seed": -1}, "field 'seed': Input should be greater than or equal to 0"),
    ({**OLD_FILE, "speed": 0}, "field 'speed': Input should be greater than or equal to 0.05"),
    ({**OLD_FILE, "sped": 30}, "field 'sped' is not a lab.json field"),
    ({k: v for k, v in OLD_FILE.items() if k != "scenario"}, "field 'scenario' is missing"),
    ({**OLD_FILE, "stack": "swarm"}, "field 'stack': Input should be 'embedded' or 'compose'"),
    ({**OLD_FILE, "ports": {"mlflow": 70000}}, "field 'ports': port outside 1..65535"),
    ({**OLD_FILE, "ports": {"mlflw": 5000}}, "field 'ports': unknown service 'mlflw'"),
    ({**OLD_FILE, "ports": {"mlflow": "5000"}}, "field 'ports.mlflow': Input should be a valid integer"),
    ({**OLD_FILE, "registered_versions": "yes"}, "field 'registered_versions': Input should be a valid boolean"),
    ([OLD_FILE], "expected a JSON object, found list"),
    ('{"scenario": "credit-concept-drift",', "not valid JSON"),
])
def test_a_bad_file_names_the_file_and_the_field(tmp_path, data, says):
    path = _write(tmp_path, data)
    with pytest.raises(StateError) as err:
        Home(tmp_path).config()
    assert str(err.value).startswith(f"{path}: ") and says in str(err.value), str(err.value)
    assert "remove the lab home" in err.value.hint


def test_the_cli_reports_a_bad_file_without_a_traceback(tmp_path):
    path = _write(tmp_path / "home", {**OLD_FILE, "seed": "four"})
    proc = run_lab("status", home=tmp_path / "home")
    assert proc.returncode == 3, proc.stderr
    assert str(path) in proc.stderr and "'seed'" in proc.stderr and "Traceback" not in proc.stderr
