"""The retraining drill's outcome, measured: the champion the drill ended with, the champion it
started with and the best retrain the labels allowed, each scored on hidden future rows.

Everything is rebuilt from the evidence, no server and no model file: the served rows are the
scenario's seeded rows the traffic log names (``row_day``, ``row_start``, ``n_rows``), the labels
are the bundle's, and a retrained version is refitted from its journal entry (window, strategy,
"labels by day") with the recipe `lab retrain` uses (:mod:`lab.scenario.retraining`). The
rebuilt rows' digest is compared with the one the command recorded, so the grader knows it
scored the very model that was registered.

The oracle: at the moment of the user's retrain (what had arrived by then), the recipe fitted on
every window ``[from_day, last labelled day]`` of a grid (every :data:`GRID_STEP` days, and the
days around the change's onset), as ``window`` and as ``weighted``; its best ROC AUC on the hidden
rows is the best achievable then. The hidden rows: :data:`HIDDEN_DAYS` days after the drill's end,
from a stream of their own (:data:`HIDDEN_STREAM`), which the live run never serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lab.evidence.schema import Evidence

HIDDEN_STREAM = 907
HIDDEN_DAYS = 7
GRID_STEP = 2

_CACHE: dict[tuple[str, int, float], tuple[float, str]] = {}


@dataclass(frozen=True)
class Rebuilt:
    """A retrained version refitted from the evidence."""

    model: Any
    rows: int
    digest: str
    matches: bool  # the digest is the one `lab retrain` recorded


def features_of(ev: Evidence) -> list[str]:
    """The scenario's model inputs."""
    from lab.scenario.generators import generator_class

    return generator_class(ev.scenario.generator.name).feature_names()


Batches = list[tuple[str, int, dict[str, list[Any]]]]


def served_batches(ev: Evidence) -> Batches:
    """``(request id, row day, {column: values})`` for each traffic request that was answered,
    its rows taken from the scenario's seeded rows as the traffic replayer took them (built once
    per grading: the rebuild and the oracle both read them)."""
    from lab.scenario.data import day_frame

    features = features_of(ev)
    frames: dict[int, dict[str, list[Any]]] = {}
    out = []
    for r in ev.traffic_requests:
        if r.get("status") != 200 or r.get("row_day") is None or not r.get("id"):
            continue
        day = int(r["row_day"])
        if day not in frames:
            frames[day] = day_frame(ev.scenario, ev.seed, day)[features].to_dict(orient="list")
        cols = frames[day]
        n = len(cols[features[0]])
        idx = [(int(r["row_start"]) + i) % n for i in range(int(r["n_rows"]))]
        out.append((r["id"], day, {f: [cols[f][i] for i in idx] for f in features}))
    return out


def rows_by(ev: Evidence, batches: Batches, now_day: float, from_day: float = -math.inf,
            to_day: float = math.inf) -> Any:
    """The labelled rows of ``batches`` `lab retrain` would read at ``now_day`` for the window."""
    from lab.scenario.retraining import labelled_frame

    return labelled_frame(batches, ev.labels, features_of(ev), from_day=from_day, to_day=to_day,
                          now_day=now_day)


def rebuild(ev: Evidence, batches: Batches, entry: dict[str, Any]) -> Rebuilt | None:
    """The version a ``retrain`` journal entry registered, refitted (None: its rows cannot be rebuilt)."""
    from lab.scenario.retraining import MIN_ROWS, data_digest, retrained_model

    d = entry["data"]
    rows = rows_by(ev, batches, float(d["labels_by_day"]), float(d["from_day"]), float(d["to_day"]))
    if len(rows) < MIN_ROWS or rows["label"].nunique() < 2:
        return None
    digest = data_digest(rows, features_of(ev))
    model = retrained_model(ev.scenario, rows, str(d["strategy"]), float(d["to_day"]))
    return Rebuilt(model, len(rows), digest, digest == d.get("data_sha256"))


def hidden_rows(ev: Evidence) -> Any:
    import pandas as pd

    from lab.scenario.drift import Stream

    stream = Stream.from_scenario(ev.scenario, ev.seed, stream_id=HIDDEN_STREAM)
    end = ev.scenario.timeline.days
    n = ev.scenario.traffic.rows_per_day
    return pd.concat([stream.day(d, n) for d in range(end, end + HIDDEN_DAYS)], ignore_index=True)


_BASELINE: dict[tuple[str, int], tuple[Any, float]] = {}


def baseline(ev: Evidence) -> tuple[Any, float]:
    """The hidden rows and the original champion's ROC AUC on them (once per scenario and seed
    in a process: the grading endpoint grades every submit of a run against the same)."""
    key = (ev.scenario.model_dump_json(), ev.seed)
    if key not in _BASELINE:
        hidden = hidden_rows(ev)
        _BASELINE[key] = (hidden, auc_on(original_champion(ev), hidden, features_of(ev)))
    return _BASELINE[key]


def auc_on(model: Any, rows: Any, features: list[str]) -> float:
    from lab.core.stats import roc_auc

    value = roc_auc(rows["label"].to_numpy(), model.predict_proba(rows[features])[:, 1])
    return math.nan if value is None else float(value)


def original_champion(ev: Evidence) -> Any:
    """The scenario's champion recipe fitted on its own training days (as `lab up` trained v1)."""
    from lab.scenario.data import days_frame
    from lab.scenario.models import fit_version

    spec = next(v for v in ev.scenario.model.versions if v.role == "champion")
    train = days_frame(ev.scenario, ev.seed, spec.train_days)
    return fit_version(ev.scenario, spec, train, train.head(200)).pipeline


def grid(last_day: int, onset: float | None) -> list[int]:
    """The windows' first days: every GRID_STEP days, and the days around the onset.

    >>> grid(9, 4.5)
    [0, 2, 4, 5, 6, 8]
    """
    days = set(range(0, last_day + 1, GRID_STEP))
    if onset is not None:
        days |= {d for d in (math.floor(onset), math.ceil(onset), math.ceil(onset) + 1) if 0 <= d <= last_day}
    return sorted(days)


def oracle(ev: Evidence, batches: Batches, now_day: float, onset: float | None, hidden: Any) -> tuple[float, str]:
    """The best hidden ROC AUC a `lab retrain` could reach with the labels arrived by ``now_day``,
    and the window that reached it (``"from..to window"``); (nan, "") when no window has enough rows."""
    key = (ev.scenario.model_dump_json(), ev.seed, round(now_day, 4))
    if key in _CACHE:
        return _CACHE[key]
    from lab.monitoring.parallel import fork_map
    from lab.scenario.retraining import MIN_ROWS, retrained_model

    features = features_of(ev)
    rows = rows_by(ev, batches, now_day)
    if len(rows) < MIN_ROWS:
        return math.nan, ""
    last = int(rows["day"].max())
    jobs = []
    for start in grid(last, onset):
        window = rows[rows["day"] >= start]
        if len(window) >= MIN_ROWS and window["label"].nunique() == 2:
            jobs += [(start, "window"), (start, "weighted")]

    def score(job: tuple[int, str]) -> float:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            window = rows[rows["day"] >= job[0]]
            return auc_on(retrained_model(ev.scenario, window, job[1], last + 1), hidden, features)

    scores = fork_map(score, jobs)
    if not scores:
        return math.nan, ""
    best = max(range(len(jobs)), key=lambda i: scores[i])
    out = (scores[best], f"days {jobs[best][0]}..{last + 1} ({jobs[best][1]})")
    _CACHE[key] = out
    return out


__all__ = ["GRID_STEP", "HIDDEN_DAYS", "HIDDEN_STREAM", "Batches", "Rebuilt", "auc_on", "baseline", "features_of", "grid", "hidden_rows", "oracle",
           "original_champion", "rebuild", "rows_by", "served_batches"]
