"""Replay a ``monitoring.yaml`` over streams with known drift episodes and score its thresholds.

For a scenario and a seed the evaluator trains the scenario's champion (as ``lab up``
does: :func:`lab.scenario.models.build_pipeline` on its ``train_days``), takes the scenario's
``reference_days`` with the champion's probability in a ``prediction`` column as the
reference, and replays a fixed suite of seeded episodes (:class:`SuiteSpec`) whatever
the scenario's own drift type, so a config is scored on every kind of drift:

* ``none``: streams with no drift at all;
* ``data``: 1 to 3 of the generator's features shift by 0.25, 0.5 or 1.0 reference
  standard deviations (categorical shares tilt by the same amount);
* ``concept``: the labelling rule moves towards the generator's drifted rule, weight
  0.4, 0.7 or 1.0;
* ``label``: the positive rate rises by 0.05, 0.10 or 0.15.

Each episode is its own :class:`lab.scenario.drift.Stream` (``stream_id`` 1000 + its index),
drift is abrupt and starts exactly on a window boundary; within a kind, onsets (drawn
from ``onset_windows``) and data drift's moved features are spread evenly (a seeded,
stratified layout). Windows hold ``window.size`` rows (500 when the config omits it).

The replay runs at the **live rate** by default: ``rows_per_day`` is what the live
traffic sends per scenario day, ``requests_per_second x batch_size x speed``
(:func:`live_rows_per_day`, ``speed`` 60 s per day as ``lab up``), not the scenario's
``traffic.rows_per_day`` (the size of a day's data; live traffic sends its first rows).
So a window of N rows, the label lag and the detection budget span the same scenario
days in the replay as in the live monitor (:mod:`lab.monitoring.runner`).

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

Metrics (the stream metrics of river's drift evaluation, CapyMOA and CD-MOA; Bifet et al. 2013):

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

The default suite has 18 drift episodes and 2 no-drift streams: at the live rate (240
rows per day in every scenario) and 500-row windows, at most ~200 windows (a config that
never fires replays them all; an episode stops at its first hit). Measured on a shared
2-core machine: about 3-6 s per config, plus ~2 s to train the champion and draw the
streams (both cached per process); ~35-60 ms per window for ~10 monitored columns
against a 20,000-row reference. Smaller windows and longer label delays mean more windows.

>>> label_lag_windows(label_delay_days=5, rows_per_day=240, window_size=500)
3
>>> max_delay_windows(label_delay_days=5, rows_per_day=240, window_size=500)
4
"""

from __future__ import annotations

from pathlib import Path

from lab.monitoring.config import MonitoringConfig, resolve
from lab.monitoring.diagnosis import diagnose
from lab.monitoring.parallel import fork_map
from lab.monitoring.performance import metric_value
from lab.monitoring.plot import plot_evaluation
from lab.monitoring.replay import _one_blas_thread, _replay_episode, validate_config
from lab.monitoring.results import (
    Baseline,
    Episode,
    EvaluationResult,
    MagnitudeSummary,
    Summary,
    WindowRecord,
    _baselines,
    _false_alarm_figures,
    _monitored,
    _summary,
)
from lab.monitoring.suite import (
    DEFAULT_SPEED,
    DEFAULT_WINDOW_SIZE,
    DRIFT_KINDS,
    LABEL,
    PREDICTION,
    SIGNALS,
    Replay,
    SuiteSpec,
    _EpisodeData,
    _scenario,
    _suite,
    clear_cache,
    column_kinds,
    label_lag_windows,
    live_rows_per_day,
    max_delay_windows,
    reference_rows,
    replay_inputs,
)
from lab.scenario.schema import Scenario


def evaluate(
    config: MonitoringConfig | str | Path,
    scenario: Scenario | str,
    seed: int = 0,
    *,
    suite: SuiteSpec | None = None,
    rows_per_day: int | None = None,
    cache_dir: Path | None = None,
) -> EvaluationResult:
    """Replay ``config`` over the suite of ``scenario`` and ``seed``; see the module docstring.

    ``config`` is a loaded :class:`MonitoringConfig`, a path or YAML text; ``scenario``
    a :class:`Scenario` or an id or path (resolved with ``seed`` either way). Raises
    :class:`ConfigError` when the config does not fit the scenario. ``rows_per_day`` is
    the replay's rate; by default the live rate (:func:`live_rows_per_day`), so a window
    of N rows spans the same scenario days as in the live monitor. ``cache_dir`` keeps the
    streams and the champion's scores on disk between processes
    (:func:`lab.monitoring.stream_cache.suite_inputs`).
    """
    from lab.monitoring.stream_cache import suite_inputs

    spec = suite or SuiteSpec()
    config = validate_config(config, scenario, seed)
    sc = _scenario(scenario, seed)
    size = config.window.size if config.window else DEFAULT_WINDOW_SIZE
    rpd = int(rows_per_day) if rows_per_day is not None else live_rows_per_day(sc)
    if rpd < 1:
        raise ValueError(f"rows_per_day must be at least 1, got {rows_per_day!r}")
    reference, kinds, suite_episodes = suite_inputs(sc, int(seed), size, spec, rpd, cache_dir)
    resolved = resolve(config, reference, kinds)
    delay_days = sc.timeline.label_delay_days
    lag = label_lag_windows(delay_days, rpd, size)
    max_delay = max_delay_windows(delay_days, rpd, size, spec.grace_days)
    threshold = sc.model.decision_threshold.value  # label metrics decide where the business does
    reference_value = None
    if resolved.performance is not None:
        reference_value = metric_value(
            resolved.performance.metric, reference[LABEL].to_numpy(), reference[PREDICTION].to_numpy(), threshold,
        )
    counts = {name: 0 for name in resolved.columns} | {f"\0{s}": 0 for s in SIGNALS}

    def replay_one(ep: _EpisodeData) -> tuple[Episode, dict[str, int]]:
        hits = dict.fromkeys(counts, 0)
        return _replay_episode(ep, reference, resolved, size, lag, rpd, reference_value, hits, threshold), hits

    with _one_blas_thread():  # forked workers inherit the limit
        replayed = fork_map(replay_one, suite_episodes)
    episodes = [episode for episode, _ in replayed]
    for _, hits in replayed:
        for name, n in hits.items():
            counts[name] += n
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
        reference_rows=len(reference),
        monitored=_monitored(resolved, reference_value),
        summaries=summaries,
        baselines=_baselines(size, rpd),
        no_drift_signal_rates=signal_rates,
        column_flag_rates=rates,
        episodes=episodes,
        diagnostics=[],
    )
    return result.model_copy(update={"diagnostics": diagnose(result)})


__all__ = [
    "Baseline",
    "DEFAULT_SPEED",
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
    "live_rows_per_day",
    "max_delay_windows",
    "plot_evaluation",
    "reference_rows",
    "replay_inputs",
    "validate_config",
]
