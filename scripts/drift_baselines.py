"""Compute the drift grader's shipped baseline levels: ``lab/grading/rubrics/drift_baselines.json``.

    .venv/bin/python scripts/drift_baselines.py [--scenarios ID,ID] [--seeds N]

For each scenario that grades drift thresholds, the README example and Evidently's defaults (``{}``) are replayed on
the scenario's hidden grading suite (the same for every run, :func:`grading_seed`; two
replays); the file keeps their item shares, the level the grader scales every config
against on those very streams (:func:`shipped_baselines`). Each scenario's
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
from lab.scenario.schema import load_scenario, scenario_ids  # noqa: E402


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
        shares = {n: {i: round(v, 6) for i, v in r.shares.items()} for n, r in dg.measure_baselines(sid).items()}
        totals = {n: round(dg.RawScore(m).total, 2) for n, m in shares.items()}
        data["scenarios"][sid] = {"key": dg.baseline_key(sid), "computed": date.today().isoformat(),
                                  "suite": repr(dg.grading_suite()), "totals": totals, "shares": shares}
        print(f"{sid}: {totals} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        data["note"] = ("Drift grader baseline levels: raw item shares of the README example and Evidently's "
                        "defaults per scenario, on the scenario's grading suite (the same for every run). "
                        "Written by scripts/drift_baselines.py.")
        args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
