"""The release drills end to end on the embedded stack (real MLflow, Prefect, serving): the release
gate (release-gate-regression) and canary releases (canary-rollout, at the end).

`lab up release-gate-regression`, a gate naming a column the scenario lacks is refused and
changes nothing, the sound gate is applied before the first release day; the release
pipeline (Prefect flow runs) then gates each candidate on its day: the three defective ones
are blocked by the checks that should block them and the sound one becomes champion. The
verdicts are on the MLflow versions and in the journal, and `lab submit` grades the drill
and the replayed gate in full.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import run_lab, status_json
from tests.integration.test_release import wait_for
from tests.test_gate_grading import EXPERT

pytestmark = pytest.mark.integration

SCENARIO = "release-gate-regression"


def journal(home) -> list[dict]:
    return [json.loads(x) for x in (home / "journal.jsonl").read_text().splitlines()]


def releases(home) -> dict[int, dict]:
    return {e["data"]["version"]: e["data"] for e in journal(home)
            if e["kind"] == "event.fired" and e["data"].get("type") == "release"}


def journaled(home, kind: str, timeout: float) -> list[dict]:
    """The journal's ``kind`` entries, once there is one (fails naming ``kind`` after ``timeout`` s)."""
    return wait_for(kind, lambda: [e["data"] for e in journal(home) if e["kind"] == kind], timeout=timeout, every=1.0)


def submitted_items(tmp_path, home, skill: str, gate: str | None = None) -> dict[str, dict]:
    """`lab submit` of the templates (with ``gate`` as release_gate.yaml): the report's ``skill`` items by id."""
    answer = tmp_path / "answer"
    run_lab("init-submission", str(answer), check=True)
    if gate is not None:
        (answer / "release_gate.yaml").write_text(gate)
    out = tmp_path / "report.json"
    proc = run_lab("submit", str(answer), "--json", str(out), home=home)
    assert proc.returncode == 0, proc.stderr
    return {i["id"]: i for i in json.loads(out.read_text())["items"] if i["skill"] == skill}


def test_the_gate_keeps_the_defective_candidates_out_and_ships_the_sound_one(tmp_path):
    home = tmp_path / "home"
    run_lab("up", SCENARIO, "--detach", "--port-base", "0", "--seed", "11", "--speed", "5", home=home, check=True)
    run_lab("pause", home=home, check=True)  # the gate goes in before the first release day, whatever the load
    try:
        wrong = tmp_path / "wrong.yaml"
        wrong.write_text("slices: {column: zipcode, max_drop: 0.03}\n")
        proc = run_lab("gate", "apply", str(wrong), home=home)
        assert proc.returncode == 2 and "zipcode" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert not (home / "release" / "release_gate.yaml").exists()

        gate = tmp_path / "release_gate.yaml"
        gate.write_text(EXPERT)
        run_lab("gate", "apply", str(gate), home=home, check=True)
        assert status_json(home)["day"] < 2, "the gate must be in place before the first release day"

        # the user's own run of the gate: v2 is blocked by a group's drop alone (exit 7)
        proc = run_lab("gate", "run", "--version", "2", "--json", home=home)
        assert proc.returncode == 7, proc.stderr
        assert json.loads(proc.stdout)["failed"] == ["slices by age_band"]
        run_lab("resume", home=home, check=True)

        done = wait_for("four release decisions", lambda: len(releases(home)) == 4 and releases(home), timeout=400,
                        every=1.0)
        assert sorted(done) == [2, 3, 4, 5], done
        assert [done[v]["decision"] for v in (2, 3, 4, 5)] == ["blocked", "blocked", "blocked", "promoted"], done
        assert "invariance to region" in done[3]["failed"] and done[4]["failed"] == ["schema"], done
        gate_runs = [e for e in journal(home) if e["kind"] == "gate.run" and e["actor"] == "release-pipeline"]
        assert sorted(e["data"]["version"] for e in gate_runs) == [2, 3, 4, 5]
        assert len({e["data"]["gate_sha256"] for e in gate_runs}) == 1

        versions = {v["version"]: v["aliases"] for v in status_json(home)["model_versions"]}
        assert "champion" in versions[5], versions
        mlflow = status_json(home)["services"]["mlflow"]["url"]
        tags = httpx.get(f"{mlflow}/api/2.0/mlflow/model-versions/get",
                         params={"name": "credit-scorer", "version": "3"}, timeout=10).json()["model_version"]["tags"]
        assert {t["key"]: t["value"] for t in tags}["lab.gate.verdict"] == "blocked"

        items = submitted_items(tmp_path, home, "gates", EXPERT)
        assert len(items) == 8 and all(i["passed"] for i in items.values()), \
            {k: i["feedback"] for k, i in items.items() if not i["passed"]}
    finally:
        run_lab("down", home=home)


def test_canary_rollout_drill_end_to_end(tmp_path):
    """canary-rollout: the failing candidate is rolled back by its error guard at its first step
    (no client request fails), the sound one completes and becomes champion, and `lab submit`
    grades both canaries in full."""
    home = tmp_path / "home"
    run_lab("up", "canary-rollout", "--detach", "--port-base", "0", "--seed", "11", home=home, check=True)
    try:
        guards = ("--max-p99-ms", "50", "--max-error-rate", "0.01")
        run_lab("canary", "start", "--version", "2", "--steps", "5,25,50,100", "--interval", "30", *guards,
                home=home, check=True)
        ended = journaled(home, "canary.rolled_back", timeout=300)
        assert ended[0]["version"] == 2 and ended[0]["breach"]["guard"] == "max_error_rate", ended
        assert ended[0]["percent"] == 5.0
        run_lab("canary", "start", "--version", "3", "--steps", "20,100", "--interval", "5", *guards,
                home=home, check=True)
        journaled(home, "canary.completed", timeout=400)
        versions = {v["version"]: v["aliases"] for v in status_json(home)["model_versions"]}
        assert "champion" in versions[3], versions
        traffic = [json.loads(x) for x in (home / "traffic" / "requests.jsonl").read_text().splitlines() if x.strip()]
        assert traffic and all(r["status"] == 200 for r in traffic), "no client request fails for a canary"

        items = submitted_items(tmp_path, home, "canary")
        assert len(items) == 4 and all(i["passed"] for i in items.values()), \
            {k: i["feedback"] for k, i in items.items() if not i["passed"]}
    finally:
        run_lab("down", home=home)
