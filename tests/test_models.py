"""Every scenario's model versions train, and save under MLflow's skops format with the
types the lab trusts (no server: the same check MLflow makes when logging)."""

from __future__ import annotations

import pytest
import skops.io

from lab.data import days_frame
from lab.generators import generator_class
from lab.models import apply_defect, build_pipeline, classification_metrics
from lab.scenario import load_scenario, resolve, scenario_ids
from lab.train import SKOPS_TRUSTED_TYPES


@pytest.mark.parametrize("scenario_id", scenario_ids())
def test_versions_train_and_serialise_with_trusted_types(scenario_id):
    scenario, _ = resolve(load_scenario(scenario_id), 0)
    gen = generator_class(scenario.generator.name)
    features = gen.feature_names()
    evaluation = days_frame(scenario, 0, scenario.model.eval_days)
    for spec in scenario.model.versions:
        lo, hi = spec.train_days
        train = apply_defect(days_frame(scenario, 0, (max(lo, hi - 20), hi)), spec.defect)
        pipe = build_pipeline(gen, spec.estimator, dict(spec.params)).fit(train[features], train["label"])
        untrusted = set(skops.io.get_untrusted_types(data=skops.io.dumps(pipe)))
        assert untrusted <= set(SKOPS_TRUSTED_TYPES), f"{scenario_id} {spec.role}: {untrusted}"
        p = pipe.predict_proba(apply_defect(evaluation, spec.defect)[features])[:, 1]
        assert classification_metrics(evaluation["label"].to_numpy(), p)["roc_auc"] > 0.55


def test_defect_hurts_only_when_served_clean_inputs():
    """The skills-to-percent defect looks fine offline and collapses on real traffic."""
    scenario, _ = resolve(load_scenario("hiring-data-drift"), 0)
    gen = generator_class("hiring")
    features = gen.feature_names()
    spec = next(v for v in scenario.model.versions if v.role == "defective")
    train = apply_defect(days_frame(scenario, 0, (-40, -10)), spec.defect)
    pipe = build_pipeline(gen, spec.estimator, dict(spec.params)).fit(train[features], train["label"])
    evaluation = days_frame(scenario, 0, scenario.model.eval_days)
    offline = classification_metrics(evaluation["label"].to_numpy(),
                                     pipe.predict_proba(apply_defect(evaluation, spec.defect)[features])[:, 1])
    served = classification_metrics(evaluation["label"].to_numpy(), pipe.predict_proba(evaluation[features])[:, 1])
    assert offline["roc_auc"] > 0.75 and offline["selection_rate"] > 0.15
    assert served["selection_rate"] < 0.05
