"""Replay a ``monitoring.yaml`` over streams with known drift episodes and score its thresholds.

For a scenario and a seed the evaluator trains the scenario's champion (as ``lab up``
does: :func:`lab.models.build_pipeline` on its ``train_days``), takes the scenario's
``reference_days`` with the champion's probability in a ``prediction`` column as the
reference, and replays a fixed suite of seeded episodes (:class:`SuiteSpec`) whatever
the scenario's own drift type, so a config is scored on every kind of drift:

* ``none``: streams with no drift at all;
* ``data``: 1 to 3 of the generator's features shift by 0.25, 0.5 or 1.0 reference
  standard deviations (categorical shares tilt by the same amount);
* ``concept``: the labelling rule moves towards the generator's drifted rule, weight
  0.4, 0.7 or 1.0;
* ``label``: the positive rate rises by 0.05, 0.10 or 0.15.

Each episode is its own :class:`lab.drift.Stream` (``stream_id`` 1000 + its index),
drift is abrupt and starts exactly on a window boundary, the onset window drawn from
``onset_windows``. Windows hold ``window.size`` rows (500 when the config omits it) at
the scenario's ``rows_per_day``.

Per window (:func:`lab.monitoring.window_drift`, the fast path): three signals,
``data`` (Evidently's dataset drift: the share of drifted feature columns reaches
``dataset_drift_share``), ``prediction`` (drift of the champion's scores; the column is
always monitored, by Evidently's default test when the config has no
``prediction_drift``) and ``performance`` (the ``performance`` check, only when
configured). Labels arrive ``label_delay_days`` late, so at window ``i`` the
performance check reads window ``i - lag`` with ``lag = ceil(label_delay_days x
rows_per_day / window_size)`` (:func:`label_lag_windows`); the replay starts ``lag``
windows after deployment, so every window has a labelled window to check. A window
*breaches* when any signal fires; it *alarms* when it and the ``consecutive_windows - 1``
windows before it all breached.

Metrics (river's drift evaluation, see ``/work/shared/reference/drift.md``):

* a *hit* is an alarm in ``[onset, onset + max_delay]`` windows, with ``max_delay =
  lag + ceil(grace_days x rows_per_day / window_size)`` (:func:`max_delay_windows`;
  2 grace days), so label-based detection has a fair chance; an episode ends there
  (and at its first hit: nothing after it changes a figure);
* detection rate = detected episodes / episodes; mean delay = mean(first hit - onset)
  in windows, and in scenario days from the onset until the alarm window closes
  (``(delay + 1) x window_size / rows_per_day``);
* every alarm on a window before an onset or in a no-drift stream is a false alarm:
  false-positive rate per no-drift window, false alarms per 1,000 rows, and the mean
  time between false alarms (no-drift windows / false alarms; ``None`` when none);
* beside them, the do-nothing and always-alarm baselines, and the detection rate an
  alarm drawn at random at the config's own false-positive rate would reach
  (``1 - (1 - fp)^(max_delay + 1)``): an always-alarming config must not look good.

The default suite has 18 drift episodes and 2 no-drift streams: at most ~360 windows of
500 rows (a config that never fires replays them all; an episode stops at its first hit).
Measured on a shared 2-core machine under load (load average 2-4): 13-19 s per
config, including ~2 s to train the champion and draw the streams (both cached per
process); ~35-60 ms per window for ~10 monitored columns against a 20,000-row
reference. Smaller windows and longer label delays mean more windows.

>>> label_lag_windows(label_delay_days=5, rows_per_day=800, window_size=500)
8
>>> max_delay_windows(label_delay_days=5, rows_per_day=800, window_size=500)
12
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from lab.drift import Stream
from lab.generators import generator_class
from lab.monitoring import _yaml
from lab.monitoring.config import (
    ConfigError,
    MonitoringConfig,
    Problem,
    ResolvedConfig,
    _dotted,
    _line,
    _read,
    load_monitoring_config,
    resolve,
    semantic_problems,
)
from lab.monitoring.fastdrift import window_drift
from lab.monitoring.methods import METHODS, ColumnKind
from lab.monitoring.performance import check_performance, metric_value
from lab.scenario import ConceptDriftEvent, DataDriftEvent, LabelDriftEvent, Scenario, load_scenario
from lab.scenario import resolve as resolve_scenario

DEFAULT_WINDOW_SIZE = 500
PREDICTION = "prediction"
LABEL = "label"
EVAL_STREAM_BASE = 1000  # the live stream is 0; episode k replays stream 1000 + k
_SUITE_KEY = 7_310  # seeds the suite's layout (onsets, features), apart from every stream

DriftKind = Literal["none", "data", "concept", "label"]
Signal = Literal["data", "prediction", "performance"]
DRIFT_KINDS: tuple[DriftKind, ...] = ("data", "concept", "label")
SIGNALS: tuple[Signal, ...] = ("data", "prediction", "performance")


# --------------------------------------------------------------------------- geometry


def label_lag_windows(label_delay_days: float, rows_per_day: int, window_size: int) -> int:
    """Windows between a window closing and all of its labels having arrived."""
    return int(math.ceil(label_delay_days * rows_per_day / window_size - 1e-9))


def max_delay_windows(
    label_delay_days: float, rows_per_day: int, window_size: int, grace_days: float = 2.0
) -> int:
    """The detection budget: the label lag plus ``grace_days`` (at least one window)."""
    grace = max(1, int(math.ceil(grace_days * rows_per_day / window_size - 1e-9)))
    return label_lag_windows(label_delay_days, rows_per_day, window_size) + grace


@dataclass(frozen=True)
class SuiteSpec:
    """The episodes a config is replayed on. The defaults are the suite graders use."""

    data_magnitudes: tuple[float, ...] = (0.25, 0.5, 1.0)
    concept_magnitudes: tuple[float, ...] = (0.4, 0.7, 1.0)
    label_magnitudes: tuple[float, ...] = (0.05, 0.10, 0.15)
    episodes_per_magnitude: int = 2
    no_drift_streams: int = 2
    onset_windows: tuple[int, int] = (3, 6)  # the onset window is drawn from this range, both ends included
    data_features: tuple[int, int] = (1, 3)  # how many features a data-drift episode moves, both ends included
    grace_days: float = 2.0


# --------------------------------------------------------------------------- results


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowRecord(_Frozen):
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


class Episode(_Frozen):
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


class MagnitudeSummary(_Frozen):
    magnitude: float
    episodes: int
    detected: int
    detection_rate: float


class Summary(_Frozen):
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


class Baseline(_Frozen):
    name: Literal["do_nothing", "always_alarm"]
    detection_rate: float
    mean_delay_windows: float | None
    mean_delay_days: float | None
    false_positive_rate: float
    false_alarms_per_1k_rows: float
    mtbfa_windows: float | None
    mtbfa_days: float | None


class EvaluationResult(_Frozen):
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


# --------------------------------------------------------------------------- the scenario's replay inputs


@dataclass(frozen=True)
class Replay:
    """A scenario's champion, its reference window (with ``prediction``) and monitored columns."""

    scenario: Scenario
    seed: int
    model: Any  # a fitted sklearn Pipeline
    features: list[str]
    kinds: dict[str, ColumnKind]
    reference: pd.DataFrame


_REPLAYS: dict[tuple[str, int], Replay] = {}
_SUITES: dict[tuple[str, int, int, SuiteSpec], list["_EpisodeData"]] = {}
_MAX_SUITES = 8


def clear_cache() -> None:
    """Forget the trained champions and replay streams this process has built."""
    _REPLAYS.clear()
    _SUITES.clear()


def _scenario(scenario: Scenario | str, seed: int) -> Scenario:
    _check_seed(seed)
    base = load_scenario(scenario) if isinstance(scenario, str) else scenario
    return resolve_scenario(base, seed)[0]  # idempotent on a resolved scenario


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in 0..4294967295, got {seed!r}")


def column_kinds(scenario: Scenario) -> dict[str, ColumnKind]:
    """The monitored columns: the generator's model inputs (sensitive attributes are not monitored)."""
    return {f.name: f.kind for f in generator_class(scenario.generator.name).features}


def reference_rows(scenario: Scenario) -> int:
    first, last = scenario.reference_days
    return (last - first) * scenario.traffic.rows_per_day


def replay_inputs(scenario: Scenario | str, seed: int = 0) -> Replay:
    """Train the champion on its ``train_days`` and score the reference window (cached per process)."""
    from lab.data import days_frame
    from lab.models import build_pipeline

    sc = _scenario(scenario, seed)
    key = (sc.model_dump_json(), int(seed))
    if key not in _REPLAYS:
        gen = generator_class(sc.generator.name)
        features = gen.feature_names()
        spec = next(v for v in sc.model.versions if v.role == "champion")
        train = days_frame(sc, seed, spec.train_days)
        model = build_pipeline(gen, spec.estimator, dict(spec.params))
        model.fit(train[features], train[LABEL])
        reference = days_frame(sc, seed, sc.reference_days)
        reference[PREDICTION] = model.predict_proba(reference[features])[:, 1]
        _REPLAYS[key] = Replay(sc, int(seed), model, features, column_kinds(sc), reference)
    return _REPLAYS[key]


# --------------------------------------------------------------------------- config validation


def validate_config(
    path_or_text: str | Path | MonitoringConfig, scenario: Scenario | str, seed: int = 0
) -> MonitoringConfig:
    """Load a config and check it against the scenario before anything runs.

    Checks the schema and methods (:func:`load_monitoring_config`) with the scenario's
    feature columns and its reference rows, and what only the replay knows: the
    prediction column is ``prediction`` (numeric probabilities) and labels are ``label``.
    Raises one :class:`ConfigError` listing every problem found, with lines.
    """
    sc = _scenario(scenario, seed)
    kinds = column_kinds(sc)
    rows = reference_rows(sc)
    problems: list[Problem] = []
    if isinstance(path_or_text, MonitoringConfig):
        config: MonitoringConfig | None = path_or_text
        src, lines = path_or_text._source, path_or_text._lines
        raw: Any = path_or_text.model_dump(exclude_unset=True)
        found = semantic_problems(raw, kinds, rows)
    else:
        try:
            config = load_monitoring_config(path_or_text, columns=kinds, data_rows=rows)
        except ConfigError as exc:
            config, problems = None, list(exc.problems)
        try:
            text, src = _read(path_or_text)
            doc = _yaml.parse(text)
        except (ConfigError, _yaml.YamlProblem):
            raise ConfigError(problems, problems[0].source) from None  # unreadable: the loader said why
        raw, lines, found = doc.data, doc.lines, []
    found += _replay_problems(raw)
    for loc, msg in found:
        if all(p.loc != _dotted(loc) for p in problems):  # the loader may have said it already
            problems.append(Problem(_dotted(loc), _line(lines, loc), msg, src))
    if problems:
        raise ConfigError(problems, src)
    assert config is not None
    return config


def _replay_problems(raw: Any) -> list[tuple[tuple[str, ...], str]]:
    """Columns the replay fixes: scores in ``prediction`` (numeric), labels in ``label``."""
    out: list[tuple[tuple[str, ...], str]] = []
    if not isinstance(raw, Mapping):
        return out
    pdrift = raw.get("prediction_drift")
    if isinstance(pdrift, Mapping):
        column = pdrift.get("column", PREDICTION)
        if column != PREDICTION:
            out.append((("prediction_drift", "column"), f"the replay's prediction column is {PREDICTION!r}, not {column!r}"))
        else:
            out += semantic_problems({"prediction_drift": dict(pdrift)}, {PREDICTION: "numeric"})
    perf = raw.get("performance")
    if isinstance(perf, Mapping):
        for key, want, what in (("label_column", LABEL, "labels"), ("score_column", PREDICTION, "scores")):
            if perf.get(key, want) != want:
                out.append((("performance", key), f"the replay's {what} are in {want!r}, not {perf.get(key)!r}"))
    return out


# --------------------------------------------------------------------------- the suite


@dataclass(frozen=True)
class _EpisodeData:
    id: str
    kind: DriftKind
    magnitude: float | None
    features: tuple[str, ...]
    stream_id: int
    onset_window: int | None
    onset_day: float | None
    n_windows: int
    offset: int  # rows dropped before the first (history) window, so the onset starts a window
    frame: pd.DataFrame  # features, label, prediction: lag history windows, then n_windows windows


def _plan(sc: Scenario, seed: int, spec: SuiteSpec) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, _SUITE_KEY])
    features = generator_class(sc.generator.name).feature_names()
    lo_k, hi_k = spec.data_features
    lo_s, hi_s = spec.onset_windows
    plans: list[dict[str, Any]] = []
    groups = (("data", spec.data_magnitudes), ("concept", spec.concept_magnitudes), ("label", spec.label_magnitudes))
    for kind, magnitudes in groups:
        for m in magnitudes:
            for rep in range(spec.episodes_per_magnitude):
                chosen: tuple[str, ...] = ()
                if kind == "data":
                    k = int(rng.integers(lo_k, min(hi_k, len(features)) + 1))
                    chosen = tuple(str(f) for f in rng.choice(features, size=k, replace=False))
                onset = int(rng.integers(lo_s, hi_s + 1))
                plans.append(dict(id=f"{kind}-{m:g}-{rep + 1}", kind=kind, magnitude=float(m), features=chosen, onset=onset))
    for rep in range(spec.no_drift_streams):
        plans.append(dict(id=f"none-{rep + 1}", kind="none", magnitude=None, features=(), onset=None))
    return plans


def _suite(replay: Replay, size: int, spec: SuiteSpec) -> list[_EpisodeData]:
    sc = replay.scenario
    key = (sc.model_dump_json(), replay.seed, size, spec)
    if key in _SUITES:
        return _SUITES[key]
    rpd = sc.traffic.rows_per_day
    lag = label_lag_windows(sc.timeline.label_delay_days, rpd, size)
    max_delay = max_delay_windows(sc.timeline.label_delay_days, rpd, size, spec.grace_days)
    generator = generator_class(sc.generator.name)(**sc.generator.params)
    prior = Stream(generator).reference.prior
    episodes = []
    for index, plan in enumerate(_plan(sc, replay.seed, spec)):
        onset = plan["onset"]
        if onset is None:  # as long as the longest drift episode
            n_windows, offset, onset_day, events = spec.onset_windows[1] + max_delay + 1, 0, None, []
        else:
            n_windows = onset + max_delay + 1
            start_row = (lag + onset) * size  # the onset row, counted from the first history row
            onset_day = int(math.ceil(start_row / rpd))
            offset = onset_day * rpd - start_row
            events = [_event(plan, float(onset_day), prior)]
        stream = Stream(generator, events, replay.seed, stream_id=EVAL_STREAM_BASE + index)
        rows = offset + (lag + n_windows) * size
        days = int(math.ceil(rows / rpd))
        frame = pd.concat([stream.day(d, rpd) for d in range(days)], ignore_index=True).iloc[offset:rows]
        frame = frame[[*replay.features, LABEL]].reset_index(drop=True)
        frame[PREDICTION] = replay.model.predict_proba(frame[replay.features])[:, 1]
        episodes.append(
            _EpisodeData(
                id=plan["id"],
                kind=plan["kind"],
                magnitude=plan["magnitude"],
                features=plan["features"],
                stream_id=EVAL_STREAM_BASE + index,
                onset_window=onset,
                onset_day=None if onset_day is None else float(onset_day),
                n_windows=n_windows,
                offset=offset,
                frame=frame,
            )
        )
    while len(_SUITES) >= _MAX_SUITES:
        _SUITES.pop(next(iter(_SUITES)))
    _SUITES[key] = episodes
    return episodes


def _event(plan: Mapping[str, Any], day: float, prior: float) -> DataDriftEvent | ConceptDriftEvent | LabelDriftEvent:
    m = plan["magnitude"]
    if plan["kind"] == "data":
        return DataDriftEvent(name="replay", type="data_drift", day=day, features=list(plan["features"]), magnitude=m)
    if plan["kind"] == "concept":
        return ConceptDriftEvent(name="replay", type="concept_drift", day=day, magnitude=m)
    if prior + m >= 0.98:  # a generator with a very high base rate: drift the other way
        m = -m
    return LabelDriftEvent(name="replay", type="label_drift", day=day, magnitude=m)


# --------------------------------------------------------------------------- replay


def _replay_episode(
    ep: _EpisodeData,
    reference: pd.DataFrame,
    resolved: ResolvedConfig,
    size: int,
    lag: int,
    rpd: int,
    reference_value: float | None,
    column_hits: dict[str, int],
    decision_threshold: float,
) -> Episode:
    perf = resolved.performance
    k = resolved.alerting.consecutive_windows
    frame = ep.frame
    labels = frame[LABEL].to_numpy(dtype=float)
    scores = frame[PREDICTION].to_numpy(dtype=float)
    records: list[WindowRecord] = []
    run = 0
    detection: int | None = None
    false_alarms = 0
    for i in range(ep.n_windows):
        a = (lag + i) * size  # row of window i; rows before lag * size are history
        result = window_drift(reference, frame.iloc[a : a + size], resolved)
        fired: list[Signal] = []
        if result.dataset_drift:
            fired.append("data")
        if result.prediction is not None and result.prediction.drifted:
            fired.append("prediction")
        b = i * size  # the window whose labels have just arrived (i - lag)
        y, s = labels[b : b + size], scores[b : b + size]
        if perf is not None and reference_value is not None:
            check = check_performance(y, s, perf, reference_value, decision_threshold)
            value = check.value
            if check.alarm:
                fired.append("performance")
        else:  # not a signal: shown in plots only
            value = _roc_auc(y, s)
        run = run + 1 if fired else 0
        alarm = run >= k
        drifted = ep.onset_window is not None and i >= ep.onset_window
        if not drifted:
            false_alarms += alarm
            for name, col in result.columns.items():
                column_hits[name] += col.drifted
            for sig in fired:
                column_hits[f"\0{sig}"] += 1
        first = (ep.offset + a) / rpd
        records.append(
            WindowRecord(
                index=i,
                first_day=round(first, 6),
                last_day=round(first + size / rpd, 6),
                drifted=drifted,
                drift_share=result.drift_share,
                drifted_columns=[n for n, c in result.columns.items() if c.drifted],
                prediction_score=None if result.prediction is None else result.prediction.score,
                performance_value=value,
                signals=fired,
                alarm=alarm,
            )
        )
        if alarm and drifted:
            detection = i
            break
    onset = ep.onset_window
    delay = None if detection is None or onset is None else detection - onset
    return Episode(
        id=ep.id,
        kind=ep.kind,
        magnitude=ep.magnitude,
        features=list(ep.features),
        stream_id=ep.stream_id,
        onset_window=onset,
        onset_day=ep.onset_day,
        windows_planned=ep.n_windows,
        windows_replayed=len(records),
        detected=detection is not None,
        detection_window=detection,
        delay_windows=delay,
        delay_days=None if delay is None else round((delay + 1) * size / rpd, 6),
        signals=list(records[detection].signals) if detection is not None else [],
        no_drift_windows=sum(not r.drifted for r in records),
        false_alarms=false_alarms,
        windows=records,
    )


def _roc_auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """ROC AUC by the rank-sum formula: sklearn's value, without its per-call validation (~6 ms)."""
    from scipy.stats import rankdata

    pos = y == 1
    n1 = int(pos.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    return float((rankdata(s)[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate(
    config: MonitoringConfig | str | Path,
    scenario: Scenario | str,
    seed: int = 0,
    *,
    suite: SuiteSpec | None = None,
) -> EvaluationResult:
    """Replay ``config`` over the suite of ``scenario`` and ``seed``; see the module docstring.

    ``config`` is a loaded :class:`MonitoringConfig`, a path or YAML text; ``scenario``
    a :class:`Scenario` or an id or path (resolved with ``seed`` either way). Raises
    :class:`ConfigError` when the config does not fit the scenario.
    """
    spec = suite or SuiteSpec()
    config = validate_config(config, scenario, seed)
    replay = replay_inputs(scenario, seed)
    sc = replay.scenario
    resolved = resolve(config, replay.reference, replay.kinds)
    size = config.window.size if config.window else DEFAULT_WINDOW_SIZE
    rpd = sc.traffic.rows_per_day
    threshold = sc.model.decision_threshold.value  # label metrics decide where the business does
    delay_days = sc.timeline.label_delay_days
    lag = label_lag_windows(delay_days, rpd, size)
    max_delay = max_delay_windows(delay_days, rpd, size, spec.grace_days)
    reference_value = None
    if resolved.performance is not None:
        reference_value = metric_value(
            resolved.performance.metric, replay.reference[LABEL].to_numpy(), replay.reference[PREDICTION].to_numpy(), threshold
        )
    counts = {name: 0 for name in resolved.columns} | {f"\0{s}": 0 for s in SIGNALS}
    with _one_blas_thread():
        episodes = [
            _replay_episode(ep, replay.reference, resolved, size, lag, rpd, reference_value, counts, threshold)
            for ep in _suite(replay, size, spec)
        ]
    windows = sum(e.no_drift_windows for e in episodes)
    rates = {name: (counts[name] / windows if windows else 0.0) for name in resolved.columns}
    signal_rates = {s: (counts[f"\0{s}"] / windows if windows else 0.0) for s in SIGNALS}

    pooled = _false_alarm_figures(episodes, size, rpd)
    fp = pooled["false_positive_rate"] or 0.0
    summaries = {kind: _summary(kind, [e for e in episodes if e.kind == kind], size, rpd, fp, max_delay) for kind in DRIFT_KINDS}
    summaries["none"] = _summary("none", [e for e in episodes if e.kind == "none"], size, rpd, fp, max_delay)
    summaries["all"] = _summary("all", episodes, size, rpd, fp, max_delay)
    result = EvaluationResult(
        config=config._source,
        scenario=sc.id,
        seed=int(seed),
        window_size=size,
        rows_per_day=rpd,
        label_delay_days=delay_days,
        label_lag_windows=lag,
        max_delay_windows=max_delay,
        max_delay_days=round((max_delay + 1) * size / rpd, 6),
        consecutive_windows=resolved.alerting.consecutive_windows,
        reference_rows=len(replay.reference),
        monitored=_monitored(resolved, reference_value),
        summaries=summaries,
        baselines=_baselines(size, rpd),
        no_drift_signal_rates=signal_rates,
        column_flag_rates=rates,
        episodes=episodes,
        diagnostics=[],
    )
    return result.model_copy(update={"diagnostics": diagnose(result)})


def _one_blas_thread() -> AbstractContextManager[Any]:
    """One BLAS thread while replaying: scipy's Wasserstein ends in a 25,000-element ``np.vecdot``
    that multi-threaded OpenBLAS makes ~1,000x slower on a busy 2-core machine (6 ms instead
    of 5 us), which was most of a replay's time. threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


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


# --------------------------------------------------------------------------- diagnostics

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


# --------------------------------------------------------------------------- plot


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


__all__ = [
    "Baseline",
    "DEFAULT_WINDOW_SIZE",
    "Episode",
    "EvaluationResult",
    "MagnitudeSummary",
    "Replay",
    "SuiteSpec",
    "Summary",
    "WindowRecord",
    "clear_cache",
    "column_kinds",
    "diagnose",
    "evaluate",
    "label_lag_windows",
    "max_delay_windows",
    "plot_evaluation",
    "reference_rows",
    "replay_inputs",
    "validate_config",
]
