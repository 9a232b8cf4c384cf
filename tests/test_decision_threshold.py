"""`lab shadow report` decides at the scenario's threshold, not at 0.5."""

from __future__ import annotations

import pytest

from lab.scenario.schema import load_scenario
from lab.release.shadow_report import shadow_report


def _records() -> tuple[list[dict], list[dict]]:
    champion = [0.05, 0.12, 0.18, 0.30, 0.08, 0.22]
    shadow = [0.07, 0.17, 0.14, 0.45, 0.02, 0.60]
    labels = [0, 1, 0, 1, 0, 1]
    records, truth = [], []
    for i, (c, s, y) in enumerate(zip(champion, shadow, labels)):
        records.append({"id": f"r{i}", "status": 200, "champion_version": 1, "shadow_version": 2,
                        "shadow_status": "ok", "champion_prediction": [c], "shadow_prediction": [s],
                        "latency_ms": 5.0, "shadow_latency_ms": 6.0})
        truth.append({"request_id": f"r{i}", "labels": [y]})
    return records, truth


def test_shadow_report_decides_at_the_given_threshold():
    records, labels = _records()
    threshold = load_scenario("credit-concept-drift").model.decision_threshold.value  # 0.15
    at = shadow_report(records, labels, decision_threshold=threshold)
    assert at["decision_threshold"] == threshold
    # champion flags r2, r3, r5; shadow flags r1, r3, r5: they disagree on r1 and r2
    assert at["agreement_rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert at["labelled"]["champion"]["selection_rate"] == 0.5
    assert at["labelled"]["shadow"]["accuracy"] == 1.0 and at["labelled"]["shadow"]["f1"] == 1.0
    old = shadow_report(records, labels, decision_threshold=0.5)  # what 0.5 made of the same scores
    assert old["agreement_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert old["labelled"]["champion"]["selection_rate"] == 0 and old["labelled"]["champion"]["f1"] == 0


def test_shadow_report_needs_a_threshold():
    records, labels = _records()
    with pytest.raises(TypeError, match="decision_threshold"):
        shadow_report(records, labels)  # type: ignore[call-arg]
