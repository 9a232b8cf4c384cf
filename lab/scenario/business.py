"""Business outcomes in a scenario: the KPIs its decisions are judged by, and drift confined to a segment.

A scenario may declare, under ``business.kpis``, the business KPIs computed from the
model's decisions and their outcomes (the labels, which arrive ``label_delay_days``
late)::

    business:
      kpis:
        - name: approved_default_rate
          description: "share of approved loans that default"
          decision: negative        # the rows the KPI is about: decision below the threshold (approved)
          direction: lower_is_better
        - name: loss_rate
          description: "euros lost to defaults per euro lent"
          decision: negative
          weight: loan_amount       # outcomes weighted by this column
          direction: lower_is_better

A KPI's value on a set of rows is ``sum(w * label) / sum(w)`` over the rows whose decision
(``score >= decision_threshold`` is positive) is ``decision`` (``any``: every row), with
``w = 1`` unless ``weight`` names a numeric column (:func:`kpi_value`).

A concept-drift event may be confined to a ``segment``: ``{column: region, values: [town,
rural]}`` mixes in the new labelling rule on those rows only (lab.scenario.drift), so the
model degrades for one group of people while the inputs, the predictions and the
service's own signals do not move.

>>> import numpy as np
>>> kpi = Kpi(name="approved_default_rate", description="share of approved loans that default",
...           decision="negative", direction="lower_is_better")
>>> kpi_value(kpi, np.array([0, 1, 0, 1]), np.array([0.05, 0.1, 0.5, 0.9]), threshold=0.15)
(0.5, 2)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from lab.core.frozen import Frozen

if TYPE_CHECKING:
    import pandas as pd

    from lab.scenario.generators.base import Generator

#: Fewer decided rows than this give no KPI value (a rate on a handful of loans is noise).
MIN_KPI_ROWS = 50


class Segment(Frozen):
    """The rows a concept drift touches: ``column`` (categorical) in ``values``."""

    column: str
    values: list[str] = Field(min_length=1)

    def mask(self, X: "pd.DataFrame") -> np.ndarray:
        return X[self.column].isin(self.values).to_numpy()


class Kpi(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    description: str = Field(min_length=5)
    decision: Literal["positive", "negative", "any"] = Field(
        description="the rows the KPI is about: positive decisions (score >= threshold), negative ones, or all")
    direction: Literal["lower_is_better", "higher_is_better"]
    weight: str | None = Field(None, description="a numeric column weighting each outcome (e.g. the loan amount)")


class Business(Frozen):
    kpis: list[Kpi] = Field(min_length=1, max_length=5)

    @model_validator(mode="after")
    def _unique(self) -> "Business":
        names = [k.name for k in self.kpis]
        if len(set(names)) != len(names):
            raise ValueError(f"business.kpis: KPI names repeat: {', '.join(names)}")
        return self

    def kpi(self, name: str) -> Kpi:
        for k in self.kpis:
            if k.name == name:
                return k
        raise KeyError(name)


def decided(kpi: Kpi, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which rows the KPI is about, by the decision each score leads to."""
    scores = np.asarray(scores, dtype=float)
    if kpi.decision == "positive":
        return scores >= threshold
    if kpi.decision == "negative":
        return scores < threshold
    return np.ones(len(scores), dtype=bool)


def kpi_value(kpi: Kpi, labels: np.ndarray, scores: np.ndarray, threshold: float,
              weights: np.ndarray | None = None, min_rows: int = 1) -> tuple[float | None, int]:
    """The KPI on rows with outcomes ``labels`` and model ``scores``: (value, decided rows).

    The value is None when fewer than ``min_rows`` rows are decided the KPI's way (or
    their weights sum to zero).
    """
    rows = decided(kpi, scores, threshold)
    n = int(rows.sum())
    if n < max(1, min_rows):
        return None, n
    y = np.asarray(labels, dtype=float)[rows]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)[rows]
    total = float(w.sum())
    if total <= 0:
        return None, n
    return float((w * y).sum() / total), n


def check_scenario(business: Business | None, segments: list[tuple[str, Segment]],
                   gen: "type[Generator]") -> None:
    """Cross-checks against the generator: KPI weights are numeric inputs, segments name a
    categorical column and some of its categories (ValueError naming the field)."""
    kinds = {f.name: f for f in (*gen.features, *gen.sensitive)}
    for event, seg in segments:
        feature = kinds.get(seg.column)
        where = f"timeline.events.{event}.segment"
        if feature is None or feature.categories is None:
            known = sorted(n for n, f in kinds.items() if f.categories)
            raise ValueError(f"{where}.column: {seg.column!r} is not a categorical column of generator "
                             f"{gen.name!r} (categorical: {', '.join(known)})")
        bad = [v for v in seg.values if v not in feature.categories]
        if bad:
            raise ValueError(f"{where}.values: {', '.join(map(repr, bad))} not among {seg.column}'s categories "
                             f"({', '.join(feature.categories)})")
    for k in business.kpis if business else []:
        if k.weight is not None and (k.weight not in kinds or kinds[k.weight].kind != "numeric"):
            numeric = sorted(n for n, f in kinds.items() if f.kind == "numeric")
            raise ValueError(f"business.kpis.{k.name}.weight: {k.weight!r} is not a numeric column of generator "
                             f"{gen.name!r} (numeric: {', '.join(numeric)})")
