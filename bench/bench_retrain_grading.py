"""What grading the retraining drill costs (skill "retraining"): rebuilding the promoted version
from the evidence, the oracle's retrains on a grid of windows, the hidden rows and the document,
each in a fresh process.

    .venv/bin/python bench/bench_retrain_grading.py [--runs 3]

(a) the planted expert drill of tests/test_retrain_grading.py graded in a fresh process
    (imports, the scenario's rows and the oracle's fits on forked workers);
(b) the same with one worker (``LAB_REPLAY_WORKERS=1``: the grading endpoint of a running lab
    cannot fork);
and, inside (a), the grading call alone (the evidence already built).

Each figure is the median of ``--runs`` fresh processes; the machine's load average is printed
beside them: compare runs made side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, time
t0 = time.perf_counter()
from lab.grading.retrain_grader import grade_retraining
from tests.test_retrain_grading import GOOD_DOC, Sub, build_world, expert
world = build_world()
ev = expert(world)
t1 = time.perf_counter()
items = grade_retraining(ev, Sub(GOOD_DOC))
t2 = time.perf_counter()
print(json.dumps({"setup_s": t1 - t0, "grade_s": t2 - t1, "total_s": t2 - t0,
                  "points": sum(i.points for i in items)}))
"""


def run(env_extra: dict[str, str]) -> dict[str, float]:
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for label, extra in (("(a) forked workers", {}), ("(b) one worker", {"LAB_REPLAY_WORKERS": "1"})):
        results = [run(extra) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in results) for k in ("setup_s", "grade_s", "total_s")}
        print(f"{label}: grading {med['grade_s']:.2f} s (setup {med['setup_s']:.2f} s, process {med['total_s']:.2f} s), "
              f"points {results[0]['points']:.1f}/48; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
