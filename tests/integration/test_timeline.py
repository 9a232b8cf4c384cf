"""The timeline runs as a Prefect flow on the lab's server; events fire, labels arrive."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import run_lab, status_json

pytestmark = pytest.mark.integration


def journal(home):
    return [json.loads(x) for x in (home / "journal.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def fast_lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("fast") / "home"
    run_lab("up", "hiring-data-drift", "--detach", "--port-base", "0", "--seed", "21", "--speed", "1.5",
            home=home, check=True)
    yield home
    run_lab("down", home=home)


def test_inject_rejects_unknown_event_and_changes_nothing(fast_lab):
    before = (fast_lab / "journal.jsonl").read_text().count('"event.fired"')
    proc = run_lab("inject", "meteor-strike", home=fast_lab)
    assert proc.returncode == 2 and "unknown event 'meteor-strike'" in proc.stderr
    assert "pool-shift" in proc.stderr and "Traceback" not in proc.stderr
    assert (fast_lab / "journal.jsonl").read_text().count('"event.fired"') == before


def test_events_fire_on_their_day_and_labels_arrive(fast_lab):
    key = json.loads((fast_lab / "answer_key.json").read_text())
    bad_day = key["bad_release"]["day"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and status_json(fast_lab)["day"] < bad_day + 5:
        time.sleep(1)
    entries = journal(fast_lab)
    fired = {e["data"]["event"]: e for e in entries if e["kind"] == "event.fired"}
    assert set(fired) == {"deploy", "pool-shift", "bad-release"}
    for name, e in fired.items():
        assert e["actor"] == "timeline"
        assert e["day"] >= e["data"]["scheduled_day"] - 1e-6
        assert e["day"] - e["data"]["scheduled_day"] < 2  # fired promptly (1.5 s per day)
    assert fired["pool-shift"]["data"]["scheduled_day"] == key["drifts"][0]["onset_day"]
    moved = [e for e in entries if e["kind"] == "alias.moved" and e["data"]["alias"] == "champion"]
    assert moved[-1]["data"]["to"] == key["bad_release"]["version"] == 3
    assert moved[-1]["actor"] == "release-pipeline"
    # labels for day d arrive on day d + delay (3), never earlier
    arrived = [e for e in entries if e["kind"] == "labels.arrived"]
    assert arrived and all(e["day"] >= e["data"]["day"] + 3 for e in arrived)
    assert sum(e["data"]["requests"] for e in arrived) > 0
    labels = [json.loads(x) for x in (fast_lab / "feedback" / "labels.jsonl").read_text().splitlines()]
    assert all(set(r["labels"]) <= {0, 1} for r in labels)
    # the status shows fired events with their day
    st = status_json(fast_lab)
    assert all(e["status"] == "fired" and e["day"] is not None for e in st["events"])
    # traffic after the bad release was answered by the defective version
    served = [json.loads(x) for x in (fast_lab / "traffic" / "requests.jsonl").read_text().splitlines()]
    after = [r for r in served if r["day"] > bad_day + 1 and r["status"] == 200]
    assert after and all(r["model_version"] == "3" for r in after)


def test_timeline_is_a_prefect_flow_run_with_task_runs(fast_lab):
    prefect = status_json(fast_lab)["services"]["prefect"]["url"]
    runs = httpx.post(f"{prefect}/api/flow_runs/filter", json={"limit": 10}, timeout=10).json()
    assert any(r["name"].startswith("hiring-data-drift seed 21") for r in runs)
    tasks = httpx.post(f"{prefect}/api/task_runs/filter", json={"limit": 200}, timeout=10).json()
    names = {t["name"] for t in tasks}
    assert {"fire deploy", "fire pool-shift", "fire bad-release"} <= names
    assert any(n.startswith("labels of day") for n in names)


def test_inject_after_everything_fired_says_so(fast_lab):
    proc = run_lab("inject", home=fast_lab)
    assert proc.returncode == 2 and "already fired" in proc.stderr
