"""The grading cache in a lab home: hidden streams and replays reused across processes, never stale.

A second grade of the same scenario must not train the champion or draw the streams
again (scikit-learn and ~20 streams), nor replay a config it has already replayed; a
changed scenario or lab version must not reuse them; a damaged file is ignored and
rewritten. Process boundaries are simulated by clearing the in-memory caches.
"""

from __future__ import annotations

import pandas as pd
import pytest

import lab
from lab.grading import drift_grader
from lab.monitoring import stream_cache, suite
from lab.monitoring.evaluate import SuiteSpec, clear_cache
from lab.scenario.schema import load_scenario, resolve

SMALL = SuiteSpec(data_magnitudes=(1.0,), concept_magnitudes=(1.0,), label_magnitudes=(0.15,),
                  episodes_per_magnitude=1, no_drift_streams=1)
CONFIG = "window: {size: 500}\ndata_drift: {default: {method: ks, threshold: 0.01}}\nperformance: {metric: roc_auc, max_drop: 0.05}\n"
SEED = 11


@pytest.fixture(scope="module")
def scenario():
    return resolve(load_scenario("hiring-data-drift"), 0)[0]


def _forget() -> None:
    """What a new process starts with."""
    clear_cache()
    drift_grader._CACHE.clear()


def _no_training(*_a, **_k):
    raise AssertionError("the champion was trained again")


def test_streams_are_reused_from_disk_and_a_damaged_file_is_rewritten(scenario, tmp_path, monkeypatch):
    _forget()
    ref, kinds, episodes = stream_cache.suite_inputs(scenario, SEED, 500, SMALL, 240, tmp_path)
    files = list(tmp_path.glob("streams-*.npz"))
    assert len(files) == 1

    _forget()
    with monkeypatch.context() as m:
        m.setattr(stream_cache, "replay_inputs", _no_training)
        ref2, kinds2, episodes2 = stream_cache.suite_inputs(scenario, SEED, 500, SMALL, 240, tmp_path)
    pd.testing.assert_frame_equal(ref, ref2)
    assert kinds == kinds2 and len(episodes) == len(episodes2) == 4
    for a, b in zip(episodes, episodes2):
        pd.testing.assert_frame_equal(a.frame, b.frame)
        assert (a.id, a.kind, a.magnitude, a.features, a.onset_window, a.onset_day, a.n_windows, a.offset) == \
               (b.id, b.kind, b.magnitude, b.features, b.onset_window, b.onset_day, b.n_windows, b.offset)

    files[0].write_bytes(files[0].read_bytes()[:300])  # truncated
    _forget()
    ref3, _, _ = stream_cache.suite_inputs(scenario, SEED, 500, SMALL, 240, tmp_path)  # drawn again, no error
    pd.testing.assert_frame_equal(ref, ref3)
    _forget()
    with monkeypatch.context() as m:
        m.setattr(stream_cache, "replay_inputs", _no_training)
        stream_cache.suite_inputs(scenario, SEED, 500, SMALL, 240, tmp_path)  # rewritten whole
    assert suite._REPLAYS == {}


def test_a_changed_scenario_or_lab_version_gets_its_own_streams(scenario, monkeypatch):
    key = stream_cache.stream_key(scenario, SEED, 500, SMALL, 240)
    changed = scenario.model_copy(update={"brief": scenario.brief + " (edited)"})
    assert stream_cache.stream_key(changed, SEED, 500, SMALL, 240) != key
    assert stream_cache.stream_key(scenario, SEED + 1, 500, SMALL, 240) != key
    monkeypatch.setattr(lab, "__version__", lab.__version__ + ".post1")
    assert stream_cache.stream_key(scenario, SEED, 500, SMALL, 240) != key


def test_a_replay_is_reused_from_disk_and_a_damaged_one_replayed(scenario, tmp_path, monkeypatch):
    _forget()
    first = drift_grader._evaluate(CONFIG, scenario, SEED, SMALL, tmp_path)
    results = list(tmp_path.glob("drift-result-*.json"))
    assert len(results) == 1

    def no_replay(*_a, **_k):
        raise AssertionError("replayed again")

    _forget()
    with monkeypatch.context() as m:
        m.setattr(drift_grader, "evaluate", no_replay)
        again = drift_grader._evaluate(CONFIG, scenario, SEED, SMALL, tmp_path)
    assert again == first
    assert drift_grader.score_items(again, {"defaults": drift_grader.raw_score(first)}) == \
           drift_grader.score_items(first, {"defaults": drift_grader.raw_score(first)})

    results[0].write_text('{"config": "not a result"')
    _forget()
    with monkeypatch.context() as m:  # the streams are on disk: replayed without training
        m.setattr(stream_cache, "replay_inputs", _no_training)
        rebuilt = drift_grader._evaluate(CONFIG, scenario, SEED, SMALL, tmp_path)
    assert rebuilt == first
    _forget()
    with monkeypatch.context() as m:
        m.setattr(drift_grader, "evaluate", no_replay)
        assert drift_grader._evaluate(CONFIG, scenario, SEED, SMALL, tmp_path) == first  # rewritten

    other = CONFIG.replace("0.01", "0.02")
    _forget()
    drift_grader._evaluate(other, scenario, SEED, SMALL, tmp_path)
    assert len(list(tmp_path.glob("drift-result-*.json"))) == 2  # keyed by the config's digest


def test_an_edit_to_the_stream_or_replay_code_gets_new_keys(scenario, tmp_path, monkeypatch):
    """A source edit without a version bump must not reuse streams or replays drawn by the old code."""
    _forget()
    drift_grader._evaluate(CONFIG, scenario, SEED, SMALL, tmp_path)
    key = stream_cache.stream_key(scenario, SEED, 500, SMALL, 240)
    monkeypatch.setattr(stream_cache, "_CODE_IDENT", [stream_cache.source_digest() + "-edited"])
    assert stream_cache.stream_key(scenario, SEED, 500, SMALL, 240) != key
    _forget()
    calls = []
    real = drift_grader.evaluate
    monkeypatch.setattr(drift_grader, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    drift_grader._evaluate(CONFIG, scenario, SEED, SMALL, tmp_path)
    assert calls == [1]  # replayed again, on new streams
    assert len(list(tmp_path.glob("streams-*.npz"))) == 2
    assert len(list(tmp_path.glob("drift-result-*.json"))) == 2


def test_source_digest_covers_the_scenario_and_monitoring_code():
    assert stream_cache._CODE_PACKAGES == ("scenario", "monitoring")
    assert len(stream_cache.source_digest()) == 32


def test_a_bundles_copy_of_the_scenario_keys_like_the_file(scenario):
    """A bundle stores the scenario as JSON with sorted keys; read back, it is the same scenario
    and must hit the same cache entries (and count as the current scenario file)."""
    import json

    from lab.scenario.schema import scenario_from_json

    copy = scenario_from_json(json.loads(json.dumps(json.loads(scenario.model_dump_json()), sort_keys=True)))
    assert copy.model_dump_json() != scenario.model_dump_json()  # the keys moved: the case being tested
    assert stream_cache.stream_key(copy, SEED, 500, SMALL, 240) == stream_cache.stream_key(scenario, SEED, 500, SMALL, 240)
    assert drift_grader._current_scenario(copy, 0)
    assert not drift_grader._current_scenario(scenario.model_copy(update={"brief": "edited"}), 0)


def test_prefilled_streams_are_the_ones_the_grader_asks_for(tmp_path, monkeypatch):
    """The grading endpoint's warm-up (prefill_streams from the home's scenario) must fill the very
    cache entry a grade of the collected bundle reads: the grade then trains nothing."""
    from lab.evidence.submission import read_submission
    from tests.grading_evidence import Drill, build_evidence

    ev = build_evidence(tmp_path / "drill", Drill())
    cache = tmp_path / "cache"
    from lab.scenario.run import effective_scenario
    from tests.grading_evidence import build_home

    home_sc, run_seed = effective_scenario(build_home(tmp_path / "home", Drill()))
    assert run_seed == ev.seed
    _forget()
    path = drift_grader.prefill_streams(home_sc, run_seed, cache, suite=SMALL)
    assert path is not None and path.is_file()
    sub_dir = tmp_path / "sub"
    sub_dir.mkdir()
    (sub_dir / "monitoring.yaml").write_text(CONFIG)
    sub = read_submission(str(sub_dir), work_dir=tmp_path / "work")
    _forget()
    monkeypatch.setattr(stream_cache, "replay_inputs", _no_training)
    items = drift_grader.grade_drift_thresholds(ev, sub, suite=SMALL, cache_dir=cache)
    assert {i.id for i in items} == set(drift_grader.POINTS)
    assert list(cache.glob("streams-*.npz")) == [path]
