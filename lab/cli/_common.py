"""Options and helpers shared by every command group."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from lab.core.home import Home, resolve_home

# messages on stderr are not wrapped at the terminal's width (80 columns in a pipe): a line a
# script or a log reader greps for stays one line
err_console = Console(stderr=True, soft_wrap=True)
out_console = Console()

SCHEMA_VERSION = 1

HomeOpt = Annotated[
    Optional[str],
    typer.Option("--home", help="Lab home directory (default: $LAB_HOME, else ./.lab).", show_default=False),
]
AlertWebhookOpt = Annotated[Optional[str], typer.Option(
    "--alert-webhook", help="POST each alert as JSON to this URL ('' turns it off). Format: see the README.",
    show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (with schema_version) instead of a table.")]


def get_home(home: str | None) -> Home:
    from lab.core.access import export_env

    h = Home(resolve_home(home))
    export_env(h)  # a lab that joined a drill: its MLflow wants its credentials, from any command
    return h


def print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"schema_version": SCHEMA_VERSION, **obj}, indent=2, default=str) + "\n")
