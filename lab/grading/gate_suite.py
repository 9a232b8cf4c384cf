"""The hidden candidates a ``release_gate.yaml`` is replayed on (skill "gates").

Like the drift grader's hidden streams, the suite is drawn from a seed derived from the
scenario id and a constant of this module (:func:`suite_seed`), not from the run's seed:
every run of a scenario is graded on the same candidates, and they are not the versions
the drill registered. Each candidate is a real scikit-learn pipeline trained on rows of the
scenario's generator, sound or carrying one defect of :func:`lab.scenario.models.apply_defect`:

========== ===================================================================== ==============
kind        what is wrong                                                          a gate sees it by
========== ===================================================================== ==============
sound       nothing (other estimators, windows, regularisation)                    passing it
quality     two inputs swapped in training: worse everywhere                       a metric floor
slice       a small group's training labels flipped (all, or 70%): on par overall, per-slice drops
            that group ranked backwards
invariance  one region's labels from a legacy rule that declined them: decisions   invariance to
            change when only the region changes (redlining)                        region
schema      an input renamed in training: cannot score the scenario's rows         the schema check
========== ===================================================================== ==============

The comparison champion is the scenario's own champion recipe, trained on the suite's rows;
the reference rows are the scenario's reference window drawn with the suite's seed.
Fitted models are cached (in memory, and as a pickle in the grader's cache folder: the
lab's own file, keyed by the suite's recipe and the code).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lab.scenario.schema import ModelVersionSpec, Scenario

Kind = Literal["sound", "quality", "slice", "invariance", "schema"]
_SALT = 0x6A7E5
_CACHE_VERSION = 1
#: The generators the suite knows the groups of: the numeric input whose low end is a small group
#: (and cut-off choices), and the input a legacy rule redlined (and the values to choose from).
SLICES: dict[str, dict[str, Any]] = {
    "credit": {"below": ("age", (24, 25, 26)), "redlined": ("region", ("rural", "coastal", "town"))},
}
#: Training windows in days, each ending where the scenario's reference window begins.
WINDOW_DAYS = (60, 45, 30, 3)
_HGB = {"max_iter": 100, "max_leaf_nodes": 15}


@dataclass(frozen=True)
class HiddenCandidate:
    name: str
    kind: Kind
    spec: ModelVersionSpec
    story: str  # what is wrong with it, in the feedback's words


def supported(scenario: Scenario) -> bool:
    return scenario.generator.name in SLICES


def suite_seed(scenario_id: str) -> int:
    """The same for every run of a scenario; different across scenarios."""
    return int(hashlib.sha256(f"{_SALT}:{scenario_id}:gates".encode()).hexdigest()[:8], 16)


def hidden_candidates(scenario: Scenario) -> list[HiddenCandidate]:
    """The suite's recipes: three sound versions and one of each defect (two slices)."""
    rng = np.random.default_rng(suite_seed(scenario.id))
    table = SLICES[scenario.generator.name]

    end = scenario.reference_days[0]  # never trained on a reference row
    long, short, shorter, rushed = ((end - n, end) for n in WINDOW_DAYS)

    def hgb(days: tuple[int, int], **extra: Any) -> dict[str, Any]:
        params = {**_HGB, "learning_rate": round(float(rng.uniform(0.05, 0.08)), 3)}
        return {"role": "candidate", "estimator": "hist_gradient_boosting", "params": params, "train_days": days,
                **extra}

    def lr(days: tuple[int, int], **extra: Any) -> dict[str, Any]:
        return {"role": "candidate", "estimator": "logistic_regression",
                "params": {"C": round(float(10 ** rng.uniform(-0.5, 0.5)), 3)}, "train_days": days, **extra}

    below_col, cuts = table["below"]
    cut = int(rng.choice(cuts))
    red_col, red_values = table["redlined"]
    redlined = str(rng.choice(red_values))
    rate = round(float(rng.uniform(0.05, 0.08)), 3)
    out = [
        HiddenCandidate("sound-1", "sound", ModelVersionSpec(**lr(long)), "a sound retrain of the champion's recipe"),
        HiddenCandidate("sound-2", "sound", ModelVersionSpec(**lr(short)),
                        "a sound retrain of the champion's recipe on a shorter window"),
        HiddenCandidate("sound-3", "sound", ModelVersionSpec(**lr(shorter)),
                        "a sound retrain of the champion's recipe on the last month"),
        HiddenCandidate("quality", "quality", ModelVersionSpec(
            role="candidate", estimator="hist_gradient_boosting", train_days=rushed,
            params={"max_iter": 300, "learning_rate": 0.3, "max_leaf_nodes": 63}),
            "a rushed retrain on three days of data, overfitted: worse for everyone"),
        HiddenCandidate("slice-young", "slice", ModelVersionSpec(**hgb(
            long, defect="slice_labels_inverted", defect_slice={"column": below_col, "below": cut})),
            f"outcome flags of applicants with {below_col} below {cut} flipped in training: on par overall, "
            f"ranks them backwards"),
        HiddenCandidate("slice-partial", "slice", ModelVersionSpec(**hgb(
            long, defect="slice_labels_inverted", defect_slice={"column": below_col, "below": 25, "rate": 0.7})),
            f"70% of the outcome flags of applicants with {below_col} below 25 flipped in training: "
            f"on par overall, much worse for them"),
        HiddenCandidate("invariance", "invariance", ModelVersionSpec(**hgb(
            long, defect="slice_labels_biased",
            defect_slice={"column": red_col, "values": [redlined], "rate": rate})),
            f"{rate:.0%} of {red_col} {redlined} labels from a legacy rule that declined them: decisions change "
            f"when only {red_col} changes"),
        HiddenCandidate("schema", "schema", ModelVersionSpec(**lr(short, defect="renamed_input")),
                        "trained on an input renamed by the feature store: cannot score the scenario's rows"),
    ]
    return out


@dataclass
class Suite:
    candidates: list[HiddenCandidate]
    models: dict[str, Any]  # candidate name -> fitted pipeline
    champion: Any
    reference: Any  # pandas DataFrame: the reference window, drawn with the suite's seed
    features: list[str]


_MEMORY: dict[str, Suite] = {}


def _key(scenario: Scenario, candidates: list[HiddenCandidate]) -> str:
    from lab.monitoring.stream_cache import code_ident

    # code_ident covers lab.scenario (the recipes, fit_version); the suite's own file beside it
    code = code_ident() + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    recipe = [scenario.generator.model_dump(mode="json"), scenario.reference_days, scenario.model.eval_days,
              scenario.model.decision_threshold.value, [c.spec.model_dump(mode="json") for c in candidates],
              _champion_spec(scenario).model_dump(mode="json")]
    return hashlib.sha256(json.dumps([_CACHE_VERSION, code, recipe], sort_keys=True,
                                     default=str).encode()).hexdigest()[:20]


def _champion_spec(scenario: Scenario) -> ModelVersionSpec:
    return next(v for v in scenario.model.versions if v.role == "champion")


def build_suite(scenario: Scenario, cache_dir: Path | None = None) -> Suite:
    """The fitted suite (from memory, the cache folder, or trained now on forked workers)."""
    from lab.monitoring.parallel import fork_map
    from lab.scenario.models import fit_version
    from lab.scenario.data import days_frame
    from lab.scenario.generators import generator_class

    candidates = hidden_candidates(scenario)
    key = _key(scenario, candidates)
    if key in _MEMORY:
        return _MEMORY[key]
    seed = suite_seed(scenario.id)
    features = generator_class(scenario.generator.name).feature_names()
    reference = days_frame(scenario, seed, scenario.reference_days)
    path = cache_dir / f"gate-suite-{key}.pkl" if cache_dir is not None else None
    models: dict[str, Any] | None = None
    if path is not None and path.exists():
        try:
            with open(path, "rb") as f:  # the lab's own cache file, written below
                models = pickle.load(f)
        except Exception:  # noqa: BLE001 (a torn or stale cache is rebuilt)
            models = None
    if models is None:
        evaluation = days_frame(scenario, seed, scenario.model.eval_days)
        frames = {d: days_frame(scenario, seed, d) for d in {c.spec.train_days for c in candidates}
                  | {_champion_spec(scenario).train_days}}
        jobs = [("champion", _champion_spec(scenario))] + [(c.name, c.spec) for c in candidates]
        def fit(job: tuple[str, ModelVersionSpec]) -> Any:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):  # one thread per worker: OpenMP's threads in forked workers only fight
                return fit_version(scenario, job[1], frames[job[1].train_days], evaluation).pipeline

        fitted = fork_map(fit, jobs)
        models = {name: m for (name, _), m in zip(jobs, fitted)}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "wb") as f:
                pickle.dump(models, f)
            tmp.replace(path)
    suite = Suite(candidates, {c.name: models[c.name] for c in candidates}, models["champion"], reference, features)
    _MEMORY[key] = suite
    return suite


__all__ = ["HiddenCandidate", "Kind", "Suite", "build_suite", "hidden_candidates", "suite_seed", "supported"]
