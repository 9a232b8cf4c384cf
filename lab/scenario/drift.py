"""Seeded, composable drift over a :class:`~lab.scenario.generators.base.Generator`.

A :class:`Stream` turns a generator, the scenario's drift events and a seed into the
rows of any scenario day. Drift is a parameter, not a code path: an event says *what*
moves (the schema in :mod:`lab.scenario.schema`), :func:`intensity` says *how much* on a day.
This module composes; the injectors and :func:`intensity` live in
:mod:`lab.scenario.injectors`, the undrifted population they are measured against in
:mod:`lab.scenario.reference` (both re-exported here).

The three kinds keep the other half of the joint distribution fixed:

* ``data_drift`` (covariate): ``P(x)`` moves on the named features, ``P(y | x)`` does
  not, because labels are always drawn from the generator's unchanged
  ``label_probability`` *after* the inputs are shifted (:func:`shift_numeric`,
  :func:`tilt_categories`). The schema's magnitudes are positive, so numeric features
  move up and categorical mass moves towards the later categories in declared order.
* ``concept_drift``: ``P(y | x)`` moves towards the generator's
  ``drifted_label_probability``, ``P(x)`` does not (:func:`mix_concept`); with a
  ``segment``, only on that segment's rows.
* ``label_drift`` (prior): ``P(y = 1)`` moves by ``magnitude``, ``P(x | y)`` does not:
  a larger pool is drawn and resampled per class (:func:`resample_prior`).

Composition, for day ``t`` (each event weighs ``magnitude x intensity(event, t)``):

1. inputs are drawn from the generator's ``P(x)``;
2. data drift: the shifts of all events naming a feature add up (so their order does
   not matter) and each drifted feature is moved once, in the generator's feature order;
3. concept drift, in the order the events are listed: ``p <- (1 - w) p + w p1(x)``;
4. labels ``y ~ Bernoulli(p)``;
5. label drift last, because it is defined relative to the population steps 1-4 make:
   the shifts of all label-drift events add up, and the positive rate becomes
   ``prior_before + shift``. ``prior_before`` is the base prior (:func:`reference`)
   when no data or concept event is active that day, else ``E[p(x)]`` of the drifted
   population, estimated once per day from a fixed-seed sample.

Randomness is local: day ``d`` of stream ``stream_id`` uses
``np.random.default_rng([seed, stream_id, d])`` (``[seed, stream_id, -d, 1]`` for the
negative days of training history, as seed words must be non-negative), so any day
can be replayed alone and in any order.

>>> from lab.scenario.schema import DataDriftEvent
>>> from lab.scenario.generators.hiring import HiringGenerator
>>> shift = DataDriftEvent(name="pool", type="data_drift", day=10, features=["skills_match"], magnitude=1.0)
>>> stream = Stream(HiringGenerator(), [shift], seed=3)
>>> before, after = stream.day(5, 4000), stream.day(12, 4000)
>>> round(float(after.skills_match.mean() - before.skills_match.mean()), 2)  # one std is 0.18, less clipping at 1
0.18
>>> stream.day(12, 50).equals(Stream(HiringGenerator(), [shift], seed=3).day(12, 50))
True
>>> list(after.columns[-2:])
['label', 'day']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lab.scenario.generators import generator_class
from lab.scenario.generators.base import Generator
from lab.scenario.injectors import (
    DRIFT_TYPES,
    ConceptDriftable,
    DriftEvent,
    pick_per_class,
    intensity,
    mix_concept,
    resample_prior,
    shift_numeric,
    tilt_categories,
)
from lab.scenario.reference import REFERENCE_ROWS, REFERENCE_SEED, Reference, reference
from lab.scenario.schema import ConceptDriftEvent, DataDriftEvent, LabelDriftEvent, Scenario


# --------------------------------------------------------------------------- stream


class Stream:
    """Rows of any scenario day from ``generator`` under ``events``, seeded.

    ``events`` are data, concept and label drift events (others raise ``ValueError``;
    :meth:`from_scenario` picks them out of a timeline). ``stream_id`` separates
    independent streams of one run (say live traffic and a hidden replay).
    """

    def __init__(
        self,
        generator: Generator,
        events: Sequence[DriftEvent] = (),
        seed: int = 0,
        *,
        stream_id: int = 0,
    ) -> None:
        for name, value in (("seed", seed), ("stream_id", stream_id)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        self.generator = generator
        self.events: tuple[DriftEvent, ...] = tuple(events)
        self.seed = int(seed)
        self.stream_id = int(stream_id)
        self.reference = reference(generator)
        for event in self.events:
            self._validate(event)
        self._validate_label_total()
        self._priors: dict[float, float] = {}

    @classmethod
    def from_scenario(cls, scenario: Scenario, seed: int, *, stream_id: int = 0) -> Stream:
        """The stream of a (resolved) scenario: its generator and its drift events."""
        generator = generator_class(scenario.generator.name)(**scenario.generator.params)
        drift = (DataDriftEvent, ConceptDriftEvent, LabelDriftEvent)
        events = [e for e in scenario.timeline.events if isinstance(e, drift)]
        return cls(generator, events, seed, stream_id=stream_id)

    # ----------------------------------------------------------------- validation

    def _validate(self, event: object) -> None:
        if not isinstance(event, (DataDriftEvent, ConceptDriftEvent, LabelDriftEvent)):
            kind = getattr(event, "type", type(event).__name__)
            raise ValueError(
                f"event {getattr(event, 'name', '?')!r} has type {kind!r}; a Stream takes only drift events: "
                f"{', '.join(DRIFT_TYPES)}"
            )
        where = f"event {event.name!r} ({event.type})"
        if not math.isfinite(event.day):
            raise ValueError(f"{where}: day must be a finite number, got {event.day}")
        intensity(event, 0.0)  # checks width_days
        m = event.magnitude
        if isinstance(event, DataDriftEvent):
            if not (math.isfinite(m) and m > 0):
                raise ValueError(
                    f"{where}: magnitude is a shift in reference standard deviations and must be > 0, got {m}"
                )
            known = self.generator.feature_names()
            bad = [f for f in event.features if f not in known]
            if bad or not event.features:
                raise ValueError(
                    f"{where} drifts unknown feature(s) {', '.join(bad) or '(none given)'}; "
                    f"generator {self.generator.name!r} has: {', '.join(sorted(known))}"
                )
            for f in event.features:
                if f in self.reference.frequencies and len(np.flatnonzero(self.reference.frequencies[f])) < 2:
                    raise ValueError(f"{where}: feature {f!r} takes a single value in the reference; nothing to tilt")
        elif isinstance(event, ConceptDriftEvent):
            if not (0 < m <= 1):
                raise ValueError(f"{where}: magnitude is the new rule's share and must lie in (0, 1], got {m}")
            if not isinstance(self.generator, ConceptDriftable):
                raise ValueError(
                    f"{where}: generator {self.generator.name!r} has no drifted_label_probability, "
                    "so it cannot drift in concept"
                )
        elif not (math.isfinite(m) and m != 0 and -1 < m < 1):
            raise ValueError(
                f"{where}: magnitude is a change of the positive rate and must be non-zero in (-1, 1), got {m}"
            )

    def _validate_label_total(self) -> None:
        label = [e for e in self.events if isinstance(e, LabelDriftEvent)]
        if not label:
            return
        prior = self.reference.prior
        up = sum(e.magnitude for e in label if e.magnitude > 0)
        down = sum(e.magnitude for e in label if e.magnitude < 0)
        for total in (up, down):
            if not 0 < prior + total < 1:
                raise ValueError(
                    f"label_drift event(s) {', '.join(repr(e.name) for e in label)} move the positive rate of "
                    f"generator {self.generator.name!r} from its base prior {prior:.3f} to {prior + total:.3f}; "
                    f"the total magnitude must lie in ({-prior:.3f}, {1 - prior:.3f})"
                )

    # ----------------------------------------------------------------- sampling

    def rng(self, d: int) -> np.random.Generator:
        """The generator for day ``d``: ``default_rng([seed, stream_id, d])``."""
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise ValueError(f"day must be an integer, got {d!r}")
        d = int(d)
        key = [self.seed, self.stream_id, d] if d >= 0 else [self.seed, self.stream_id, -d, 1]
        return np.random.default_rng(key)

    def day(self, d: int, n: int) -> pd.DataFrame:
        """``n`` rows for scenario day ``d``: features, sensitive attributes, ``label``, ``day``."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = self.rng(d)
        shift = self.label_shift(d)
        if n == 0:  # some generators cannot draw zero rows: draw one and keep the layout
            df = self._draw(rng, 1, d).iloc[:0]
        elif shift == 0:
            df = self._draw(rng, int(n), d)
        else:
            df = self._draw_with_prior(rng, int(n), d, shift)
        df["day"] = np.full(len(df), int(d), dtype=np.int64)
        return df

    def label_shift(self, t: float) -> float:
        """Total change of the positive rate on day ``t`` (sum over label-drift events)."""
        return sum(e.magnitude * intensity(e, t) for e in self.events if isinstance(e, LabelDriftEvent))

    def label_probability(self, X: pd.DataFrame, t: float) -> np.ndarray:
        """The true ``P(y = 1 | x)`` of day ``t``'s population, all events applied.

        Concept drift mixes the rules; label drift rescales the odds by the ratio of the
        class weights it resamples with (Bayes' rule with a new prior).
        """
        p = self._concept_probability(X, t)
        shift = self.label_shift(t)
        if shift:
            before = self.prior_before_label_drift(t)
            after = self._target_prior(before, shift, t)
            a, b = after / before, (1 - after) / (1 - before)
            p = a * p / (a * p + b * (1 - p))
        return p

    def prior_before_label_drift(self, t: float) -> float:
        """``E[P(y=1 | x)]`` after data and concept drift on day ``t`` (base prior if none is active)."""
        active = any(
            intensity(e, t) > 0 for e in self.events if isinstance(e, (DataDriftEvent, ConceptDriftEvent))
        )
        if not active:
            return self.reference.prior
        if t not in self._priors:
            rng = np.random.default_rng([REFERENCE_SEED, 1])
            X = self._shift_inputs(self.generator.sample_inputs(rng, REFERENCE_ROWS // 2), t, rng)
            self._priors[t] = float(self._concept_probability(X, t).mean())
        return self._priors[t]

    def _target_prior(self, before: float, shift: float, t: float) -> float:
        after = before + shift
        if not 0 < after < 1:
            raise ValueError(
                f"on day {t} the label drift moves the positive rate from {before:.3f} to {after:.3f}, "
                "outside (0, 1); lower the label_drift magnitudes"
            )
        return after

    def _draw(self, rng: np.random.Generator, n: int, t: float) -> pd.DataFrame:
        X = self._shift_inputs(self.generator.sample_inputs(rng, n), t, rng)
        p = self._concept_probability(X, t)
        X[self.generator.target] = (rng.random(n) < p).astype(np.int64)
        return X

    def _draw_with_prior(self, rng: np.random.Generator, n: int, t: float, shift: float) -> pd.DataFrame:
        before = self.prior_before_label_drift(t)
        after = self._target_prior(before, shift, t)
        ratio = max(after / before, (1 - after) / (1 - before))
        size = int(math.ceil(n * ratio * 1.15)) + 200
        pools = [self._draw(rng, size, t)]
        y = pools[0][self.generator.target].to_numpy()
        positives, negatives = int(y.sum()), int(len(y) - y.sum())
        # Draw the class counts first, then extend the pool until it holds enough of each;
        # the stopping rule looks at counts only, so each class stays an i.i.d. P(x | y) sample.
        k = int(rng.binomial(n, after))
        while positives < k or negatives < n - k:
            extra = self._draw(rng, size, t)
            pools.append(extra)
            positives += int(extra[self.generator.target].sum())
            negatives += len(extra) - int(extra[self.generator.target].sum())
        return pick_per_class(pd.concat(pools, ignore_index=True), k, n, rng, self.generator.target)

    def _shift_inputs(self, X: pd.DataFrame, t: float, rng: np.random.Generator) -> pd.DataFrame:
        shifts: dict[str, float] = {}
        for e in self.events:
            if isinstance(e, DataDriftEvent):
                w = e.magnitude * intensity(e, t)
                if w:
                    for f in e.features:
                        shifts[f] = shifts.get(f, 0.0) + w
        ref = self.reference
        for f in self.generator.features:
            if f.name not in shifts:
                continue
            col = X[f.name].to_numpy()
            if f.kind == "numeric":
                moved = shift_numeric(col, shifts[f.name], ref.std[f.name], ref.support[f.name], rng)
                X[f.name] = moved.astype(col.dtype) if col.dtype.kind in "iu" else moved
            else:
                X[f.name] = tilt_categories(col, ref.categories[f.name], ref.frequencies[f.name], shifts[f.name], rng)
        return X

    def _concept_probability(self, X: pd.DataFrame, t: float) -> np.ndarray:
        p = self.generator.label_probability(X)
        p1: np.ndarray | None = None
        for e in self.events:
            if isinstance(e, ConceptDriftEvent):
                w = e.magnitude * intensity(e, t)
                if w:
                    if p1 is None:
                        assert isinstance(self.generator, ConceptDriftable)
                        p1 = self.generator.drifted_label_probability(X)
                    mixed = mix_concept(p, p1, w)
                    p = mixed if e.segment is None else np.where(e.segment.mask(X), mixed, p)
        return p

    def __repr__(self) -> str:
        names = ", ".join(e.name for e in self.events) or "no drift"
        return f"Stream({self.generator.name!r}, [{names}], seed={self.seed}, stream_id={self.stream_id})"


__all__ = [
    "DRIFT_TYPES",
    "ConceptDriftable",
    "DriftEvent",
    "Reference",
    "Stream",
    "intensity",
    "mix_concept",
    "reference",
    "resample_prior",
    "shift_numeric",
    "tilt_categories",
]
