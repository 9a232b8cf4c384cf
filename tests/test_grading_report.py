"""``grade()`` end to end: planted submissions rank as they should, and every output is valid and stable.

One synthetic evidence bundle (a correct drill on hiring-data-drift: the worse
challenger shadowed and kept, the bad release rolled back to v1) is graded with each
planted submission of ``tests/fixtures/submissions/`` (plus the untouched templates),
each given the monitoring.yaml its persona would write. Drift thresholds are replayed
on a small suite here to keep the tests fast; ``lab submit`` uses the hidden grading
suite. ``pytest -s`` prints the score table.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.grading import drift_grader
from lab.evidence.schema import bundle_archive, load_evidence
from lab.grading.grade import grade
from lab.grading.report import print_table, to_gradescope, to_html, to_json, to_junit, write_outputs
from lab.evidence.submission import read_submission
from lab.monitoring.evaluate import SuiteSpec, clear_cache
from tests.grading_evidence import Drill, build_evidence, build_home

ROOT = Path(__file__).resolve().parent.parent
PLANTED_DIR = Path(__file__).resolve().parent / "fixtures" / "submissions"
SMALL = SuiteSpec(data_magnitudes=(1.0,), concept_magnitudes=(1.0,), label_magnitudes=(0.15,),
                  episodes_per_magnitude=1, no_drift_streams=1)
PLANTED = ("expert", "incomplete", "templates", "keyword_stuffed", "confidently_wrong")

EXPERT_CONFIG = """\
# thresholds tuned with `lab evaluate` on several seeds
window: {size: 500}
data_drift:
  columns:
    years_experience: {method: ks, threshold: 0.01}
    source_channel: {method: chisquare, threshold: 0.05}
  dataset_drift_share: 0.3
prediction_drift: {method: psi, threshold: 0.1}
performance: {metric: roc_auc, min: 0.72}
"""
ALWAYS_ALARM = """\
# drift psi ks wasserstein jensenshannon chisquare threshold alert alarm monitoring performance roc_auc
data_drift:
  default: {method: psi, threshold: 0.000001}
  dataset_drift_share: 0.05
"""
WRONG_SCALE = """\
# industry-standard thresholds
window: {size: 2000}
data_drift:
  default: {method: wasserstein, threshold: 0.5}
  dataset_drift_share: 0.9
prediction_drift: {method: psi, threshold: 1.0}
"""
CONFIGS = {"expert": EXPERT_CONFIG, "keyword_stuffed": ALWAYS_ALARM, "confidently_wrong": WRONG_SCALE}
DECISIONS = """\
shadow:
  version: 2
  decision: keep
  rationale: >-
    v2 lost to v1 on 480 labelled mirrored requests (ROC AUC well below the champion's), so v1 stays.
rollback:
  to_version: 1
  rationale: v3's scores jumped the moment it was released; v1 is the last version that served well.
"""


def planted(tmp: Path, name: str) -> Path:
    d = tmp / name
    d.mkdir()
    if name == "templates":
        for f in ("monitoring.yaml", "model_card.md", "post_market_monitoring.md", "datasheet.md", "decisions.yaml"):
            shutil.copy(ROOT / "runbooks" / f, d / f)
        return d
    for f in (PLANTED_DIR / name).iterdir():
        shutil.copy(f, d / f.name)
    if name in CONFIGS:
        (d / "monitoring.yaml").write_text(CONFIGS[name])
    if name == "expert":
        (d / "decisions.yaml").write_text(DECISIONS)
    return d


@pytest.fixture(scope="module")
def drill_evidence(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    ev = build_evidence(tmp, Drill(shadow_quality="worse", promote_version=None))
    return tmp, ev


@pytest.fixture(scope="module")
def reports(drill_evidence, tmp_path_factory):
    tmp, ev = drill_evidence
    subs = tmp_path_factory.mktemp("planted")
    out = {}
    for name in PLANTED:
        sub = read_submission(planted(subs, name), work_dir=tmp / "home" / "tmp")
        out[name] = grade(ev, sub, drift_suite=SMALL)
    return out


def test_planted_submissions_rank_and_the_table_prints(reports):
    skills = list(reports["expert"].skills)
    print(f"\n{'submission':<20}" + "".join(f"{s:>18}" for s in skills) + f"{'total':>9}")
    for name, r in reports.items():
        print(f"{name:<20}" + "".join(f"{r.skills[s].score:>13.1f}/{r.skills[s].max:<4.0f}" for s in skills)
              + f"{r.total:>9.1f}")
    print_table(reports["expert"], items=False)
    total = {n: r.total for n, r in reports.items()}
    assert total["expert"] >= 85
    assert all(total["expert"] - total[n] >= 25 for n in PLANTED if n != "expert"), total
    bottom = sorted(total.values())[:2]
    assert {total["templates"], total["keyword_stuffed"]} == set(bottom), total
    assert total["confidently_wrong"] <= total["expert"] - 30
    docs = {n: r.skills["model_card"].score + r.skills["pmm_runbook"].score + r.skills["datasheet"].score
            for n, r in reports.items()}
    assert docs["templates"] <= 6 and docs["keyword_stuffed"] <= 6, docs  # near zero on what the submission owns


def test_the_drift_grader_reports_baselines_and_explains(reports):
    always = {i.id: i for i in reports["keyword_stuffed"].items if i.skill == "drift_thresholds"}
    assert sum(i.points for i in always.values()) == 0  # an always-alarming config earns nothing
    assert "always-alarm" in always["drift.detect.data"].evidence
    template = [i for i in reports["templates"].items if i.skill == "drift_thresholds"]
    assert all(i.points == 0 for i in template) and "could not be used" in template[0].feedback
    missing = [i for i in reports["incomplete"].items if i.skill == "drift_thresholds"]
    assert all(i.points == 0 and "missing" in i.feedback for i in missing)


def test_no_labels_means_no_concept_drift_feedback(drill_evidence, tmp_path):
    tmp, ev = drill_evidence
    d = tmp_path / "answer"
    d.mkdir()
    (d / "monitoring.yaml").write_text("prediction_drift: {method: psi, threshold: 0.1}\n")
    items = grade(ev, read_submission(d, work_dir=tmp_path / "w"), drift_suite=SMALL).items
    concept = next(i for i in items if i.id == "drift.detect.concept")
    assert concept.points == 0 and "never looks at labels" in concept.feedback


def test_report_carries_the_rubric_and_only_the_scenarios_tasks(reports, tmp_path):
    r = reports["expert"]
    assert r.law_as_at == "2026-11-30" and r.rubric_version == 3  # the rubric in force, whatever wrote the bundle
    assert list(r.skills) == ["shadow", "rollback", "drift_thresholds", "model_card", "pmm_runbook", "datasheet"]
    assert sum(s.max for s in r.skills.values()) == pytest.approx(100, abs=0.05)  # six shares of 16.67
    ev = build_evidence(tmp_path, Drill(scenario="bad-release-rollback", shadow_version=None, promote_version=None))
    sub = read_submission(planted(tmp_path, "incomplete"), work_dir=tmp_path / "w")
    other = grade(ev, sub)
    assert list(other.skills) == ["rollback", "model_card", "pmm_runbook"]
    assert all(s.max == pytest.approx(100 / 3, abs=0.01) for s in other.skills.values())
    assert other.skills["rollback"].score == pytest.approx(100 / 3, abs=0.01)


def test_all_five_outputs_are_valid_and_user_text_is_escaped(drill_evidence, tmp_path):
    tmp, ev = drill_evidence
    d = planted(tmp_path, "expert")
    card = (d / "model_card.md").read_text()
    (d / "model_card.md").write_text(card.replace("## Intended use", "<script>alert('owned')</script>\n"
                                                  "<img src=x onerror=\"alert(1)\">\n\n## Intended use", 1))
    sub = read_submission(d, work_dir=tmp_path / "w")
    assert any(p.code == "html" for p in sub.problems)
    report = grade(ev, sub, drift_suite=SMALL)
    paths = write_outputs(report, json_path=tmp_path / "r.json", html_path=tmp_path / "r.html",
                          gradescope_path=tmp_path / "results.json", junit_path=tmp_path / "junit.xml")
    assert len(paths) == 4

    data = json.loads((tmp_path / "r.json").read_text())
    for key in ("schema_version", "total", "skills", "items", "law_as_at", "rubric_version", "scenario", "seed",
                "graded_at"):
        assert key in data
    assert all({"score", "max"} <= set(v) for v in data["skills"].values())
    assert all({"id", "title", "points", "max_points", "passed", "feedback", "evidence", "citation"} <= set(i)
               for i in data["items"])
    assert data["total"] == pytest.approx(sum(v["score"] for v in data["skills"].values()), abs=0.01)

    page = (tmp_path / "r.html").read_text()
    assert not re.search(r"<\s*script", page, re.I) and "<img" not in page
    assert "&lt;script&gt;" in page  # the problem message quotes it, escaped
    assert not re.search(r"(src|href)\s*=\s*[\"']?https?:", page) and "<link" not in page
    assert "law as at 2026-11-30" in page

    suites = ET.parse(tmp_path / "junit.xml").getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) == len(report.items)
    assert len(suites.findall(".//failure")) == sum(not i.passed for i in report.items)

    gs = json.loads((tmp_path / "results.json").read_text())
    assert gs["score"] == report.total and len(gs["tests"]) == len(report.items)
    for t in gs["tests"]:
        assert {"name", "score", "max_score", "status", "output", "tags"} <= set(t)
        assert t["status"] in ("passed", "failed")
    assert sum(t["score"] for t in gs["tests"]) == pytest.approx(report.total, abs=0.05)

    print_table(report)  # the terminal table renders


def _without_graded_at(text: str) -> str:
    return re.sub(r'"graded_at": "[^"]*"', '"graded_at": ""', text)


def test_same_evidence_and_submission_give_byte_identical_outputs(drill_evidence, tmp_path):
    tmp, ev = drill_evidence
    d = planted(tmp_path, "expert")
    first = grade(ev, read_submission(d, work_dir=tmp_path / "w"), drift_suite=SMALL)
    drift_grader._CACHE.clear()
    clear_cache()  # replay from scratch: the champion retrained, the streams redrawn
    again = grade(load_evidence(ev.path), read_submission(d, work_dir=tmp_path / "w"), drift_suite=SMALL)
    assert _without_graded_at(to_json(first)) == _without_graded_at(to_json(again))
    assert to_junit(first) == to_junit(again) and to_gradescope(first) == to_gradescope(again)
    assert to_html(first).replace(first.graded_at, "") == to_html(again).replace(again.graded_at, "")


def test_lab_grade_regrades_a_bundle_offline_byte_identically(drill_evidence, tmp_path):
    tmp, ev = drill_evidence
    d = planted(tmp_path, "incomplete")  # no monitoring.yaml: no replay, so the subprocess stays quick
    archive = bundle_archive(ev.path, tmp_path / "evidence.tar.gz")
    expected = _without_graded_at(to_json(grade(ev, read_submission(d, work_dir=tmp_path / "w"))))
    for bundle in (ev.path, archive):
        out = tmp_path / f"{Path(bundle).name}.json"
        proc = subprocess.run([sys.executable, "-m", "lab.cli", "grade", "--evidence", str(bundle), str(d),
                               "--json", str(out), "--home", str(tmp_path / "nohome")],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert _without_graded_at(out.read_text()) == expected
    assert not (tmp_path / "nohome").exists()  # offline grading writes nothing but its outputs


def test_lab_submit_on_a_stopped_home_writes_everything_and_journals(tmp_path, capsys):
    from lab.cli import main
    from lab.core.journal import Journal, verify

    home = build_home(tmp_path / "home", Drill(shadow_quality="worse", promote_version=None))
    d = planted(tmp_path, "incomplete")
    with pytest.raises(SystemExit) as exc:
        main(["submit", str(d), "--home", str(home.root), "--junit", str(tmp_path / "ci" / "junit.xml")])
    assert exc.value.code == 0
    folder = next((home.root / "submissions").iterdir())
    for f in ("report.json", "report.html", "results.json", "junit.xml", "evidence.tar.gz", "evidence/manifest.json"):
        assert (folder / f).is_file(), f
    assert (tmp_path / "ci" / "junit.xml").is_file()
    manifest = json.loads((folder / "evidence" / "manifest.json").read_text())
    assert manifest["journal_verified"] and manifest["registry_source"] == "snapshot"
    assert "lab rollback" in manifest["lab_commands"]
    submit = list(Journal(home.journal).entries("submit"))
    assert len(submit) == 1 and submit[0]["data"]["total"] == json.loads((folder / "report.json").read_text())["total"]
    verify(home.journal)
    assert not (home.root / "tmp").exists() or list((home.root / "tmp").iterdir()) == []
    err = capsys.readouterr().err
    assert "lab grade --evidence" in err


# --------------------------------------------------------------------------- the evidence bundle


def test_bundle_records_monitoring_when_present_and_checks_itself(tmp_path):
    import io
    import tarfile

    from lab.evidence.collect import collect_evidence
    from lab.evidence.schema import FALLBACK_COMMANDS, BundleError

    home = build_home(tmp_path / "home", Drill(promote_version=None))
    bare = load_evidence(collect_evidence(home, tmp_path / "bare", FALLBACK_COMMANDS))
    assert bare.monitoring is None and not bare.manifest.monitoring  # no <home>/monitoring yet
    assert not any("inputs" in r for r in bare.serving_requests)
    assert bare.manifest.journal_verified and bare.manifest.files.keys() >= {"journal.jsonl", "registry.json"}
    (home.root / "monitoring").mkdir()
    (home.root / "monitoring" / "windows.jsonl").write_text('{"window": 1, "alarm": false}\n')
    ev = load_evidence(collect_evidence(home, tmp_path / "with", FALLBACK_COMMANDS))
    assert ev.manifest.monitoring and ev.monitoring["files"]["windows.jsonl"] == [{"window": 1, "alarm": False}]

    edited = tmp_path / "with" / "labels.jsonl"
    edited.write_text(edited.read_text() + '{"request_id": "x", "day": 0, "labels": [1], "arrived_day": 3}\n')
    with pytest.raises(BundleError, match="does not match its sha256"):
        load_evidence(tmp_path / "with")

    lines = home.journal.read_text().splitlines()
    home.journal.write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # drop an entry
    broken = load_evidence(collect_evidence(home, tmp_path / "broken", FALLBACK_COMMANDS))
    assert not broken.manifest.journal_verified and "chain broken" in broken.manifest.journal_error

    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../manifest.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(BundleError, match=r"'\.\.'"):
        load_evidence(evil, work_dir=tmp_path / "w")
    assert not (tmp_path / "manifest.json").exists()
