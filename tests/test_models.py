"""Every scenario's model versions train, and save under MLflow's skops format with the
types the lab trusts (no server: the same check MLflow makes when logging); the metrics
registered for them, taken at the scenario's decision threshold, are not degenerate."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import skops.io

from lab.scenario.data import days_frame
from lab.scenario.generators import generator_class
from lab.scenario.models import apply_defect, classification_metrics
from lab.scenario.schema import load_scenario, resolve, scenario_ids
from lab.release.train import SKOPS_TRUSTED_TYPES
from lab.scenario.models import FittedVersion, fit_version

TRAIN_DAYS = 20  # the last days of each version's training window: enough, and fast


@functools.cache
def fitted(scenario_id: str, seed: int = 0) -> list[tuple[str, FittedVersion]]:
    """Each version as lab.release.train fits and measures it, on fewer training days."""
    scenario, _ = resolve(load_scenario(scenario_id), seed)
    evaluation = days_frame(scenario, seed, scenario.model.eval_days)
    out = []
    for spec in scenario.model.versions:
        lo, hi = spec.train_days
        train = days_frame(scenario, seed, (max(lo, hi - TRAIN_DAYS), hi))
        role = f"{spec.role}:{spec.defect}" if spec.defect and spec.role == "candidate" else spec.role
        out.append((role, fit_version(scenario, spec, train, evaluation)))
    return out


@pytest.mark.parametrize("scenario_id", scenario_ids())
def test_versions_train_and_serialise_with_trusted_types(scenario_id):
    for role, version in fitted(scenario_id):
        untrusted = set(skops.io.get_untrusted_types(data=skops.io.dumps(version.pipeline)))
        assert untrusted <= set(SKOPS_TRUSTED_TYPES), f"{scenario_id} {role}: {untrusted}"
        assert version.metrics["roc_auc"] > 0.55


@pytest.mark.parametrize("scenario_id", scenario_ids())
def test_registered_metrics_at_the_decision_threshold_are_not_degenerate(scenario_id):
    threshold = load_scenario(scenario_id).model.decision_threshold.value
    for role, version in fitted(scenario_id):
        m, where = version.metrics, f"{scenario_id} {role}"
        y = version.evaluate["label"].to_numpy()
        assert m["decision_threshold"] == threshold, where
        assert 0 < m["selection_rate"] < 1 and m["recall"] > 0 and m["f1"] > 0, (where, m)
        assert m["selection_rate"] == pytest.approx(np.mean(version.scores >= threshold), abs=1e-6), where
        assert m["base_rate"] == m["positive_rate"] == pytest.approx(y.mean(), abs=1e-6), where
        # calibrated enough to beat predicting the base rate for everyone (a version trained on
        # corrupted labels is miscalibrated by design: that is what its gate must find)
        if not role.startswith("candidate:slice_labels"):
            assert 0 < m["brier_score"] < m["base_rate"] * (1 - m["base_rate"]), (where, m)
        for attr in generator_class(load_scenario(scenario_id).generator.name).sensitive_names():
            rates = {k: v for k, v in m.items() if k.startswith(f"selection_rate.{attr}.")}
            assert len(rates) >= 2 and max(rates.values()) > 0, (where, attr, rates)
            assert 0 < m[f"disparate_impact.{attr}"] <= 1, (where, attr)
            assert m[f"disparate_impact.{attr}"] == pytest.approx(min(rates.values()) / max(rates.values()), abs=1e-5)
            assert any(k.startswith(f"tpr.{attr}.") and v > 0 for k, v in m.items()), (where, attr)


def test_metrics_move_with_the_threshold():
    """The same scores give other decisions at another threshold (nothing is cut at 0.5)."""
    _, version = fitted("credit-concept-drift")[0]
    y = version.evaluate["label"].to_numpy()
    at = {t: classification_metrics(y, version.scores, threshold=t) for t in (0.15, 0.5)}
    assert at[0.15] == {k: v for k, v in version.metrics.items() if k in at[0.15]}
    assert at[0.5]["selection_rate"] < at[0.15]["selection_rate"]
    assert at[0.5]["brier_score"] == at[0.15]["brier_score"] and at[0.5]["roc_auc"] == at[0.15]["roc_auc"]


def test_defect_hurts_only_when_served_clean_inputs():
    """The skills-to-percent defect looks fine offline and collapses on real traffic."""
    scenario, _ = resolve(load_scenario("hiring-data-drift"), 0)
    threshold = scenario.model.decision_threshold.value
    features = generator_class("hiring").feature_names()
    role, defective = next(f for f in fitted("hiring-data-drift") if f[0] == "defective")
    evaluation = days_frame(scenario, 0, scenario.model.eval_days)
    assert apply_defect(evaluation, "skills_scaled_to_percent").equals(defective.evaluate)
    served = classification_metrics(evaluation["label"].to_numpy(),
                                    defective.pipeline.predict_proba(evaluation[features])[:, 1], threshold=threshold)
    assert defective.metrics["roc_auc"] > 0.75 and defective.metrics["selection_rate"] > 0.15
    assert served["selection_rate"] < 0.05
