"""`lab monitor`: apply a monitoring config, or an alert webhook, to the running lab."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from lab.core import checks
from lab.cli._common import AlertWebhookOpt, HomeOpt, err_console, get_home
from lab.errors import UsageError

def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)


def monitor(
    config: Annotated[Optional[Path], typer.Option("--config", help="Your monitoring.yaml (format: see the README).",
                                                   show_default=False)] = None,
    alert_webhook: AlertWebhookOpt = None,
    home: HomeOpt = None,
) -> None:
    """Apply a monitoring config live (from the next window on) and/or set the alert webhook."""
    if config is None and alert_webhook is None:
        raise UsageError("nothing to apply: give --config FILE and/or --alert-webhook URL",
                         hint="without a config the monitor uses the lab's default (see the README)")
    if config is not None:
        checks.check_monitoring_yaml(config)  # syntax and key names, before any heavy import
    if alert_webhook is not None:
        alert_webhook = checks.check_webhook_url(alert_webhook)
    h = get_home(home)

    # heavy: keep off the start-up path
    from lab.monitoring import alerts

    from lab.stack import control as stack

    stack.require_config(h)
    if config is not None:
        _apply_config(h, config)
    if alert_webhook is not None:
        alerts.set_webhook(h, alert_webhook)
        err_console.print(f"alerts are POSTed to {alert_webhook}" if alert_webhook else "alert webhook off",
                          highlight=False)


def _apply_config(h, config: Path) -> None:
    # heavy: keep off the start-up path
    from lab.scenario.generators import generator_class
    from lab.monitoring.runner import PREDICTION, config_path
    from lab.monitoring import load_monitoring_config
    from lab.scenario.run import effective_scenario

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
