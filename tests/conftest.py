"""Shared fixtures. Integration fixtures start the real stack through the `lab` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_lab(*args: str, home: Path | None = None, timeout: float = 900, check: bool = False) -> subprocess.CompletedProcess:
    """Run the real `lab` console script in a subprocess, as a user would."""
    cmd = [sys.executable, "-m", "lab.cli", *args]
    if home is not None:
        cmd += ["--home", str(home)]
    env = {k: v for k, v in os.environ.items() if k != "LAB_HOME"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def status_json(home: Path) -> dict:
    return json.loads(run_lab("status", "--json", home=home, check=True).stdout)


@pytest.fixture(scope="session")
def lab_home(tmp_path_factory) -> Path:
    """One real lab (MLflow, Prefect, BentoML, traffic) shared by the integration tests."""
    home = tmp_path_factory.mktemp("lab") / "home"
    run_lab("up", "hiring-data-drift", "--detach", "--port-base", "0", "--seed", "7", "--speed", "30",
            home=home, check=True)
    yield home
    run_lab("down", home=home)


@pytest.fixture(scope="module")
def cpu_stress():
    """Two busy loops at normal priority for the whole module: a loaded two-core machine."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield [p.pid for p in loops]
    finally:
        for p in loops:
            p.kill()
            p.wait(timeout=30)


def _stage(item: pytest.Item) -> int:
    """Unit tests first, then the compose test, then the integration tests: CI (.ci/run) builds
    the compose images in the background while the unit tests run, and keeps that build away
    from the integration tests, several of which load the machine on purpose."""
    if item.get_closest_marker("compose") is not None:
        return 1
    if item.get_closest_marker("integration") is not None:
        return 2
    return 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_stage)  # stable: each stage keeps pytest's own order
