"""The answer key: a run's hidden ground truth, its one schema and its one builder.

The key says when each drift began, which release is bad, the last known-good version
and which events a facilitator fired early (``lab inject``). It follows from the
scenario, the seed and the home's timeline overrides alone (:func:`build`), so every
writer gets the same key: ``lab up`` writes it to ``<home>/answer_key.json``,
``lab inject`` rewrites it when an onset moves, and the evidence collector copies it
into the bundle (rebuilding it if the home lost it). Graders read it through
:class:`AnswerKey`; ``lab status`` never shows it.

The model forbids unknown fields, so nothing a writer adds is silently dropped by a
reader: a new field is added here, with a schema version. Keys of every schema in
:data:`READABLE_SCHEMAS` load; what older ones wrote differently is converted
explicitly (see :meth:`AnswerKey._older_schemas`).

>>> from lab.scenario.schema import load_scenario
>>> key = build(load_scenario("hiring-data-drift"), seed=7, overrides={"pool-shift": 2.5})
>>> [(d.event, d.onset_day) for d in key.drifts], [(i.event, i.day) for i in key.injected]
([('pool-shift', 2.5)], [('pool-shift', 2.5)])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from lab.core.home import Home, read_json, write_json_atomic
from lab.errors import StateError
from lab.scenario.run import apply_overrides, read_overrides
from lab.scenario.schema import (BadReleaseEvent, ConceptDriftEvent, DataDriftEvent, LabelDriftEvent, Scenario,
                                 load_scenario, resolve)

#: 2: ``injected`` lists ``{event, day, scheduled_day}`` (1: event names only, when `lab inject` wrote any).
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)

_DRIFT_TYPES = {DataDriftEvent: "data", ConceptDriftEvent: "concept", LabelDriftEvent: "label"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftTruth(_Strict):
    """A drift event as it really happened: its onset is the day it began (moved by `lab inject`)."""

    event: str
    type: Literal["data", "concept", "label"]
    onset_day: float
    width_days: float = 0.0
    magnitude: float
    features: list[str] = []
    #: A concept drift confined to a segment: ``{"column": ..., "values": [...]}`` (None: every row).
    segment: dict[str, Any] | None = None


class BadRelease(_Strict):
    event: str
    day: float
    version: int


class Injection(_Strict):
    """An event a facilitator fired before its scheduled day: its onset moved to ``day``."""

    event: str
    day: float
    #: None in keys of schema 1 (which named the event only) unless the seed drew the day.
    scheduled_day: float | None = None


class AnswerKey(_Strict):
    schema_version: int = 1
    scenario: str
    seed: int
    model: str
    label_delay_days: float
    drifts: list[DriftTruth] = []
    bad_release: BadRelease | None = None
    last_known_good_version: int
    challenger_version: int | None = None
    randomised: dict[str, Any] = {}
    injected: list[Injection] = []

    @field_validator("schema_version")
    @classmethod
    def _readable(cls, v: int) -> int:
        if v not in READABLE_SCHEMAS:
            readable = ", ".join(map(str, READABLE_SCHEMAS))
            raise ValueError(f"answer key schema {v} is not one this lab reads ({readable})")
        return v

    @model_validator(mode="before")
    @classmethod
    def _older_schemas(cls, data: Any) -> Any:
        """Schema 1 (`lab inject` before this module) wrote ``injected`` as event names: each
        becomes an :class:`Injection` whose day is the onset the key already records, and whose
        scheduled day is the drawn one when the seed drew it (else unknown)."""
        if not isinstance(data, dict) or not any(isinstance(i, str) for i in data.get("injected") or []):
            return data
        days = {d.get("event"): d.get("onset_day") for d in data.get("drifts") or [] if isinstance(d, dict)}
        bad = data.get("bad_release")
        if isinstance(bad, dict):
            days[bad.get("event")] = bad.get("day")
        injected = []
        for item in data["injected"]:
            if isinstance(item, str):
                if days.get(item) is None:
                    raise ValueError(f"injected event {item!r} is neither a drift nor the bad release of this key")
                drawn = (data.get("randomised") or {}).get(f"timeline.events.{item}.day")
                item = {"event": item, "day": days[item], "scheduled_day": drawn}
            injected.append(item)
        return {**data, "injected": injected}


def build(scenario: Scenario, seed: int, overrides: Mapping[str, float] | None = None) -> AnswerKey:
    """The key of ``scenario`` (as loaded; the seed is applied here) run with ``seed``, its event
    days moved by ``overrides`` ({event name: day}, ``timeline_overrides.json``)."""
    resolved, drawn = resolve(scenario, seed)
    effective = apply_overrides(resolved, overrides or {})
    drifts: list[DriftTruth] = []
    bad_release = None
    for e in effective.timeline.events:
        kind = _DRIFT_TYPES.get(type(e))
        if kind:
            drifts.append(DriftTruth(event=e.name, type=kind, onset_day=e.day,  # type: ignore[arg-type]
                                     width_days=e.width_days, magnitude=e.magnitude,  # type: ignore[union-attr]
                                     features=list(getattr(e, "features", []) or []),
                                     segment=(seg.model_dump() if (seg := getattr(e, "segment", None)) else None)))
        elif isinstance(e, BadReleaseEvent):
            bad_release = BadRelease(event=e.name, day=e.day, version=effective.version_of("defective"))
    scheduled = {e.name: e.day for e in resolved.timeline.events}
    injected = sorted((Injection(event=name, day=effective.event(name).day, scheduled_day=scheduled[name])
                       for name in (overrides or {}) if name in scheduled), key=lambda i: (i.day, i.event))
    return AnswerKey(
        schema_version=SCHEMA_VERSION,
        scenario=effective.id,
        seed=seed,
        model=effective.model.name,
        label_delay_days=effective.timeline.label_delay_days,
        drifts=drifts,
        bad_release=bad_release,
        last_known_good_version=effective.version_of("champion"),
        challenger_version=effective.version_of("challenger"),
        randomised=drawn,
        injected=injected,
    )


def build_for_home(home: Home) -> AnswerKey:
    """The key of the run ``home`` holds: its scenario file, seed and timeline overrides."""
    cfg = home.config()
    if not cfg:
        raise StateError(f"{home.root} holds no lab", hint="`lab up` first, or pass --home")
    return build(load_scenario(cfg.scenario_file), cfg.seed, read_overrides(home))


def parse(data: Any, where: str) -> AnswerKey:
    """Validate a key read from ``where`` (named in the error)."""
    try:
        return AnswerKey.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(map(str, first["loc"])) or "(top level)"
        raise StateError(f"{where}: invalid answer key at {loc}: {first['msg']}") from None


def read(home: Home) -> AnswerKey | None:
    """The key ``home`` holds, validated; None when it has none."""
    data = read_json(home.answer_key)
    return None if data is None else parse(data, str(home.answer_key))


def dump(key: AnswerKey) -> dict[str, Any]:
    """The key as written to ``answer_key.json`` (a drift's ``segment`` only when it has one, as keys had it before)."""
    out = key.model_dump(mode="json")
    for drift in out.get("drifts", []):
        if drift.get("segment") is None:
            drift.pop("segment", None)
    return out


def write(home: Home, key: AnswerKey) -> None:
    write_json_atomic(home.answer_key, dump(key))
