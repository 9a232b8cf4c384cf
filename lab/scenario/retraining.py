"""Retraining on served, labelled rows: the rows `lab retrain` fits, their digest and the fit.

One definition for the command (it reads the inputs serving logged) and the grader (it rebuilds
the same inputs from the traffic log and the scenario's seeded rows), so both fit the same model
on the same rows, and the digest the command recorded proves it.

The rows: each request whose labels had arrived by "now" (``arrived_day <= now_day``) and whose
rows are of a day in ``[from_day, to_day)``, in the order (day, request id) whoever reads them,
as the model's inputs, ``label`` and ``day``. Labels are published on day d + label delay, so a
window that reaches into the last ``label_delay`` days simply has fewer rows: nothing of the
future is read.

Strategies: ``window`` fits the rows as they are; ``weighted`` weights each row by recency,
halving every :data:`HALF_LIFE_DAYS` days before the window's end. The recipe (estimator and
parameters) is the scenario champion's.

>>> rows = labelled_frame([("b", 1, {"x": [2.0]}), ("a", 1, {"x": [1.0]}), ("c", 4, {"x": [3.0]})],
...                       [{"request_id": "a", "day": 1, "labels": [1], "arrived_day": 4.0},
...                        {"request_id": "b", "day": 1, "labels": [0], "arrived_day": 4.0},
...                        {"request_id": "c", "day": 4, "labels": [1], "arrived_day": 7.0}],
...                       ["x"], from_day=0, to_day=10, now_day=5.0)
>>> rows.to_dict(orient="list")
{'x': [1.0, 2.0], 'label': [1, 0], 'day': [1, 1]}
>>> len(data_digest(rows, ["x"]))
64
>>> recency_weights([10, 3], to_day=10, strategy="weighted").round(3).tolist()
[1.0, 0.5]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

HALF_LIFE_DAYS = 7.0
MIN_ROWS = 500
STRATEGIES = ("window", "weighted")


def labelled_frame(batches: Iterable[tuple[str, int, Mapping[str, Sequence[Any]]]],
                   labels: Iterable[Mapping[str, Any]], features: Sequence[str], *, from_day: float, to_day: float,
                   now_day: float) -> "pd.DataFrame":
    """The labelled rows: ``batches`` are ``(request id, row day, {column: values})`` per request."""
    import pandas as pd  # heavy: the module stays light for the CLI's constants

    arrived = {}
    for rec in labels:
        if rec.get("arrived_day") is not None and rec["arrived_day"] <= now_day and from_day <= rec["day"] < to_day:
            arrived[rec["request_id"]] = rec
    parts = []
    for request_id, _day, columns in batches:
        lab = arrived.get(request_id)
        if lab is None or not columns:
            continue
        frame = pd.DataFrame({f: list(columns[f]) for f in features if f in columns})
        if len(frame.columns) != len(features) or len(frame) != len(lab["labels"]):
            continue
        frame["label"] = [int(v) for v in lab["labels"]]
        frame["day"] = int(lab["day"])
        frame["_id"] = request_id
        frame["_pos"] = range(len(frame))
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=[*features, "label", "day"])
    rows = pd.concat(parts, ignore_index=True).sort_values(["day", "_id", "_pos"], kind="mergesort")
    return rows.drop(columns=["_id", "_pos"]).reset_index(drop=True)


def data_digest(rows: "pd.DataFrame", features: Sequence[str]) -> str:
    """SHA-256 of the rows as CSV (numbers written as floats, so a column read back from JSON
    as integers digests like the same column drawn as floats)."""
    out = rows[[*features, "label", "day"]].copy()
    for c in features:
        if out[c].dtype.kind in "iuf":
            out[c] = out[c].astype(float)
    return hashlib.sha256(out.to_csv(index=False).encode()).hexdigest()


def recency_weights(days: Any, to_day: float, strategy: str) -> "np.ndarray":
    """Each row's weight: 1 for ``window``; halving every :data:`HALF_LIFE_DAYS` before ``to_day`` for ``weighted``."""
    import numpy as np

    d = np.asarray(days, dtype=float)
    return 0.5 ** ((to_day - d) / HALF_LIFE_DAYS) if strategy == "weighted" else np.ones(len(d))


def fit_rows(scenario: Any, rows: "pd.DataFrame", weights: "np.ndarray") -> Any:
    """The champion's recipe fitted on ``rows`` with ``weights`` (a scikit-learn pipeline)."""
    from lab.scenario.generators import generator_class
    from lab.scenario.models import build_pipeline

    gen = generator_class(scenario.generator.name)
    spec = next(v for v in scenario.model.versions if v.role == "champion")
    features = gen.feature_names()
    pipe = build_pipeline(gen, spec.estimator, dict(spec.params))
    return pipe.fit(rows[features], rows["label"], clf__sample_weight=weights)


def retrained_model(scenario: Any, rows: "pd.DataFrame", strategy: str, to_day: float) -> Any:
    """What `lab retrain` registers: the recipe refitted on every row of the window."""
    return fit_rows(scenario, rows, recency_weights(rows["day"], to_day, strategy))


__all__ = ["HALF_LIFE_DAYS", "MIN_ROWS", "STRATEGIES", "data_digest", "fit_rows", "labelled_frame",
           "recency_weights", "retrained_model"]
