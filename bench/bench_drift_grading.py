"""How much one config's drift-skill score moves between run seeds.

    .venv/bin/python bench/bench_drift_grading.py [--seeds 8] [--configs readme_example,tuned,defaults]
        [--before] [--cache DIR] [--json]

For three configs (the README example copied unchanged, a tuned config, Evidently's
defaults ``{}``) and run seeds 0..N-1, the drift skill is scored as the grader does
(:func:`grade_drift_thresholds` on the hidden grading streams of each seed,
:func:`lab.grading.drift_grader.grading_seed`): :func:`grading_suite` (six episodes per
magnitude, four no-drift streams) at the live traffic rate, against the shipped baseline
levels (``lab/grading/rubrics/drift_baselines.json``).

``--before`` also scores the previous rule (two episodes per magnitude, two no-drift
streams, the two baselines replayed on each seed's streams, 100% at a raw 90), which
costs three more replays per seed.

It prints each config's scores, their spread (max - min, and half of it: "moves by +-"),
the standard deviation and the mean grading time per config: the config's replay, and
for ``--before`` its replay plus the two baselines' (cold cache: a new run seed). The first
config of a seed also draws the seed's streams. Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.grading import drift_grader as dg  # noqa: E402
from lab.monitoring.evaluate import SuiteSpec, evaluate  # noqa: E402
from lab.monitoring.suite import replay_inputs  # noqa: E402
from lab.scenario.schema import load_scenario, resolve  # noqa: E402

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
BEFORE = SuiteSpec(episodes_per_magnitude=2, no_drift_streams=2)
BEFORE_TOP_RAW = 90.0


def spread(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "max": max(xs), "range": round(max(xs) - min(xs), 2),
            "plus_minus": round((max(xs) - min(xs)) / 2, 2), "sd": round(statistics.stdev(xs), 2) if len(xs) > 1 else 0.0,
            "mean": round(statistics.mean(xs), 2)}


def before_score(result: Any, baselines: dict[str, dg.RawScore]) -> float:
    """The previous rule: baselines replayed on the same streams, 35% at the better one, 100% at raw 90."""
    raw = dg.raw_score(result).total
    b = max(r.total for r in baselines.values())
    if raw <= 0:
        return 0.0
    floor = min(100 * dg.BASELINE_SHARE, b)
    if raw <= b:
        return floor * raw / b
    return 100.0 if raw >= BEFORE_TOP_RAW else floor + (100 - floor) * (raw - b) / (BEFORE_TOP_RAW - b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="hiring-data-drift", choices=sorted(TUNED))
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds FIRST..FIRST+N-1")
    parser.add_argument("--configs", default="readme_example,tuned,defaults", help="a comma-separated subset")
    parser.add_argument("--before", action="store_true", help="also score the previous rule")
    parser.add_argument("--cache", type=Path, default=None, help="a folder for the previous rule's baseline replays")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    configs = {"readme_example": dg.README_EXAMPLE, "tuned": TUNED[args.scenario], "defaults": "{}\n"}
    configs = {name: configs[name] for name in args.configs.split(",")}
    whens = ("before", "after") if args.before else ("after",)
    out: dict[str, dict] = {name: {w: [] for w in whens} | {f"seconds_{w}": 0.0 for w in whens} for name in configs}
    after: dict[str, list] = {name: [] for name in configs}  # replays, scored once the levels are read
    setup_seconds = before_baseline_seconds = 0.0
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for seed in seeds:
        sc = resolve(load_scenario(args.scenario), seed)[0]
        gseed = dg.grading_seed(seed, sc.id)
        started = time.perf_counter()
        replay_inputs(sc, gseed)  # the champion, trained once per grading seed (shared by every config)
        setup_seconds += time.perf_counter() - started
        if args.before:
            started = time.perf_counter()
            before_baselines = dg.baseline_scores(sc, gseed, BEFORE, cache_dir=args.cache)
            before_baseline_seconds += time.perf_counter() - started
        for name, text in configs.items():
            if args.before:
                started = time.perf_counter()
                old = evaluate(text, sc, gseed, suite=BEFORE)
                out[name]["before"].append(round(before_score(old, before_baselines), 2))
                out[name]["seconds_before"] += time.perf_counter() - started
            started = time.perf_counter()
            new = evaluate(text, sc, gseed, suite=dg.grading_suite())
            after[name].append(new)
            out[name]["seconds_after"] += time.perf_counter() - started
        raws = ", ".join(f"{name} {dg.raw_score(rs[-1]).total:.2f}" for name, rs in after.items())
        print(f"seed {seed} done (raw skill: {raws})", file=sys.stderr, flush=True)
    shipped = dg.shipped_baselines(args.scenario)
    if shipped is None:
        print(f"no shipped baseline levels fit {args.scenario}: run scripts/drift_baselines.py", file=sys.stderr)
        return 1
    for name, results in after.items():
        out[name]["after"] = [round(sum(i.points for i in dg.score_items(r, shipped)), 2) for r in results]
        out[name]["raw_after"] = [round(dg.raw_score(r).total, 2) for r in results]
    report = {"scenario": args.scenario, "seeds": list(seeds), "grading_suite": repr(dg.grading_suite()),
              "baseline_levels": {n: round(r.total, 2) for n, r in shipped.items()},
              "setup_seconds_per_seed": round(setup_seconds / args.seeds, 2), "configs": {}}
    for name, r in out.items():
        entry: dict[str, Any] = {}
        for w in whens:
            secs = r[f"seconds_{w}"] + (before_baseline_seconds if w == "before" else 0.0)
            entry |= {w: r[w], f"{w}_spread": spread(r[w]), f"seconds_per_config_{w}": round(secs / args.seeds, 2)}
        entry["raw_after"] = r["raw_after"]
        report["configs"][name] = entry
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{args.scenario}, run seeds {seeds[0]}..{seeds[-1]}; shipped baseline levels (raw) {report['baseline_levels']}; "
          f"champion and streams {report['setup_seconds_per_seed']:.1f} s per seed (shared by every config)")
    for name, r in report["configs"].items():
        for w in whens:
            s = r[f"{w}_spread"]
            print(f"{name:<15} {w:<6} mean {s['mean']:6.1f}  range {s['range']:5.1f} (+-{s['plus_minus']:.1f})  "
                  f"sd {s['sd']:5.2f}  {r[f'seconds_per_config_{w}']:5.1f} s/config  {r[w]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
