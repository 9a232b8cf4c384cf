"""Windows per second: the fast drift path against an Evidently Report, on the same windows.

    .venv/bin/python bench/bench_fastdrift.py [--windows 100] [--window-size 500] [--interleave] [--json]

One run: hiring data, a 600-row reference, seeded windows with some numeric columns
shifted by 0 to 1 reference standard deviations, the example ``monitoring.yaml`` from
the product brief (plus a prediction column). Both paths judge every window; the
script prints each path's windows per second, the speed ratio (target >= 10x) and the
share of windows whose decisions are identical (target 100%; scores within 1e-9).
It also times Evidently's stattest functions alone: the fast path is little more than
those calls, so Report time / stattest time is the ceiling for the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import warnings

import numpy as np
from evidently.legacy.core import ColumnType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.scenario.generators.hiring import HiringGenerator  # noqa: E402
from lab.monitoring import load_monitoring_config, resolve, same_decisions, window_drift, window_drift_report  # noqa: E402
from lab.monitoring.methods import finite, stattest  # noqa: E402

CONFIG = """\
window: {size: 500}
data_drift:
  default: {method: wasserstein, threshold: 0.1}
  columns:
    years_experience: {method: ks, threshold: 0.01}
  dataset_drift_share: 0.3
prediction_drift: {method: psi, threshold: 0.2}
alerting: {consecutive_windows: 1}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--window-size", type=int, default=500)
    parser.add_argument("--reference-size", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--interleave", action="store_true", help="alternate the paths window by window")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    gen = HiringGenerator()
    kinds = {f.name: f.kind for f in gen.features}
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    reference = gen.sample(np.random.default_rng([args.seed, 0]), args.reference_size)
    reference["prediction"] = gen.label_probability(reference)
    windows = []
    for i in range(args.windows):
        rng = np.random.default_rng([args.seed, 1, i])
        window = gen.sample(rng, args.window_size)
        for col in numeric:
            window[col] = window[col] + rng.choice([0, 0, 0.1, 0.2, 0.5, 1.0]) * reference[col].std()
        window["prediction"] = gen.label_probability(window)
        windows.append(window)

    config = load_monitoring_config(CONFIG, columns=kinds, data_rows=args.reference_size)
    resolved = resolve(config, reference, kinds)
    window_drift(reference, windows[0], resolved)  # warm both paths (imports, caches)
    window_drift_report(reference, windows[0], resolved)

    if args.interleave:  # window by window: a load spike from other processes hits both paths
        fast, report, t_fast, t_report = [], [], 0.0, 0.0
        for w in windows:
            t0 = time.perf_counter()
            fast.append(window_drift(reference, w, resolved))
            t1 = time.perf_counter()
            report.append(window_drift_report(reference, w, resolved))
            t_fast, t_report = t_fast + (t1 - t0), t_report + (time.perf_counter() - t1)
    else:  # each path over all windows in turn, as a replay would run it
        t0 = time.perf_counter()
        fast = [window_drift(reference, w, resolved) for w in windows]
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = [window_drift_report(reference, w, resolved) for w in windows]
        t_report = time.perf_counter() - t0

    # the floor under the fast path: Evidently's stattests alone, on pre-cleaned columns
    pins = [*resolved.columns.values(), *([resolved.prediction] if resolved.prediction else [])]
    cleaned = [[(finite(reference[p.column]), finite(w[p.column])) for p in pins] for w in windows]
    types = {"num": ColumnType.Numerical, "cat": ColumnType.Categorical}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cols in cleaned:
            for p, (ref, cur) in zip(pins, cols):
                stattest(p.method)(ref, cur, types[p.evidently_type], p.threshold)
    t_stattests = time.perf_counter() - t0

    identical = sum(same_decisions(a, b) for a, b in zip(fast, report)) / len(windows)
    out = {
        "schema_version": 1,
        "windows": len(windows),
        "columns_per_window": len(resolved.columns) + (resolved.prediction is not None),
        "fast_windows_per_s": len(windows) / t_fast,
        "report_windows_per_s": len(windows) / t_report,
        "stattests_only_windows_per_s": len(windows) / t_stattests,
        "speed_ratio": t_report / t_fast,
        "ratio_ceiling": t_report / t_stattests,
        "interleaved": args.interleave,
        "identical_decisions_share": identical,
        "dataset_drift_windows": sum(r.dataset_drift for r in fast),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"windows: {out['windows']} x {args.window_size} rows, {out['columns_per_window']} columns each, "
              f"reference {args.reference_size} rows ({out['dataset_drift_windows']} windows with dataset drift)")
        print(f"fast path:   {out['fast_windows_per_s']:8.1f} windows/s")
        print(f"Report path: {out['report_windows_per_s']:8.1f} windows/s")
        print(f"speed ratio: {out['speed_ratio']:8.1f}x  (target >= 10x)")
        print(f"Evidently's stattests alone: {out['stattests_only_windows_per_s']:.1f} windows/s, "
              f"so no path calling them can beat {out['ratio_ceiling']:.1f}x")
        print(f"identical decisions: {identical:.1%}  (target 100%)")
    return 0 if identical == 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
