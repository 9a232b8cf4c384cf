"""The replay evaluator: known drift episodes score a monitoring.yaml, beside its baselines.

Evidently's defaults (an empty config) and deliberately bad configs get clearly
different figures on each drift scenario, and the right ones: a config that never fires
detects nothing and never false-alarms, one that always fires alarms on every no-drift
window, a config without labels cannot see concept drift, and a performance check can.
Results are cached per module (one evaluation is ~5-15 s on 2 cores).
"""

from __future__ import annotations

import json
import math

import pytest

from lab.monitoring import ConfigError
from lab.monitoring.evaluate import (
    EvaluationResult,
    SuiteSpec,
    clear_cache,
    evaluate,
    label_lag_windows,
    live_rows_per_day,
    max_delay_windows,
    validate_config,
)
from lab.scenario.schema import load_scenario
from tests.conftest import run_lab

SEED = 0
SCENARIOS = ["hiring-data-drift", "credit-concept-drift", "churn-label-drift"]
KINDS = ("data", "concept", "label")

DEFAULT = "{}\n"  # every part omitted: Evidently's defaults, pinned on the reference
NEVER = """\
data_drift:
  default: {method: psi, threshold: 1000}
prediction_drift: {method: psi, threshold: 1000}
"""
ALWAYS = """\
data_drift:
  default: {method: psi, threshold: 0.000001}
  dataset_drift_share: 0.05
"""
DATA_ONLY = """\
data_drift:
  default: {method: psi, threshold: 0.2}
  dataset_drift_share: 0.1
prediction_drift: {method: psi, threshold: 1000}
"""
WITH_LABELS = """\
window: {size: 1000}
performance: {metric: accuracy, max_drop: 0.03}
"""  # accuracy at the scenario's 0.15 cut-off: on 500-row windows its noise hides a mild shock

LABELS_DIAGNOSTIC = "never looks at labels"


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], EvaluationResult]:
    return {}


def run(results: dict, name: str, config: str, scenario: str) -> EvaluationResult:
    key = (name, scenario)
    if key not in results:
        results[key] = evaluate(config, scenario, SEED)
    return results[key]


# --------------------------------------------------------------------------- geometry and shape


def test_live_rate_is_what_the_traffic_sends():
    for name in SCENARIOS:
        sc = load_scenario(name)
        t = sc.traffic
        assert live_rows_per_day(sc) == round(t.requests_per_second * t.batch_size * 60)
        assert live_rows_per_day(sc, speed=30) == round(t.requests_per_second * t.batch_size * 30)
    with pytest.raises(ValueError, match="speed must be positive"):
        live_rows_per_day(sc, speed=0)


def test_lag_and_budget():
    assert label_lag_windows(5, 800, 500) == 8
    assert label_lag_windows(3, 600, 500) == 4  # 3.6 windows: the last rows' labels arrive in the 4th
    assert label_lag_windows(0, 800, 500) == 0
    assert max_delay_windows(5, 800, 500) == 8 + 4  # two grace days = 3.2 windows, rounded up
    assert max_delay_windows(5, 800, 20_000) == 1 + 1  # at least one grace window


def test_result_shape_and_consistency(results):
    r = run(results, "default", DEFAULT, "hiring-data-drift")
    sc = load_scenario("hiring-data-drift")
    # the live rate: 4 requests/s x 1 row x 60 s per scenario day, not the 600 rows of a day's data
    assert (r.window_size, r.rows_per_day) == (500, live_rows_per_day(sc)) == (500, 240)
    assert sc.traffic.rows_per_day == 600
    assert r.label_lag_windows == label_lag_windows(sc.timeline.label_delay_days, 240, 500) == 2
    spec = SuiteSpec()
    per_kind = {k: sum(e.kind == k for e in r.episodes) for k in ("data", "concept", "label", "none")}
    assert per_kind == {"data": 6, "concept": 6, "label": 6, "none": spec.no_drift_streams}
    assert len({e.stream_id for e in r.episodes}) == len(r.episodes)  # independent streams
    for e in r.episodes:
        if e.kind == "none":
            assert e.onset_window is None and not e.detected and e.windows_replayed == e.windows_planned
            continue
        assert spec.onset_windows[0] <= e.onset_window <= spec.onset_windows[1]
        onset = e.windows[e.onset_window]
        assert onset.drifted and not e.windows[e.onset_window - 1].drifted
        assert onset.first_day == e.onset_day  # drift starts exactly on a window boundary
        if e.detected:
            assert 0 <= e.delay_windows <= r.max_delay_windows
            assert e.windows_replayed == e.detection_window + 1  # an episode ends at its first hit
            assert e.signals and e.windows[-1].alarm
            assert math.isclose(e.delay_days, (e.delay_windows + 1) * 500 / 240, abs_tol=1e-6)
        else:
            assert e.windows_replayed == e.windows_planned == e.onset_window + r.max_delay_windows + 1
        assert math.isclose(onset.last_day - onset.first_day, 500 / 240, abs_tol=1e-5)  # a window spans live days
        if e.kind == "data":
            assert 1 <= len(e.features) <= 3
    for kind in ("data", "concept", "label"):  # the layout is stratified: onsets spread evenly over their range
        onsets = [e.onset_window for e in r.episodes if e.kind == kind]
        counts = [onsets.count(w) for w in range(spec.onset_windows[0], spec.onset_windows[1] + 1)]
        assert max(counts) - min(counts) <= 1, (kind, onsets)
    moved = [f for e in r.episodes if e.kind == "data" for f in e.features]
    uses = [moved.count(f) for f in set(moved)]
    assert max(uses) - min(uses) <= 1 and len(set(moved)) >= 6, moved  # every feature moved about as often
    pooled = r.summaries["all"]
    assert pooled.no_drift_windows == sum(e.no_drift_windows for e in r.episodes)
    assert pooled.false_alarms == sum(e.false_alarms for e in r.episodes)
    if pooled.false_alarms:
        assert math.isclose(pooled.false_positive_rate, pooled.false_alarms / pooled.no_drift_windows)
        assert math.isclose(pooled.false_alarms_per_1k_rows, 1000 * pooled.false_positive_rate / 500)
        assert math.isclose(pooled.mtbfa_windows, 1 / pooled.false_positive_rate)
    names = {b.name: b for b in r.baselines}
    assert names["always_alarm"].false_positive_rate == 1 and names["always_alarm"].detection_rate == 1
    assert names["do_nothing"].detection_rate == 0 and names["do_nothing"].mtbfa_windows is None
    flat = r.to_dict(windows=False)
    assert "windows" not in flat["episodes"][0] and "windows" in r.to_dict()["episodes"][0]
    json.dumps(flat)  # JSON-ready


# --------------------------------------------------------------------------- default vs bad, per scenario


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_default_config_versus_never_firing(results, scenario):
    default = run(results, "default", DEFAULT, scenario)
    never = run(results, "never", NEVER, scenario)

    # Evidently's defaults: prediction drift (Wasserstein on the scores) catches most data and
    # label drift; the dataset rule (half the columns) never does; concept drift is invisible.
    d = default.summaries
    assert d["data"].detection_rate >= 0.5 and d["label"].detection_rate >= 0.5
    assert d["data"].signals["data"] == 0 and d["data"].signals["prediction"] == d["data"].detected
    # concept drift moves neither inputs nor scores: at most luck, a noisy score window crossing the
    # threshold after an onset (up to 2 of 6 episodes at the live rate's ~30 post-onset windows)
    assert d["concept"].detection_rate <= max(d["concept"].chance_detection_rate, 1 / 3)
    assert d["concept"].detection_rate < min(d["data"].detection_rate, d["label"].detection_rate)
    assert all(d[k].signals["performance"] == 0 for k in KINDS)
    assert d["all"].false_positive_rate < 0.1
    assert default.monitored["prediction"]["source"] == "evidently_default"
    assert any(LABELS_DIAGNOSTIC in line for line in default.diagnostics)
    assert any("dataset_drift_share 0.5 needs" in line for line in default.diagnostics)

    # Thresholds that never fire: nothing detected, no false alarm, the do-nothing baseline.
    n = never.summaries
    assert all(n[k].detected == 0 and n[k].detection_rate == 0 and n[k].mean_delay_windows is None for k in KINDS)
    assert n["all"].false_alarms == 0 and n["all"].false_positive_rate == 0 and n["all"].mtbfa_windows is None
    assert n["concept"].chance_detection_rate == 0
    assert any("do-nothing baseline" in line for line in never.diagnostics)
    assert not any("do-nothing baseline" in line for line in default.diagnostics)
    assert d["data"].detected > n["data"].detected and d["label"].detected > n["label"].detected


def test_always_firing_config_looks_like_the_always_alarm_baseline(results):
    r = run(results, "always", ALWAYS, "hiring-data-drift")
    s = r.summaries
    assert s["all"].false_positive_rate == 1.0
    assert math.isclose(s["all"].false_alarms_per_1k_rows, 1000 / r.window_size)
    assert s["all"].mtbfa_windows == 1.0
    for k in KINDS:  # every episode "detected" at once, and no better than chance
        assert s[k].detection_rate == 1 and s[k].mean_delay_windows == 0
        assert s[k].chance_detection_rate == 1
    assert any("always-alarm baseline" in line for line in r.diagnostics)
    assert any("no better than alarms drawn at random" in line for line in r.diagnostics)


def test_data_drift_only_config_cannot_see_concept_drift(results):
    r = run(results, "data_only", DATA_ONLY, "credit-concept-drift")
    s = r.summaries
    assert s["concept"].detection_rate == 0 and s["concept"].detected == 0
    assert s["data"].detection_rate > 0 and s["data"].signals["data"] == s["data"].detected
    assert s["all"].false_alarms == 0
    assert r.monitored["performance"] is None
    assert any(LABELS_DIAGNOSTIC in line for line in r.diagnostics)
    assert any("never fire on concept drift at magnitudes 0.4, 0.7, 1" in line for line in r.diagnostics)


def test_performance_check_detects_concept_drift_on_credit(results):
    r = run(results, "with_labels", WITH_LABELS, "credit-concept-drift")
    c = r.summaries["concept"]
    assert c.detection_rate >= 0.8
    assert c.detection_rate >= c.chance_detection_rate + 0.25
    assert c.signals["performance"] >= 4
    # the labels come label_delay_days late: a performance hit cannot come sooner
    for e in r.episodes:
        if e.kind == "concept" and e.signals == ["performance"]:
            assert e.delay_windows >= r.label_lag_windows
    assert 0.75 < r.monitored["performance"]["reference_value"] < 0.85  # accuracy at the 0.15 cut-off, not at 0.5
    assert not any(LABELS_DIAGNOSTIC in line for line in r.diagnostics)
    assert r.label_lag_windows == math.ceil(5 * r.rows_per_day / r.window_size)
    assert any(f"Labels arrive 5 days late ({r.label_lag_windows} windows" in line for line in r.diagnostics)
    default = run(results, "default", DEFAULT, "credit-concept-drift")
    assert c.detection_rate > default.summaries["concept"].detection_rate + 0.5


# --------------------------------------------------------------------------- validation, determinism


def test_config_is_checked_against_the_scenario():
    bad = "window: {size: 30000}\ndata_drift:\n  columns:\n    skills_match: {method: ks}\nprediction_drift: {column: score}\n"
    with pytest.raises(ConfigError) as info:
        validate_config(bad, "credit-concept-drift", SEED)
    found = {(p.loc, p.line) for p in info.value.problems}
    assert found == {("window.size", 1), ("data_drift.columns.skills_match", 4), ("prediction_drift.column", 5)}
    assert "larger than the data (24000 rows)" in str(info.value)
    with pytest.raises(ConfigError, match="does not apply to numeric column 'prediction'"):
        validate_config("prediction_drift: {method: chisquare}\n", "hiring-data-drift", SEED)
    with pytest.raises(ConfigError, match="labels are in 'label', not 'y'"):
        evaluate("performance: {label_column: y}\n", "hiring-data-drift", SEED)


def test_same_inputs_give_the_same_result():
    small = SuiteSpec(data_magnitudes=(1.0,), concept_magnitudes=(1.0,), label_magnitudes=(0.15,), no_drift_streams=1)
    config = "window: {size: 400}\nperformance: {metric: roc_auc, max_drop: 0.05}\n"
    first = evaluate(config, "churn-label-drift", 3, suite=small).to_dict()
    clear_cache()  # retrain the champion and redraw every stream
    again = evaluate(config, "churn-label-drift", 3, suite=small).to_dict()
    assert first == again
    other = evaluate(config, "churn-label-drift", 4, suite=small).to_dict()
    assert other["episodes"] != first["episodes"]  # another seed, other streams


# --------------------------------------------------------------------------- CLI


def test_cli_json_and_plot(tmp_path):
    config = tmp_path / "monitoring.yaml"
    config.write_text("window: {size: 600}\nperformance: {metric: roc_auc, max_drop: 0.05}\n")
    plot = tmp_path / "evaluation.png"
    proc = run_lab("evaluate", str(config), "--scenario", "hiring-data-drift", "--seed", "1", "--speed", "30", "--json",
                   "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema_version"] == 1
    assert (data["scenario"], data["seed"], data["window_size"], data["config"]) == ("hiring-data-drift", 1, 600, "monitoring.yaml")
    assert data["rows_per_day"] == 4 * 1 * 30  # the live rate of a lab run with --speed 30
    assert set(data["summaries"]) == {"data", "concept", "label", "none", "all"}
    for key in ("detection_rate", "chance_detection_rate", "mean_delay_windows", "mean_delay_days", "false_positive_rate",
                "false_alarms_per_1k_rows", "mtbfa_windows", "mtbfa_days", "signals", "by_magnitude"):  # fmt: skip
        assert key in data["summaries"]["concept"]
    assert {b["name"] for b in data["baselines"]} == {"do_nothing", "always_alarm"}
    assert data["diagnostics"] and all(isinstance(line, str) for line in data["diagnostics"])
    assert "windows" not in data["episodes"][0]
    assert data["summaries"]["concept"]["detection_rate"] > 0.5  # a performance check sees concept drift
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_bad_config_exits_2_with_lines_before_anything_runs(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("window: {size: 0}\ndata_drift:\n  default: {method: kss}\nalerting: {consecutive_windows: 0}\n")
    proc = run_lab("evaluate", str(config), "--scenario", "credit-concept-drift")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: bad.yaml: 3 problems in the monitoring config")
    for fragment in ("bad.yaml:1: window.size", "bad.yaml:3: data_drift.default.method: unknown method 'kss'",
                     "bad.yaml:4: alerting.consecutive_windows"):  # fmt: skip
        assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr and "replaying" not in proc.stderr and proc.stdout == ""


def test_cli_usage_errors(tmp_path):
    config = tmp_path / "monitoring.yaml"
    config.write_text(DEFAULT)
    proc = run_lab("evaluate", str(config))
    assert proc.returncode == 2 and proc.stderr.startswith("error: missing --scenario"), proc.stderr
    proc = run_lab("evaluate", str(config), "--scenario", "no-such-scenario")
    assert proc.returncode == 2 and "unknown scenario 'no-such-scenario'" in proc.stderr
    proc = run_lab("evaluate", str(config), "--scenario", "hiring-data-drift", "--plot", str(tmp_path / "no" / "x.png"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_lab("evaluate", str(config), "--scenario", "hiring-data-drift", "--speed", "0")
    assert proc.returncode == 2 and "--speed 0" in proc.stderr and "Traceback" not in proc.stderr
