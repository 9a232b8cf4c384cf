"""`lab inject`, `lab pause`, `lab resume`: the facilitator's hold on the timeline."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from lab.cli._common import HomeOpt, err_console, get_home
from lab.core.home import Home


def register(app: typer.Typer) -> None:
    app.command("inject")(inject)
    app.command("pause")(pause)
    app.command("resume")(resume)


def inject(
    event: Annotated[Optional[str], typer.Argument(help="Event name (see `lab status`); default: the next one.")] = None,
    home: HomeOpt = None,
) -> None:
    """Fire the next (or a named) timeline event now: for facilitators running a drill."""
    from lab.core.liveness import lab_running  # the home's files and a psutil lookup, off `lab --help`'s path
    from lab.world import events  # light: the event's name is checked before any heavy import

    h = get_home(home)
    fired = events.inject(h, event, lab_running=lab_running, mlflow_url=h.url("mlflow"))
    moved = f"; its onset moved from day {fired.scheduled_day:g}" if fired.moved else ""
    err_console.print(f"fired {fired.event} ({fired.type}) on day {fired.day:.2f}{moved}")


def _running_home(home: str | None):
    from lab.stack import control as stack
    from lab.errors import StateError

    h = get_home(home)
    stack.require_config(h)
    if not stack.lab_running(h):
        raise StateError(f"the lab in {h.root} is not running", hint="`lab up` first")
    return h


def pause(home: HomeOpt = None) -> None:
    """Pause the scenario: its clock, traffic and timeline stop until `lab resume` (days do not pass)."""
    from lab.scenario import run

    h = _running_home(home)
    entry = run.pause(h)
    if entry is None:
        err_console.print("already paused; `lab resume` continues")
    else:
        err_console.print(f"paused on day {entry['day']:.2f}: no traffic, no events, no labels until `lab resume`")


def resume(home: HomeOpt = None) -> None:
    """Resume a paused scenario from the day it was paused on."""
    from lab.scenario import run

    h = _running_home(home)
    entry = run.resume(h)
    if entry is None:
        err_console.print("not paused; nothing to resume")
    else:
        err_console.print(f"resumed on day {entry['day']:.2f}")
