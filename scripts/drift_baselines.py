"""Compute the drift grader's shipped baseline levels: ``lab/grading/rubrics/drift_baselines.json``.

    .venv/bin/python scripts/drift_baselines.py [--scenarios ID,ID] [--seeds N]

For each scenario that grades drift thresholds, the README example and Evidently's defaults (``{}``) are replayed on
the hidden grading suite of run seeds :data:`lab.grading.drift_grader.BASELINE_RUN_SEEDS`
(two replays per run seed); the file keeps each run's item shares and their mean, the
level the grader scales every config against (:func:`shipped_baselines`). Each scenario's
entry carries :func:`baseline_key`, so a changed scenario file, suite, reference config or
raw scoring makes the grader ignore the entry (and replay its baselines per run) until
this script is run again. Run it after any such change; a test checks the keys.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.grading import drift_grader as dg  # noqa: E402
from lab.scenario import load_scenario, scenario_ids  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    graded = [sid for sid in scenario_ids() if "drift_thresholds" in load_scenario(sid).graded_tasks]
    parser.add_argument("--scenarios", default=",".join(graded),
                        help="comma-separated scenario ids (default: every scenario that grades drift thresholds)")
    parser.add_argument("--out", type=Path, default=dg.BASELINE_FILE)
    args = parser.parse_args(argv)
    data = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {"scenarios": {}}
    for sid in args.scenarios.split(","):
        started = time.perf_counter()
        per_seed = {}
        for run_seed in dg.BASELINE_RUN_SEEDS:
            per_seed[str(run_seed)] = {n: r.shares for n, r in dg.measure_baselines(sid, run_seed).items()}
            print(f"{sid} run seed {run_seed} done", file=sys.stderr, flush=True)
        mean = {n: {i: round(sum(s[n][i] for s in per_seed.values()) / len(per_seed), 6) for i in dg.POINTS}
                for n in dg.BASELINE_NAMES}
        totals = {n: round(dg.RawScore(m).total, 2) for n, m in mean.items()}
        data["scenarios"][sid] = {"key": dg.baseline_key(sid), "computed": date.today().isoformat(),
                                  "suite": repr(dg.grading_suite()), "run_seeds": list(dg.BASELINE_RUN_SEEDS),
                                  "totals": totals, "mean": mean,
                                  "per_seed": {k: {n: {i: round(v, 6) for i, v in s.items()} for n, s in r.items()}
                                               for k, r in per_seed.items()}}
        print(f"{sid}: {totals} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        data["note"] = ("Drift grader baseline levels: raw item shares of the README example and Evidently's "
                        "defaults per scenario, on the grading suite of the listed run seeds. "
                        "Written by scripts/drift_baselines.py.")
        args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
