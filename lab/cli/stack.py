"""`lab up`, `lab down`, `lab status`, `lab logs`: the running stack."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from lab.core import checks
from lab.cli._common import AlertWebhookOpt, HomeOpt, JsonOpt, err_console, get_home, out_console, print_json
from lab.errors import ServiceError, UsageError
from lab.core.home import Clock

DEFAULT_SCENARIO = "hiring-data-drift"
_STYLE = {"healthy": "green", "done": "green", "starting": "yellow", "waiting": "dim", "failed": "red",
          "stopped": "dim", "restarting": "yellow"}


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("logs")(logs)


def _progress_table(state: dict) -> Table:
    table = Table(title="starting the lab", title_justify="left")
    table.add_column("service")
    table.add_column("status")
    table.add_column("for")
    now = time.time()
    for name, s in (state.get("services") or {}).items():
        since = s.get("started_at")
        took = (s.get("healthy_at") or now) - since if since else None
        colour = _STYLE.get(s["status"], "white")
        table.add_row(name, f"[{colour}]{s['status']}[/]", f"{took:.0f} s" if took is not None else "")
    return table


def up(
    scenario: Annotated[Optional[str], typer.Argument(help="Scenario id (see `lab scenarios`) or a YAML path (default hiring-data-drift; with --drill, the drill's).", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for the hidden parameters (default: random, kept in the home).")] = None,
    speed: Annotated[Optional[float], typer.Option("--speed", help="Wall-clock seconds per scenario day (default 60).")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Return once every service is healthy.")] = False,
    port_base: Annotated[Optional[int], typer.Option("--port-base", help="Ports N..N+4 for mlflow, prefect, serving, traffic, exporter; 0 = any free ports. Default: 5000, 4200, 3000, 3100, 3200, or what this home used before.")] = None,
    alert_webhook: AlertWebhookOpt = None,
    drill: Annotated[Optional[str], typer.Option("--drill", help="Join the drill run by the console at this URL: scenario, seed and speed come from it.", show_default=False)] = None,
    team_token: Annotated[Optional[str], typer.Option("--team-token", help="Your team's token for --drill (from the facilitator).", show_default=False)] = None,
    home: HomeOpt = None,
) -> None:
    """Bring up a scenario: MLflow, Prefect, the BentoML service and traffic."""
    joining = None
    if drill is not None or team_token is not None:  # options first, then the drill says scenario, seed and speed
        from lab.core.drill_client import join_drill

        joining = join_drill(drill, team_token, scenario, seed, speed)
        scenario, seed, speed = joining.scenario, joining.seed, joining.speed
    scenario = scenario or DEFAULT_SCENARIO
    checks.check_scenario_ref(scenario)  # options first: a mistake is answered before any heavy import
    checks.check_seed(seed)
    checks.check_speed(speed)
    checks.check_port_base(port_base)
    if alert_webhook is not None:
        alert_webhook = checks.check_webhook_url(alert_webhook)

    # heavy: keep off the start-up path
    from lab.monitoring import alerts

    from lab.stack import control as stack

    h = get_home(home)
    _, cfg = stack.prepare(h, scenario, seed, speed, port_base)
    if alert_webhook is not None:
        alerts.set_webhook(h, alert_webhook)
    if joining is not None:
        joining.save(h)
    pid = stack.spawn_supervisor(h)
    err_console.print(f"bringing up [bold]{cfg.scenario}[/] (seed {cfg.seed}, {cfg.speed:g} s per day) in {h.root}")
    if err_console.is_terminal:
        with Live(_progress_table({}), console=err_console, refresh_per_second=4, transient=True) as live:
            state = stack.wait_until_up(h, pid, on_state=lambda s: live.update(_progress_table(s)))
    else:
        seen: dict[str, str] = {}

        def report(s: dict) -> None:
            for name, svc in (s.get("services") or {}).items():
                if seen.get(name) != svc["status"]:
                    seen[name] = svc["status"]
                    err_console.print(f"  {name}: {svc['status']}", highlight=False)

        state = stack.wait_until_up(h, pid, on_state=report)
    took = {n: s["healthy_at"] - s["started_at"] for n, s in state["services"].items() if s.get("healthy_at")}
    err_console.print(f"[green]lab is up[/] ({max(took.values()):.0f} s for the slowest service)")
    ports = cfg.ports
    out_console.print(
        f"  MLflow UI     http://127.0.0.1:{ports['mlflow']}\n"
        f"  Prefect UI    http://127.0.0.1:{ports['prefect']}\n"
        f"  serving API   http://127.0.0.1:{ports['serving']}/predict   (POST {{\"rows\": [...]}})\n"
        f"  traffic       http://127.0.0.1:{ports['traffic']}/health\n"
        f"  KPI exporter  http://127.0.0.1:{ports['exporter']}/metrics   (business KPIs, for Prometheus)",
        highlight=False,
    )
    if joining is not None:
        from lab.core import access

        err_console.print(f"joined drill {joining.creds.drill} as team {joining.creds.team}; MLflow and Prefect ask for user "
                          f"{access.mlflow_env(h)[access.USER_ENV]}, password in {access.access_path(h)} "
                          f"(the lab's own commands use it)", highlight=False)
    if detach:
        err_console.print("`lab status` to look around, `lab down` to stop.")
        return
    err_console.print("running in the foreground: Ctrl-C stops the lab.")
    import signal

    def _interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` of the foreground lab stops it as cleanly as Ctrl-C
    try:
        while stack.supervisor_alive(h):
            time.sleep(1.0)
        err_console.print("[red]the supervisor stopped[/]; see `lab logs supervisor`")
        stack.down(h)
        raise typer.Exit(4)
    except KeyboardInterrupt:
        err_console.print("stopping ...")
        stack.down(h)
        err_console.print("stopped.")


def down(home: HomeOpt = None) -> None:
    """Stop every process this lab started (its data stays in the home)."""
    # heavy: keep off the start-up path
    from lab.stack import control as stack

    h = get_home(home)
    result = stack.down(h)
    if result["was_running"]:
        extra = f" ({result['stray_processes_killed']} stray processes killed)" if result["stray_processes_killed"] else ""
        err_console.print(f"lab in {h.root} stopped{extra}.")
    else:
        err_console.print(f"no lab running in {h.root}.")


def status(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Scenario, day, services and their health, the shadow and canary, model versions, alerts and live metrics."""
    # heavy: keep off the start-up path
    from lab.monitoring import alerts
    from lab.stack import control as stack
    from lab.scenario.run import scenario_state
    from lab.release.registry import model_versions
    from lab.scenario.schema import load_scenario

    h = get_home(home)
    cfg = stack.require_config(h)
    services = stack.services_status(h)
    scenario = load_scenario(cfg.scenario_file)
    versions: list = []
    registry_error = None
    if services["mlflow"]["healthy"]:
        try:
            versions = model_versions(services["mlflow"]["url"], scenario.model.name)
        except ServiceError as exc:
            registry_error = str(exc)
    # heavy: keep off the start-up path
    from lab.world.timeline import public_events

    events = public_events(h, scenario)
    day = Clock(h.clock_json).day()
    running = stack.lab_running(h)
    state = scenario_state(h, running)
    fired_alerts = alerts.journal_alerts(h)
    live = alerts.live_metrics(h)
    report = {
        "scenario": cfg.scenario,
        "title": scenario.title,
        "seed": cfg.seed,
        "day": round(day, 3),
        "days": scenario.timeline.days,
        "speed": cfg.speed,
        "home": str(h.root),
        "running": running,
        "scenario_state": state,
        "scenario_ended": state == "ended",
        "services": services,
        "model": scenario.model.name,
        "model_versions": versions,
        "events": events,
        "alerts": fired_alerts,
        "live_metrics": live,
        "business": (business := alerts.business_figures(h)),
        "reports": sorted(str(p) for p in (h.root / "reports").glob("*")) if (h.root / "reports").exists() else [],
        "dashboard": _dashboard(h),
    }
    if registry_error:
        report["registry_error"] = registry_error
    report["shadow"] = stack.shadow_status(h) if services["serving"]["healthy"] else None
    from lab.release.canary import read_state

    canary = read_state(h)
    report["canary"] = ({k: canary.get(k) for k in ("version", "status", "percent", "step", "steps", "guards",
                                                    "figures", "breach")} if canary else None)
    if json_out:
        print_json(report)
        return
    said = {"ended": "scenario ended", "paused": "paused: `lab resume` continues"}.get(state, state)
    out_console.print(
        f"[bold]{report['scenario']}[/] seed {report['seed']}  day {day:.2f} of {report['days']}  "
        f"({said})  home {h.root}",
        highlight=False,
    )
    t = Table(title="services", title_justify="left")
    for c in ("service", "status", "healthy", "url"):
        t.add_column(c)
    for name, s in services.items():
        t.add_row(name, s["status"], "yes" if s["healthy"] else "no", s["url"])
    out_console.print(t)
    if report["shadow"]:
        out_console.print(_shadow_line(report["shadow"]), highlight=False)
    if canary and canary.get("status") == "running":
        out_console.print(f"canary v{canary['version']}: {canary['percent']:g}% of requests (step {canary['step'] + 1} "
                          f"of {len(canary['steps'])}); `lab canary status` for its guards", highlight=False)
    if versions:
        v = Table(title=f"model {scenario.model.name}", title_justify="left")
        for c in ("version", "aliases", "roc_auc", "accuracy", "selection_rate", "run_id"):
            v.add_column(c)
        for mv in versions:
            m = mv["metrics"]
            v.add_row(str(mv["version"]), ", ".join(mv["aliases"]), _fmt(m.get("roc_auc")), _fmt(m.get("accuracy")),
                      _fmt(m.get("selection_rate")), (mv["run_id"] or "")[:12])
        out_console.print(v)
    e = Table(title="timeline", title_justify="left")
    for c in ("event", "status", "day"):
        e.add_column(c)
    for ev in events:
        e.add_row(ev["name"], ev["status"], "" if ev["day"] is None else f"{ev['day']:.2f}")
    out_console.print(e)
    _print_monitoring(fired_alerts, live, business)
    if report["dashboard"]:
        d = report["dashboard"]
        out_console.print(f"dashboard: {d['snapshots']} Evidently snapshots in {d['workspace']}; `lab dashboard` serves "
                          "them in Evidently's UI", highlight=False)


def _dashboard(h) -> dict | None:
    """The live monitor's Evidently workspace: where, which project, how many snapshots (None: none yet)."""
    from lab.monitoring.workspace import project_id, workspace_dir

    pid = project_id(h)
    if pid is None:
        return None
    folder = workspace_dir(h) / pid / "snapshots"
    count = sum(1 for _ in folder.glob("*.json")) if folder.is_dir() else 0
    return {"workspace": str(workspace_dir(h)), "project_id": pid, "snapshots": count}


def _print_monitoring(fired_alerts: list[dict], live: dict | None, business: dict | None = None) -> None:
    if live:
        metrics = ", ".join(f"{k} {_fmt(live.get(k))}" for k in ("roc_auc", "accuracy", "positive_rate", "mean_score"))
        out_console.print(f"champion v{live['champion_version']} on its {live['labelled_rows']} latest labelled rows "
                          f"(monitor window {live['window']}): {metrics}", highlight=False)
    else:
        out_console.print("champion live metrics: no labelled rows judged yet", highlight=False)
    kpis = (business or {}).get("business") or {}
    if kpis:
        said = []
        for name, v in kpis.items():
            bound = " ".join(f"{b} {_fmt(v[b])}" for b in ("max", "min") if v.get(b) is not None)
            said.append(f"{name} {_fmt(v.get('value'))} on {v.get('rows', 0)} decided rows"
                        + (f" ({bound}{', BREACH' if v.get('breach') else ''})" if bound else ""))
        out_console.print(f"business KPIs (monitor window {business['window']}): " + "; ".join(said), highlight=False)
    if not fired_alerts:
        out_console.print("alerts: none", highlight=False)
        return
    a = Table(title=f"alerts ({len(fired_alerts)})", title_justify="left")
    for c in ("day", "window", "signal", "detail"):
        a.add_column(c)
    for al in fired_alerts[-10:]:
        a.add_row(f"{al['day']:.2f}", str(al["window"]), al["signal"], al["detail"])
    out_console.print(a)


def _shadow_line(sh: dict) -> str:
    if sh["state"] == "unknown":
        return f"shadow: [yellow]unknown[/] ({escape(sh['error'])})"
    colour = {"ready": "green", "crash_loop": "red"}.get(sh["state"], "yellow")
    line = (f"shadow v{sh['version']}: [{colour}]{sh['state']}[/]  {sh['mirrored']} mirrored, {sh['answered']} "
            f"answered, {sh['dropped']} dropped, {sh['failed']} failed")
    if sh["state"] == "crash_loop":
        line += f"\n  [red]crash loop:[/] {sh['crashes']} crashes, so the shadow service stopped restarting it; "
        line += "its mirrored requests are logged unavailable (`lab shadow stop`)"
    return line


def _fmt(x) -> str:
    return "" if x is None else f"{x:.3f}"


def logs(
    service: Annotated[str, typer.Argument(help="A service of `lab status` (mlflow, serving, monitor, ...) or supervisor.")],
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many of the last lines.")] = 50,
    home: HomeOpt = None,
) -> None:
    """Print the last lines of a service's log."""
    h = get_home(home)
    from lab.core.services import NAMES

    known = (*NAMES, "supervisor")
    if service not in known:
        raise UsageError(f"unknown service {service!r}", hint=f"one of: {', '.join(known)}")
    path = h.logs / f"{service}.log"
    if not path.exists():
        raise UsageError(f"no log for {service} in {h.logs}", hint="has this lab been brought up?")
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in text[-lines:]:
        print(line)
