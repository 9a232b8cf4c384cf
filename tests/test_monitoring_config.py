"""The monitoring.yaml schema: one named bad fixture per rule, all problems at once, pinning."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from lab.errors import UsageError
from lab.scenario.generators.hiring import HiringGenerator
from lab.monitoring import (
    ConfigError,
    DataDriftSpec,
    DriftTest,
    MonitoringConfig,
    ResolvedConfig,
    load_monitoring_config,
    methods_for,
    resolve,
    window_drift,
    window_drift_report,
)

KINDS = {f.name: f.kind for f in HiringGenerator.features}
ROWS = 2000

GOOD = """\
window: {size: 500}
data_drift:
  default: {method: wasserstein, threshold: 0.1}
  columns:
    years_experience: {method: ks, threshold: 0.01}
  dataset_drift_share: 0.3
prediction_drift: {method: psi, threshold: 0.2}
performance:
  metric: roc_auc
  min: 0.75
  max_drop: 0.05
alerting: {consecutive_windows: 1}
"""

# name -> (yaml, location, line, fragment of the message). One per validation rule.
BAD: dict[str, tuple[str, str, int, str]] = {
    "unknown_method_for_kind": (
        "data_drift:\n  columns:\n    years_experience: {method: kss}\n",
        "data_drift.columns.years_experience.method",
        3,
        "unknown method 'kss' for numeric column 'years_experience'; valid for numeric columns: "
        + ", ".join(methods_for("numeric")),
    ),
    "method_not_for_kind": (
        "data_drift:\n  columns:\n    education_level:\n      method: ks\n",
        "data_drift.columns.education_level.method",
        4,
        "method 'ks' does not apply to categorical column 'education_level'; valid for categorical columns: chisquare",
    ),
    "default_method_unknown": (
        "data_drift:\n  default: {method: wasserstien}\n",
        "data_drift.default.method",
        2,
        "unknown method 'wasserstien'",
    ),
    "negative_threshold": (
        "data_drift:\n  default: {method: wasserstein, threshold: -0.1}\n",
        "data_drift.default.threshold",
        2,
        "-0.1 is out of range for 'wasserstein': its score is a distance (drift when score >= threshold), "
        "so it needs threshold > 0",
    ),
    "p_value_threshold_not_below_one": (
        "data_drift:\n  columns:\n    skills_match: {method: ks, threshold: 1.0}\n",
        "data_drift.columns.skills_match.threshold",
        3,
        "1.0 is out of range for 'ks': its score is a p-value (drift when score <= threshold), "
        "so it needs 0 < threshold < 1",
    ),
    "zero_distance_threshold": (
        "prediction_drift: {method: psi, threshold: 0}\n",
        "prediction_drift.threshold",
        1,
        "needs threshold > 0",
    ),
    "infinite_threshold": (
        "data_drift:\n  default: {method: psi, threshold: .inf}\n",
        "data_drift.default.threshold",
        2,
        "must be a finite number",
    ),
    "threshold_without_method": (
        "data_drift:\n  columns:\n    skills_match: {threshold: 0.05}\n",
        "data_drift.columns.skills_match.threshold",
        3,
        "a threshold needs a method",
    ),
    "threshold_not_a_number": (
        "data_drift:\n  default: {method: psi, threshold: '0.2'}\n",
        "data_drift.default.threshold",
        2,
        "Input should be a valid number",
    ),
    "dataset_drift_share_zero": (
        "data_drift:\n  dataset_drift_share: 0\n",
        "data_drift.dataset_drift_share",
        2,
        "must be in (0, 1]",
    ),
    "dataset_drift_share_above_one": (
        "window: {size: 100}\ndata_drift: {dataset_drift_share: 1.5}\n",
        "data_drift.dataset_drift_share",
        2,
        "must be in (0, 1] (a share of columns), got 1.5",
    ),
    "unknown_column": (
        "data_drift:\n  columns:\n    salary: {method: psi}\n",
        "data_drift.columns.salary",
        3,
        "unknown column 'salary'; valid: " + ", ".join(KINDS),
    ),
    "window_larger_than_data": (
        "window:\n  size: 5000\n",
        "window.size",
        2,
        f"window of 5000 rows is larger than the data ({ROWS} rows)",
    ),
    "window_not_positive": ("window: {size: 0}\n", "window.size", 1, "must be a positive number of rows"),
    "window_not_integer": ("window: {size: 12.5}\n", "window.size", 1, "Input should be a valid integer"),
    "unknown_key": (
        "data_drift:\n  dataset_drift_share: 0.3\n  colour: red\n",
        "data_drift.colour",
        3,
        "unknown key 'colour'; valid keys here: default, columns, dataset_drift_share",
    ),
    "unknown_metric": ("performance:\n  metric: rocauc\n", "performance.metric", 2, "Input should be 'roc_auc'"),
    "performance_min_out_of_range": ("performance: {min: 75}\n", "performance.min", 1, "must be in [0, 1]"),
    "consecutive_windows_zero": (
        "alerting:\n  consecutive_windows: 0\n",
        "alerting.consecutive_windows",
        2,
        "must be at least 1",
    ),
    "duplicate_key": (
        "window: {size: 100}\nalerting: {consecutive_windows: 2}\nwindow: {size: 200}\n",
        "window",
        3,
        "duplicate key 'window'",
    ),
    "not_a_mapping": ("- window\n- data_drift\n", "", 1, "the top level must be a mapping"),
    "scalar_document": ("just text\n", "", 1, "found a str"),
    "empty_document": ("# nothing here\n", "", 1, "found an empty document"),
    "yaml_syntax_error": (
        "window: {size: 100}\ndata_drift:\n  default: {method: ks\nalerting: {}\n",
        "",
        4,
        "YAML syntax error",
    ),
    "unsafe_tag": ("window: !!python/object/apply:os.system ['true']\n", "", 1, "could not determine a constructor"),
    "alias_bomb": (
        'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        "",
        1,
        "anchors and aliases (&name, *name) are not allowed",
    ),
    "merge_key": (
        "base: &base {method: ks}\ndata_drift:\n  default:\n    <<: *base\n",
        "",
        1,
        "anchors and aliases",
    ),
    "deep_nesting": ("a: " + "[" * 40 + "]" * 40 + "\n", "", 1, "nesting deeper than 32 levels"),
}


def _problem_text(line: int, loc: str) -> str:
    return f"monitoring.yaml:{line}: {loc or '(top level)'}: "


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_rule_names_location_and_line(name: str) -> None:
    text, loc, line, fragment = BAD[name]
    with pytest.raises(ConfigError) as info:
        load_monitoring_config(text, columns=KINDS, data_rows=ROWS)
    err = info.value
    assert isinstance(err, UsageError) and err.exit_code == 2
    matching = [p for p in err.problems if p.loc == loc]
    assert matching, f"no problem at {loc!r}: {err}"
    assert matching[0].line == line, str(err)
    assert fragment in matching[0].message, str(err)
    assert _problem_text(line, loc) + matching[0].message in str(err)


def test_good_config_loads_frozen() -> None:
    config = load_monitoring_config(GOOD, columns=KINDS, data_rows=ROWS)
    assert config.window is not None and config.window.size == 500
    assert config.data_drift.columns["years_experience"] == DriftTest(method="ks", threshold=0.01)
    assert config.performance is not None and config.performance.max_drop == 0.05
    with pytest.raises(ValidationError):
        config.window.size = 10  # type: ignore[misc]


def test_everything_omitted_is_evidently_defaults() -> None:
    config = load_monitoring_config("{}")
    assert config.window is None and config.prediction_drift is None and config.performance is None
    assert config.data_drift.dataset_drift_share == 0.5
    assert config.alerting.consecutive_windows == 1


def test_all_problems_reported_at_once() -> None:
    text = """\
window: {size: 5000}
data_drift:
  default: {method: wasserstein, threshold: -0.1}
  columns:
    years_experience: {method: kss, threshold: 0.01}
    education_level: {method: ks}
    salary: {method: psi}
    num_prior_jobs: {method: ks, threshold: 1.5}
    certifications: {method: psi, threshold: "a"}
  dataset_drift_share: 1.5
  colour: red
prediction_drift: {method: psi, threshold: 0}
performance:
  metric: rocauc
  min: 1.2
alerting: {consecutive_windows: 0}
"""
    with pytest.raises(ConfigError) as info:
        load_monitoring_config(text, columns=KINDS, data_rows=ROWS)
    got = {(p.loc, p.line) for p in info.value.problems}
    assert got == {
        ("window.size", 1),
        ("data_drift.default.threshold", 3),
        ("data_drift.columns.years_experience.method", 5),
        ("data_drift.columns.education_level.method", 6),
        ("data_drift.columns.salary", 7),
        ("data_drift.columns.num_prior_jobs.threshold", 8),
        ("data_drift.columns.certifications.threshold", 9),
        ("data_drift.dataset_drift_share", 10),
        ("data_drift.colour", 11),
        ("prediction_drift.threshold", 12),
        ("performance.metric", 14),
        ("performance.min", 15),
        ("alerting.consecutive_windows", 16),
    }
    message = str(info.value)
    assert message.startswith("monitoring.yaml: 13 problems in the monitoring config\n")
    lines = [int(m) for m in re.findall(r"^  monitoring\.yaml:(\d+): ", message, flags=re.M)]
    assert lines == sorted(lines) and len(lines) == 13


def test_context_rules_only_with_context() -> None:
    text = "window: {size: 5000}\ndata_drift:\n  columns:\n    salary: {method: ks}\n"
    config = load_monitoring_config(text)  # no columns, no data size: nothing to check against
    assert "salary" in config.data_drift.columns


def test_files_over_one_mib_and_paths(tmp_path: Path) -> None:
    big = tmp_path / "monitoring.yaml"
    big.write_text("# " + "x" * (1024 * 1024) + "\nwindow: {size: 10}\n")
    with pytest.raises(ConfigError, match=r"monitoring\.yaml: \(file\): file is 1,048,5\d\d bytes; the limit is 1,048,576"):
        load_monitoring_config(big)
    with pytest.raises(ConfigError, match="the limit is 1,048,576"):
        load_monitoring_config(big.read_text())
    good = tmp_path / "mine.yml"
    good.write_text(GOOD)
    assert load_monitoring_config(str(good)).window.size == 500  # type: ignore[union-attr]
    bad = tmp_path / "bad.yaml"
    bad.write_text("window:\n  size: -1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:2: window\.size: must be a positive"):
        load_monitoring_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_monitoring_config(tmp_path / "missing.yaml")


def test_programmatic_config_is_validated_too() -> None:
    with pytest.raises(ValidationError, match="out of range for 'ks'"):
        MonitoringConfig(data_drift=DataDriftSpec(columns={"x": DriftTest(method="ks", threshold=5)}))


# --------------------------------------------------------------------------- resolution


def _reference(n: int, seed: int = 3) -> pd.DataFrame:
    return HiringGenerator().sample(np.random.default_rng(seed), n)


def test_defaults_pinned_by_reference_size_at_the_1000_row_boundary() -> None:
    config = load_monitoring_config("data_drift: {}")
    small, large = resolve(config, _reference(999), KINDS), resolve(config, _reference(1001), KINDS)
    methods = lambda r: {n: (c.method, c.threshold, c.direction) for n, c in r.columns.items()}  # noqa: E731
    assert methods(small)["skills_match"] == ("ks", 0.05, "p_value")
    assert methods(large)["skills_match"] == ("wasserstein", 0.1, "distance")
    assert methods(small)["source_channel"] == ("chisquare", 0.05, "p_value")
    assert methods(large)["source_channel"] == ("jensenshannon", 0.1, "distance")
    assert methods(small)["referral"] == ("z", 0.05, "p_value")
    assert methods(large)["referral"] == ("jensenshannon", 0.1, "distance")
    assert all(c.source == "evidently_default" for c in small.columns.values())


def test_pinned_defaults_match_what_evidently_picks_unpinned() -> None:
    from evidently.legacy.metrics import DataDriftTable
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report

    from lab.monitoring import METHODS

    for n in (999, 1001):
        reference, current = _reference(n), _reference(400, seed=9)
        resolved = resolve(load_monitoring_config("{}"), reference, KINDS)
        report = Report(metrics=[DataDriftTable()])
        cat = [c for c, k in KINDS.items() if k != "numeric"]
        mapping = ColumnMapping(
            target=None, prediction=None, numerical_features=[c for c in KINDS if c not in cat], categorical_features=cat
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.run(reference_data=reference[list(KINDS)], current_data=current[list(KINDS)], column_mapping=mapping)
        evidently_chose = {
            name: col["stattest_name"] for name, col in report.as_dict()["metrics"][0]["result"]["drift_by_columns"].items()
        }
        assert evidently_chose == {name: METHODS[c.method].display_name for name, c in resolved.columns.items()}


def test_resolved_config_keeps_its_pin_across_the_boundary() -> None:
    config = load_monitoring_config("data_drift: {}")
    pinned = resolve(config, _reference(999), KINDS)
    assert pinned.columns["skills_match"].method == "ks"
    bigger_reference = _reference(1001)
    window = _reference(500, seed=11)
    for result in (window_drift(bigger_reference, window, pinned), window_drift_report(bigger_reference, window, pinned)):
        assert result.columns["skills_match"].method == "ks"
        assert result.columns["skills_match"].direction == "p_value"
        assert result.columns["source_channel"].method == "chisquare"
    # the pin survives serialisation (it goes into the journal)
    again = ResolvedConfig.model_validate_json(pinned.model_dump_json())
    assert again == pinned


def test_resolve_precedence_column_then_default_then_evidently() -> None:
    reference = _reference(600)
    reference["prediction"] = HiringGenerator().label_probability(reference)
    resolved = resolve(load_monitoring_config(GOOD, columns=KINDS), reference, KINDS)
    c = resolved.columns
    assert (c["years_experience"].method, c["years_experience"].threshold, c["years_experience"].source) == (
        "ks",
        0.01,
        "columns",
    )
    assert (c["skills_match"].method, c["skills_match"].source) == ("wasserstein", "default")
    # wasserstein does not fit categorical columns: Evidently's default for them
    assert (c["education_level"].method, c["education_level"].source) == ("chisquare", "evidently_default")
    assert resolved.prediction is not None
    assert (resolved.prediction.method, resolved.prediction.threshold) == ("psi", 0.2)
    assert resolved.dataset_drift_share == 0.3 and resolved.window_size == 500


def test_resolve_checks_columns_it_was_not_given_at_load() -> None:
    config = load_monitoring_config("data_drift:\n  columns:\n    salary: {method: psi}\n    source_channel: {method: ks}\n")
    with pytest.raises(ConfigError) as info:
        resolve(config, _reference(300), KINDS)
    assert {(p.loc, p.line) for p in info.value.problems} == {
        ("data_drift.columns.salary", 3),
        ("data_drift.columns.source_channel.method", 4),
    }


def test_prediction_method_must_fit_the_prediction_kind() -> None:
    reference = _reference(300)
    reference["prediction"] = np.where(reference["label"] == 1, "advance", "reject")
    config = load_monitoring_config("window: {size: 10}\nprediction_drift: {method: ks}\n")
    with pytest.raises(ConfigError, match=r"monitoring\.yaml:2: prediction_drift\.method: method 'ks' does not apply"):
        resolve(config, reference, KINDS)


def test_brier_score_is_lower_is_better_and_refuses_a_floor():
    """Calibration (issue 11: the default live check): a rise above the reference alarms, `min` is refused."""
    from lab.monitoring import ConfigError, PerformanceSpec, check_performance, load_monitoring_config

    spec = PerformanceSpec(metric="brier_score", max_drop=0.03)
    calibrated = check_performance([0, 0, 0, 1] * 25, [0.25] * 100, spec, reference_value=0.1875)
    assert calibrated.value == pytest.approx(0.1875) and not calibrated.alarm
    shifted = check_performance([0, 1, 1, 1] * 25, [0.25] * 100, spec, reference_value=0.1875)
    assert shifted.value == pytest.approx(0.4375) and shifted.dropped and shifted.alarm
    better = check_performance([0, 0, 0, 0] * 25, [0.05] * 100, spec, reference_value=0.1875)
    assert not better.alarm  # better calibrated than the reference is never an alarm
    with pytest.raises(ConfigError) as exc:
        load_monitoring_config("performance: {metric: brier_score, min: 0.1}\n")
    assert "lower-is-better" in str(exc.value.problems[0])
