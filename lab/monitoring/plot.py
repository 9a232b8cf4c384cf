"""A PNG of every replayed episode: scores, thresholds and alarms over scenario days."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lab.monitoring.methods import METHODS
from lab.monitoring.results import EvaluationResult


def plot_evaluation(result: EvaluationResult, path: str | Path) -> Path:
    """Draw every episode's scores and alarms over scenario days, onset marked, as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    path = Path(path)
    episodes = result.episodes
    cols = 3
    rows = math.ceil(len(episodes) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 2.3 * rows), squeeze=False)
    mon = result.monitored
    pred = mon["prediction"]
    perf = mon["performance"]
    p_value = pred is not None and METHODS[pred["method"]].direction == "p_value"
    for ax, ep in zip(axes.flat, episodes):
        x = [w.last_day for w in ep.windows]
        ax.plot(x, [w.drift_share for w in ep.windows], color="tab:blue", lw=1.2, label="drifted share of columns")
        ax.axhline(mon["dataset_drift_share"], color="tab:blue", ls=":", lw=0.8)
        perf_y = [np.nan if w.performance_value is None else w.performance_value for w in ep.windows]
        ax.plot(x, perf_y, color="tab:green", lw=1.2, label=f"{perf['metric'] if perf else 'roc_auc'} (labels {result.label_lag_windows} windows late)")
        if perf and perf["reference_value"] is not None:
            floors = [v for v in (perf["min"], None if perf["max_drop"] is None else perf["reference_value"] - perf["max_drop"]) if v is not None]
            if floors:
                ax.axhline(max(floors), color="tab:green", ls=":", lw=0.8)
        ax.set_ylim(-0.05, 1.05)
        if pred is not None:
            ax2 = ax.twinx()
            score = [np.nan if w.prediction_score is None else w.prediction_score for w in ep.windows]
            if p_value:
                score = [max(v, 1e-300) for v in score]
                ax2.set_yscale("log")
            ax2.plot(x, score, color="tab:orange", lw=1.0, label=f"prediction {pred['method']} score")
            ax2.axhline(pred["threshold"], color="tab:orange", ls=":", lw=0.8)
            ax2.tick_params(axis="y", labelsize=6, colors="tab:orange")
        alarms = [w.last_day for w in ep.windows if w.alarm]
        ax.scatter(alarms, [1.0] * len(alarms), marker="v", color="red", s=14, zorder=5, label="alarm")
        if ep.onset_day is not None:
            ax.axvline(ep.onset_day, color="black", lw=1.0)
            end = ep.onset_day + (result.max_delay_windows + 1) * result.window_size / result.rows_per_day
            ax.axvspan(ep.onset_day, end, color="grey", alpha=0.12)
        status = "no drift" if ep.kind == "none" else ("detected" if ep.detected else "missed")
        if ep.detected:
            status += f" after {ep.delay_windows} windows"
        what = ep.id + (f" [{', '.join(ep.features)}]" if ep.features else "")
        ax.set_title(f"{what}: {status}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("scenario day", fontsize=6)
    for ax in list(axes.flat)[len(episodes):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if pred is not None:
        h2, l2 = axes.flat[0].figure.axes[-1].get_legend_handles_labels()  # the last twin axis
        handles, labels = handles + h2, labels + l2
    height = fig.get_figheight()
    fig.suptitle(
        f"{result.config} on {result.scenario} (seed {result.seed}), {result.window_size}-row windows: "
        "black line = onset, grey = detection budget, dotted = thresholds (prediction score on the right axis)",
        fontsize=9, y=1 - 0.12 / height,
    )
    fig.legend(handles, labels, loc="upper center", ncol=5, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1 - 0.35 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / height))
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)
    return path

