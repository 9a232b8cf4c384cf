"""The ``lab`` command line. One module per noun; this one wires them and maps errors.

Data goes to stdout (``--json`` prints an object with ``schema_version``); messages go
to stderr. A :class:`lab.errors.LabError` prints one ``error:`` line (``still in progress:`` for
:class:`lab.errors.InProgressError`), plus a hint, and exits with its code; no traceback is shown for user mistakes.
"""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer
from rich.text import Text

from lab._version import __version__
from lab.cli._common import err_console
from lab.errors import InProgressError, LabError

app = typer.Typer(
    name="lab",
    help="prodml-lab: production-ML incidents on one machine, and a grader that explains your response.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"prodml-lab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the lab's version and exit.")] = False,
) -> None:
    """Options before the command; ``--version`` answers without importing any command's libraries."""

from lab.cli import canary as _canary  # noqa: E402
from lab.cli import compose as _compose  # noqa: E402
from lab.cli import data as _data  # noqa: E402
from lab.cli import drill as _drill  # noqa: E402
from lab.cli import grade as _grade  # noqa: E402
from lab.cli import evaluate as _evaluate  # noqa: E402
from lab.cli import monitor as _monitor  # noqa: E402
from lab.cli import release as _release  # noqa: E402
from lab.cli import stack as _stack  # noqa: E402
from lab.cli import team as _team  # noqa: E402
from lab.cli import timeline as _timeline  # noqa: E402

_stack.register(app)
_compose.register(app)
_timeline.register(app)
_release.register(app)
_canary.register(app)
_monitor.register(app)
_data.register(app)
_evaluate.register(app)
_grade.register(app)
_team.register(app)
_drill.register(app)


# typer >= 0.29 raises its own exception classes (typer.exceptions, typer._click); older
# typer raised click's. Catch both families.
def _classes(*paths: str) -> tuple[type[BaseException], ...]:
    import importlib

    found = []
    for path in paths:
        module, _, name = path.rpartition(".")
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


_EXIT = _classes("click.exceptions.Exit", "typer.exceptions.Exit")
_CLICK_ERRORS = _classes("click.ClickException", "typer._click.exceptions.ClickException")
_ABORT = _classes("click.exceptions.Abort", "typer.exceptions.Abort", "typer._click.exceptions.Abort")


def main(argv: list[str] | None = None) -> None:
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="lab")
    except LabError as exc:
        line = Text(f"{exc.label}:", style="bold yellow" if isinstance(exc, InProgressError) else "bold red")
        line.append(f" {exc.message}")  # plain text: a message may quote user input such as "[/]"
        err_console.print(line, highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"hint: {exc.hint}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except _EXIT as exc:
        sys.exit(exc.exit_code)
    except _CLICK_ERRORS as exc:  # usage mistakes: click's own one-line message, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (*_ABORT, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
