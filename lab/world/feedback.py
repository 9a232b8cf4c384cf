"""Labelled feedback: ground truth for day d's requests arrives on day d + label delay.

The traffic replayer logs, for each request, which rows of which scenario day it
sent (``row_day``, ``row_start``, ``n_rows``). When a day's labels are due, they are
looked up in the scenario stream and appended to ``<home>/feedback/labels.jsonl``:
``{"request_id", "day", "labels": [...], "arrived_day"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from lab.scenario.data import day_frame
from lab.core.home import Home
from lab.scenario.schema import Scenario
from lab.serving.requestlog import read_requests


def labels_path(home: Home) -> Path:
    return home.labels


def publish_day(home: Home, scenario: Scenario, seed: int, day: int, arrived_day: float) -> int:
    """Append the labels of every request sent on scenario day ``day``; returns how many."""
    frame = None
    out = []
    for r in read_requests(home.traffic / "requests.jsonl"):
        if r.get("row_day") != day or r.get("status") != 200:
            continue
        if frame is None:
            frame = day_frame(scenario, seed, day)
        labels = frame["label"].to_numpy()
        n = len(labels)
        out.append(
            {
                "request_id": r["id"],
                "day": day,
                "labels": [int(labels[(r["row_start"] + i) % n]) for i in range(r["n_rows"])],
                "arrived_day": round(arrived_day, 4),
            }
        )
    path = labels_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for rec in out:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return len(out)


def read_labels(home: Home) -> Iterator[dict[str, Any]]:
    yield from read_requests(labels_path(home))
