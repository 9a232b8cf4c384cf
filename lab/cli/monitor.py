"""`lab monitor`: apply a monitoring config, or an alert webhook, to the running lab."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from lab.core import checks
from lab.cli._common import AlertWebhookOpt, HomeOpt, err_console, get_home
from lab.errors import StateError, UsageError

def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
    app.command("dashboard")(dashboard)


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
    kpis = [k.name for k in scenario.business.kpis] if scenario.business else []
    load_monitoring_config(config, columns=kinds, kpis=kpis)  # every problem at once, with lines; nothing changes
    target = config_path(h)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(config, tmp)
    tmp.replace(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()[:12]
    err_console.print(f"monitoring config applied ({digest}); the live monitor uses it from its next window")


def dashboard(
    port: Annotated[int, typer.Option("--port", help="Port of Evidently's UI (0: any free port).")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to bind (0.0.0.0 to reach it from elsewhere).")] =
    "127.0.0.1",
    home: HomeOpt = None,
) -> None:
    """Serve the live monitor's windows in Evidently's UI (the lab run's project and its dashboard), in the
    foreground until Ctrl-C."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port (0..65535)")
    h = get_home(home)
    import os
    import sys

    from lab.core.home import free_port
    from lab.monitoring.workspace import project_id, workspace_dir

    pid = project_id(h)
    if pid is None:
        raise StateError(f"no Evidently workspace in {workspace_dir(h)} yet",
                         hint="the live monitor writes it when it judges its first window (`lab status` shows them)")
    port = port or free_port()
    program = Path(sys.executable).parent / "evidently"
    if not program.exists():
        raise StateError(f"Evidently's console script is missing beside {sys.executable}",
                         hint="reinstall the lab (./scripts/bootstrap.sh)")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    err_console.print(f"Evidently UI on http://{shown}:{port}/projects/{pid} (workspace {workspace_dir(h)}); "
                      "Ctrl-C stops it", highlight=False)
    sys.stderr.flush()
    os.execv(str(program), [str(program), "ui", "--workspace", str(workspace_dir(h)), "--host", host,
                            "--port", str(port)])
