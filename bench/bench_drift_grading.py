"""How much one config's drift-skill score moves between run seeds, before and after paired scoring.

    .venv/bin/python bench/bench_drift_grading.py [--seeds 8] [--configs readme_example,tuned,defaults]
        [--cache DIR] [--json]

For three configs (the README example copied unchanged, a tuned config, Evidently's
defaults ``{}``) and run seeds 0..N-1, the drift skill is scored two ways on the hidden
grading streams of each seed (:func:`lab.grading.drift_grader.grading_seed`):

* ``before``: the previous rule: one episode per magnitude, onsets 3-6 windows in, the
  scenario's ``rows_per_day`` as the replay rate, the raw skill out of 100;
* ``after``: the grader's rule: :func:`grading_suite` (two episodes per magnitude,
  onsets 2-5 windows in, a stratified layout) at the live traffic rate, scored against the better of the README example
  and the defaults replayed on the same streams (:func:`score_items`).

It prints each config's scores, their spread (max - min, and half of it: "moves by +-"),
the standard deviation, and the mean replay time per config (baselines separately: they
are cached per scenario and grading seed). Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.grading import drift_grader as dg  # noqa: E402
from lab.monitoring.evaluate import SuiteSpec, evaluate  # noqa: E402
from lab.scenario import load_scenario, resolve  # noqa: E402

TUNED = {  # tuned with `lab evaluate` at the live rate on seeds 0-3 (raw skill ~70, steady)
    "hiring-data-drift": """\
window: {size: 500}
data_drift:
  default: {method: ks, threshold: 0.001}
  dataset_drift_share: 0.12
prediction_drift: {method: ks, threshold: 0.001}
performance: {metric: roc_auc, max_drop: 0.05}
""",
}
BEFORE = SuiteSpec(episodes_per_magnitude=1, no_drift_streams=2, onset_windows=(3, 6))


def spread(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "max": max(xs), "range": round(max(xs) - min(xs), 2),
            "plus_minus": round((max(xs) - min(xs)) / 2, 2), "sd": round(statistics.stdev(xs), 2),
            "mean": round(statistics.mean(xs), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="hiring-data-drift", choices=sorted(TUNED))
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--configs", default="readme_example,tuned,defaults", help="a comma-separated subset")
    parser.add_argument("--cache", type=Path, default=None, help="a folder for the baselines' replays")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    configs = {"readme_example": dg.README_EXAMPLE, "tuned": TUNED[args.scenario], "defaults": "{}\n"}
    configs = {name: configs[name] for name in args.configs.split(",")}
    out: dict[str, dict] = {name: {"before": [], "after": [], "seconds_before": 0.0, "seconds_after": 0.0}
                            for name in configs}
    baseline_seconds = 0.0
    for seed in range(args.seeds):
        sc = resolve(load_scenario(args.scenario), seed)[0]
        gseed = dg.grading_seed(seed, sc.id)
        started = time.perf_counter()
        baselines = dg.baseline_scores(sc, gseed, dg.grading_suite(), cache_dir=args.cache)
        baseline_seconds += time.perf_counter() - started
        for name, text in configs.items():
            started = time.perf_counter()
            old = evaluate(text, sc, gseed, suite=BEFORE, rows_per_day=sc.traffic.rows_per_day)
            out[name]["before"].append(round(dg.raw_score(old).total, 2))
            out[name]["seconds_before"] += time.perf_counter() - started
            started = time.perf_counter()
            new = evaluate(text, sc, gseed, suite=dg.grading_suite())
            out[name]["after"].append(round(sum(i.points for i in dg.score_items(new, baselines)), 2))
            out[name]["seconds_after"] += time.perf_counter() - started
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    report = {"scenario": args.scenario, "seeds": args.seeds,
              "baseline_seconds_per_seed": round(baseline_seconds / args.seeds, 2), "configs": {}}
    for name, r in out.items():
        report["configs"][name] = {
            "before": r["before"], "after": r["after"],
            "before_spread": spread(r["before"]), "after_spread": spread(r["after"]),
            "seconds_per_config_before": round(r["seconds_before"] / args.seeds, 2),
            "seconds_per_config_after": round(r["seconds_after"] / args.seeds, 2),
        }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.scenario}, run seeds 0..{args.seeds - 1}; baselines (README example + defaults) "
          f"{report['baseline_seconds_per_seed']:.1f} s per seed, once per scenario and grading seed")
    for name, r in report["configs"].items():
        for when in ("before", "after"):
            s = r[f"{when}_spread"]
            print(f"{name:<15} {when:<6} mean {s['mean']:6.1f}  range {s['range']:5.1f} (+-{s['plus_minus']:.1f})  "
                  f"sd {s['sd']:5.2f}  {r[f'seconds_per_config_{when}']:5.1f} s/config  {r[when]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
