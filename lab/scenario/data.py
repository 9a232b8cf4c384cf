"""The scenario's rows, day by day: what training, traffic and exports all read.

Day ``d`` of a run (negative days are history before deployment) always yields the
same rows for the same scenario and seed, whoever asks and in whatever order. Rows
follow the drift engine (:class:`lab.scenario.drift.Stream`): drifted from each event's onset.
"""

from __future__ import annotations

import pandas as pd

from lab.scenario.drift import Stream
from lab.scenario.schema import Scenario

#: The live run's stream; hidden grading replays use other stream ids.
LIVE_STREAM = 0


_STREAMS: dict[tuple[str, int], Stream] = {}


def _stream(scenario: Scenario, seed: int) -> Stream:
    key = (scenario.model_dump_json(), seed)
    if key not in _STREAMS:
        _STREAMS[key] = Stream.from_scenario(scenario, seed, stream_id=LIVE_STREAM)
    return _STREAMS[key]


def day_frame(scenario: Scenario, seed: int, day: int, n: int | None = None) -> pd.DataFrame:
    """Rows for scenario day ``day``: features, sensitive attributes, ``label`` and ``day``."""
    return _stream(scenario, seed).day(day, n or scenario.traffic.rows_per_day)


def days_frame(scenario: Scenario, seed: int, days: tuple[int, int]) -> pd.DataFrame:
    """Rows for days ``[first, last)``, concatenated in day order."""
    return pd.concat([day_frame(scenario, seed, d) for d in range(*days)], ignore_index=True)
