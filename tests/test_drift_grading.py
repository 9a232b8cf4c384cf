"""The drift-thresholds grader: points for improvement over reasonable baselines, paired on the same streams.

Pure: no server. One run seed of hiring-data-drift on the hidden grading suite (the
replays are cached for the module): the README's example config copied unchanged, a
config tuned with ``lab evaluate``, Evidently's defaults, a config that never fires and
one that always fires. ``bench/bench_drift_grading.py`` measures the spread over seeds.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab.grading import drift_grader as dg
from lab.grading.submission import read_submission
from lab.monitoring.evaluate import clear_cache, evaluate, live_rows_per_day
from lab.scenario import load_scenario, resolve

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "hiring-data-drift"
RUN_SEED = 0
TUNED = """\
window: {size: 400}
data_drift:
  default: {method: ks, threshold: 0.001}
  dataset_drift_share: 0.12
prediction_drift: {method: ks, threshold: 0.002}
performance: {metric: roc_auc, max_drop: 0.04}
"""
NEVER = "data_drift:\n  default: {method: psi, threshold: 1000}\nprediction_drift: {method: psi, threshold: 1000}\n"
ALWAYS = "data_drift:\n  default: {method: psi, threshold: 0.000001}\n  dataset_drift_share: 0.05\n"


def readme_example() -> str:
    """The README's example monitoring.yaml, as a user would copy it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Format", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Items per config, graded as `lab submit` does (a submission folder holding only monitoring.yaml)."""
    sc = resolve(load_scenario(SCENARIO), RUN_SEED)[0]
    evidence = SimpleNamespace(seed=RUN_SEED, scenario=sc)  # the grader reads only these two
    out = {}
    for name, text in {"readme": readme_example(), "tuned": TUNED, "defaults": "{}\n", "never": NEVER,
                       "always": ALWAYS}.items():
        d = tmp_path_factory.mktemp(name)
        (d / "monitoring.yaml").write_text(text)
        sub = read_submission(d, work_dir=d / "w")
        out[name] = dg.grade_drift_thresholds(evidence, sub, cache_dir=tmp_path_factory.getbasetemp() / "cache")
    return out


def total(items) -> float:
    return sum(i.points for i in items)


def test_the_readme_example_is_the_graders_baseline():
    assert readme_example() == dg.README_EXAMPLE
    # for a scenario without the README's column, the baseline keeps only the columns it has
    credit = load_scenario("credit-concept-drift")
    assert "years_experience" not in dg.baseline_config("readme_example", credit)
    assert "years_experience" in dg.baseline_config("readme_example", load_scenario(SCENARIO))
    assert dg.baseline_config("defaults", credit) == "{}\n"


def test_points_scale_from_the_better_baseline():
    share = 100 * dg.BASELINE_SHARE
    assert dg.scaled_total(55.0, 55.0) == pytest.approx(share)
    assert dg.scaled_total(27.5, 55.0) == pytest.approx(share / 2)
    assert dg.scaled_total(dg.TOP_RAW, 55.0) == 100 and dg.scaled_total(0.0, 55.0) == 0
    steps = [dg.scaled_total(x, 55.0) for x in range(0, 101, 5)]
    assert steps == sorted(steps)  # more raw skill never earns fewer points
    assert dg.scaled_total(20.0, 20.0) == 20.0  # matching a weak baseline earns its own raw skill, no more


def test_baselines_are_reported_beside_every_figure(graded):
    for item in graded["tuned"]:
        assert "README example" in item.feedback and "defaults" in item.feedback
        assert "do-nothing and always-alarm score 0" in item.feedback
        assert set(item.details["baselines"]) == {"readme_example", "defaults"}
        assert item.details["raw_points"] >= item.points - 1e-9 or item.details["scale"] > 1
        assert 0 <= item.points <= item.max_points + 1e-9
    assert "always-alarm" in graded["tuned"][0].evidence


def test_ordering_readme_below_tuned_and_trivial_configs_at_zero(graded):
    t = {name: total(items) for name, items in graded.items()}
    share = 100 * dg.BASELINE_SHARE
    assert t["never"] == 0 and t["always"] == 0, t
    assert t["readme"] <= share + 1e-6, t  # copied unchanged: at most the share matching a baseline earns
    assert t["defaults"] <= share + 1e-6, t
    assert max(t["readme"], t["defaults"]) == pytest.approx(share), t  # the better baseline earns exactly it
    assert t["tuned"] >= t["readme"] + 25 and t["tuned"] >= 60, t
    assert graded["tuned"][0].details["raw_total"] > graded["readme"][0].details["raw_total"]


def test_the_grader_replays_at_the_live_rate_with_two_episodes_per_magnitude(graded):
    sc = resolve(load_scenario(SCENARIO), RUN_SEED)[0]
    spec = dg.grading_suite()
    assert spec.episodes_per_magnitude == dg.EPISODES_PER_MAGNITUDE >= 2
    result = dg._evaluate(TUNED, sc, dg.grading_seed(RUN_SEED, sc.id), spec)
    assert result.rows_per_day == live_rows_per_day(sc) == 240 != sc.traffic.rows_per_day
    per_kind = {k: sum(e.kind == k for e in result.episodes) for k in ("data", "concept", "label")}
    assert per_kind == {k: 3 * dg.EPISODES_PER_MAGNITUDE for k in per_kind}


def test_baselines_are_cached_on_disk_and_scoring_is_reproducible(tmp_path, monkeypatch):
    sc = resolve(load_scenario(SCENARIO), RUN_SEED)[0]
    seed = dg.grading_seed(RUN_SEED, sc.id)
    suite = dg.grading_suite()
    first = dg.baseline_scores(sc, seed, suite, cache_dir=tmp_path)
    files = list(tmp_path.glob("drift-baselines-*.json"))
    assert len(files) == 1
    dg._BASELINES.clear()

    def no_replay(*args, **kwargs):
        raise AssertionError("replayed although the baselines were on disk")

    monkeypatch.setattr(dg, "_evaluate", no_replay)
    assert dg.baseline_scores(sc, seed, suite, cache_dir=tmp_path) == first
    monkeypatch.undo()

    result = evaluate(TUNED, sc, seed, suite=suite)
    items = dg.score_items(result, first)
    dg._BASELINES.clear()
    dg._CACHE.clear()
    clear_cache()  # retrain the champion, redraw every stream, replay the baselines again
    again = dg.score_items(evaluate(TUNED, sc, seed, suite=suite), dg.baseline_scores(sc, seed, suite))
    assert [i.to_dict() for i in items] == [i.to_dict() for i in again]
    other_seed = dg.grading_seed(RUN_SEED + 1, sc.id)
    assert other_seed != seed
