"""The console's own grade of a team's upload: the board ranks on it, not on the team's word.

`lab submit` in a joined lab uploads its report together with the evidence bundle it
graded (the ``.tar.gz`` it wrote) and the submission (a ``.tar.gz`` of the folder, or the
archive it was given). The console keeps both under
``<drill home>/uploads/<team>/<n>/`` and re-grades them in a child process at low
priority (``python -m lab.drill.verify``), which

1. loads the bundle with the evidence loader (every file's sha256 against its manifest,
   the journal's hash chain);
2. checks that the bundle is of this drill (its scenario and seed) and that its journal
   holds, unchanged, every entry the lab streamed to the console while the drill ran
   (the same ``seq`` and the same content, hash included; only entries written after
   the bundle was collected may be missing): a bundle edited after the fact, or taken
   from another run, fails here;
3. grades the submission against the bundle as ``lab grade --evidence`` does.

The result (``verified``, ``mismatch`` when the console's total differs from the
team's by more than 0.01, or ``rejected`` with the reason) is written to
``result.json`` beside the upload and read by :mod:`lab.drill.store`'s reports. While the
child runs, the report is ``pending`` and its score counts as nothing on the board.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from lab.core.home import write_json_atomic

RESULT = "result.json"
EVIDENCE = "evidence.tar.gz"
STREAMED = "streamed.jsonl"
TOLERANCE = 0.01
#: Re-grades that run at once (``LAB_DRILL_VERIFY_SLOTS``, default 1); others wait, pending,
#: in arrival order: a console on a host running the teams' labs must not grade eight
#: uploads at once. Each re-grade replays serially (``LAB_REPLAY_WORKERS=1``) at low priority.
SLOTS_ENV = "LAB_DRILL_VERIFY_SLOTS"


def _slots() -> threading.Semaphore:
    raw = os.environ.get(SLOTS_ENV, "").strip()
    n = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    return threading.Semaphore(n)


_SLOTS = _slots()


def start(upload: Path, submission_name: str, claimed: float, scenario: str, seed: int,
          on_done: Any) -> threading.Thread:
    """Re-grade the upload in ``upload`` in a child process; ``on_done(result)`` when it ends."""

    def run() -> None:
        cmd = [sys.executable, "-m", "lab.drill.verify", "--upload", str(upload), "--submission", submission_name,
               "--claimed", repr(claimed), "--scenario", scenario, "--seed", str(seed)]
        env = {**os.environ, "LAB_REPLAY_WORKERS": "1"}
        with _SLOTS:  # one re-grade at a time (SLOTS_ENV): the rest stay pending
            log = (upload / "verify.log").open("w", encoding="utf-8")
            try:
                proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_low_priority,
                                      timeout=1800, env=env)
                code = proc.returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
            finally:
                log.close()
        result = read_result(upload)
        if result is None:
            tail = (upload / "verify.log").read_text(encoding="utf-8", errors="replace")[-400:]
            result = {"status": "rejected", "reason": f"the console's grading stopped ({code}): {tail.strip()}"}
            write_json_atomic(upload / RESULT, result)
        on_done(result)

    thread = threading.Thread(target=run, name=f"verify-{upload.name}", daemon=True)
    thread.start()
    return thread


def _low_priority() -> None:
    os.nice(10)  # the console keeps answering the board while a team's upload is graded


def read_result(upload: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((upload / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


LATE_SECONDS = 60.0  # entries written this close before the bundle was made may be missing from it


def journal_problem(bundle: list[dict[str, Any]], streamed: list[dict[str, Any]], created: str) -> str | None:
    """Why the bundle's journal is not the one the lab streamed live, or None.

    Every streamed entry the bundle holds must be unchanged. The bundle may lack only the
    last entries, written after it was collected (the ``submit`` entry itself) or while
    (:data:`LATE_SECONDS` before its ``created`` time); an earlier one missing means the
    bundle's journal was cut.

    >>> a = {"seq": 1, "kind": "lab.up", "hash": "x", "time": "2026-01-01T00:00:00+00:00"}
    >>> late = {"seq": 2, "kind": "submit", "time": "2026-01-01T00:09:30+00:00"}
    >>> journal_problem([a], [a, late], "2026-01-01T00:10:00+00:00")
    >>> journal_problem([], [a], "2026-01-01T00:10:00+00:00")
    'the bundle lacks journal entry 1 (lab.up), which the lab streamed during the drill'
    >>> journal_problem([{**a, "kind": "rollback"}], [a], "2026-01-01T00:10:00+00:00")
    'journal entry 1 (lab.up) differs from what the lab streamed during the drill'
    """
    from datetime import datetime

    by_seq = {e.get("seq"): e for e in bundle}
    last = max(by_seq, default=-1, key=lambda s: s if isinstance(s, int) else -1)
    cutoff = datetime.fromisoformat(created).timestamp() - LATE_SECONDS
    for e in streamed:
        got = by_seq.get(e.get("seq"))
        if got is None:
            try:
                late = isinstance(e.get("seq"), int) and e["seq"] > last \
                    and datetime.fromisoformat(str(e.get("time"))).timestamp() >= cutoff
            except ValueError:
                late = False
            if late:
                continue
            return f"the bundle lacks journal entry {e.get('seq')} ({e.get('kind')}), which the lab streamed during the drill"
        if got != e:
            return f"journal entry {e.get('seq')} ({e.get('kind')}) differs from what the lab streamed during the drill"
    return None


def verify(upload: Path, submission_name: str, claimed: float, scenario: str, seed: int) -> dict[str, Any]:
    """Steps 1-3 of the module's docstring; the result as stored."""
    from lab.errors import LabError
    from lab.evidence.schema import load_evidence
    from lab.evidence.submission import read_submission

    work = upload / "work"
    work.mkdir(exist_ok=True)
    try:
        ev = load_evidence(upload / EVIDENCE, work_dir=work)
        sub = read_submission(str(upload / submission_name), work_dir=work)
    except LabError as exc:
        return {"status": "rejected", "reason": f"the upload cannot be read: {exc.message}"}
    if ev.scenario.id != scenario or ev.seed != seed:
        return {"status": "rejected", "reason": f"the bundle is of {ev.scenario.id} seed {ev.seed}, "
                                                f"the drill runs {scenario} seed {seed}"}
    if not ev.manifest.journal_verified:
        return {"status": "rejected", "reason": f"the bundle's journal fails its hash chain: {ev.manifest.journal_error}"}
    streamed = [json.loads(line) for line in (upload / STREAMED).read_text(encoding="utf-8").splitlines() if line]
    problem = journal_problem([dict(e) for e in ev.journal], streamed, ev.manifest.created)
    if problem is not None:
        return {"status": "rejected", "reason": problem}
    from lab.grading.grade import grade

    report = grade(ev, sub, drift_cache=upload.parent.parent.parent / "cache" / "drift")
    status = "verified" if abs(report.total - claimed) <= TOLERANCE else "mismatch"
    full = report.to_dict()
    return {"status": status, "score": report.total, "max_score": full["max_total"], "claimed": claimed,
            "report": full}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upload", type=Path, required=True)
    parser.add_argument("--submission", required=True, help="the submission's file name in the upload folder")
    parser.add_argument("--claimed", type=float, required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    result = verify(args.upload, args.submission, args.claimed, args.scenario, args.seed)
    write_json_atomic(args.upload / RESULT, result)
    print(json.dumps({k: v for k, v in result.items() if k != "report"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
