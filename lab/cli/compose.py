"""`lab init`: write a lab home without starting anything, for a stack that runs elsewhere.

docker compose runs it once (the `init` service) before any other container starts:
``lab init --stack compose`` takes the scenario and seed from ``$LAB_SCENARIO`` and
``$LAB_SEED`` when they are not given, and the services' URLs from ``$LAB_MLFLOW_URL``,
``$LAB_PREFECT_URL``, ``$LAB_SERVING_URL`` and ``$LAB_TRAFFIC_URL`` (default: the compose
service names, ``http://mlflow:5000`` ...). Running it again on the same home continues
that run; another scenario or seed is refused.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from lab.cli._common import HomeOpt, err_console, get_home
from lab.errors import UsageError

DEFAULT_SCENARIO = "hiring-data-drift"


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def _env_number(name: str, kind: type) -> int | float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise UsageError(f"${name}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None


def init(
    scenario: Annotated[Optional[str], typer.Argument(help="Scenario id or YAML path (default: $LAB_SCENARIO, else hiring-data-drift).", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed for the hidden parameters (default: $LAB_SEED, else random, kept in the home).")] = None,
    speed: Annotated[Optional[float], typer.Option("--speed", help="Wall-clock seconds per scenario day (default: $LAB_SPEED, else 60).")] = None,
    stack_kind: Annotated[str, typer.Option("--stack", help="Who runs the services: compose (docker compose).")] = "compose",
    home: HomeOpt = None,
) -> None:
    """Write a lab home (config, answer key, journal header) without starting a service."""
    # heavy: keep off the start-up path
    from lab.stack import control as stack

    if stack_kind != "compose":
        raise UsageError(f"--stack {stack_kind!r}: only compose is initialised this way",
                         hint="`lab up` initialises and starts an embedded lab")
    scenario = scenario or os.environ.get("LAB_SCENARIO", "").strip() or DEFAULT_SCENARIO
    seed = seed if seed is not None else _env_number("LAB_SEED", int)
    speed = speed if speed is not None else _env_number("LAB_SPEED", float)
    h = get_home(home)
    _, cfg = stack.prepare(h, scenario, seed, speed, None, stack=stack_kind)
    err_console.print(f"lab home {h.root}: {cfg.scenario} seed {cfg.seed}, {cfg.speed:g} s per day, "
                      f"services at {', '.join(cfg.urls.values())}", highlight=False)
