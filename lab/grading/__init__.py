"""Grading: pure functions from evidence and a submission to scored, explained items.

Read a bundle and a submission (both from :mod:`lab.evidence`), grade, report::

    evidence = load_evidence(bundle_path)                     # the bundle's schema, no services
    submission = read_submission(folder, work_dir=tmp)
    report = grade(evidence, submission)                      # from lab.grading.grade import grade
    print(to_json(report))

``grade`` itself is not exported here: ``lab.grading.grade`` is its module's name.
Collecting a bundle from a running lab (:mod:`lab.evidence.collect`) is not part of this
surface: it talks to MLflow and the stack, which graders never do.

The names below are loaded on first use (PEP 562), as in :mod:`lab.monitoring`, so
importing one grading module does not import every other.
"""

from __future__ import annotations

from lab._lazy import lazy_exports

_EXPORTS = {
    "items": ("SKILLS", "Item"),
    "report": ("Report", "build_report", "print_table", "to_json", "write_outputs"),
}
__all__, __getattr__, __dir__ = lazy_exports("lab.grading", _EXPORTS, globals())
