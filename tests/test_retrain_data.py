"""`lab retrain`'s data: only labels that had arrived by "now" are read (no label leaks from the
future), only the window's days, and each row keeps its own label. No servers: the serving log
and the label file are written in the lab's formats."""

from __future__ import annotations

import json

import pytest

from lab.core.home import Home
from lab.errors import UsageError
from lab.release.retrain import check_window, labelled_rows

DELAY = 5.0
FEATURES = ["age", "salary"]


def write_home(tmp_path, days: int = 12, per_day: int = 4) -> Home:
    home = Home(tmp_path)
    (tmp_path / "serving").mkdir()
    home.labels.parent.mkdir(parents=True)
    with open(tmp_path / "serving" / "requests.jsonl", "w") as log, open(home.labels, "w") as labels:
        for day in range(days):
            for k in range(per_day):
                rid = f"r{day}-{k}"
                log.write(json.dumps({"kind": "request", "id": rid, "day": day + 0.1, "status": 200,
                                      "inputs": {"age": [30 + k, 40 + k], "salary": [day * 1000.0, 1.0]}}) + "\n")
                # labels of day d are published on day d + delay, as the timeline does
                labels.write(json.dumps({"request_id": rid, "day": day, "labels": [k % 2, 1 - k % 2],
                                         "arrived_day": day + DELAY}) + "\n")
        log.write(json.dumps({"kind": "request", "id": "failed", "day": 1.0, "status": 500, "error": "x"}) + "\n")
    return home


@pytest.mark.parametrize("now", [5.0, 7.5, 11.9])
def test_no_label_from_the_future_is_read(tmp_path, now):
    rows = labelled_rows(write_home(tmp_path), 0, 12, now, FEATURES)
    assert len(rows) and (rows["day"] + DELAY <= now).all(), "a row whose label had not arrived was read"
    assert rows["day"].max() == int(now - DELAY)  # and every label that had arrived is used
    assert len(rows) == (int(now - DELAY) + 1) * 4 * 2


def test_the_window_and_each_rows_own_label(tmp_path):
    rows = labelled_rows(write_home(tmp_path), 2, 4, 100, FEATURES)
    assert sorted(rows["day"].unique()) == [2, 3]
    first = rows[(rows["day"] == 3)].iloc[:2]
    assert list(first["salary"]) == [3000.0, 1.0] and list(first["label"]) == [0, 1]
    assert set(rows.columns) == {"age", "salary", "label", "day"}


def test_nothing_arrived_yet_is_an_empty_frame(tmp_path):
    assert labelled_rows(write_home(tmp_path), 0, 12, 4.9, FEATURES).empty


def test_bad_windows_are_refused():
    with pytest.raises(UsageError, match="must be below"):
        check_window(5, 5, "window")
    with pytest.raises(UsageError, match="--strategy"):
        check_window(0, 5, "newest")
