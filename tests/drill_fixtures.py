"""Helpers shared by the drill console's tests: a drill home, real journals, a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from lab.core.journal import Journal
from lab.drill.store import Store

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "hiring-data-drift"
SEED = 7


def make_drill(home: Path, teams: tuple[str, ...] = ("red", "blue")) -> dict[str, Any]:
    """A new drill in ``home``: {"facilitator": token, "red": token, ...}."""
    made = Store(home).create("demo", SCENARIO, SEED, 60.0, list(teams))
    return {"facilitator": made["facilitator_token"], **{t["name"]: t["token"] for t in made["teams"]}}


def journal_entries(path: Path, steps: list[tuple[str, float, dict[str, Any], str]]) -> list[dict[str, Any]]:
    """Write a real hash-chained journal at ``path`` from (kind, day, data, actor) steps; returns its entries."""
    j = Journal(path)
    j.append("lab.header", {"scenario": SCENARIO, "seed": SEED}, day=0.0)
    for kind, day, data, actor in steps:
        j.append(kind, data, day=day, actor=actor)
    return list(j.entries())


#: A team that sees the pool shift (onset day 9 in its lab), alerts a day later, changes its
#: monitoring, then rolls the bad release back.
RED_STEPS = [
    ("event.fired", 9.0, {"event": "pool-shift", "type": "data_drift", "scheduled_day": 10}, "facilitator"),
    ("monitor.alert", 10.0, {"window": 3, "signals": ["years_experience"]}, "monitor"),
    ("monitor.config", 10.5, {"methods": {"years_experience": "psi"}, "note": "<script>alert(1)</script>"}, "team"),
    ("shadow.started", 11.0, {"version": 2, "percent": 100}, "team"),
    ("event.fired", 20.0, {"event": "bad-release", "type": "bad_release", "scheduled_day": 20, "version": 3},
     "timeline"),
    ("monitor.alert", 20.5, {"window": 9, "signals": ["prediction"]}, "monitor"),
    ("rollback", 21.0, {"from_version": 3, "to_version": 1, "reason": "bad release"}, "team"),
]
#: A team that never alerts and only promotes, late.
BLUE_STEPS = [
    ("event.fired", 9.0, {"event": "pool-shift", "type": "data_drift", "scheduled_day": 10}, "facilitator"),
    ("promote", 14.0, {"version": 2, "reason": "<b>looked fine</b>"}, "team"),
]


def report(total: float, skill: str = "shadow") -> dict[str, Any]:
    """The shape of `lab submit --json`'s report (lab.grading.report)."""
    return {"schema_version": 1, "total": total, "max_total": 100,
            "skills": {skill: {"score": total, "max": 100.0, "points": 1, "max_points": 1}}, "items": []}


def free_server(home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`lab drill serve --port 0` as a user runs it; returns the process and its URL once it answers."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAB_DRILL_HOME", "LAB_HOME")}
    out = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "drill", "serve", "--home", str(home), "--port", "0"],
                            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"lab drill serve exited {proc.returncode}:\n{log.read_text()}")
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text())
        if found:
            url = f"http://127.0.0.1:{found.group(1)}"
            try:
                if httpx.get(url + "/api/health", timeout=5).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.1)  # polling the log and /api/health, up to the deadline
    proc.kill()
    raise AssertionError(f"lab drill serve did not answer within 120 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
