"""`lab submit`'s side of the grading endpoint (standard library only: no pandas, scikit-learn,
Evidently or MLflow on this path).

The endpoint (lab.workers.grade_endpoint) records where it listens in
``<home>/run/grade_endpoint.json`` (port, pid, home) and its secret in
``<home>/run/grade_endpoint.token`` (mode 0600, readable by the user only); every request
carries the token in the ``X-Lab-Token`` header. :func:`submit_via_endpoint` returns None
whenever the endpoint is not there to answer (no file, another home, a dead process, a
refused or broken connection, a server fault), and the caller grades in its own process.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab import errors

INFO_FILE = "run/grade_endpoint.json"
TOKEN_FILE = "run/grade_endpoint.token"
TOKEN_HEADER = "X-Lab-Token"
CONNECT_TIMEOUT = 2.0
GRADE_TIMEOUT = 1800.0  # a cold grade replays the config over the hidden suite: minutes on a loaded machine


def endpoint_info(home_root: Path) -> tuple[int, str] | None:
    """``(port, token)`` of the endpoint serving ``home_root``, or None when none is recorded,
    it was recorded for another home (a container's mount), or its process is gone."""
    try:
        info = json.loads((home_root / INFO_FILE).read_text(encoding="utf-8"))
        token = (home_root / TOKEN_FILE).read_text(encoding="utf-8").strip()
        port, pid, home = int(info["port"]), int(info["pid"]), str(info["home"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if Path(home) != home_root.resolve() or not token or not 0 < port < 65536:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's: not ours to talk to
        return None
    return port, token


def request(port: int, token: str, method: str, path: str, body: dict[str, Any] | None = None,
            timeout: float = GRADE_TIMEOUT) -> tuple[int, dict[str, Any]]:
    """One JSON request to the endpoint; raises OSError / http.client.HTTPException when it does not answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CONNECT_TIMEOUT)
    try:
        conn.connect()
        conn.sock.settimeout(timeout)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={TOKEN_HEADER: token, "Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = resp.read()
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {}
        return resp.status, parsed if isinstance(parsed, dict) else {}
    finally:
        conn.close()


def rebuild_error(err: dict[str, Any]) -> errors.LabError:
    """The lab error the endpoint raised, as the nearest class of lab.errors that takes
    ``(message, hint)`` (so the CLI prints it and exits with its code as if raised here)."""
    message, hint = str(err.get("message") or "grading failed"), err.get("hint")
    for name in err.get("classes") or ():
        cls = getattr(errors, str(name), None)
        if isinstance(cls, type) and issubclass(cls, errors.LabError) and cls.__init__ is errors.LabError.__init__:
            return cls(message, hint=hint)
    return errors.LabError(message, hint=hint)


def submit_via_endpoint(home_root: Path, submission: str, commands: Sequence[str]) -> dict[str, Any] | None:
    """Have the lab's grading endpoint run the submission (lab.workers.submit_job.run_submission).

    Returns its answer, raises the lab error it reported (bad input), or returns None when
    no endpoint answers (the caller then grades in its own process).
    """
    found = endpoint_info(home_root)
    if found is None:
        return None
    port, token = found
    body = {"submission": str(Path(submission).absolute()), "commands": list(commands)}
    try:
        status, answer = request(port, token, "POST", "/submit", body)
    except (OSError, http.client.HTTPException):
        return None
    if status == 200 and isinstance(answer.get("report"), dict):
        return answer
    if status == 400 and isinstance(answer.get("error"), dict):
        raise rebuild_error(answer["error"])
    return None  # forbidden (a stale token), a fault in the server: grade here instead
