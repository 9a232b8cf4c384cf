"""Replaying a config: check it against the scenario, then judge an episode window by window."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.core import safe_yaml as _yaml
from lab.core.stats import roc_auc
from lab.monitoring.config import ConfigError, load_monitoring_config, read_config_text
from lab.monitoring.config_schema import MonitoringConfig, Problem, dotted, line_at, semantic_problems
from lab.monitoring.pinning import ResolvedConfig
from lab.monitoring.fastdrift import window_drift
from lab.monitoring.performance import check_performance
from lab.monitoring.results import Episode, WindowRecord
from lab.monitoring.suite import LABEL, PREDICTION, Signal, _EpisodeData, _scenario, column_kinds, reference_rows
from lab.scenario.schema import Scenario


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
            kpis = [k.name for k in sc.business.kpis] if sc.business else []
            config = load_monitoring_config(path_or_text, columns=kinds, data_rows=rows, kpis=kpis)
        except ConfigError as exc:
            config, problems = None, list(exc.problems)
        try:
            text, src = read_config_text(path_or_text)
            doc = _yaml.parse(text)
        except (ConfigError, _yaml.YamlProblem):
            raise ConfigError(problems, problems[0].source) from None  # unreadable: the loader said why
        raw, lines, found = doc.data, doc.lines, []
    found += _replay_problems(raw)
    for loc, msg in found:
        if all(p.loc != dotted(loc) for p in problems):  # the loader may have said it already
            problems.append(Problem(dotted(loc), line_at(lines, loc), msg, src))
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
            value = roc_auc(y, s)
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


def _one_blas_thread() -> AbstractContextManager[Any]:
    """One BLAS thread while replaying: scipy's Wasserstein ends in a 25,000-element ``np.vecdot``
    that multi-threaded OpenBLAS makes ~1,000x slower on a busy 2-core machine (6 ms instead
    of 5 us), which was most of a replay's time. threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


