"""Train a scenario's model versions and register them in MLflow.

Run by the supervisor once MLflow is healthy (``python -m lab.release.train --home H``);
does nothing when the registry already holds every version. Versions register in
the scenario's order (v1, v2, ...); aliases ``champion`` and ``challenger`` point at
the versions with those roles.

Each version's run logs, on the scenario's evaluation days, ``roc_auc``, ``brier_score``,
``base_rate`` (share of positive labels; ``positive_rate`` is the same number), and at the
scenario's decision threshold (logged as param and metric ``decision_threshold``)
``accuracy``, ``f1``, ``precision``, ``recall``, ``selection_rate`` and per sensitive
group ``selection_rate.<attr>.<group>``, ``tpr.<attr>.<group>``, ``disparate_impact.<attr>``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from lab.scenario.data import days_frame
from lab.scenario.generators import generator_class
from lab.core.home import Clock, Home, resolve_home
from lab.core.journal import Journal
from lab.scenario.models import FittedVersion, fit_version, model_inputs
from lab.scenario.schema import Scenario, load_scenario, resolve


SKOPS_TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # hist_gradient_boosting
    "sklearn.tree._tree.Tree",  # random_forest
]


def _pip_requirements() -> list[str]:
    import numpy
    import pandas
    import sklearn

    return [f"scikit-learn=={sklearn.__version__}", f"pandas=={pandas.__version__}", f"numpy=={numpy.__version__}"]


def log_version(name: str, fitted: FittedVersion, features: list[str], params: dict[str, Any], description: str,
                run_name: str, tags: dict[str, str] | None = None) -> tuple[int, str]:
    """Log one fitted version as an MLflow run (params, its training and evaluation data as
    inputs, metrics, the model) and register it; returns (version, run id). The tracking URI is set."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    # MLflow prints the run's links to stdout when the run ends: keep stdout for the command's own output (--json)
    with contextlib.redirect_stdout(sys.stderr), mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(params)
        if tags:
            mlflow.set_tags(tags)
        mlflow.log_input(mlflow.data.from_pandas(fitted.train, name="train", targets="label"), context="training")
        mlflow.log_input(mlflow.data.from_pandas(fitted.evaluate, name="eval", targets="label"), context="evaluation")
        mlflow.log_metrics(fitted.metrics)
        signature = infer_signature(fitted.train[features].head(50), fitted.scores[:50])
        info = mlflow.sklearn.log_model(
            sk_model=fitted.pipeline,
            name="model",
            signature=signature,
            input_example=fitted.train[features].head(3),
            pip_requirements=_pip_requirements(),
            registered_model_name=name,
            pyfunc_predict_fn="predict_proba",
            # MLflow 3 saves with skops; the trees' node arrays are a type we created ourselves.
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
        version = int(info.registered_model_version)
    client = MlflowClient(mlflow.get_tracking_uri())
    if description:
        client.update_model_version(name, str(version), description=description)
    if tags:
        for key, value in tags.items():
            client.set_model_version_tag(name, str(version), key, value)
    return version, run.info.run_id


def train_and_register(scenario: Scenario, seed: int, home: Home, tracking_uri: str) -> list[int]:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    name = scenario.model.name
    journal = Journal(home.journal)
    clock = Clock(home.clock_json)

    existing = client.search_model_versions(f"name='{name}'")
    if len(existing) >= len(scenario.model.versions):
        return sorted(int(v.version) for v in existing)
    if client.search_registered_models(f"name='{name}'"):  # an earlier start died half-way: start over
        client.delete_registered_model(name)

    gen = generator_class(scenario.generator.name)
    reference = days_frame(scenario, seed, scenario.reference_days)
    home.data.mkdir(parents=True, exist_ok=True)
    reference.to_parquet(home.data / "reference.parquet", index=False)
    evaluation = days_frame(scenario, seed, scenario.model.eval_days)

    mlflow.set_experiment(scenario.id)
    client.create_registered_model(
        name, description=f"{scenario.title}. Registered by prodml-lab for scenario {scenario.id}."
    )
    versions: list[int] = []
    for spec in scenario.model.versions:
        fitted = fit_version(scenario, spec, days_frame(scenario, seed, spec.train_days), evaluation)
        features = model_inputs(gen, spec.defect)
        params = {
            "estimator": spec.estimator,
            **{f"clf.{k}": v for k, v in spec.params.items()},
            "train_days": f"{spec.train_days[0]}..{spec.train_days[1]}",
            "eval_days": f"{scenario.model.eval_days[0]}..{scenario.model.eval_days[1]}",
            "n_train": len(fitted.train),
            "n_eval": len(fitted.evaluate),
            "features": ",".join(features),
            "decision_threshold": scenario.model.decision_threshold.value,
            "scenario": scenario.id,
        }
        version, run_id = log_version(name, fitted, features, params, spec.description,
                                      run_name=f"{name}-{spec.estimator}")
        versions.append(version)
        journal.append(
            "model.registered",
            {"model": name, "version": version, "run_id": run_id, "estimator": spec.estimator},
            day=clock.day(),
        )
    for role in ("champion", "challenger"):
        version = scenario.version_of(role)
        if version is not None:
            client.set_registered_model_alias(name, role, str(version))
            client.set_model_version_tag(name, str(version), "lab.alias_history", f"{role}@day{clock.day():.2f}")
            journal.append(
                "alias.moved",
                {"model": name, "alias": role, "from": None, "to": version, "reason": "initial deployment"},
                day=clock.day(),
            )
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    home = Home(resolve_home(args.home))
    cfg = home.config()
    scenario, _ = resolve(load_scenario(cfg.scenario_file), cfg.seed)
    versions = train_and_register(scenario, cfg.seed, home, os.environ["MLFLOW_TRACKING_URI"])
    print(f"registered {scenario.model.name} versions {versions}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
