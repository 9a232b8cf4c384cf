"""The scenario's rows, day by day: what training, traffic and exports all read.

Day ``d`` of a run (negative days are history before deployment) always yields the
same rows for the same scenario and seed, whoever asks and in whatever order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.generators import generator_class
from lab.scenario import Scenario

#: Offsets keep the per-day seed non-negative (numpy's SeedSequence needs that).
_DAY_OFFSET = 1_000_000
_STREAM_ID = 11


def day_frame(scenario: Scenario, seed: int, day: int, n: int | None = None) -> pd.DataFrame:
    """Rows for scenario day ``day``: features, sensitive attributes, ``label`` and ``day``."""
    gen = generator_class(scenario.generator.name)(**scenario.generator.params)
    rng = np.random.default_rng([seed, _STREAM_ID, day + _DAY_OFFSET])
    df = gen.sample(rng, n or scenario.traffic.rows_per_day)
    df["day"] = day
    return df


def days_frame(scenario: Scenario, seed: int, days: tuple[int, int]) -> pd.DataFrame:
    """Rows for days ``[first, last)``, concatenated in day order."""
    return pd.concat([day_frame(scenario, seed, d) for d in range(*days)], ignore_index=True)
