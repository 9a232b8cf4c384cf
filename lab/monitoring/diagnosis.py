"""Plain-language feedback on an evaluation: what a config cannot see, misses, or alarms on."""

from __future__ import annotations

import math

from lab.monitoring.methods import METHODS
from lab.monitoring.results import EvaluationResult
from lab.monitoring.suite import DRIFT_KINDS

_KIND_NAMES = {"data": "data drift", "concept": "concept drift", "label": "label drift"}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"


def diagnose(result: EvaluationResult) -> list[str]:
    """Plain-language feedback on a result: what the config cannot see, misses, or alarms on."""
    out: list[str] = []
    s = result.summaries
    mon = result.monitored
    all_windows = sum(e.windows_replayed for e in result.episodes)
    all_alarms = sum(sum(w.alarm for w in e.windows) for e in result.episodes)
    days = result.window_size / result.rows_per_day
    if all_alarms == 0:
        out.append(
            f"Your config never alarmed on any of the {all_windows} replayed windows, drifted or not: it scores exactly like the "
            "do-nothing baseline."
        )
    elif all_alarms == all_windows:
        out.append("Your config alarmed on every replayed window: it scores exactly like the always-alarm baseline.")
    if mon["performance"] is None:
        out.append(
            "Your config never looks at labels (no `performance` section), so concept drift cannot be detected: "
            "under concept drift the inputs and the predictions do not move, only the outcomes do."
        )
    else:
        out.append(
            f"Labels arrive {result.label_delay_days:g} days late ({result.label_lag_windows} windows of "
            f"{result.window_size} rows), so a performance alarm comes at least {result.label_lag_windows} windows "
            f"({result.label_lag_windows * days:.1f} days) after the onset; the detection budget is "
            f"{result.max_delay_windows} windows."
        )
    for kind in DRIFT_KINDS:
        summ = s[kind]
        never = [m.magnitude for m in summ.by_magnitude if m.detected == 0]
        if never and all_alarms:
            mags = ", ".join(f"{m:g}" for m in never)
            plural = "s" if len(never) > 1 else ""
            out.append(
                f"Your thresholds never fire on {_KIND_NAMES[kind]} at magnitude{plural} {mags} "
                f"(no episode detected within {result.max_delay_windows} windows of the onset)."
            )
        if summ.detected and summ.detection_rate is not None and summ.chance_detection_rate is not None:
            if summ.detection_rate <= summ.chance_detection_rate + 1e-9:
                out.append(
                    f"Your {_KIND_NAMES[kind]} detections ({_pct(summ.detection_rate)}) are no better than alarms "
                    f"drawn at random at your false-alarm rate ({_pct(summ.chance_detection_rate)})."
                )
    pooled = s["all"]
    fp = pooled.false_positive_rate or 0.0
    if pooled.false_alarms == 0:
        out.append(f"No false alarms in {pooled.no_drift_windows} no-drift windows ({pooled.no_drift_windows * result.window_size:,} rows).")
    else:
        every = f"one every {pooled.mtbfa_days:.1f} days" if pooled.mtbfa_days is not None else ""
        out.append(
            f"Alarms on {_pct(fp)} of no-drift windows ({pooled.false_alarms} false alarm{'s' if pooled.false_alarms > 1 else ''}, "
            f"{pooled.false_alarms_per_1k_rows:.2f} per 1,000 rows, {every}); the always-alarm baseline alarms on 100%."
        )
    for sig, rate in result.no_drift_signal_rates.items():
        if rate >= 0.1:
            what = {
                "data": f"dataset drift (share {mon['dataset_drift_share']:g})",
                "prediction": "prediction drift"
                + (f" ({mon['prediction']['method']} at {mon['prediction']['threshold']:g})" if mon["prediction"] else ""),
                "performance": "the performance check",
            }[sig]
            out.append(f"On its own, {what} fires on {_pct(rate)} of no-drift windows.")
    noisy = sorted(((r, c) for c, r in result.column_flag_rates.items() if r >= 0.2), reverse=True)
    for rate, col in noisy[:3]:
        p = mon["columns"][col]
        out.append(
            f"Column {col!r} drifts on {_pct(rate)} of no-drift windows ({p['method']} at {p['threshold']:g}): "
            f"too sensitive for {result.window_size}-row windows."
        )
    if len(noisy) > 3:
        out.append(f"{len(noisy) - 3} more column(s) drift on at least 20% of no-drift windows.")
    ncols = len(mon["columns"])
    need = math.ceil(mon["dataset_drift_share"] * ncols - 1e-9)
    if s["data"].signals["data"] == 0 and need > 3:
        out.append(
            f"dataset_drift_share {mon['dataset_drift_share']:g} needs {need} of {ncols} columns to drift at once; "
            "the data-drift episodes move 1 to 3 features, so dataset drift never caught one (only prediction drift "
            "or performance could)."
        )
    perf = mon["performance"]
    if perf is not None and perf["metric"] == "roc_auc" and (s["label"].detection_rate or 0) < 1:
        out.append(
            "roc_auc does not change when only the positive rate changes, so the performance check cannot see "
            "label drift; the prediction distribution can."
        )
    if result.consecutive_windows > 1:
        extra = result.consecutive_windows - 1
        out.append(
            f"consecutive_windows: {result.consecutive_windows} delays every alarm by at least {extra} "
            f"window{'s' if extra > 1 else ''} ({extra * days:.1f} days)."
        )
    methods = {p["method"] for p in mon["columns"].values()} | ({mon["prediction"]["method"]} if mon["prediction"] else set())
    for m in sorted(methods):
        if not METHODS[m].deterministic:
            out.append(f"Method {m!r} draws random permutations from numpy's global state: its results vary run to run.")
    return out


