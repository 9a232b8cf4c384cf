"""`lab inject`, `lab pause`, `lab resume`: the facilitator's hold on the timeline."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from lab.cli._common import HomeOpt, err_console, get_home


def register(app: typer.Typer) -> None:
    app.command("inject")(inject)
    app.command("pause")(pause)
    app.command("resume")(resume)


def inject(
    event: Annotated[Optional[str], typer.Argument(help="Event name (see `lab status`); default: the next one.")] = None,
    home: HomeOpt = None,
) -> None:
    """Fire the next (or a named) timeline event now: for facilitators running a drill."""
    from lab.world import events
    from lab.stack import control as stack
    from lab.scenario.answer_key import answer_key
    from lab.errors import StateError, UsageError
    from lab.core.home import Clock, read_json, write_json_atomic
    from lab.scenario.run import effective_scenario, set_override
    from lab.scenario.schema import load_scenario, resolve

    h = get_home(home)
    cfg = stack.require_config(h)
    if not stack.lab_running(h):
        raise StateError(f"the lab in {h.root} is not running", hint="`lab up` first")
    scenario, seed = effective_scenario(h)
    names = [e.name for e in scenario.timeline.events]
    if event is None:
        event = events.next_event(h, scenario)
        if event is None:
            raise UsageError("every event of this scenario has already fired")
    if event not in names:
        raise UsageError(f"unknown event {event!r} in scenario {scenario.id}", hint=f"events: {', '.join(names)}")
    if event in events.fired_events(h):
        raise UsageError(f"event {event!r} has already fired")
    now = Clock(h.clock_json).day()
    if scenario.event(event).day > now:  # firing early: the onset moves to now, for traffic and the answer key
        set_override(h, event, now)
        scenario, seed = effective_scenario(h)
        _, drawn = resolve(load_scenario(cfg.scenario_file), seed)
        key = answer_key(scenario, seed, drawn)
        previous = read_json(h.answer_key) or {}
        key["injected"] = sorted({*previous.get("injected", []), event})
        write_json_atomic(h.answer_key, key)
    entry = events.fire(h, scenario, event, actor="facilitator", mlflow_url=h.url("mlflow"))
    err_console.print(f"fired {event} ({entry['data']['type']}) on day {entry['day']:.2f}")


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
