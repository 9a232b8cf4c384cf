"""`lab retrain`: train a new version on the labelled rows that have actually arrived, register it
with its lineage, and hold it to the lab's release gate.

The data are what production saw and what has come back: each served request's inputs (the
serving log's ``inputs``) joined by request id with its labels (``feedback/labels.jsonl``),
kept only when the labels had arrived by now (``arrived_day`` at or before the scenario day)
and the request's rows are of a day in ``[from_day, to_day)``. Labels are published on day
d + label delay, so a window that reaches into the last ``label_delay`` days simply has fewer
rows: nothing of the future is read (:func:`labelled_rows` takes "now" as an argument, and a
test holds it to that).

Strategies: ``window`` fits the rows as they are; ``weighted`` weights each row by recency,
halving every :data:`HALF_LIFE_DAYS` days before the window's end. The recipe (estimator and
parameters) is the scenario champion's. The last :data:`HOLDOUT_SHARE` of the window's days
is held out for the registered metrics (a time split: the model is measured on days it did
not see), then the version is refit on the whole window.

Lineage, on the MLflow version and its run: parent version (the champion when retrained),
data window, rows and positives, strategy, reason, the lab's version and the training
data's digest (``mlflow.log_input`` holds the data's schema and digest too); the journal's
``retrain`` entry repeats them. With a gate applied (`lab gate apply`), the gate runs on the
new version at once (``gate.run``).
"""

from __future__ import annotations

from typing import Any

from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.errors import UsageError
from lab.scenario.retraining import HALF_LIFE_DAYS, MIN_ROWS, STRATEGIES

HOLDOUT_SHARE = 0.2


def labelled_rows(home: Home, from_day: float, to_day: float, now_day: float, features: list[str]) -> Any:
    """The served rows of days ``[from_day, to_day)`` whose labels had arrived by ``now_day``,
    as a frame of ``features``, ``label`` and ``day`` (pandas; :func:`lab.scenario.retraining.labelled_frame`)."""
    from lab.scenario.retraining import labelled_frame
    from lab.serving.requestlog import read_requests

    batches = ((r.get("id"), r.get("day"), r.get("inputs")) for r in read_requests(home.serving / "requests.jsonl")
               if r.get("status") == 200 and r.get("inputs"))
    return labelled_frame(batches, read_requests(home.labels), features, from_day=from_day, to_day=to_day,
                          now_day=now_day)


def check_window(from_day: float, to_day: float, strategy: str) -> None:
    """The options' own checks, before any lab lookup."""
    if from_day >= to_day:
        raise UsageError(f"--from-day {from_day:g} must be below --to-day {to_day:g}")
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}: got {strategy!r}")


def retrain(home: Home, mlflow_url: str, from_day: float, to_day: float, strategy: str,
            reason: str | None, by: str | None = None) -> dict[str, Any]:
    import mlflow
    import numpy as np

    from lab import __version__
    from lab.release.gate_run import gate_path, run_for_version
    from lab.release.registry import aliases
    from lab.release.train import log_version
    from lab.scenario.generators import generator_class
    from lab.scenario.models import FittedVersion, classification_metrics
    from lab.scenario.retraining import data_digest, fit_rows, recency_weights, retrained_model
    from lab.scenario.run import effective_scenario

    scenario, _ = effective_scenario(home)
    now = Clock(home.clock_json).day()
    if from_day >= now:
        raise UsageError(f"--from-day {from_day:g} is not in the past: today is day {now:.2f}")
    features = generator_class(scenario.generator.name).feature_names()
    rows = labelled_rows(home, from_day, to_day, now, features)
    positives = int(rows["label"].sum()) if len(rows) else 0
    if len(rows) < MIN_ROWS or positives == 0 or positives == len(rows):
        raise UsageError(
            f"days {from_day:g}..{to_day:g} hold {len(rows)} labelled rows ({positives} positive) by day {now:.2f}; "
            f"a retrain needs {MIN_ROWS} with both outcomes",
            hint=f"labels arrive {scenario.timeline.label_delay_days:g} days after the request: widen the window, "
                 "or wait")
    spec = next(v for v in scenario.model.versions if v.role == "champion")
    days = sorted(rows["day"].unique())
    cut = days[max(1, int(len(days) * (1 - HOLDOUT_SHARE)))] if len(days) > 1 else None
    weights = recency_weights(rows["day"], to_day, strategy)
    threshold = scenario.model.decision_threshold.value
    in_train = (rows["day"] < cut).to_numpy() if cut is not None else np.ones(len(rows), dtype=bool)
    holdout = rows[~in_train] if cut is not None else rows
    scores = fit_rows(scenario, rows[in_train], weights[in_train]).predict_proba(holdout[features])[:, 1]
    metrics = classification_metrics(holdout["label"].to_numpy(), scores, threshold=threshold)
    pipeline = retrained_model(scenario, rows, strategy, to_day)
    digest = data_digest(rows, features)
    parent = aliases(mlflow_url, scenario.model.name).get("champion")
    params = {"estimator": spec.estimator, **{f"clf.{k}": v for k, v in spec.params.items()},
              "train_days": f"{from_day:g}..{to_day:g}", "eval_days": f"{cut:g}..{to_day:g} (held out, then refit)"
              if cut is not None else "none", "n_train": len(rows), "n_eval": len(holdout), "positives": positives,
              "strategy": strategy, "features": ",".join(features), "decision_threshold": threshold,
              "scenario": scenario.id}
    tags = {"lab.retrain.parent_version": str(parent), "lab.retrain.window": f"{from_day:g}..{to_day:g}",
            "lab.retrain.strategy": strategy, "lab.retrain.rows": str(len(rows)), "lab.retrain.data_sha256": digest,
            "lab.retrain.code_version": __version__, "lab.retrain.labels_by_day": f"{now:.2f}",
            "lab.retrain.reason": (reason or "")[:500]}
    mlflow.set_tracking_uri(mlflow_url)
    mlflow.set_experiment(scenario.id)
    fitted = FittedVersion(pipeline, rows, holdout, scores, metrics)
    version, run_id = log_version(scenario.model.name, fitted, features, params,
                                  f"Retrained on days {from_day:g}..{to_day:g} ({strategy}) by `lab retrain`",
                                  run_name=f"retrain-{from_day:g}-{to_day:g}", tags=tags)
    data = {"model": scenario.model.name, "version": version, "run_id": run_id, "parent": parent,
            "from_day": from_day, "to_day": to_day, "strategy": strategy, "rows": len(rows), "positives": positives,
            "labels_by_day": round(now, 4), "last_row_day": float(max(days)), "holdout_roc_auc": metrics.get("roc_auc"),
            "data_sha256": digest, "reason": reason, "decided_by": by}
    Journal(home.journal).append("retrain", data, day=now, actor="user")
    if gate_path(home).exists():
        data["gate"] = run_for_version(home, version, gate_path(home))["verdict"]
    return data


__all__ = ["HALF_LIFE_DAYS", "MIN_ROWS", "STRATEGIES", "check_window", "labelled_rows", "retrain"]
