"""Canary releases against the real serving, MLflow and timeline process, under CPU stress.

A canary with a guard it cannot meet is rolled back by the controller on its own, after its
first step; a sound canary steps up to 100% and becomes champion; a shadow runs beside both.
No client request fails in either, every answer names the version that gave it, and the
request log says which answered. Bad plans are refused before anything changes.
"""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from tests.conftest import run_lab, status_json
from tests.integration.test_release import ROWS, entries, serving, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(tmp_path_factory, cpu_stress):
    home = tmp_path_factory.mktemp("canary") / "home"
    # slow clock: the bad release (day >= 18) never fires during these tests
    run_lab("up", "hiring-data-drift", "--detach", "--port-base", "0", "--seed", "5", "--speed", "600",
            home=home, check=True)
    yield home
    run_lab("down", home=home)


class Load:
    """Clients posting as fast as serving answers; what they got, by version."""

    def __init__(self, url: str, clients: int = 3) -> None:
        self.url, self.failures, self.versions, self.stop = url, [], [], threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self) -> None:
        with httpx.Client(timeout=15) as client:
            while not self.stop.is_set():
                r = client.post(f"{self.url}/predict", json={"rows": ROWS})
                if r.status_code != 200:
                    self.failures.append(r.status_code)
                else:
                    self.versions.append(r.json()["model_version"])

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def canary_lines(home, version):
    lines = [json.loads(x) for x in (home / "serving" / "requests.jsonl").read_text().splitlines() if x.strip()]
    return [r for r in lines if r.get("canary_version") == version]


def test_bad_plans_are_refused_and_nothing_changes(lab):
    for args, words in ((["--steps", "50,10,100", "--max-error-rate", "0.1"], "--steps must rise"),
                        (["--steps", "10,50", "--max-error-rate", "0.1"], "end at 100"),
                        ([], "without a guard"),
                        (["--max-error-rate", "2"], "--max-error-rate must be within 0..1")):
        proc = run_lab("canary", "start", "--version", "2", *args, home=lab)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = run_lab("canary", "start", "--version", "99", "--max-error-rate", "0.1", home=lab)
    assert proc.returncode == 2 and "no version 99" in proc.stderr, proc.stderr
    assert not entries(lab, "canary.started") and status_json(lab)["model_versions"]
    proc = run_lab("canary", "abort", "--reason", "nothing runs", home=lab)
    assert proc.returncode == 2 and "no canary is running" in proc.stderr


def test_a_breached_guard_rolls_the_canary_back_by_itself(lab):
    url = serving(lab)
    with Load(url) as load:
        run_lab("canary", "start", "--version", "3", "--steps", "50,100", "--interval", "600", "--max-p99-ms", "0.001",
                "--reason", "the new pipeline release", home=lab, check=True)
        ended = wait_for("the canary rolled back", lambda: entries(lab, "canary.rolled_back"), timeout=300)
        wait_for("serving dropped the canary",
                 lambda: httpx.post(f"{url}/admin/state", json={}, timeout=10).json()["canary_version"] is None,
                 timeout=30)
    assert load.failures == []
    assert "3" in load.versions and "1" in load.versions
    breach = ended[-1]["data"]["breach"]
    assert breach["guard"] == "max_p99_ms" and breach["value"] > 0.001 and ended[-1]["actor"] == "canary"
    assert not entries(lab, "canary.step"), "it never reached its second step"
    state = json.loads(run_lab("canary", "status", "--json", home=lab, check=True).stdout)
    assert state["status"] == "rolled_back" and state["version"] == 3
    lines = canary_lines(lab, 3)
    assert lines and all(r["served_version"] == 3 and r["canary_prediction"] for r in lines)
    moves = [e["data"] for e in entries(lab, "alias.moved") if e["data"]["alias"] == "canary"]
    assert [m["to"] for m in moves[-2:]] == [3, None]
    assert status_json(lab)["model_versions"][0]["aliases"] == ["champion"]  # v1 stayed champion


def test_a_sound_canary_steps_up_and_becomes_champion_beside_a_shadow(lab):
    url = serving(lab)
    run_lab("shadow", "start", "--version", "3", "--timeout", "900", home=lab, check=True)
    with Load(url) as load:
        run_lab("canary", "start", "--version", "2", "--steps", "20,100", "--interval", "5", "--max-error-rate", "0.05",
                "--max-p99-ms", "5000", home=lab, check=True)
        wait_for("the canary completed", lambda: entries(lab, "canary.completed"), timeout=600)
        wait_for("serving follows the new champion",
                 lambda: httpx.post(f"{url}/admin/state", json={}, timeout=10).json()["champion_version"] == 2,
                 timeout=30)
    assert load.failures == []
    assert {"1", "2"} <= set(load.versions)
    steps = entries(lab, "canary.step")
    assert [s["data"]["percent"] for s in steps] == [100.0]
    champion = [e for e in entries(lab, "alias.moved") if e["data"]["alias"] == "champion"][-1]
    assert champion["data"]["to"] == 2 and champion["actor"] == "canary"
    assert any(r.get("shadow_version") == 3 for r in canary_lines(lab, 2)), "the shadow ran beside the canary"
    run_lab("shadow", "stop", home=lab, check=True)
