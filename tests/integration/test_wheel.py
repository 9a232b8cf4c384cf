"""The wheel, installed where the source tree cannot help: it must carry its own scenarios, templates and rubrics.

An editable install reads ``lab/_data`` and ``lab/grading/rubrics`` from the checkout, so a file
missing from ``[tool.setuptools.package-data]`` goes unnoticed until someone installs the wheel.
Here the wheel is built from a clean copy of the repository's files (no stale ``build/`` can slip
into it), installed into a fresh virtual environment next to the locked dependencies, and run from
a folder outside the repository: ``lab --version``, ``lab scenarios``, ``lab init-submission`` and
an offline ``lab grade`` of a planted submission, which must give the same report as the source.

Offline, on purpose. ``scripts/bootstrap.sh`` has filled uv's cache: it ran ``uv pip sync`` on the
same lock and ``uv pip install -e .`` (an isolated build, so setuptools>=68 is cached too). The lock
is installed with ``uv pip sync``, as bootstrap does, not ``uv pip install -r``: install re-resolves
and wants every wheel's metadata, which the cache need not hold. ``uv`` itself is left out: bootstrap
installs it with pip, so uv's cache never has it, and the lab does not import it.

Marked ``integration``: it builds and installs (about 30 s of CPU), though it starts no server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lab import __version__
from lab.evidence.schema import load_evidence
from lab.evidence.submission import read_submission
from lab.grading.grade import grade
from lab.grading.report import to_json
from tests.grading_evidence import Drill, build_evidence

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
PLANTED = ROOT / "tests" / "fixtures" / "submissions" / "expert"  # model card + runbook: both rubrics, no replay
SCENARIO_IDS = sorted(p.stem for p in (ROOT / "lab" / "_data" / "scenarios").glob("*.yaml"))
TEMPLATES = sorted(p.name for p in (ROOT / "lab" / "_data" / "runbooks").iterdir())
RUBRICS = sorted(p.name for p in (ROOT / "lab" / "grading" / "rubrics").iterdir())


def _run(cmd: list[str | Path], *, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LAB_HOME", "PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _project_files() -> list[str]:
    """What the repository holds, as git sees it: tracked files plus new ones not ignored."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail(f"the wheel test copies the project's files with git; {ROOT} is not a git checkout")
    out = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    return sorted(f for f in set(out.split("\0")) if f and os.path.lexists(ROOT / f))  # skip deleted, unstaged


def _without_graded_at(text: str) -> str:
    return re.sub(r'"graded_at": "[^"]*"', '"graded_at": ""', text)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Build the wheel from a clean copy, install it into a fresh venv, and a folder outside the repo to run in."""
    assert UV.is_file(), f"{UV} is missing: uv comes from requirements.lock (run scripts/bootstrap.sh)"
    tmp = tmp_path_factory.mktemp("wheel")
    assert not tmp.resolve().is_relative_to(ROOT.resolve()), "the temporary folder must lie outside the repository"
    files = _project_files()
    src = tmp / "src"
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f, follow_symlinks=False)  # scenarios/ and runbooks/ stay links
    dist = tmp / "dist"
    _run([UV, "build", "--wheel", "--offline", "--quiet", "--out-dir", dist, src], cwd=tmp)
    (wheel,) = dist.glob("*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    python = venv / "bin" / "python"
    lock = tmp / "runtime.lock"
    lock.write_text("".join(line for line in (ROOT / "requirements.lock").read_text().splitlines(keepends=True)
                            if not line.startswith("uv==")))
    _run([UV, "pip", "sync", "--offline", "--quiet", "--python", python, lock], cwd=tmp)
    _run([UV, "pip", "install", "--offline", "--quiet", "--no-deps", "--python", python, wheel], cwd=tmp)
    work = tmp / "elsewhere"
    work.mkdir()
    return {"wheel": wheel, "files": files, "venv": venv, "python": python, "lab": venv / "bin" / "lab", "work": work}


def test_the_wheel_holds_the_package_and_nothing_else(installed):
    with zipfile.ZipFile(installed["wheel"]) as z:
        names = z.namelist()
    dist_info = f"prodml_lab-{__version__}.dist-info/"
    assert {n.split("/")[0] + "/" for n in names} == {"lab/", dist_info}, sorted(names)
    in_wheel = sorted(n for n in names if n.startswith("lab/"))
    in_repo = sorted(f for f in installed["files"] if f.startswith("lab/"))
    # every file of the package, data included, and not one more (no tests, no build leftovers)
    assert in_wheel == in_repo, (set(in_wheel) ^ set(in_repo))
    assert installed["wheel"].name == f"prodml_lab-{__version__}-py3-none-any.whl"


def test_the_installed_package_is_the_one_that_runs_and_lists_its_data(installed):
    probe = ("import json, importlib.metadata as m, lab, lab.core.paths as p\n"
             "print(json.dumps({'lab': lab.__file__, 'scenarios': str(p.SCENARIO_DIR), 'version': m.version('prodml-lab'),"
             " 'files': sorted(str(f) for f in m.files('prodml-lab'))}))")
    got = json.loads(_run([installed["python"], "-c", probe], cwd=installed["work"]).stdout)
    site = str(installed["venv"].resolve())
    assert got["lab"].startswith(site) and got["scenarios"].startswith(site), got  # not the checkout
    assert got["version"] == __version__
    for name in SCENARIO_IDS:
        assert f"lab/_data/scenarios/{name}.yaml" in got["files"]
    for name in TEMPLATES:
        assert f"lab/_data/runbooks/{name}" in got["files"]
    for name in RUBRICS:
        assert f"lab/grading/rubrics/{name}" in got["files"]


def test_installed_lab_answers_version_and_lists_the_scenarios(installed):
    assert len(SCENARIO_IDS) >= 8 and "kpi-silent-failure" in SCENARIO_IDS, SCENARIO_IDS  # the glob found them (not an empty list)
    version = _run([installed["lab"], "--version"], cwd=installed["work"]).stdout
    assert version.strip() == f"prodml-lab {__version__}"
    listed = json.loads(_run([installed["lab"], "scenarios", "--json"], cwd=installed["work"]).stdout)
    assert sorted(s["id"] for s in listed["scenarios"]) == SCENARIO_IDS


def test_installed_lab_copies_the_submission_templates(installed):
    _run([installed["lab"], "init-submission", "answer"], cwd=installed["work"])
    answer = installed["work"] / "answer"
    assert sorted(p.name for p in answer.iterdir()) == TEMPLATES
    for name in TEMPLATES:
        assert (answer / name).read_bytes() == (ROOT / "lab" / "_data" / "runbooks" / name).read_bytes(), name


def test_installed_lab_grades_a_planted_submission_offline_as_the_source_does(installed, tmp_path):
    evidence = build_evidence(tmp_path, Drill(shadow_quality="worse", promote_version=None)).path
    answer = tmp_path / "answer"
    shutil.copytree(PLANTED, answer)
    proc = _run([installed["lab"], "grade", "--evidence", evidence, answer, "--json", "-",
                 "--home", tmp_path / "no-home"], cwd=installed["work"])
    report = json.loads(proc.stdout)
    assert report["lab_version"] == __version__ and report["scenario"] == "hiring-data-drift"
    assert 0 < report["total"] < report["max_total"]  # no monitoring.yaml: the drift items score 0
    ids = {i["id"]: i for i in report["items"]}
    for prefix in ("shadow.", "rollback.", "card.", "pmm."):  # card. and pmm. read the packaged rubrics
        assert any(k.startswith(prefix) and v["points"] > 0 for k, v in ids.items()), prefix
    assert not (tmp_path / "no-home").exists()  # offline grading writes nothing but its outputs
    source = to_json(grade(load_evidence(evidence), read_submission(answer, work_dir=tmp_path / "w")))
    assert _without_graded_at(proc.stdout) == _without_graded_at(source)
