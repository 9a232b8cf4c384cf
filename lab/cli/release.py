"""`lab shadow start|stop|report`, `lab promote`, `lab rollback`, `lab retrain`, `lab gate apply|run`: releasing
models safely."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from lab.cli._common import HomeOpt, JsonOpt, err_console, get_home, out_console, print_json
from lab.core.journal import Journal
from lab.serving.requestlog import merged, read_requests

shadow_app = typer.Typer(help="Mirror live requests to a candidate version without affecting clients.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(shadow_app, name="shadow")
    app.add_typer(gate_app, name="gate")
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("retrain")(retrain)


@shadow_app.command("start")
def shadow_start(
    version: Annotated[int, typer.Option("--version", help="Model version to shadow.")],
    percent: Annotated[float, typer.Option("--percent", help="Share of requests mirrored, 0-100.")] = 100.0,
    fault: Annotated[Optional[str], typer.Option("--fault", help="Drills only: make the shadow misbehave: error, crash, delay_ms=N, load_delay_ms=N.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the shadow to warm up; past them, exit 5 and let it warm in the background.")] = 120.0,
    home: HomeOpt = None,
) -> None:
    """Start mirroring requests to VERSION: clients still get the champion's answers.

    Journals the start when the alias moves, then waits for the shadow to warm up.
    Running it again with the same options moves nothing and only waits again.
    """
    from lab.release.options import check_shadow_options

    check_shadow_options(percent, fault, timeout)  # before any heavy import, and before looking for a lab
    # heavy: keep off the start-up path
    from lab.release import actions as release

    ctx = release.context(get_home(home))
    data = release.shadow_start(ctx, version, percent, fault, timeout=timeout)
    if not data["changed"]:
        err_console.print(f"v{version} is the shadow already, on {percent:g}% of requests", highlight=False)
    err_console.print(f"shadowing {ctx.model} v{version} on {percent:g}% of requests "
                      f"(mirroring after {data['seconds_to_mirror']:.2f} s)", highlight=False)


@shadow_app.command("stop")
def shadow_stop(home: HomeOpt = None) -> None:
    """Stop mirroring; says what became of the mirrored requests."""
    # heavy: keep off the start-up path
    from lab.release import actions as release

    ctx = release.context(get_home(home))
    d = release.shadow_stop(ctx)
    pending = f", {d['pending']} without an answer yet" if d["pending"] else ""
    err_console.print(f"stopped shadowing v{d['version']}: {d['mirrored']} requests mirrored, {d['answered']} "
                      f"answered, {d['dropped']} dropped, {d['failed']} failed{pending}", highlight=False)


@shadow_app.command("report")
def shadow_report(
    version: Annotated[Optional[int], typer.Option("--version", help="Shadow version (default: the latest).")] = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Agreement, score deltas, latency, and metrics on labelled requests, shadow vs champion."""
    # heavy: keep off the start-up path
    from lab.stack import control as stack
    from lab.world.feedback import read_labels
    from lab.scenario.run import effective_scenario
    from lab.release.shadow_report import report_lines, shadow_report as build

    h = get_home(home)
    stack.require_config(h)
    threshold = effective_scenario(h)[0].model.decision_threshold.value
    crash_loops = list(Journal(h.journal).entries("shadow.crash_loop")) if h.journal.exists() else []
    report = build(merged(h.serving / "requests.jsonl"), read_labels(h), version, decision_threshold=threshold,
                   traffic=read_requests(h.traffic / "requests.jsonl"), crash_loops=crash_loops)
    if json_out:
        print_json(report)
        return
    if not report["mirrored_requests"]:
        err_console.print("no mirrored requests yet: `lab shadow start --version N`")
        return
    out_console.print(
        f"shadow v{report['shadow_version']} vs champion v{', v'.join(map(str, report['champion_versions']))}: "
        f"{report['mirrored_requests']} mirrored requests, {report['compared_rows']} rows compared "
        f"(shadow status {report['shadow_status']})", highlight=False)
    for line in report_lines(report):
        (err_console if line.startswith("warning:") else out_console).print(line, highlight=False, markup=False)
    if report["agreement_rate"] is not None:
        out_console.print(f"decision agreement {report['agreement_rate']:.1%} (at the decision threshold "
                          f"{report['decision_threshold']:g}), mean score delta "
                          f"{report['mean_score_delta']:+.4f} (abs {report['mean_abs_score_delta']:.4f})")
    t = Table(title="latency (ms)", title_justify="left")
    for c in ("", "n", "p50", "p95", "p99"):
        t.add_column(c)
    for who, lat in report["latency"].items():
        t.add_row(who, str(lat["n"]), *(str(lat[k]) for k in ("p50_ms", "p95_ms", "p99_ms")))
    out_console.print(t)
    if report["labelled"]:
        m = Table(title=f"on {report['labelled_rows']} labelled rows (decisions at score >= "
                        f"{report['decision_threshold']:g})", title_justify="left")
        m.add_column("metric")
        m.add_column("champion")
        m.add_column("shadow")
        for k in report["labelled"]["champion"]:
            c, s = report["labelled"]["champion"][k], report["labelled"]["shadow"][k]
            m.add_row(k, "" if c is None else f"{c:.4f}", "" if s is None else f"{s:.4f}")
        out_console.print(m)
    else:
        out_console.print("no labels for mirrored requests yet (they arrive after the label delay)")


def promote(
    version: Annotated[int, typer.Option("--version", help="Version to make champion.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    by: Annotated[Optional[str], typer.Option("--by", help="The role that took the decision (kept in the journal; checked against your incident plan).")] = None,
    home: HomeOpt = None,
) -> None:
    """Make VERSION the champion (serving switches without dropping a request)."""
    from lab.release.options import check_role

    by = check_role(by)
    # heavy: keep off the start-up path
    from lab.release import actions as release

    ctx = release.context(get_home(home))
    data = release.promote(ctx, version, reason, by)
    if data["warning"]:
        err_console.print(f"[yellow]warning:[/] {data['warning']}")
    err_console.print(f"{ctx.model}: champion v{data['from']} -> v{data['to']}; "
                      f"serving v{data['to']} after {data['seconds_to_serve']:.2f} s")


def retrain(
    from_day: Annotated[float, typer.Option("--from-day", help="First scenario day of the training window.")],
    to_day: Annotated[float, typer.Option("--to-day", help="Day after the window's last (the window is [from, to)).")],
    strategy: Annotated[str, typer.Option("--strategy", help="window (rows as they are) or weighted (recent rows count more).")] = "window",
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (kept with the version and in the journal).")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="The role that took the decision (kept in the journal; checked against your incident plan).")] = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Train a version on the labelled rows that have arrived for the window; register it with its lineage
    (and run the lab's release gate on it when one is applied). It does not promote it."""
    from lab.release.options import check_role
    from lab.release.retrain import check_window

    check_window(from_day, to_day, strategy)  # before any lab lookup
    by = check_role(by)
    # heavy: keep off the start-up path
    from lab.release import actions
    from lab.release.retrain import retrain as run_retrain

    ctx = actions.context(get_home(home))
    data = run_retrain(ctx.home, ctx.mlflow, from_day, to_day, strategy, reason, by)
    if json_out:
        print_json(data)
    err_console.print(f"{data['model']} v{data['version']}: trained on {data['rows']} labelled rows of days "
                      f"{from_day:g}..{to_day:g} ({strategy}; labels as of day {data['labels_by_day']:.2f}), held-out "
                      f"ROC AUC {data['holdout_roc_auc']}" + (f"; release gate: {data['gate']}" if "gate" in data else "")
                      + "; not promoted (shadow or canary it first)", highlight=False)


def rollback(
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    to: Annotated[Optional[int], typer.Option("--to", help="Version to roll back to (default: the last known-good champion).")] = None,
    by: Annotated[Optional[str], typer.Option("--by", help="The role that took the decision (kept in the journal; checked against your incident plan).")] = None,
    home: HomeOpt = None,
) -> None:
    """Restore an earlier champion in one step (default: the last known-good one)."""
    from lab.release.options import check_role

    by = check_role(by)
    # heavy: keep off the start-up path
    from lab.release import actions as release

    ctx = release.context(get_home(home))
    data = release.rollback(ctx, reason, to, by)
    err_console.print(f"{ctx.model}: rolled back v{data['from']} -> v{data['to']} ({data['chosen_by']}); "
                      f"serving v{data['to']} after {data['seconds_to_serve']:.2f} s")


BLOCKED_EXIT = 7  # the gate ran and blocked the version: not an error of the command

gate_app = typer.Typer(help="Hold a model version to release_gate.yaml on the scenario's reference data.",
                       no_args_is_help=True)


@gate_app.command("apply")
def gate_apply(
    gate: Annotated[Path, typer.Argument(help="Your release_gate.yaml (format: README, Release gate).")],
    home: HomeOpt = None,
) -> None:
    """Make GATE the lab's release gate: the release pipeline holds every later candidate to it."""
    from lab.release.gate_run import read_gate_file

    cfg, digest = read_gate_file(gate)  # a missing or bad file is reported before any lab lookup
    h = get_home(home)
    # heavy: keep off the start-up path
    from lab.release.gate_run import apply_gate

    apply_gate(h, gate, cfg)
    err_console.print(f"release gate applied (sha256 {digest[:12]}): the release pipeline gates every later "
                      "candidate with it", highlight=False)


@gate_app.command("run")
def gate_run(
    version: Annotated[int, typer.Option("--version", help="Model version to check.")],
    gate: Annotated[Optional[Path], typer.Option(
        "--gate", help="The gate file (format: README, Release gate); default: the lab's applied gate, "
                       "else ./release_gate.yaml.", show_default=False)] = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Run every check of the gate on VERSION; record the verdict on the version (MLflow tags) and in the journal.

    Exit 0 when it passes, 7 when it is blocked (the verdict is recorded either way).
    """
    from lab.release.gate_run import gate_path, read_gate_file

    h = get_home(home)
    if gate is None:
        gate = gate_path(h) if gate_path(h).exists() else Path("release_gate.yaml")
    read_gate_file(gate)  # a missing or bad file is reported before any heavy import or lab lookup
    # heavy: keep off the start-up path
    from lab.release.gate_run import run_for_version

    data = run_for_version(h, version, gate)
    if json_out:
        print_json(data)
    else:
        t = Table(title=f"{data['model']} v{version} against {gate} (reference: {data['reference_rows']} rows)",
                  title_justify="left")
        for c in ("check", "result", "value", "limit", "detail"):
            t.add_column(c)
        for c in data["checks"]:
            t.add_row(c["name"], "pass" if c["passed"] else "FAIL", "" if c["value"] is None else f"{c['value']:g}",
                      "" if c["limit"] is None else f"{c['limit']:g}", c["detail"])
        out_console.print(t)
    err_console.print(f"v{version}: {data['verdict']}"
                      + (f" ({', '.join(data['failed'])})" if data["failed"] else "")
                      + "; recorded as MLflow tags lab.gate.* and in the journal (gate.run)")
    if data["verdict"] != "passed":
        raise typer.Exit(BLOCKED_EXIT)
