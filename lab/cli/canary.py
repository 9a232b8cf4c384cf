"""`lab canary start|status|abort`: a growing share of live traffic to a new version, with guards
that roll it back by themselves (lab.release.canary)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from lab.cli._common import HomeOpt, JsonOpt, err_console, get_home, out_console, print_json
from lab.errors import UsageError

canary_app = typer.Typer(help="Release a version to a growing share of live traffic, rolled back on a breached guard.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(canary_app, name="canary")


def _steps(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--steps must be percentages separated by commas, e.g. 5,25,50,100: got {text!r}") from None


@canary_app.command("start")
def start(
    version: Annotated[int, typer.Option("--version", help="Version to release.")],
    steps: Annotated[str, typer.Option("--steps", help="Shares of requests, in %, ending at 100.")] = "5,25,50,100",
    interval: Annotated[float, typer.Option("--interval", help="Seconds each step lasts at least.")] = 60.0,
    max_p99_ms: Annotated[Optional[float], typer.Option("--max-p99-ms", help="Guard: the canary's p99 scoring latency in a step.", show_default=False)] = None,
    max_error_rate: Annotated[Optional[float], typer.Option("--max-error-rate", help="Guard: share of the canary's requests it fails (0-1).", show_default=False)] = None,
    max_auc_drop: Annotated[Optional[float], typer.Option("--max-auc-drop", help="Guard: champion ROC AUC minus the canary's, on the canary's labelled requests.", show_default=False)] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (kept in the audit trail).")] = None,
    home: HomeOpt = None,
) -> None:
    """Route the first step's share of requests to VERSION; the lab steps it up and rolls it back itself."""
    from lab.release.canary_actions import check_plan

    plan = _steps(steps)
    guards = {"max_p99_ms": max_p99_ms, "max_error_rate": max_error_rate, "max_auc_drop": max_auc_drop}
    check_plan(plan, interval, guards)  # before any lab lookup
    # heavy: keep off the start-up path
    from lab.release import actions, canary_actions

    ctx = actions.context(get_home(home))
    state = canary_actions.start(ctx, version, plan, interval, guards, reason)
    err_console.print(f"canary v{version}: {state['percent']:g}% of requests now (steps "
                      f"{', '.join(f'{p:g}%' for p in plan)}, at least {interval:g} s each); `lab canary status` "
                      "follows it", highlight=False)


@canary_app.command("status")
def status(json_out: JsonOpt = False, home: HomeOpt = None) -> None:
    """The running (or last) canary: its step, its guards' figures, how it ended."""
    from lab.release.canary import read_state

    state = read_state(get_home(home))
    if json_out:
        print_json(state or {})
        return
    if not state:
        out_console.print("no canary has run in this lab")
        return
    figures = state.get("figures") or {}
    guards = ", ".join(f"{k} {v:g}" for k, v in state["guards"].items() if v is not None and k.startswith("max_"))
    out_console.print(f"canary v{state['version']} (champion v{state['champion']}): {state['status']}, step "
                      f"{state['step'] + 1} of {len(state['steps'])} at {state['percent']:g}%; guards: {guards}",
                      highlight=False)
    out_console.print("this step: " + ", ".join(f"{k} {v}" for k, v in figures.items()), highlight=False)
    if state.get("breach"):
        b = state["breach"]
        out_console.print(f"rolled back: {b['guard']} {b['value']} > {b['limit']}", highlight=False)


@canary_app.command("abort")
def abort(
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    home: HomeOpt = None,
) -> None:
    """Stop the running canary now: every request goes to the champion again."""
    # heavy: keep off the start-up path
    from lab.release import actions, canary_actions

    state = canary_actions.abort(actions.context(get_home(home)), reason)
    err_console.print(f"canary v{state['version']} aborted at {state['percent']:g}%; the champion answers everything",
                      highlight=False)
