"""What a replay measured: windows, episodes, per-kind summaries and the fixed baselines."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from lab.core.frozen import Frozen
from lab.monitoring.pinning import ResolvedConfig
from lab.monitoring.suite import DRIFT_KINDS, SIGNALS, DriftKind, Signal


class WindowRecord(Frozen):
    """One replayed window: its scores, the three signals and whether it alarmed."""

    index: int
    first_day: float  # scenario day of its first row (rows / rows_per_day)
    last_day: float  # ... and of the end of its last row
    drifted: bool  # on or after the episode's onset
    drift_share: float
    drifted_columns: list[str]
    prediction_score: float | None
    performance_value: float | None  # the metric on window index - lag, whose labels have arrived
    signals: list[Signal]  # the signals that fired
    alarm: bool


class Episode(Frozen):
    """One replayed stream with a known drift episode (or none)."""

    id: str
    kind: DriftKind
    magnitude: float | None
    features: list[str]  # data drift only
    stream_id: int
    onset_window: int | None
    onset_day: float | None
    windows_planned: int
    windows_replayed: int  # a drift episode stops at its first hit
    detected: bool
    detection_window: int | None
    delay_windows: int | None
    delay_days: float | None
    signals: list[Signal]  # the signals that fired at the detection window
    no_drift_windows: int
    false_alarms: int
    windows: list[WindowRecord]


class MagnitudeSummary(Frozen):
    magnitude: float
    episodes: int
    detected: int
    detection_rate: float


class Summary(Frozen):
    """Detection figures for one drift kind, and false-alarm figures on its no-drift windows."""

    kind: str  # data, concept, label, none (no-drift streams), all (every no-drift window)
    episodes: int
    detected: int | None
    detection_rate: float | None
    chance_detection_rate: float | None  # random alarms at the pooled false-positive rate
    mean_delay_windows: float | None
    mean_delay_days: float | None
    by_magnitude: list[MagnitudeSummary]
    signals: dict[str, int]  # detections in which each signal fired
    no_drift_windows: int
    false_alarms: int
    false_positive_rate: float | None
    false_alarms_per_1k_rows: float | None
    mtbfa_windows: float | None  # mean time between false alarms; None when there were none
    mtbfa_days: float | None


class Baseline(Frozen):
    name: Literal["do_nothing", "always_alarm"]
    detection_rate: float
    mean_delay_windows: float | None
    mean_delay_days: float | None
    false_positive_rate: float
    false_alarms_per_1k_rows: float
    mtbfa_windows: float | None
    mtbfa_days: float | None


class EvaluationResult(Frozen):
    """Everything :func:`evaluate` measured; deterministic for the same config, scenario and seed."""

    config: str
    scenario: str
    seed: int
    window_size: int
    rows_per_day: int
    label_delay_days: float
    label_lag_windows: int
    max_delay_windows: int
    max_delay_days: float
    consecutive_windows: int
    reference_rows: int
    monitored: dict[str, Any]  # the pinned tests: columns, prediction, performance
    summaries: dict[str, Summary]
    baselines: list[Baseline]
    no_drift_signal_rates: dict[str, float]  # share of no-drift windows on which each signal fired
    column_flag_rates: dict[str, float]  # share of no-drift windows on which each column drifted
    episodes: list[Episode]
    diagnostics: list[str]

    def to_dict(self, windows: bool = True) -> dict[str, Any]:
        """Plain JSON-ready data; ``windows=False`` leaves out the per-window records."""
        out = self.model_dump(mode="json")
        if not windows:
            for ep in out["episodes"]:
                ep.pop("windows")
        return out


# --------------------------------------------------------------------------- figures


def _false_alarm_figures(episodes: list[Episode], size: int, rpd: int) -> dict[str, Any]:
    windows = sum(e.no_drift_windows for e in episodes)
    alarms = sum(e.false_alarms for e in episodes)
    mtbfa = windows / alarms if alarms else None
    return dict(
        no_drift_windows=windows,
        false_alarms=alarms,
        false_positive_rate=alarms / windows if windows else None,
        false_alarms_per_1k_rows=1000 * alarms / (windows * size) if windows else None,
        mtbfa_windows=mtbfa,
        mtbfa_days=None if mtbfa is None else mtbfa * size / rpd,
    )


def _summary(kind: str, episodes: list[Episode], size: int, rpd: int, fp: float, max_delay: int) -> Summary:
    drift = [e for e in episodes if e.kind != "none"] if kind != "none" else []
    hits = [e for e in drift if e.detected]
    by_m: dict[float, list[Episode]] = {}
    for e in drift:
        by_m.setdefault(e.magnitude, []).append(e)  # type: ignore[arg-type]
    has_drift = kind in DRIFT_KINDS
    figures = _false_alarm_figures(episodes, size, rpd)
    return Summary(
        kind=kind,
        episodes=len(episodes),
        detected=len(hits) if has_drift else None,
        detection_rate=len(hits) / len(drift) if has_drift and drift else None,
        chance_detection_rate=1 - (1 - fp) ** (max_delay + 1) if has_drift else None,
        mean_delay_windows=float(np.mean([e.delay_windows for e in hits])) if hits else None,
        mean_delay_days=float(np.mean([e.delay_days for e in hits])) if hits else None,
        by_magnitude=[
            MagnitudeSummary(
                magnitude=m, episodes=len(es), detected=sum(e.detected for e in es),
                detection_rate=sum(e.detected for e in es) / len(es),
            )
            for m, es in sorted(by_m.items())
        ] if has_drift else [],
        signals={s: sum(s in e.signals for e in hits) for s in SIGNALS},
        **figures,
    )


def _baselines(size: int, rpd: int) -> list[Baseline]:
    return [
        Baseline(
            name="do_nothing", detection_rate=0.0, mean_delay_windows=None, mean_delay_days=None,
            false_positive_rate=0.0, false_alarms_per_1k_rows=0.0, mtbfa_windows=None, mtbfa_days=None,
        ),
        Baseline(
            name="always_alarm", detection_rate=1.0, mean_delay_windows=0.0, mean_delay_days=size / rpd,
            false_positive_rate=1.0, false_alarms_per_1k_rows=1000 / size, mtbfa_windows=1.0, mtbfa_days=size / rpd,
        ),
    ]


def _monitored(resolved: ResolvedConfig, reference_value: float | None) -> dict[str, Any]:
    def pin(p: Any) -> dict[str, Any]:
        return {"method": p.method, "threshold": p.threshold, "drift_when": f"score {p.comparison} threshold", "source": p.source}

    perf = resolved.performance
    return {
        "columns": {name: pin(p) for name, p in resolved.columns.items()},
        "dataset_drift_share": resolved.dataset_drift_share,
        "prediction": pin(resolved.prediction) if resolved.prediction else None,
        "performance": None
        if perf is None
        else {"metric": perf.metric, "min": perf.min, "max_drop": perf.max_drop, "reference_value": reference_value},
    }


