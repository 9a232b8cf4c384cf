"""What grading a release gate costs (skill "gates"): the hidden suite's training, cold and
from its cache, and the replay of one gate, each in a fresh process.

    .venv/bin/python bench/bench_gate_grading.py [--runs 3] [--scenario release-gate-regression]

(a) cold: build the suite with an empty cache folder (eight candidates and the champion
    trained on forked workers, then pickled);
(b) warm: the same process start with the cache filled (pickle read);
(c) replay: the README-style expert gate of tests/test_gate_grading.py on the warm suite;
(d) the same three with one worker (``LAB_REPLAY_WORKERS=1``: what the grading endpoint
    of a running lab does, since it cannot fork).

Each figure is the median of ``--runs`` fresh processes (imports included); the machine's
load average is printed beside them: compare runs made side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from lab.scenario.schema import load_scenario, resolve
from lab.grading.gate_suite import build_suite
from lab.grading.gate_grader import replay, score_replay
from tests.test_gate_grading import EXPERT
scenario, _ = resolve(load_scenario(sys.argv[1]), 7)
t1 = time.perf_counter()
build_suite(scenario, __import__("pathlib").Path(sys.argv[2]))
t2 = time.perf_counter()
points = sum(i.points for i in score_replay(replay(EXPERT, scenario, __import__("pathlib").Path(sys.argv[2]))))
t3 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "suite_s": t2 - t1, "replay_s": t3 - t2, "points": points}))
"""


def child(scenario: str, cache: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, scenario, str(cache)], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(rows: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenario", default="release-gate-regression")
    args = ap.parse_args()
    base = {**os.environ, "PYTHONPATH": str(ROOT)}
    for label, env in (("forked workers", base), ("one worker", {**base, "LAB_REPLAY_WORKERS": "1"})):
        cold, warm = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as d:
                cold.append(child(args.scenario, Path(d), env))
                warm.append(child(args.scenario, Path(d), env))
        print(f"{label}: (a) cold suite {median(cold, 'suite_s')} s, (b) from cache {median(warm, 'suite_s')} s, "
              f"(c) replay {median(warm, 'replay_s')} s; imports {median(warm, 'imports_s')} s; expert gate "
              f"{warm[0]['points']:g} points; load average {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
