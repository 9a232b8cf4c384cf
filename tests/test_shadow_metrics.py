"""The shadow report's metrics (numpy, so grading never imports scikit-learn) against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from lab.release.shadow_report import _metrics


@pytest.mark.parametrize("seed", range(8))
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    y = rng.integers(0, 2, n)
    p = np.round(rng.random(n) * 0.6 + 0.3 * y, int(rng.integers(1, 4)))  # rounded: many ties
    decision = float(rng.choice([0.0, 0.5, 0.7, 1.01]))
    pred = (p >= decision).astype(int)
    got = _metrics(y, p, decision)
    assert got["accuracy"] == round(float(accuracy_score(y, pred)), 4)
    assert got["f1"] == round(float(f1_score(y, pred, zero_division=0)), 4)
    if len(np.unique(y)) == 2:
        assert got["roc_auc"] == round(float(roc_auc_score(y, p)), 4)


def test_one_class_has_no_auc():
    assert _metrics(np.ones(5, dtype=int), np.linspace(0, 1, 5), 0.5)["roc_auc"] is None
