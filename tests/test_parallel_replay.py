"""The replay spread over forked workers gives the serial replay's result (lab.monitoring.parallel)."""

from __future__ import annotations

import os

import pytest

from lab.errors import UsageError
from lab.monitoring import parallel
from lab.monitoring.evaluate import SuiteSpec, clear_cache, evaluate
from lab.monitoring.parallel import fork_map

SMALL = SuiteSpec(data_magnitudes=(1.0,), concept_magnitudes=(1.0,), label_magnitudes=(0.15,), no_drift_streams=1)


def test_fork_map_runs_in_workers_and_keeps_order():
    parent = os.getpid()
    out = fork_map(lambda x: (x * x, os.getpid()), list(range(12)), workers=2)
    assert [v for v, _ in out] == [x * x for x in range(12)]
    assert parent not in {pid for _, pid in out}  # computed by the workers, not here


def test_a_worker_that_dies_costs_no_result():
    parent = os.getpid()

    def die_in_a_worker(x: int) -> int:
        if os.getpid() != parent:
            os._exit(3)  # as an out-of-memory kill would
        return x + 1

    assert fork_map(die_in_a_worker, [1, 2, 3], workers=2) == [2, 3, 4]


def test_an_exception_is_raised_as_the_serial_map_would():
    def fail_on_two(x: int) -> int:
        if x == 2:
            raise KeyError(f"item {x}")
        return x

    with pytest.raises(KeyError, match="item 2"):
        fork_map(fail_on_two, [1, 2, 3], workers=2)


def test_workers_env_caps_and_a_bad_value_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    monkeypatch.setenv(parallel.ENV, "1")
    assert parallel.default_workers(50) == 1
    monkeypatch.setenv(parallel.ENV, "two")
    with pytest.raises(UsageError, match="LAB_REPLAY_WORKERS must be a whole number"):
        parallel.default_workers(50)
    monkeypatch.delenv(parallel.ENV)
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 3)  # a process with other threads
    assert parallel.default_workers(50) == 1


@pytest.mark.parametrize("scenario", ["hiring-data-drift", "churn-label-drift"])
def test_parallel_replay_equals_the_serial_one(monkeypatch, scenario):
    config = ("window: {size: 400}\ndata_drift: {dataset_drift_share: 0.3}\nprediction_drift: {}\n"
              "performance: {metric: roc_auc, max_drop: 0.05}\n")
    results = {}
    for workers in (1, 2):
        clear_cache()  # draw every stream again, with this many workers
        calls = []

        def counted(items: int, n: int = workers) -> int:
            calls.append(n)
            return n

        monkeypatch.setattr(parallel, "default_workers", counted)
        results[workers] = evaluate(config, scenario, 5, suite=SMALL).to_dict()
        assert calls == [workers, workers]  # the streams were drawn and replayed with this many workers
    assert results[1] == results[2]
    assert any(e["detected"] for e in results[2]["episodes"])  # a replay that decides something
