"""The evidence bundle across machines and versions: no path of the lab home in it, older bundles still graded,
and graders that never reach the live collector, the stack or the CLI.
"""

from __future__ import annotations

import ast
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from lab.evidence.collect import collect_evidence
from lab.evidence.schema import (FALLBACK_COMMANDS, MANIFEST, MONITORING, TRAINING_DATA, bundle_archive, load_evidence,
                                 sha256_of)
from tests.grading_evidence import Drill, build_home

ROOT = Path(__file__).resolve().parent.parent
INCOMPLETE = ROOT / "tests" / "fixtures" / "submissions" / "incomplete"  # no monitoring.yaml: no replay, quick


def _home_with_monitoring(root: Path):
    """A drill's home with live monitoring results written the way lab.monitoring.runner writes them."""
    home = build_home(root, Drill(shadow_quality="worse", promote_version=None))
    mon = home.root / "monitoring"
    (mon / "reports").mkdir(parents=True)
    windows = [{"index": i, "first_day": float(i), "last_day": i + 0.9, "rows": 80, "champion_version": 1,
                "drift_share": 0.0, "dataset_drift": False, "signals": [], "alarm": False,
                "report": str(mon / "reports" / f"window-{i:04d}.html")} for i in range(3)]
    (mon / "windows.jsonl").write_text("".join(json.dumps(w) + "\n" for w in windows))
    (mon / "state.json").write_text(json.dumps({"config": str(mon / "config.yaml"), "home": str(home.root)}))
    (mon / "config.yaml").write_text("prediction_drift: {method: psi, threshold: 0.1}\n")
    return home


def test_a_new_bundle_holds_no_absolute_path_of_the_lab_home(tmp_path):
    home = _home_with_monitoring(tmp_path / "home")
    bundle = collect_evidence(home, tmp_path / "evidence", FALLBACK_COMMANDS)
    archive = bundle_archive(bundle)
    needles = {str(home.root), str(home.root.resolve()), str(tmp_path)}
    for f in sorted(bundle.iterdir()):
        text = f.read_text(encoding="utf-8")
        assert not any(n in text for n in needles), f"{f.name} names the lab home"
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            data = tar.extractfile(m).read().decode()
            assert not any(n in data for n in needles), m.name
    ev = load_evidence(bundle)
    assert ev.monitoring["source"] == "monitoring"
    assert [w["report"] for w in ev.monitoring["files"]["windows.jsonl"]] == [
        f"monitoring/reports/window-{i:04d}.html" for i in range(3)]
    assert ev.monitoring["files"]["state.json"] == {"config": "monitoring/config.yaml", "home": "."}


def test_the_same_home_collected_twice_gives_the_same_monitoring_json(tmp_path):
    """Graded on another machine, the bundle says the same: nothing in it depends on where the home was."""
    a = _home_with_monitoring(tmp_path / "a" / "home")
    b = _home_with_monitoring(tmp_path / "elsewhere" / "deeper" / "home")
    ma = collect_evidence(a, tmp_path / "ea", FALLBACK_COMMANDS) / MONITORING
    mb = collect_evidence(b, tmp_path / "eb", FALLBACK_COMMANDS) / MONITORING
    assert ma.read_bytes() == mb.read_bytes()


def _todays_format(new: Path, old: Path, home: Path, *, lab_commands: list[str] | None) -> Path:
    """Rewrite a new bundle as an old lab wrote it: schema 1, the home's absolute paths in monitoring.json, no
    training_data.json (schema 3 added it: the datasheet grader recomputes the facts from the scenario and seed)."""
    shutil.copytree(new, old)
    (old / TRAINING_DATA).unlink()
    mon = json.loads((old / MONITORING).read_text())
    mon["source"] = str(home / "monitoring")
    for w in mon["files"]["windows.jsonl"]:
        w["report"] = str(home / w["report"])
    (old / MONITORING).write_text(json.dumps(mon, indent=2, sort_keys=True) + "\n")
    manifest = json.loads((old / MANIFEST).read_text())
    manifest["schema_version"] = 1
    if lab_commands is not None:
        manifest["lab_commands"] = lab_commands
    manifest["files"] = {p.name: sha256_of(p) for p in sorted(old.iterdir()) if p.name != MANIFEST}
    (old / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return old


@pytest.mark.parametrize("commands", [None, []], ids=["as-written", "no-command-list"])
def test_a_bundle_in_todays_format_is_still_graded_by_lab_grade(tmp_path, commands):
    from lab.cli import main

    home = _home_with_monitoring(tmp_path / "home")
    new = collect_evidence(home, tmp_path / "new", FALLBACK_COMMANDS)
    old = _todays_format(new, tmp_path / "old", home.root, lab_commands=commands)
    archive = bundle_archive(old)
    loaded = load_evidence(archive)
    assert loaded.manifest.schema_version == 1 and loaded.training_data is None
    assert load_evidence(new).training_data is not None
    totals = {}
    for name, bundle in (("new", new), ("old", archive)):
        out = tmp_path / f"{name}.json"
        with pytest.raises(SystemExit) as exc:
            main(["grade", str(INCOMPLETE), "--evidence", str(bundle), "--json", str(out),
                  "--home", str(tmp_path / "nohome")])
        assert exc.value.code == 0
        report = json.loads(out.read_text())
        totals[name] = (report["total"], [(i["id"], i["points"]) for i in report["items"]])
        assert report["skills"]["datasheet"]["points"] > 0  # graded from the frozen or the recomputed facts
    assert totals["old"] == totals["new"]


def test_a_bundle_of_an_unknown_schema_is_refused_clearly(tmp_path):
    from lab.evidence.schema import BundleError

    home = build_home(tmp_path / "home", Drill(promote_version=None))
    bundle = collect_evidence(home, tmp_path / "evidence", FALLBACK_COMMANDS)
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["schema_version"] = 99
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="schema 99 is newer than this lab reads"):
        load_evidence(bundle)


# --------------------------------------------------------------------------- layering

FORBIDDEN = ("lab.cli", "lab.stack.control", "lab.release.registry", "lab.stack.supervisor", "lab.evidence.collect", "mlflow", "bentoml")
GRADERS = sorted([*(ROOT / "lab" / "grading").glob("*.py"), ROOT / "lab" / "evidence" / "schema.py",
                  ROOT / "lab" / "evidence" / "submission.py"])


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # function-level imports too
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", GRADERS, ids=lambda p: p.name)
def test_graders_and_the_bundle_reader_never_import_the_collector_the_stack_or_the_cli(path):
    bad = sorted(m for m in _imports(path) if m.startswith(FORBIDDEN))
    assert bad == [], f"{path.name} imports {bad}"


def test_the_collector_takes_the_command_list_instead_of_importing_the_cli():
    assert not any(m.startswith("lab.cli") for m in _imports(ROOT / "lab" / "evidence" / "collect.py"))
