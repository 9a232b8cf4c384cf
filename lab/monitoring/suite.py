"""The replay suite: episodes with known drift, the scenario's champion and reference, and the geometry.

A :class:`SuiteSpec` lists the episodes (kinds, magnitudes, how many of each); the
layout (onsets, drifted features) is drawn from the replay seed; every episode is its
own :class:`lab.scenario.drift.Stream` (``stream_id`` 1000 + its index), drawn at the replay's
rows per day (by default the live rate, :func:`live_rows_per_day`). Champions and
streams are cached per process (:func:`clear_cache`).

>>> label_lag_windows(label_delay_days=5, rows_per_day=240, window_size=500)
3
>>> max_delay_windows(label_delay_days=5, rows_per_day=240, window_size=500)
4
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from lab.scenario.drift import Stream
from lab.scenario.generators import generator_class
from lab.monitoring.methods import ColumnKind
from lab.monitoring.parallel import fork_map
from lab.scenario.schema import ConceptDriftEvent, DataDriftEvent, LabelDriftEvent, Scenario, load_scenario
from lab.scenario.schema import resolve as resolve_scenario
from lab.scenario.data import days_frame

DEFAULT_WINDOW_SIZE = 500
PREDICTION = "prediction"
LABEL = "label"
EVAL_STREAM_BASE = 1000  # the live stream is 0; episode k replays stream 1000 + k
_SUITE_KEY = 7_310  # seeds the suite's layout (onsets, features), apart from every stream
DEFAULT_SPEED = 60.0  # wall-clock seconds per scenario day: the default of `lab up --speed` (lab.stack.control)

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


def live_rows_per_day(scenario: Scenario, speed: float = DEFAULT_SPEED) -> int:
    """Rows the live traffic sends per scenario day: ``requests_per_second x batch_size x speed``.

    The traffic replayer sends one request of ``batch_size`` rows every ``1 /
    requests_per_second`` wall seconds, and a scenario day lasts ``speed`` wall seconds
    (``lab up --speed``, default 60), whatever the scenario's ``rows_per_day`` (the size
    of a day's data, of which live traffic sends the first rows).
    """
    if not speed > 0:
        raise ValueError(f"speed must be positive (wall-clock seconds per scenario day), got {speed!r}")
    t = scenario.traffic
    return max(1, int(round(t.requests_per_second * t.batch_size * speed)))


@dataclass(frozen=True)
class SuiteSpec:
    """The episodes a config is replayed on. The defaults are the suite graders use."""

    data_magnitudes: tuple[float, ...] = (0.25, 0.5, 1.0)
    concept_magnitudes: tuple[float, ...] = (0.4, 0.7, 1.0)
    label_magnitudes: tuple[float, ...] = (0.05, 0.10, 0.15)
    episodes_per_magnitude: int = 2
    no_drift_streams: int = 2
    onset_windows: tuple[int, int] = (2, 5)  # the onset window is drawn from this range, both ends included
    data_features: tuple[int, int] = (1, 3)  # how many features a data-drift episode moves, both ends included
    grace_days: float = 2.0


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
_SUITES: dict[tuple[str, int, int, SuiteSpec, int], list["_EpisodeData"]] = {}
_LOADED: dict[str, tuple[pd.DataFrame, list["_EpisodeData"]]] = {}  # stream_cache: a cache file read, by name (its key)
_MAX_SUITES = 8


def clear_cache() -> None:
    """Forget the trained champions and replay streams this process has built."""
    _REPLAYS.clear()
    _SUITES.clear()
    _LOADED.clear()


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
    sc = _scenario(scenario, seed)
    key = (sc.model_dump_json(), int(seed))
    if key not in _REPLAYS:
        # heavy (scikit-learn, ~3 s): only a replay that trains needs it, not one served from a cache
        from lab.scenario.models import build_pipeline

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


def _balanced(rng: np.random.Generator, values: list[Any], n: int) -> list[Any]:
    """``n`` draws that use every value equally often (to within one), in a seeded order."""
    out: list[Any] = []
    while len(out) < n:
        out += [values[i] for i in rng.permutation(len(values))]
    return out[:n]


def _plan(sc: Scenario, seed: int, spec: SuiteSpec) -> list[dict[str, Any]]:
    """The suite's layout, stratified: within a drift kind, onsets, and for data drift the number
    of moved features and the features themselves, are spread evenly over their ranges (in a
    seeded order), so a handful of episodes is not all early onsets or all one unused feature."""
    rng = np.random.default_rng([seed, _SUITE_KEY])
    features = [str(f) for f in generator_class(sc.generator.name).feature_names()]
    lo_k, hi_k = spec.data_features
    lo_s, hi_s = spec.onset_windows
    plans: list[dict[str, Any]] = []
    groups = (("data", spec.data_magnitudes), ("concept", spec.concept_magnitudes), ("label", spec.label_magnitudes))
    for kind, magnitudes in groups:
        n = len(magnitudes) * spec.episodes_per_magnitude
        onsets = iter(_balanced(rng, list(range(lo_s, hi_s + 1)), n))
        counts = iter(_balanced(rng, list(range(lo_k, min(hi_k, len(features)) + 1)), n))
        pool: list[str] = []
        for m in magnitudes:
            for rep in range(spec.episodes_per_magnitude):
                chosen: list[str] = []
                if kind == "data":
                    k = next(counts)
                    while len(chosen) < k:  # the next unused features of a stream of permutations
                        if not pool:
                            pool = _balanced(rng, features, len(features))
                        f = pool.pop(0)
                        if f in chosen:
                            pool.append(f)
                            if len(set(pool) - set(chosen)) == 0:
                                pool = []
                            continue
                        chosen.append(f)
                plans.append(dict(id=f"{kind}-{m:g}-{rep + 1}", kind=kind, magnitude=float(m), features=tuple(chosen),
                                  onset=int(next(onsets))))
    for rep in range(spec.no_drift_streams):
        plans.append(dict(id=f"none-{rep + 1}", kind="none", magnitude=None, features=(), onset=None))
    return plans


def _suite(replay: Replay, size: int, spec: SuiteSpec, rpd: int) -> list[_EpisodeData]:
    """The suite's episodes as frames at ``rpd`` rows per scenario day (cached per process)."""
    sc = replay.scenario
    key = (sc.model_dump_json(), replay.seed, size, spec, rpd)
    if key in _SUITES:
        return _SUITES[key]
    lag = label_lag_windows(sc.timeline.label_delay_days, rpd, size)
    max_delay = max_delay_windows(sc.timeline.label_delay_days, rpd, size, spec.grace_days)
    generator = generator_class(sc.generator.name)(**sc.generator.params)
    prior = Stream(generator).reference.prior

    def draw(item: tuple[int, dict[str, Any]]) -> _EpisodeData:
        index, plan = item
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
        return _EpisodeData(
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

    episodes = fork_map(draw, list(enumerate(_plan(sc, replay.seed, spec))))  # each from its own seeded stream
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


