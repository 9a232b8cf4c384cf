"""The release gate (lab.release.gate) on planted candidates: a sound model passes; a model
trained on percent-scaled skills, one that regresses on a group, one whose decisions move
with a protected attribute, a slow one and one that cannot score the rows are blocked,
each by the check that is about its defect. Pure: small scikit-learn models, no servers."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from lab.errors import UsageError
from lab.release.gate import load_gate, run_gate
from lab.scenario.generators.hiring import HiringGenerator
from lab.scenario.models import apply_defect, build_pipeline

FEATURES = HiringGenerator.feature_names()
THRESHOLD = 0.5
GATE = load_gate("""\
metrics:
  roc_auc: {min: 0.72}
slices: {column: gender, metric: roc_auc, max_drop: 0.03, min_rows: 150}
invariance: {columns: [gender, age_band], max_flip_rate: 0.0}
directional:
  - {column: skills_match, direction: increasing, delta: 0.1, max_violation_rate: 0.02}
""")


def _data(seed: int, n: int) -> pd.DataFrame:
    return HiringGenerator().sample(np.random.default_rng(seed), n)


@pytest.fixture(scope="module")
def models():
    train, reference = _data(1, 4000), _data(2, 3000)
    sound = build_pipeline(HiringGenerator, "logistic_regression", {}).fit(train[FEATURES], train["label"])
    percent = apply_defect(train, "skills_scaled_to_percent")
    scaled = build_pipeline(HiringGenerator, "logistic_regression", {}).fit(percent[FEATURES], percent["label"])
    return {"sound": sound, "percent": scaled}, reference


class Wrapped:
    """A candidate built from the sound model with one defect in how it scores."""

    def __init__(self, base, reference: pd.DataFrame, kind: str, delay_s: float = 0.0):
        self.base, self.reference, self.kind, self.delay_s = base, reference, kind, delay_s

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.kind == "broken":
            raise KeyError("column 'skills_pct' not found")
        if self.delay_s:
            time.sleep(self.delay_s)
        p = self.base.predict_proba(X[FEATURES])[:, 1]
        gender = self.reference.loc[X.index, "gender"].to_numpy() if self.kind == "slice" else None
        if self.kind == "slice":  # scores for women blurred with noise: that group's ranking degrades
            women = gender == "female"
            p = p.copy()
            p[women] = 0.6 * p[women] + 0.4 * np.random.default_rng(0).random(int(women.sum()))
        if self.kind == "protected":  # decisions move with gender
            p = np.clip(p + np.where(X["gender"].to_numpy() == "male", 0.2, 0.0), 0, 1)
        return np.column_stack([1 - p, p])


def _gate(candidate, reference, champion, features=FEATURES, cfg=GATE):
    return run_gate(cfg, candidate, champion, reference, features, THRESHOLD)


def test_a_sound_candidate_passes_every_check(models):
    m, reference = models
    result = _gate(m["sound"], reference, m["sound"], features=[*FEATURES, "gender", "age_band"])
    assert result.passed, [(c.name, c.detail) for c in result.checks]
    assert {c.name for c in result.checks} == {"schema", "metric roc_auc", "slices by gender",
                                               "invariance to gender, age_band", "skills_match increasing"}


def test_a_model_trained_on_percent_skills_is_blocked_by_its_metric_floor(models):
    m, reference = models
    result = _gate(m["percent"], reference, m["sound"])
    assert not result.passed and "metric roc_auc" in result.failed
    floor = next(c for c in result.checks if c.name == "metric roc_auc")
    assert floor.value < 0.72 and floor.limit == 0.72


def test_a_slice_regression_is_blocked_by_the_slice_check_not_the_overall_floor(models):
    m, reference = models
    result = _gate(Wrapped(m["sound"], reference, "slice"), reference, m["sound"])
    assert result.failed == ["slices by gender"], [(c.name, c.detail) for c in result.checks]
    check = next(c for c in result.checks if c.name == "slices by gender")
    assert "female loses" in check.detail and check.value > 0.03


def test_decisions_that_move_with_a_protected_attribute_break_invariance(models):
    m, reference = models
    result = _gate(Wrapped(m["sound"], reference, "protected"), reference, m["sound"],
                   features=[*FEATURES, "gender", "age_band"])
    assert "invariance to gender, age_band" in result.failed
    inv = next(c for c in result.checks if c.name.startswith("invariance"))
    assert inv.value > 0.01


def test_a_model_that_cannot_score_the_rows_fails_the_schema_check_alone(models):
    m, reference = models
    result = _gate(Wrapped(m["sound"], reference, "broken"), reference, m["sound"])
    assert not result.passed and [c.name for c in result.checks] == ["schema"]
    assert "skills_pct" in result.checks[0].detail


def test_latency_budget(models):
    m, reference = models
    cfg = load_gate("latency: {p99_ms: 5, calls: 20}\nschema: true\n")
    slow = run_gate(cfg, Wrapped(m["sound"], reference, "slow", delay_s=0.02), m["sound"], reference, FEATURES, 0.5)
    assert slow.failed == ["latency"] and slow.checks[-1].value >= 20
    generous = load_gate("latency: {p99_ms: 10000, calls: 20}\n")
    assert run_gate(generous, m["sound"], m["sound"], reference, FEATURES, 0.5).passed


def test_a_bad_gate_file_is_a_usage_error_naming_the_key_and_line():
    with pytest.raises(UsageError, match=r"release_gate.yaml: slices.0.max_drop \(line 2\): Field required"):
        load_gate("metrics: {roc_auc: {min: 0.7}}\nslices: {column: gender}\n")
    with pytest.raises(UsageError, match="line 2: metrics is written twice"):
        load_gate("metrics: {}\nmetrics: {}\n")
    with pytest.raises(UsageError, match="give min, max or both"):
        load_gate("metrics: {roc_auc: {}}\n")


def test_a_column_the_reference_lacks_fails_its_check_instead_of_passing(models):
    m, reference = models
    cfg = load_gate("invariance: {columns: [gendr]}\ndirectional: [{column: skils, direction: increasing, delta: 1}]\n")
    result = run_gate(cfg, m["sound"], m["sound"], reference, FEATURES, THRESHOLD)
    assert set(result.failed) == {"invariance to gendr", "skils increasing"}
    assert "no column 'gendr'" in next(c.detail for c in result.checks if c.name == "invariance to gendr")
