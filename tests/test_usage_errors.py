"""Usage mistakes are answered before any heavy import, and every command takes --home.

Deterministic, not timed: each command runs in a fresh interpreter that reports, at
exit, which heavy libraries were imported; a usage error must have imported none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer

from lab.core.checks import MONITORING_KEYS
from lab.cli import app
from tests.conftest import ROOT, run_lab

HEAVY = ("mlflow", "pandas", "sklearn", "evidently", "bentoml", "prefect", "scipy", "matplotlib")

_DRIVER = """
import atexit, json, sys
HEAVY = {heavy!r}
atexit.register(lambda: sys.stderr.write("\\nHEAVY-IMPORTS " + json.dumps([m for m in HEAVY if m in sys.modules]) + "\\n"))
from lab.cli import main
main(sys.argv[1:])
"""


def run_watched(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "LAB_HOME"}
    proc = subprocess.run([sys.executable, "-c", _DRIVER.format(heavy=HEAVY), *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=ROOT)
    marker = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY-IMPORTS ")]
    assert marker, proc.stderr
    return proc, json.loads(marker[-1].removeprefix("HEAVY-IMPORTS "))


def test_help_imports_nothing_heavy():
    proc, heavy = run_watched("--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout
    assert heavy == []


def test_version_prints_the_package_version_and_imports_nothing_heavy():
    from lab import __version__

    proc, heavy = run_watched("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"prodml-lab {__version__}"
    assert heavy == []


@pytest.fixture
def mistakes(tmp_path):
    home = str(tmp_path / "home")
    typo = tmp_path / "bad.yaml"
    typo.write_text("window: {size: 500}\ndata_drift:\n  defualt: {method: ks, threshold: 0.05}\n")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    answer = tmp_path / "answer"
    answer.mkdir()
    (answer / "model_card.md").write_text("# Model card\n\nIntended use: none yet.\n")
    return [
        (("--no-such-option",), "No such option: --no-such-option"),
        (("up", "no-such-scenario", "--home", home), "unknown scenario 'no-such-scenario'"),
        (("up", "hiring-data-drift", "--speed", "0", "--home", home), "--speed 0"),
        (("up", "hiring-data-drift", "--alert-webhook", "not a url", "--home", home), "--alert-webhook"),
        (("up", "--drill", "ftp://console", "--team-token", "t", "--home", home), "--drill 'ftp://console'"),
        (("up", "--team-token", "t", "--home", home), "--drill and --team-token go together"),
        (("monitor", "--config", str(typo), "--home", home), "bad.yaml:3: data_drift.defualt: unknown key 'defualt'"),
        (("monitor", "--home", home), "nothing to apply"),
        (("submit", "not-a-folder", "--home", home), "submission not-a-folder: no such folder"),
        (("submit", str(a_file), "--home", home), "not a folder, nor a .tar.gz"),
        (("grade", str(answer), "--evidence", str(tmp_path / "nope")), "--evidence"),
        (("grade", str(tmp_path / "no-answer"), "--evidence", str(tmp_path / "nope")), "no such folder"),
        (("shadow", "start", "--version", "2", "--no-such-option"), "No such option: --no-such-option"),
        (("shadow", "start", "--version", "2", "--percent", "150", "--home", home), "--percent 150.0 is outside"),
        (("shadow", "start", "--version", "2", "--fault", "bogus", "--home", home), "--fault 'bogus' is not one of"),
        (("shadow", "start", "--version", "2", "--timeout", "0", "--home", home), "--timeout 0.0 must be more"),
        (("evaluate", "missing.yaml"), "monitoring config missing.yaml: no such file"),
        (("evaluate", str(typo), "--scenario", "credit-concept-drift"), "unknown key 'defualt'"),
        (("evaluate", str(tmp_path / "ok.yaml"), "--scenario", "nope"), "no such file"),
        (("export-data", "no-such-scenario", "--out", str(tmp_path / "out")), "unknown scenario"),
        (("init-submission", str(a_file), "--home", home), "exists and is not a folder"),
        (("promote", "--version", "2", "--reason", "better", "--by", "42", "--home", home), "--by '42'"),
        (("rollback", "--reason", "broken", "--by", " ", "--home", home), "--by ''"),
        (("retrain", "--from-day", "3", "--to-day", "9", "--by", "x" * 90, "--home", home), "--by 'xxx"),
        (("retrain", "--from-day", "9", "--to-day", "3", "--home", home), "--from-day 9 must be below"),
    ]


def test_usage_errors_are_answered_before_any_heavy_import(mistakes):
    for args, needle in mistakes:
        proc, heavy = run_watched(*args)
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
        assert needle in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert heavy == [], f"lab {' '.join(args)} imported {heavy} before answering"


def _commands(group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group (typer may vendor its own click)
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def test_every_command_accepts_home():
    commands = dict(_commands(typer.main.get_command(app)))
    assert {("up",), ("pause",), ("resume",), ("monitor",), ("shadow", "start"), ("init-submission",)} <= set(commands)
    missing = [" ".join(path) for path, cmd in commands.items()
               if not any("--home" in p.opts for p in cmd.params)]
    assert missing == []


def test_commands_that_need_no_home_still_take_it(tmp_path):
    run_lab("scenarios", "--json", home=tmp_path / "h", check=True)
    run_lab("init-submission", str(tmp_path / "answer"), home=tmp_path / "h", check=True)
    assert (tmp_path / "answer" / "monitoring.yaml").is_file() and (tmp_path / "answer" / "datasheet.md").is_file()


def _fields_tree(model) -> dict:
    from pydantic import BaseModel

    out = {}
    for name, field in model.model_fields.items():
        sub = None
        ann = field.annotation
        if getattr(ann, "__origin__", None) is dict:  # column name -> test
            sub = {"*": _fields_tree(ann.__args__[1])}
        else:
            for t in (ann, *getattr(ann, "__args__", ())):  # a model, or Optional[model]
                if isinstance(t, type) and issubclass(t, BaseModel):
                    sub = _fields_tree(t)
        out[name] = sub
    return out


def test_the_light_key_check_knows_the_monitoring_schema():
    from lab.monitoring import MonitoringConfig

    assert MONITORING_KEYS == _fields_tree(MonitoringConfig)


def test_inject_of_an_unknown_event_is_answered_before_any_heavy_import(tmp_path):
    """`lab inject` reads the event names from the scenario YAML: a typo costs no pandas, and changes nothing."""
    from lab.core.home import Home
    from lab.stack import control as stack

    home = Home(tmp_path / "home")
    stack.prepare(home, "hiring-data-drift", 21, 10.0, 0)  # a home as `lab up` writes it; nothing runs
    before = {p: p.read_bytes() for p in sorted(home.root.rglob("*")) if p.is_file()}
    proc, heavy = run_watched("inject", "meteor-strike", "--home", str(home.root))
    assert proc.returncode == 2, proc.stderr
    assert "unknown event 'meteor-strike' in scenario hiring-data-drift" in proc.stderr
    assert "deploy, pool-shift, bad-release" in proc.stderr and "Traceback" not in proc.stderr
    assert heavy == [], f"lab inject imported {heavy} before answering"
    assert {p: p.read_bytes() for p in sorted(home.root.rglob("*")) if p.is_file()} == before
    # a real event on a lab that is not running: refused as a state error, nothing fired
    proc = run_lab("inject", "pool-shift", home=home.root)
    assert proc.returncode == 3 and "is not running" in proc.stderr and "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in sorted(home.root.rglob("*")) if p.is_file()} == before
