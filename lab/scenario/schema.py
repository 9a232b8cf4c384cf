"""Scenarios are data: ``scenarios/<id>.yaml``, validated into frozen pydantic models.

Loading never has side effects; a bad file raises :class:`ScenarioError` naming the
file, the field and the reason, before anything starts. ``resolve`` applies a seed to
the parameters a scenario marks as randomised and returns the concrete run (whose
hidden parts only the answer key shows).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from lab.core.frozen import Frozen
from lab.scenario.business import Business, Segment
from lab.scenario.business import check_scenario as check_business
from lab.errors import ScenarioError
from lab.scenario.generators import GENERATORS, generator_class
from lab.core.paths import SCENARIO_DIR


TASKS = ("shadow", "rollback", "drift_thresholds", "model_card", "pmm_runbook", "datasheet", "gates", "canary", "retraining",
         "observability")


class Risk(Frozen):
    """Where the system sits under the EU AI Act (Regulation (EU) 2024/1689)."""

    eu_ai_act_class: Literal["prohibited", "high", "limited", "minimal"]
    basis: str = Field(min_length=3, description="e.g. 'Annex III point 4(a)'")
    role: Literal["provider", "deployer"] = "provider"


class GeneratorSpec(Frozen):
    name: str
    params: dict[str, float] = {}

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in GENERATORS:
            raise ValueError(f"unknown generator {v!r}; known: {', '.join(sorted(GENERATORS))}")
        return v

    @model_validator(mode="after")
    def _params_known(self) -> "GeneratorSpec":
        generator_class(self.name)(**self.params)  # raises ValueError naming the bad key
        return self


Estimator = Literal["logistic_regression", "hist_gradient_boosting", "random_forest"]
Defect = Literal["skills_scaled_to_percent", "swapped_columns", "slice_labels_inverted", "slice_labels_biased",
                 "renamed_input"]
#: The defects that touch only some rows: they need ``defect_slice``.
SLICE_DEFECTS = ("slice_labels_inverted", "slice_labels_biased")


class DefectSlice(Frozen):
    """The training rows a slice defect touches: ``column`` below ``below``, or in ``values``."""

    column: str
    below: float | None = None
    values: list[str] | None = None
    rate: float = Field(1.0, gt=0, le=1, description="share of the slice's rows touched")

    @model_validator(mode="after")
    def _one(self) -> "DefectSlice":
        if (self.below is None) == (self.values is None):
            raise ValueError("give exactly one of 'below' or 'values'")
        return self


class ModelVersionSpec(Frozen):
    """One registered version. Versions register in list order as v1, v2, ...

    A ``candidate`` is registered with no alias; a ``release`` event hands it to the release
    pipeline. A candidate may carry a defect (it is then one the gate should block)."""

    role: Literal["champion", "challenger", "defective", "candidate"]
    estimator: Estimator
    params: dict[str, float | int | str] = {}
    train_days: tuple[int, int] = Field(description="[first, last) scenario days of training data")
    defect: Defect | None = None
    defect_slice: DefectSlice | None = None
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> "ModelVersionSpec":
        if self.train_days[0] >= self.train_days[1]:
            raise ValueError(f"train_days {list(self.train_days)} is empty: first must be below last")
        if self.role == "defective" and self.defect is None:
            raise ValueError("a 'defective' version needs a defect")
        if self.role in ("champion", "challenger") and self.defect is not None:
            raise ValueError(f"a {self.role!r} version may not have a defect (only 'defective' and 'candidate')")
        if (self.defect in SLICE_DEFECTS) != (self.defect_slice is not None):
            raise ValueError(f"defect_slice goes with, and only with, the defects {', '.join(SLICE_DEFECTS)}")
        return self


class PositiveDecision(Frozen):
    """What a positive decision means for the person scored.

    The registered ``selection_rate`` is the share decided positive in every scenario; whether
    that is good for the person (advanced to an interview, offered a retention deal:
    ``favourable``) or bad (flagged as a likely default, so declined or referred:
    ``adverse``) decides which group the per-group numbers show disadvantaged.
    """

    meaning: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3)] = Field(
        description="the decision in the scenario's words, e.g. 'flagged as likely default'"
    )
    for_person: Literal["favourable", "adverse"] = Field(description="whether a positive decision helps or harms the person")


class DecisionThreshold(Frozen):
    """The business cut-off: a score at or above ``value`` is a positive decision (advance,
    flag as a likely default, offer retention). Label metrics, fairness slices and the live
    performance check all threshold scores here; ``rationale`` says why this value and
    ``positive_decision`` what a positive decision means for the person."""

    value: float = Field(gt=0, lt=1, description="cut-off on the predicted probability of the positive class")
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, min_length=20)] = Field(
        description="why this cut-off: the decision's costs and the base rate"
    )
    positive_decision: PositiveDecision


class ModelSpec(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{2,62}$", description="registered model name")
    eval_days: tuple[int, int]
    decision_threshold: DecisionThreshold
    versions: list[ModelVersionSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_champion(self) -> "ModelSpec":
        roles = [v.role for v in self.versions]
        if roles.count("champion") != 1:
            raise ValueError("exactly one version must have role 'champion'")
        if roles.count("challenger") > 1:
            raise ValueError("at most one version may have role 'challenger'")
        return self


class _Event(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    day: float = Field(ge=0, description="scenario day the event fires (onset for drift)")


class DeployEvent(_Event):
    type: Literal["deploy"]


class DataDriftEvent(_Event):
    """Covariate drift: P(x) moves on ``features``, P(y|x) unchanged."""

    type: Literal["data_drift"]
    features: list[str] = Field(min_length=1)
    magnitude: float = Field(gt=0, le=5, description="shift in reference standard deviations")
    width_days: float = Field(0, ge=0, description="0 = abrupt; else sigmoid width")


class ConceptDriftEvent(_Event):
    """Concept drift: P(y|x) changes, P(x) unchanged."""

    type: Literal["concept_drift"]
    magnitude: float = Field(gt=0, le=1, description="share of the new labelling rule, 0..1")
    width_days: float = Field(0, ge=0)
    segment: Segment | None = Field(None, description="confine the change to these rows (lab.scenario.business)")


class LabelDriftEvent(_Event):
    """Prior drift: P(y=1) moves by ``magnitude`` (absolute), P(x|y) unchanged."""

    type: Literal["label_drift"]
    magnitude: float = Field(gt=-1, lt=1, description="change of the positive rate, e.g. 0.15")
    width_days: float = Field(0, ge=0)

    @field_validator("magnitude")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("a label drift of 0 changes nothing")
        return v


class BadReleaseEvent(_Event):
    """The defective version is promoted to champion."""

    type: Literal["bad_release"]


class ReleaseEvent(_Event):
    """The release pipeline receives candidate ``version``: it runs the lab's release gate
    (``<home>/release/release_gate.yaml``) and promotes the version only if it passes."""

    type: Literal["release"]
    version: int = Field(ge=2)


Event = Annotated[
    Union[DeployEvent, DataDriftEvent, ConceptDriftEvent, LabelDriftEvent, BadReleaseEvent, ReleaseEvent],
    Field(discriminator="type"),
]


class Timeline(Frozen):
    days: int = Field(gt=0, le=365, description="scenario length in days")
    label_delay_days: float = Field(ge=0, description="ground truth for day d arrives on d + delay")
    events: list[Event] = []

    @model_validator(mode="after")
    def _check(self) -> "Timeline":
        names = [e.name for e in self.events]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"event names must be unique; repeated: {', '.join(dupes)}")
        late = [e.name for e in self.events if e.day >= self.days]
        if late:
            raise ValueError(f"event(s) {', '.join(late)} fire on or after the scenario's end (day {self.days})")
        return self


class Traffic(Frozen):
    rows_per_day: int = Field(gt=0, le=1_000_000)
    requests_per_second: float = Field(gt=0, le=500)
    batch_size: int = Field(1, ge=1, le=1000)


class ServiceLevel(Frozen):
    """The service's objectives, as the team agreed them: what a canary's guards must hold."""

    p99_ms: float = Field(gt=0, description="p99 scoring latency budget, milliseconds")
    error_rate: float = Field(ge=0, le=1, description="share of requests that may fail")


class Randomised(Frozen):
    """A parameter the seed draws: ``path`` into the scenario, and a range or choices."""

    path: str = Field(description="dotted path, events by name: timeline.events.drift.day")
    range: tuple[float, float] | None = None
    integer: bool = False
    choices: list[Any] | None = None
    choose: int | None = Field(None, ge=1, description="draw this many distinct choices (a list)")

    @model_validator(mode="after")
    def _one_kind(self) -> "Randomised":
        if (self.range is None) == (self.choices is None):
            raise ValueError("give exactly one of 'range' or 'choices'")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"range {list(self.range)} is empty")
        if self.choose is not None and (self.choices is None or self.choose > len(self.choices)):
            raise ValueError("'choose' needs 'choices' with at least that many entries")
        return self


class Hint(Frozen):
    """A hint a team can take during a drill (`lab hint`); its ``cost`` comes off the team's score."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10)]
    cost: float = Field(ge=0, le=100, description="points taken off the team's total")


class Scenario(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]+$")
    title: str = Field(min_length=3)
    brief: str = Field(min_length=20, description="what the candidate is told")
    domain: str
    risk: Risk
    generator: GeneratorSpec
    reference_days: tuple[int, int] = Field(description="[first, last) days of the reference window")
    model: ModelSpec
    timeline: Timeline
    traffic: Traffic
    service_level: ServiceLevel | None = None
    business: Business | None = None
    graded_tasks: list[Literal[TASKS]] = Field(min_length=1)  # type: ignore[valid-type]
    randomised: list[Randomised] = []
    hints: list[Hint] = Field([], max_length=10, description="drill hints, taken in order")

    @model_validator(mode="after")
    def _cross(self) -> "Scenario":
        gen = generator_class(self.generator.name)
        known = set(gen.feature_names())
        for e in self.timeline.events:
            if isinstance(e, DataDriftEvent):
                bad = [f for f in e.features if f not in known]
                if bad:
                    raise ValueError(
                        f"timeline.events.{e.name}.features: event {e.name!r} drifts unknown feature(s) {', '.join(bad)}; "
                        f"generator {gen.name!r} has: {', '.join(sorted(known))}"
                    )
            if isinstance(e, BadReleaseEvent) and not any(v.role == "defective" for v in self.model.versions):
                raise ValueError(f"timeline.events.{e.name}: event {e.name!r} is a bad_release but no model version has role 'defective'")
            if isinstance(e, ReleaseEvent):
                n = len(self.model.versions)
                if e.version > n or self.model.versions[e.version - 1].role != "candidate":
                    raise ValueError(f"timeline.events.{e.name}: event {e.name!r} releases v{e.version}, which is "
                                     f"not a 'candidate' version (the scenario registers v1..v{n})")
        for v in self.model.versions:
            if v.defect_slice is not None and v.defect_slice.column not in known | set(gen.sensitive_names()):
                raise ValueError(f"model.versions: defect_slice.column {v.defect_slice.column!r} is not a column of "
                                 f"generator {gen.name!r}")
        if "canary" in self.graded_tasks:
            if self.service_level is None:
                raise ValueError("graded_tasks: 'canary' needs service_level (p99_ms, error_rate) to judge guards by")
            roles = {v.role for v in self.model.versions}
            if "candidate" not in roles:
                raise ValueError("graded_tasks: 'canary' needs 'candidate' versions to release")
        check_business(self.business, [(e.name, e.segment) for e in self.timeline.events
                                       if isinstance(e, ConceptDriftEvent) and e.segment is not None], gen)
        if "observability" in self.graded_tasks and (self.business is None or self.service_level is None):
            raise ValueError("graded_tasks: 'observability' needs business.kpis and service_level (p99_ms, error_rate)")
        if "retraining" in self.graded_tasks and not any(isinstance(e, ConceptDriftEvent) for e in self.timeline.events):
            raise ValueError("graded_tasks: 'retraining' needs a concept_drift event (the change a retrain answers)")
        for r in self.randomised:
            _get_path(self.model_dump(mode="python"), r.path)  # raises ValueError if the path is wrong
        return self

    def event(self, name: str) -> Event:
        for e in self.timeline.events:
            if e.name == name:
                return e
        raise KeyError(name)

    def version_of(self, role: str) -> int | None:
        for i, v in enumerate(self.model.versions, start=1):
            if v.role == role:
                return i
        return None


def _get_path(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if isinstance(node, list):
            matches = [x for x in node if isinstance(x, dict) and x.get("name") == part]
            if not matches:
                raise ValueError(f"randomised: path {path!r}: no event named {part!r}")
            node = matches[0]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ValueError(f"randomised: path {path!r}: no field {part!r}")
    return node


def _set_path(data: dict, path: str, value: Any) -> None:
    *head, last = path.split(".")
    node: Any = data
    for part in head:
        node = next(x for x in node if x.get("name") == part) if isinstance(node, list) else node[part]
    node[last] = value


def _format_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p in _EVENT_TAGS))
        msg = e["msg"].removeprefix("Value error, ")
        # cross-field rules name their own location at the start of the message
        lines.append(f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}")
    return "\n".join(lines)


_EVENT_TAGS = {"deploy", "data_drift", "concept_drift", "label_drift", "bad_release", "release"}


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ScenarioError(f"{source}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a YAML mapping, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(
            _format_error(source, err), hint="see the scenario format in the README"
        ) from None


#: What scored every label metric before scenarios stated their threshold.
LEGACY_DECISION_THRESHOLD = {
    "value": 0.5,
    "rationale": "not stated: written before scenarios had a decision threshold, when every score was cut at 0.5",
}

#: What a positive decision meant in a bundle whose scenario did not say, and is not shipped.
LEGACY_POSITIVE_DECISION = {"meaning": "a positive decision (not stated: written before scenarios said)",
                            "for_person": "favourable"}


def _legacy_positive_decision(scenario_id: Any) -> dict[str, Any]:
    """A shipped scenario's own ``positive_decision`` (what a positive decision means does not
    change with the lab's version), else :data:`LEGACY_POSITIVE_DECISION`."""
    if isinstance(scenario_id, str) and scenario_id in scenario_ids():
        try:
            stated = load_scenario(scenario_id).model.decision_threshold.positive_decision
        except ScenarioError:
            return dict(LEGACY_POSITIVE_DECISION)
        return stated.model_dump(mode="json")
    return dict(LEGACY_POSITIVE_DECISION)


def scenario_from_json(data: dict[str, Any]) -> Scenario:
    """An effective scenario as an evidence bundle stores it (``Scenario.model_dump``).

    Bundles written before scenarios stated ``model.decision_threshold`` were scored at
    0.5; that is what they get, with a rationale that says so. Bundles written before
    thresholds stated ``positive_decision`` get the shipped scenario's (a credit flag was
    always adverse), or ``favourable`` for a scenario the lab does not ship. Raises
    pydantic's ``ValidationError`` as ``Scenario.model_validate`` does.

    >>> data = load_scenario("churn-label-drift").model_dump(mode="json")
    >>> del data["model"]["decision_threshold"]
    >>> scenario_from_json(data).model.decision_threshold.value
    0.5
    >>> data = load_scenario("credit-concept-drift").model_dump(mode="json")
    >>> del data["model"]["decision_threshold"]["positive_decision"]
    >>> scenario_from_json(data).model.decision_threshold.positive_decision.for_person
    'adverse'
    >>> data["id"] = "my-own-scenario"
    >>> scenario_from_json(data).model.decision_threshold.positive_decision.for_person
    'favourable'
    """
    model = data.get("model") if isinstance(data, dict) else None
    if isinstance(model, dict):
        threshold = model.get("decision_threshold", LEGACY_DECISION_THRESHOLD)
        if isinstance(threshold, dict) and "positive_decision" not in threshold:
            threshold = {**threshold, "positive_decision": _legacy_positive_decision(data.get("id"))}
        data = {**data, "model": {**model, "decision_threshold": threshold}}
    return Scenario.model_validate(data)


def scenario_ids(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_scenario(ref: str, directory: Path = SCENARIO_DIR) -> Scenario:
    """Load by id (``hiring-data-drift``) or by path to a YAML file."""
    path = Path(ref)
    if not (ref.endswith((".yaml", ".yml")) and path.exists()):
        path = directory / f"{ref}.yaml"
        if not path.exists():
            raise ScenarioError(
                f"unknown scenario {ref!r}", hint=f"known scenarios: {', '.join(scenario_ids(directory))}"
            )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    scenario = parse_scenario(text, str(path))
    if path.parent == directory and scenario.id != path.stem:
        raise ScenarioError(f"{path}: id: {scenario.id!r} does not match the file name {path.stem!r}")
    return scenario


def resolve(scenario: Scenario, seed: int) -> tuple[Scenario, dict[str, Any]]:
    """Apply ``seed`` to the randomised parameters.

    Returns the concrete scenario and the drawn values (path -> value). The draw
    uses its own generator keyed by the seed and the scenario id, so it does not
    depend on anything else that consumed randomness.
    """
    rng = np.random.default_rng([seed, _stable_int(scenario.id)])
    data = copy.deepcopy(scenario.model_dump(mode="python"))
    drawn: dict[str, Any] = {}
    for r in scenario.randomised:
        if r.range is not None:
            lo, hi = r.range
            value: Any = int(rng.integers(int(lo), int(hi) + 1)) if r.integer else round(float(rng.uniform(lo, hi)), 3)
        elif r.choose is not None:
            idx = sorted(rng.choice(len(r.choices), size=r.choose, replace=False).tolist())
            value = [r.choices[i] for i in idx]
        else:
            value = r.choices[int(rng.integers(len(r.choices)))]
        _set_path(data, r.path, value)
        drawn[r.path] = value
    try:
        return Scenario.model_validate(data), drawn
    except ValidationError as err:
        raise ScenarioError(_format_error(f"{scenario.id} (seed {seed})", err)) from None


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
