"""The drift-thresholds grader: points for improvement over reasonable baselines at shipped levels.

Pure: no server. One run seed of hiring-data-drift on the hidden grading suite (the
replays are cached for the module): the README's example config copied unchanged, a
config tuned with ``lab evaluate``, Evidently's defaults, a config that never fires and
one that always fires; the shipped baseline levels checked against the scenarios, the
suite and a recomputation; another run seed grades the same. ``bench/bench_drift_grading.py``
measures the spread over seeds (0 now that the suite is the scenario's).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab.grading import drift_grader as dg
from lab.grading.grade import drift_config_useful
from lab.evidence.submission import read_submission
from lab.monitoring.evaluate import clear_cache, evaluate, live_rows_per_day
from lab.monitoring.evaluate import SuiteSpec
from lab.scenario.schema import load_scenario, resolve, scenario_ids

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "hiring-data-drift"
RUN_SEED = 0
TUNED = """\
window: {size: 500}
data_drift:
  default: {method: ks, threshold: 0.001}
  dataset_drift_share: 0.12
prediction_drift: {method: ks, threshold: 0.001}
performance: {metric: roc_auc, max_drop: 0.05}
"""  # bench/bench_drift_grading.py's tuned config
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


def test_ordering_baselines_modest_tuned_well_above_and_trivial_configs_at_zero(graded):
    t = {name: total(items) for name, items in graded.items()}
    share = 100 * dg.BASELINE_SHARE
    assert t["never"] == 0 and t["always"] == 0, t
    # copied unchanged, the README example and the defaults earn about the share matching a baseline earns
    assert abs(t["readme"] - share) <= 8 and abs(t["defaults"] - share) <= 8, t
    assert t["tuned"] >= max(t["readme"], t["defaults"]) + 15 and t["tuned"] >= share + 20, t
    assert graded["tuned"][0].details["raw_total"] > graded["readme"][0].details["raw_total"]


def test_only_a_config_clearly_better_than_the_baselines_is_useful(graded):
    useful = {name: drift_config_useful(items) for name, items in graded.items()}
    assert useful == {"readme": False, "tuned": True, "defaults": False, "never": False, "always": False}, useful
    for items in graded.values():
        if items[0].details:  # graded (not a config that could not be used)
            best = items[0].details["best_baseline_total"]
            share = sum(i.details["baseline_points"] for i in items)
            assert share == pytest.approx(dg.scaled_total(best, best), abs=1e-4)  # the baseline's own points


def test_the_shipped_baseline_levels_match_every_scenario_and_the_suite():
    data = json.loads(dg.BASELINE_FILE.read_text(encoding="utf-8"))
    assert set(data["scenarios"]) == {sid for sid in scenario_ids() if "drift_thresholds" in load_scenario(sid).graded_tasks}
    for sid, entry in data["scenarios"].items():
        assert entry["key"] == dg.baseline_key(sid), f"{sid}: run scripts/drift_baselines.py"
        assert entry["suite"] == repr(dg.grading_suite())
        for name in dg.BASELINE_NAMES:
            assert entry["totals"][name] == pytest.approx(dg.RawScore(entry["shares"][name]).total, abs=0.01)
        assert dg.shipped_baselines(sid) is not None
    # every run of a scenario is graded on the same streams: the same levels and grading seed for every run seed
    sc0, sc1 = (resolve(load_scenario(SCENARIO), s)[0] for s in (0, 1))
    assert dg.shipped_baselines(sc0.id) == dg.shipped_baselines(sc1.id)
    assert dg.grading_seed(0, SCENARIO) == dg.grading_seed(1, SCENARIO) != dg.grading_seed(0, "credit-concept-drift")


def test_a_stale_baseline_file_is_ignored(tmp_path):
    data = json.loads(dg.BASELINE_FILE.read_text(encoding="utf-8"))
    data["scenarios"][SCENARIO]["key"] = "0" * 32  # written for another scenario file, suite or scoring
    stale = tmp_path / "drift_baselines.json"
    stale.write_text(json.dumps(data), encoding="utf-8")
    assert dg.shipped_baselines(SCENARIO, stale) is None
    assert dg.shipped_baselines(SCENARIO, tmp_path / "absent.json") is None
    assert dg.shipped_baselines("credit-concept-drift", stale) is not None
    # a bundle of another scenario file (or seed) is not what the levels were measured on: it replays its own
    sc = resolve(load_scenario(SCENARIO), RUN_SEED)[0]
    assert dg._current_scenario(sc, RUN_SEED) and not dg._current_scenario(sc, RUN_SEED + 1)
    older = sc.model_copy(update={"traffic": sc.traffic.model_copy(update={"rows_per_day": 999})})
    assert not dg._current_scenario(older, RUN_SEED)


def test_the_shipped_levels_recompute_to_the_same_shares():
    entry = json.loads(dg.BASELINE_FILE.read_text(encoding="utf-8"))["scenarios"][SCENARIO]
    again = dg.measure_baselines(SCENARIO)
    for name, raw in again.items():
        for item, share in raw.shares.items():
            assert entry["shares"][name][item] == pytest.approx(share, abs=1e-6), (name, item)


def test_a_config_scores_the_same_at_every_run_seed(graded, tmp_path):
    """The hidden suite is the scenario's, not the run's: another run (other event days), the same grade."""
    other = RUN_SEED + 5
    sc = resolve(load_scenario(SCENARIO), other)[0]
    assert sc.model_dump_json() != resolve(load_scenario(SCENARIO), RUN_SEED)[0].model_dump_json()
    (tmp_path / "monitoring.yaml").write_text(TUNED)
    sub = read_submission(tmp_path, work_dir=tmp_path / "w")
    again = dg.grade_drift_thresholds(SimpleNamespace(seed=other, scenario=sc), sub)
    assert [i.points for i in again] == [i.points for i in graded["tuned"]]


def test_the_grader_replays_at_the_live_rate_with_six_episodes_per_magnitude(graded):
    sc = resolve(load_scenario(SCENARIO), RUN_SEED)[0]
    spec = dg.grading_suite()
    assert spec.episodes_per_magnitude == dg.EPISODES_PER_MAGNITUDE >= 6
    assert spec.no_drift_streams == dg.NO_DRIFT_STREAMS >= 4
    result = dg._evaluate(TUNED, sc, dg.grading_seed(RUN_SEED, sc.id), spec)
    assert result.rows_per_day == live_rows_per_day(sc) == 240 != sc.traffic.rows_per_day
    per_kind = {k: sum(e.kind == k for e in result.episodes) for k in ("data", "concept", "label")}
    assert per_kind == {k: 3 * dg.EPISODES_PER_MAGNITUDE for k in per_kind}


def test_replayed_baselines_are_cached_on_disk_and_scoring_is_reproducible(tmp_path, monkeypatch):
    """Another suite than the grading suite (tests use small ones) replays the baselines on each seed's streams."""
    sc = resolve(load_scenario(SCENARIO), RUN_SEED)[0]
    seed = dg.grading_seed(RUN_SEED, sc.id)
    suite = SuiteSpec(episodes_per_magnitude=1, no_drift_streams=1)
    first = dg.baseline_scores(sc, seed, suite, cache_dir=tmp_path)
    files = list(tmp_path.glob("drift-result-*.json"))
    assert len(files) == len(dg.BASELINE_NAMES)  # one replay per reference config
    dg._BASELINES.clear()
    dg._CACHE.clear()

    def no_replay(*args, **kwargs):
        raise AssertionError("replayed although the baselines were on disk")

    monkeypatch.setattr(dg, "evaluate", no_replay)
    assert dg.baseline_scores(sc, seed, suite, cache_dir=tmp_path) == first
    monkeypatch.undo()

    result = evaluate(TUNED, sc, seed, suite=suite)
    items = dg.score_items(result, first)
    dg._BASELINES.clear()
    dg._CACHE.clear()
    clear_cache()  # retrain the champion, redraw every stream, replay the baselines again
    again = dg.score_items(evaluate(TUNED, sc, seed, suite=suite), dg.baseline_scores(sc, seed, suite))
    assert [i.to_dict() for i in items] == [i.to_dict() for i in again]
    assert dg.grading_seed(RUN_SEED + 1, sc.id) == seed  # the scenario's suite, whatever the run
