"""`lab monitor`: apply a monitoring config to the running lab."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Annotated

import typer

from lab.cli._common import HomeOpt, err_console, get_home


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)


def monitor(
    config: Annotated[Path, typer.Option("--config", help="Your monitoring.yaml (format: see the README).")],
    home: HomeOpt = None,
) -> None:
    """Apply a monitoring config live: from the next window on, drift is judged with it."""
    from lab import stack
    from lab.errors import UsageError
    from lab.generators import generator_class
    from lab.monitor_runner import PREDICTION, config_path
    from lab.monitoring import load_monitoring_config
    from lab.run import effective_scenario

    h = get_home(home)
    stack.require_config(h)
    if not config.is_file():
        raise UsageError(f"--config {config}: no such file")
    scenario, _ = effective_scenario(h)
    kinds = {f.name: f.kind for f in generator_class(scenario.generator.name).features}
    kinds[PREDICTION] = "numeric"
    load_monitoring_config(config, columns=kinds)  # every problem at once, with lines; nothing changes
    target = config_path(h)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(config, tmp)
    tmp.replace(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()[:12]
    err_console.print(f"monitoring config applied ({digest}); the live monitor uses it from its next window")
