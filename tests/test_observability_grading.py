"""Business versus system observability: the scenario's segment drift, the judge, the hidden replay and the grader.

Pure: no server starts (the exporter test starts the exporter's own small HTTP server).
The replay trains the scenario's champion once per process (a few seconds)."""

from __future__ import annotations

import dataclasses
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lab.core.home import Clock, Home, free_port, write_json_atomic
from lab.evidence.submission import read_submission
from lab.core.stats import above_chance
from lab.grading.observability_grader import PLAN, grade_observability
from lab.monitoring.business import ObservabilityJudge
from lab.monitoring.config import ConfigError, load_monitoring_config
from lab.monitoring.exporter import latest_path, render, serve
from lab.monitoring.observability_config import BusinessSpec, SystemSpec
from lab.monitoring.observability_replay import replay_observability
from lab.scenario.business import Business, Kpi
from lab.scenario.drift import Stream
from lab.scenario.generators.credit import CreditGenerator
from lab.scenario.schema import ConceptDriftEvent, load_scenario
from tests.grading_evidence import Drill, build_evidence

SCENARIO = "kpi-silent-failure"
KPIS = ["approved_default_rate", "loss_rate"]
SOUND = """window: {size: 500}
business:
  rows: 3000
  consecutive_windows: 2
  kpis:
    approved_default_rate: {max_rise: 0.012}
system:
  p99_latency_ms: {max: 300}
  error_rate: {max: 0.01}
  consecutive_windows: 2
"""
SYSTEM_ONLY = """system:
  p99_latency_ms: {max: 300}
  error_rate: {max: 0.01}
  consecutive_windows: 2
"""
ALWAYS = """business:
  kpis:
    approved_default_rate: {max: 0.0001}
system:
  p99_latency_ms: {max: 1}
"""
TWITCHY_SYSTEM = SOUND.replace("  consecutive_windows: 2\n", "  consecutive_windows: 1\n")
GOOD_DOC = """# Observability for the loan-approval model

## Signals and the questions they answer
- System signals (p99 latency, error rate, throughput from serving's /metrics) answer: is the service up and fast?
- Model signals (input and prediction drift, performance on labelled rows) answer: is the model still right?
- Business KPIs (approved_default_rate, loss_rate) answer: what do the approvals cost us? Healthy latency and
  errors do not mean a healthy model: the KPI can fall while every system dashboard is green.

## Business KPIs
The approved_default_rate is the share of automatically approved loans that default, computed from outcomes on
the most recent 3,000 decided rows; we alarm when it rises more than 0.012 above its reference value (about 0.08).
Outcomes arrive 4 days after the decision, so the KPI lags every change by at least 4 days.
We break the KPI down by region and by age_band, because a failure in one segment hides in the overall average.

## Service level objectives
- p99 latency under 300 ms over each monitoring window, two windows in a row.
- Error rate under 1% of requests over each window, two windows in a row.

## Who is paged
| signal | who is paged | how |
|---|---|---|
| p99 latency or error rate SLO breach | the on-call SRE of the platform team | page, immediately |
| approved_default_rate or loss_rate breach | the model owner (ML engineer) and the credit risk owner | ticket, next business day |
"""


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIO)


def _config(text: str):
    return load_monitoring_config(text, kpis=KPIS)


# --------------------------------------------------------------------------- the scenario's drift


def test_a_segment_drift_changes_labels_only_in_the_segment(scenario):
    event = next(e for e in scenario.timeline.events if isinstance(e, ConceptDriftEvent))
    gen = CreditGenerator(**scenario.generator.params)
    drifted = Stream(gen, [event.model_copy(update={"day": 2.0, "width_days": 0.0, "magnitude": 1.0})], seed=4)
    plain = Stream(gen, [], seed=4)
    a, b = drifted.day(5, 4000), plain.day(5, 4000)
    inside = a["region"].isin(event.segment.values).to_numpy()
    assert a.drop(columns="label").equals(b.drop(columns="label"))  # the inputs do not move
    assert (a["label"].to_numpy()[~inside] == b["label"].to_numpy()[~inside]).all()
    assert a["label"][inside].mean() > b["label"][inside].mean() + 0.03  # defaults rise in the segment


def test_the_answer_key_says_which_segment(scenario):
    from lab.scenario.answer_key import build, dump

    key = dump(build(scenario, 3))
    assert key["drifts"][0]["segment"] == {"column": "region", "values": ["town", "rural"]}
    other = dump(build(load_scenario("credit-concept-drift"), 3))
    assert "segment" not in other["drifts"][0]  # keys without a segment are written as before


@pytest.mark.parametrize("bad, message", [
    ({"column": "salary", "values": ["x"]}, "not a categorical column"),
    ({"column": "region", "values": ["moon"]}, "not among region's categories"),
])
def test_a_segment_must_name_a_categorical_column_and_its_values(scenario, bad, message):
    data = scenario.model_dump(mode="python")
    for e in data["timeline"]["events"]:
        if e["type"] == "concept_drift":
            e["segment"] = bad
    with pytest.raises(Exception, match=message):
        type(scenario).model_validate(data)


def test_a_kpi_weight_must_be_a_numeric_input(scenario):
    data = scenario.model_dump(mode="python")
    data["business"]["kpis"][1]["weight"] = "region"
    with pytest.raises(Exception, match="not a numeric column"):
        type(scenario).model_validate(data)


# --------------------------------------------------------------------------- the config


def test_business_and_system_sections_are_checked_with_every_problem_and_line():
    text = ("business:\n  rows: 10\n  kpis:\n    churn_rate: {max: 0.1}\n    loss_rate: {}\n"
            "system:\n  p99_latency_ms: {max: -1}\n  error_rate: {max: 5}\n")
    with pytest.raises(ConfigError) as exc:
        load_monitoring_config(text, kpis=KPIS)
    said = [str(p) for p in exc.value.problems]
    assert any(":2: business.rows: must be at least 50" in s for s in said)
    assert any(":4: business.kpis.churn_rate: unknown KPI 'churn_rate'" in s and "approved_default_rate" in s for s in said)
    assert any(":5: business.kpis.loss_rate: give at least one bound" in s for s in said)
    assert any(":7: system.p99_latency_ms.max: must be above 0" in s for s in said)
    assert any(":8: system.error_rate.max" in s for s in said)


def test_a_scenario_without_kpis_refuses_a_business_section():
    with pytest.raises(ConfigError, match="computes no business KPIs"):
        load_monitoring_config("business: {kpis: {loss_rate: {max: 0.1}}}\n", kpis=[])


# --------------------------------------------------------------------------- the judge


def _bad_rate_judge(business_needs: int, system_needs: int) -> ObservabilityJudge:
    biz = Business(kpis=[Kpi(name="bad_rate", description="bad approved", decision="negative",
                             direction="lower_is_better")])
    return ObservabilityJudge(
        biz, BusinessSpec(kpis={"bad_rate": {"max_rise": 0.05}}, consecutive_windows=business_needs),
        SystemSpec(error_rate={"max": 0.01}, consecutive_windows=system_needs), threshold=0.5,
        reference={"bad_rate": 0.1})


def test_each_section_keeps_its_own_run_of_breaches():
    judge = _bad_rate_judge(business_needs=2, system_needs=1)
    bad = pd.DataFrame({"label": [1, 0, 0, 0] * 25, "prediction": [0.1] * 100})  # 0.25: 0.15 above the reference
    good = pd.DataFrame({"label": [1] + [0] * 9, "prediction": [0.1] * 10} | {}).sample(frac=1, random_state=0)
    good = pd.concat([good] * 10)
    first = judge.window(bad, np.full(100, 10.0), failed=5)
    assert first["signals"] == ["business", "system"] and first["alarms"] == ["system"]
    second = judge.window(bad, np.full(100, 10.0), failed=0)
    assert second["alarms"] == ["business"]  # two windows in a row; the system recovered
    third = judge.window(good, np.full(100, 10.0), failed=0)
    assert third["signals"] == [] and third["business"]["bad_rate"]["value"] == pytest.approx(0.1)


def test_a_kpi_on_too_few_decided_rows_has_no_value_and_never_breaches():
    judge = _bad_rate_judge(1, 1)
    few = pd.DataFrame({"label": [1] * 10, "prediction": [0.1] * 10})
    out = judge.window(few, np.empty(0), 0)
    assert out["business"]["bad_rate"]["value"] is None and out["signals"] == []


# --------------------------------------------------------------------------- the replay


def test_a_sound_config_catches_the_kpi_drop_and_a_system_only_one_misses_it():
    sound = replay_observability(_config(SOUND), SCENARIO, seed=11)
    system_only = replay_observability(_config(SYSTEM_ONLY), SCENARIO, seed=11)
    assert sound.business.hit_rate >= 0.8
    assert above_chance(sound.business.hit_rate, sound.business.chance) > 0.6
    assert system_only.business.hit_rate == 0 and not system_only.business.configured
    # the system's ordinary noise pages neither; both catch the system incidents
    for r in (sound, system_only):
        assert r.system.hit_rate == 1.0 and r.system.false_pages_per_week < 0.5


def test_an_always_alarming_config_detects_nothing_above_chance():
    r = replay_observability(_config(ALWAYS), SCENARIO, seed=11)
    assert r.business.hit_rate == 1.0 and r.business.chance == 1.0
    assert above_chance(r.business.hit_rate, r.business.chance) == 0.0
    assert above_chance(r.system.hit_rate, r.system.chance) == 0.0


def test_paging_on_a_single_slow_window_pages_on_noise():
    twitchy = replay_observability(_config(TWITCHY_SYSTEM), SCENARIO, seed=11)
    steady = replay_observability(_config(SOUND), SCENARIO, seed=11)
    assert twitchy.system.false_pages > 2 * max(1, steady.system.false_pages)


def test_the_replay_is_seeded():
    a = replay_observability(_config(SOUND), SCENARIO, seed=11).summary()
    b = replay_observability(_config(SOUND), SCENARIO, seed=11).summary()
    c = replay_observability(_config(SOUND), SCENARIO, seed=12).summary()
    assert a == b and a != c


# --------------------------------------------------------------------------- the grader


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    return build_evidence(tmp_path_factory.mktemp("obs"), Drill(
        scenario=SCENARIO, shadow_version=None, promote_version=None, rollback_to=None, rollback_reason=None))


def _submission(tmp: Path, files: dict[str, str]):
    folder = tmp / "sub"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return read_submission(folder, work_dir=tmp)


def _with_journal(ev, entries):
    base = max(e["seq"] for e in ev.journal)
    extra = [{"seq": base + i + 1, "time": "", "day": day, "kind": kind, "actor": "monitor", "data": data,
              "prev": "", "hash": ""} for i, (day, kind, data) in enumerate(entries)]
    return dataclasses.replace(ev, journal=[*ev.journal, *extra])


def _points(items):
    return {i.id: i.points for i in items}


def test_a_sound_submission_scores_well_and_a_system_only_one_loses_the_business_items(evidence, tmp_path):
    onset = evidence.answer_key.drifts[0].onset_day
    live = _with_journal(evidence, [
        (1.0, "monitor.config", {"source": "monitoring/config.yaml", "sha256": "x", "pins": {}}),
        (onset + 5.5, "monitor.alert", {"window": 40, "signals": ["business"],
                                         "alerts": [{"signal": "business", "detail": "approved_default_rate 0.1"}]}),
    ])
    good = grade_observability(live, _submission(tmp_path / "a", {"monitoring.yaml": SOUND,
                                                                   "observability.md": GOOD_DOC}))
    weak = grade_observability(evidence, _submission(tmp_path / "b", {"monitoring.yaml": SYSTEM_ONLY}))
    g, w = _points(good), _points(weak)
    assert [i.id for i in good[:len(PLAN)]] == [k for k, _, _ in PLAN]
    assert g["observability.business.detect"] >= 6 and g["observability.live"] == 4
    assert g["observability.system.detect"] == 3 and g["observability.system.quiet"] >= 3
    for key in ("observability.business.detect", "observability.business.timely", "observability.business.quiet",
                "observability.live"):
        assert w[key] == 0, key
    assert w["observability.system.detect"] == 3
    assert sum(g.values()) > sum(w.values()) + 25
    assert all(i.feedback for i in good + weak)


def test_the_live_item_reads_the_journal(evidence, tmp_path):
    onset = evidence.answer_key.drifts[0].onset_day
    sub = _submission(tmp_path, {"monitoring.yaml": SOUND})
    applied = (1.0, "monitor.config", {"source": "monitoring/config.yaml", "sha256": "x", "pins": {}})
    early = (onset - 3, "monitor.alert", {"window": 3, "signals": ["business"], "alerts": []})
    drift_only = (onset + 2, "monitor.alert", {"window": 9, "signals": ["performance"], "alerts": []})

    def live(entries):
        return _points(grade_observability(_with_journal(evidence, entries), sub))["observability.live"]

    assert live([]) == 0
    assert live([applied, early, drift_only]) == 2  # a config ran, but no business alert after the change
    assert live([applied, (onset + 4.2, "monitor.alert", {"window": 30, "signals": ["business"], "alerts": []})]) == 4


def test_an_invalid_config_scores_the_config_items_zero_with_its_problem(evidence, tmp_path):
    sub = _submission(tmp_path, {"monitoring.yaml": "business:\n  kpis:\n    churn: {max: 0.1}\n"})
    items = {i.id: i for i in grade_observability(evidence, sub)}
    assert items["observability.business.detect"].points == 0
    assert "unknown KPI 'churn'" in items["observability.business.detect"].feedback


# --------------------------------------------------------------------------- the exporter


def test_the_exporter_serves_the_monitors_latest_window(tmp_path):
    home = Home(tmp_path / "home")
    home.ensure_writable()
    Clock(home.clock_json).start(speed=60.0, now=0.0)
    assert "lab_business_kpi{" not in render(2.0, None)  # no window yet: no KPI series
    write_json_atomic(latest_path(home), {"index": 4, "business": {"loss_rate": {
        "value": 0.07, "rows": 812, "reference": 0.06, "max": 0.08, "min": None, "breach": False}},
        "system": {"p99_ms": 41.0, "error_rate": 0.0, "requests": 100, "breaches": []}})
    port = free_port()
    server = serve(home, port)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read().decode()
    finally:
        server.shutdown()
    assert 'lab_business_kpi{kpi="loss_rate"} 0.07' in body
    assert 'lab_business_kpi_threshold{kpi="loss_rate",bound="max"} 0.08' in body
    assert 'bound="min"' not in body  # no bound, no series
    assert "lab_window_p99_latency_seconds 0.041" in body and "lab_monitor_windows_total 5.0" in body
    assert '"window": 4' in health
