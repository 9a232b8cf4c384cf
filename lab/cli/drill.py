"""`lab drill ...`: the facilitator's console for team drills (README "Team drills").

``create`` writes a drill into a drill home and prints the tokens (once); ``serve`` runs
the console in the foreground; ``inject``, ``pause``, ``resume``, ``end`` post a command
to a running console, which every team's lab picks up within a few seconds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from lab.cli._common import JsonOpt, err_console, print_json
from lab.errors import ServiceError, UsageError

drill_app = typer.Typer(help="Team drills: the facilitator's console (create, serve, inject, pause, resume, end).",
                        no_args_is_help=True, rich_markup_mode=None)

DrillHomeOpt = Annotated[Optional[str], typer.Option(
    "--home", help="Drill home directory (default: $LAB_DRILL_HOME, else ./.drill).", show_default=False)]
UrlOpt = Annotated[Optional[str], typer.Option("--url", help="The console's URL (default: $LAB_DRILL_URL).",
                                               show_default=False)]
TokenOpt = Annotated[Optional[str], typer.Option(
    "--token", help="The facilitator's token (default: $LAB_DRILL_TOKEN).", show_default=False)]
NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")


def drill_home(home: str | None) -> Path:
    return Path(home or os.environ.get("LAB_DRILL_HOME") or ".drill").resolve()


@drill_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The drill's name (lower case letters, digits, '-').")],
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario id or file (see `lab scenarios`).")],
    teams: Annotated[str, typer.Option("--teams", help="Team names, comma-separated: red,blue.")],
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed every team's lab uses (default: random).")] = None,
    speed: Annotated[float, typer.Option("--speed", help="Wall-clock seconds per scenario day in every lab.")] = 60.0,
    home: DrillHomeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a new drill into the drill home and print its tokens (they are stored hashed: keep them)."""
    if not NAME.match(name):
        raise UsageError(f"drill name {name!r}: use 1-32 lower case letters, digits and '-', starting with a letter")
    names = [t.strip() for t in teams.split(",") if t.strip()]
    bad = [t for t in names if not NAME.match(t)]
    if not names or bad:
        raise UsageError(f"--teams {teams!r}: team names are 1-32 lower case letters, digits and '-'"
                         + (f" (not {', '.join(map(repr, bad))})" if bad else ""))
    if len(set(names)) != len(names):
        raise UsageError(f"--teams {teams!r}: a team is named twice")
    if not speed > 0:
        raise UsageError(f"--speed {speed}: seconds per scenario day must be > 0")
    import secrets

    from lab.drill.store import Store
    from lab.scenario.schema import load_scenario

    sc = load_scenario(scenario)
    seed = secrets.randbelow(2**31) if seed is None else seed
    where = drill_home(home)
    tokens = Store(where).create(name, sc.id, seed, speed, names)
    out = {"drill": name, "scenario": sc.id, "seed": seed, "speed": speed, "home": str(where), **tokens}
    if json_out:
        print_json(out)
        return
    err_console.print(f"drill {name} ({sc.id}, seed {seed}) written to {where}; tokens are shown this once:")
    typer.echo(f"facilitator\t{tokens['facilitator_token']}")
    for t in tokens["teams"]:
        typer.echo(f"{t['name']}\t{t['token']}")
    err_console.print("next: `lab drill serve --home ...`; each team: `lab up --drill URL --team-token TOKEN`")


@drill_app.command("serve")
def serve(
    home: DrillHomeOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind (other hosts: put TLS in front).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 8400,
) -> None:
    """Run the console in the foreground (Ctrl-C stops it); pages at /login?token=..."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: not a TCP port")
    import socket

    import uvicorn

    from lab.drill.api import create_app

    app = create_app(drill_home(home))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror}", hint="pick another --port") from None
    bound = sock.getsockname()[1]
    err_console.print(f"drill console on http://{host}:{bound}/ (facilitator: /login?token=...)", highlight=False)
    config = uvicorn.Config(app, log_level="warning", proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    uvicorn.Server(config).run(sockets=[sock])


def _post_command(url: str | None, token: str | None, kind: str, event: str | None = None,
                  home: str | None = None) -> None:
    url = url or os.environ.get("LAB_DRILL_URL")
    token = token or os.environ.get("LAB_DRILL_TOKEN")
    if not url:
        if home is None and not os.environ.get("LAB_DRILL_HOME"):
            raise UsageError("no console URL: pass --url (or set LAB_DRILL_URL), or --home DRILL_HOME on the console's machine")
        return _queue_locally(drill_home(home), kind, event)
    if not token:
        raise UsageError("no facilitator token: pass --token (or set LAB_DRILL_TOKEN)")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url {url!r}: must start with http:// or https://")
    import httpx

    try:
        resp = httpx.post(url.rstrip("/") + "/api/commands", json={"kind": kind, "event": event},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except httpx.HTTPError as exc:
        raise ServiceError(f"the console at {url} did not answer: {exc}") from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200:
        message = body.get("error") if isinstance(body, dict) else None
        cls = UsageError if resp.status_code in (400, 401, 403, 404, 409, 429) else ServiceError
        raise cls(f"the console at {url} refused {kind}: {message or f'HTTP {resp.status_code}'}")
    what = f"{kind} {event}" if event else kind
    err_console.print(f"command #{body['id']} ({what}) queued for {', '.join(body['teams'])}; "
                      "each lab applies it within a few seconds", highlight=False)


def _queue_locally(where: Path, kind: str, event: str | None) -> None:
    """Queue the command in the drill home's database directly (the running console serves it as it is)."""
    from lab.drill.console import ApiError, Console

    try:
        body = Console(where).command(kind, event)
    except ApiError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    what = f"{kind} {event}" if event else kind
    err_console.print(f"command #{body['id']} ({what}) queued in {where} for {', '.join(body['teams'])}",
                      highlight=False)


@drill_app.command("inject")
def inject(event: Annotated[str, typer.Argument(help="Event name of the drill's scenario.")],
           url: UrlOpt = None, token: TokenOpt = None, home: DrillHomeOpt = None) -> None:
    """Fire EVENT in every team's lab (through the console at --url, or straight into --home's database)."""
    _post_command(url, token, "inject", event, home)


@drill_app.command("pause")
def pause(url: UrlOpt = None, token: TokenOpt = None, home: DrillHomeOpt = None) -> None:
    """Pause every team's scenario clock."""
    _post_command(url, token, "pause", None, home)


@drill_app.command("resume")
def resume(url: UrlOpt = None, token: TokenOpt = None, home: DrillHomeOpt = None) -> None:
    """Resume every team's scenario clock."""
    _post_command(url, token, "resume", None, home)


@drill_app.command("end")
def end(url: UrlOpt = None, token: TokenOpt = None, home: DrillHomeOpt = None) -> None:
    """End the drill in every lab and open the debrief."""
    _post_command(url, token, "end", None, home)
