"""A team's side of a drill: `lab up --drill URL --team-token T` (joining), `lab hint`, and
`lab submit`'s upload. The protocol is lab.core.drill_client's; the agent that streams the
journal and applies the facilitator's commands is lab.stack.drill_agent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import typer

from lab.cli._common import HomeOpt, JsonOpt, err_console, get_home, out_console, print_json
from lab.core import drill_client as dc
from lab.core.home import Home
from lab.errors import LabError, UploadError


def register(app: typer.Typer) -> None:
    app.command("hint")(hint)


def _packed(submission: Path) -> tuple[str, bytes]:
    """The submission as the console receives it: an archive as given, a folder as a .tar.gz
    of its regular files (no links), reproducibly."""
    if submission.is_file():
        return submission.name, submission.read_bytes()
    import io
    import tarfile

    from lab.evidence.schema import reproducible

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(submission.rglob("*")):
            if p.is_file() and not p.is_symlink():
                tar.add(p, arcname=str(p.relative_to(submission)), filter=reproducible)
    return "submission.tar.gz", buf.getvalue()


def upload_submission(home: Home, report_json: Path, archive: Path, submission: Path) -> dict[str, Any]:
    """Send `lab submit`'s report to the drill this home joined, with the evidence bundle it was
    graded on and the submission: the console grades them again and the board counts its grade."""
    creds = dc.require_credentials(home)
    report = json.loads(report_json.read_text(encoding="utf-8"))
    bundle = archive.read_bytes()
    digest = "sha256:" + hashlib.sha256(bundle).hexdigest()
    client = dc.DrillClient(creds.url, creds.token)
    try:
        return client.upload_report(creds.team, report, digest, bundle, _packed(submission))
    except LabError as exc:
        raise UploadError(f"the report was graded and written to {report_json}, but the drill console did not "
                          f"take it: {exc.message}",
                          hint="run `lab submit` again once the console answers (or ask the facilitator)") from None
    finally:
        client.close()


def hint(home: HomeOpt = None, json_out: JsonOpt = False) -> None:
    """Reveal your scenario's next hint from the drill console; it costs points on the leaderboard."""
    h = get_home(home)
    creds = dc.require_credentials(h)
    client = dc.DrillClient(creds.url, creds.token)
    try:
        answer = client.hint(creds.team)
    except dc.DrillRefused as exc:
        if exc.status == 409:
            raise dc.DrillRefused(f"no hint left for team {creds.team}: {exc.body.get('error', '')}", 409,
                                  exc.body) from None
        raise
    finally:
        client.close()
    if json_out:
        print_json(answer)
        return
    given = answer["hint"]
    out_console.print(f"hint {given['index'] + 1} (costs {given['cost']:g} points): {given['text']}",
                      highlight=False, markup=False)
    err_console.print(f"{answer['hints_used']} hints used, {answer['hint_points']:g} points off your total",
                      highlight=False)
