"""One `lab submit`: collect the evidence, grade the submission, file the reports, journal it.

:func:`run_submission` is the whole job; the grading endpoint runs it in a warm process
and `lab submit` runs it in its own process when no endpoint answers, so both paths give
the same report (tests/test_grade_endpoint.py compares them). Its answer is plain JSON
(:func:`lab.grading.report.report_from_dict` rebuilds the report), what the endpoint sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.core.liveness import require_config


def drift_cache(home: Home) -> Path:
    """Where a home keeps the hidden replay streams and replays (lab.monitoring.stream_cache)."""
    return home.root / "cache" / "drift"


def _new_folder(home: Home) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = home.root / "submissions" / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = home.root / "submissions" / f"{stamp}-{n}"
    return folder


def run_submission(home: Home, submission: str, commands: Sequence[str]) -> dict[str, Any]:
    """Grade ``submission`` (a folder or archive path) against ``home``'s evidence, collected now.

    ``commands`` is every leaf ``lab`` command (the runbook grader checks quoted commands
    against it). Writes ``<home>/submissions/<stamp>/`` (evidence bundle, report.json,
    report.html, results.json, junit.xml) and a ``submit`` journal entry. Returns
    ``{"report": ..., "folder": ..., "archive": ..., "written": [...]}`` (paths absolute).
    Bad input raises the lab's errors (lab.errors) before anything is written.
    """
    require_config(home)
    # heavy (pandas, MLflow's client while the lab runs): only here, never at import
    from lab.evidence.collect import collect_evidence
    from lab.evidence.schema import bundle_archive, load_evidence
    from lab.evidence.submission import read_submission
    from lab.grading.grade import grade
    from lab.grading.report import write_outputs
    from lab.grading.runbook import load_rubric

    sub = read_submission(submission, work_dir=home.root / "tmp")  # a bad submission fails before anything is written
    folder = _new_folder(home)
    rubric = load_rubric()
    evidence_dir = collect_evidence(home, folder / "evidence", list(commands),
                                    (rubric.rubric_version, rubric.law_as_at.isoformat()))
    archive = bundle_archive(evidence_dir)
    report = grade(load_evidence(evidence_dir), sub, drift_cache=drift_cache(home))
    written = write_outputs(report, json_path=folder / "report.json", html_path=folder / "report.html",
                            gradescope_path=folder / "results.json", junit_path=folder / "junit.xml")
    Journal(home.journal).append(
        "submit",
        {"total": report.total, "skills": {k: s.score for k, s in report.skills.items()},
         "folder": str(folder.relative_to(home.root)), "files": sorted(sub.files),
         "problems": len(sub.problems), "evidence": str(archive.relative_to(home.root))},
        day=Clock(home.clock_json).day(), actor="user",
    )
    return {"report": report.to_dict(), "folder": str(folder), "archive": str(archive),
            "written": [str(p) for p in written]}
