"""The grading endpoint: `lab submit` graded by a process of the stack that is already warm.

:func:`start_grade_endpoint` serves, on 127.0.0.1 and a free port, from a daemon thread
(standard library ``http.server``):

* ``GET /health``: ``{"ok": true, "warm": bool, "warm_error", "live_config"}``;
* ``POST /submit`` ``{"submission": PATH, "commands": [...]}``: runs
  :func:`lab.workers.submit_job.run_submission` (collect the evidence, grade, file the
  reports, journal) and answers its JSON; a lab error (bad submission, no lab) answers
  400 with ``{"error": {"classes", "message", "hint"}}``; anything else 500.

Every request must carry the token of ``<home>/run/grade_endpoint.token`` (mode 0600)
in ``X-Lab-Token`` (403 otherwise); ``<home>/run/grade_endpoint.json`` records the port,
the pid and the home (lab.workers.grade_client reads both). Submissions are graded one
at a time.

After the start, a background thread at low priority (``os.nice``, which on Linux
lowers that thread only) imports the grading modules and draws the scenario's hidden
replay streams into the home's cache (``<home>/cache/drift``) and this process's memory,
so the first `lab submit` neither imports nor trains. It then follows the live monitor's
config and replays each new one there (:func:`follow_live_config`), so submitting the
monitoring.yaml the lab runs finds its replay done.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.core.home import Home, write_json_atomic
from lab.errors import LabError
from lab.workers.grade_client import INFO_FILE, TOKEN_FILE, TOKEN_HEADER

MAX_BODY = 1 << 20  # a path and the command list
WARM_NICE = 10
LIVE_CONFIG_POLL = 5.0  # seconds between looks at the live monitor's config


@dataclass
class GradeEndpoint:
    """A running endpoint: ``port``, ``warmed`` (set once the warm-up is over, done or failed), ``close()``."""

    home: Home
    server: ThreadingHTTPServer
    thread: threading.Thread
    token: str
    warmed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    warm_error: str | None = None
    closed: threading.Event = field(default_factory=threading.Event)
    live_config: str | None = None  # sha256 of the live monitor's config last replayed ahead of a submit

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        """Stop serving and remove the files that point at this endpoint (if they still do)."""
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        info = self.home.root / INFO_FILE
        try:
            if json.loads(info.read_text(encoding="utf-8")).get("pid") == os.getpid():
                info.unlink(missing_ok=True)
                (self.home.root / TOKEN_FILE).unlink(missing_ok=True)
        except (OSError, ValueError):
            pass


def _write_token(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, token.encode())
    finally:
        os.close(fd)
    tmp.replace(path)


def _handler(endpoint: GradeEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "lab-grade"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            pass  # the host's log is the monitor's: one line per grade is printed below

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            given = self.headers.get(TOKEN_HEADER) or ""
            if hmac.compare_digest(given.encode(), endpoint.token.encode()):
                return True
            self._send(403, {"ok": False, "error": {"message": "missing or wrong token"}})
            return False

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not self._authorised():
                return
            if self.path != "/health":
                self._send(404, {"ok": False, "error": {"message": f"no {self.path}"}})
                return
            self._send(200, {"ok": True, "warm": endpoint.warmed.is_set(), "warm_error": endpoint.warm_error,
                             "live_config": endpoint.live_config})

        def do_POST(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            if self.path != "/submit":
                self._send(404, {"ok": False, "error": {"message": f"no {self.path}"}})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY:
                    raise ValueError(f"body of {length} bytes")
                body = json.loads(self.rfile.read(length))
                submission = body["submission"]
                commands = body["commands"]
                if not isinstance(submission, str) or not isinstance(commands, list) or \
                        not all(isinstance(c, str) for c in commands):
                    raise ValueError("submission must be a string and commands a list of strings")
            except (ValueError, KeyError, TypeError) as exc:
                self._send(422, {"ok": False, "error": {"message": f"bad request: {exc}"}})
                return
            self._send(*_submit(endpoint, submission, commands))

    return Handler


def _submit(endpoint: GradeEndpoint, submission: str, commands: list[str]) -> tuple[int, dict[str, Any]]:
    from lab.workers.submit_job import run_submission

    with endpoint.lock:
        try:
            answer = run_submission(endpoint.home, submission, commands)
        except LabError as exc:
            return 400, {"ok": False, "error": {"classes": [c.__name__ for c in type(exc).__mro__],
                                                "message": exc.message, "hint": exc.hint}}
        except Exception as exc:  # noqa: BLE001 (the client grades in its own process instead)
            print(f"grade endpoint: {submission}: {exc!r}\n{traceback.format_exc()}", flush=True)
            return 500, {"ok": False, "error": {"message": repr(exc)}}
    print(f"grade endpoint: graded {submission}: {answer['report']['total']}", flush=True)
    return 200, {"ok": True, **answer}


def warm(endpoint: GradeEndpoint) -> None:
    """Import the grading modules and fill the hidden streams' cache for the home's scenario (low priority)."""
    try:
        try:
            os.nice(WARM_NICE)  # Linux: this thread only
        except OSError:
            pass
        from lab.workers import submit_job  # noqa: F401
        import lab.evidence.collect  # noqa: F401
        import lab.grading.grade  # noqa: F401
        from lab.grading.drift_grader import prefill_streams
        from lab.scenario.run import effective_scenario

        scenario, seed = effective_scenario(endpoint.home)
        if "drift_thresholds" in scenario.graded_tasks:
            with endpoint.lock:
                prefill_streams(scenario, seed, submit_job.drift_cache(endpoint.home))
    except Exception as exc:  # noqa: BLE001 (warming is an optimisation: a grade still works cold)
        endpoint.warm_error = repr(exc)
        print(f"grade endpoint: warm-up failed: {exc!r}", flush=True)
        return
    finally:
        endpoint.warmed.set()
    if "drift_thresholds" in scenario.graded_tasks:
        follow_live_config(endpoint, scenario, seed)


def follow_live_config(endpoint: GradeEndpoint, scenario: Any, seed: int) -> None:
    """Replay the live monitor's config (``<home>/monitoring/config.yaml``, what `lab monitor
    --config` applied) into the grading cache whenever it changes, at this thread's low
    priority, until the endpoint closes: a `lab submit` of the same monitoring.yaml then finds
    its replay done. ``endpoint.live_config`` is the digest of the last config replayed."""
    from lab.grading.drift_grader import prefill_streams
    from lab.monitoring.runner import config_path
    from lab.workers.submit_job import drift_cache

    path, seen = config_path(endpoint.home), None
    while not endpoint.closed.wait(LIVE_CONFIG_POLL):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # none applied yet, or being replaced
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest == seen:
            continue
        seen = digest
        try:
            with endpoint.lock:
                prefill_streams(scenario, seed, drift_cache(endpoint.home), config=text)
            endpoint.live_config = digest
        except Exception as exc:  # noqa: BLE001 (an optimisation: the submit replays it, and says what is wrong)
            print(f"grade endpoint: the live config was not replayed ahead: {exc!r}", flush=True)


def start_grade_endpoint(home: Home | Path, *, warm_up: bool = True) -> GradeEndpoint:
    """Serve `lab submit`'s grading for ``home`` on 127.0.0.1 (a free port, recorded in the home); returns the handle."""
    home = home if isinstance(home, Home) else Home(Path(home))
    home = Home(home.root.resolve())
    token = secrets.token_urlsafe(32)
    endpoint = GradeEndpoint(home=home, server=None, thread=None, token=token)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    server.daemon_threads = True
    endpoint.server = server
    endpoint.thread = threading.Thread(target=server.serve_forever, name="grade-endpoint", daemon=True)
    endpoint.thread.start()
    _write_token(home.root / TOKEN_FILE, token)
    write_json_atomic(home.root / INFO_FILE, {"port": endpoint.port, "pid": os.getpid(), "home": str(home.root),
                                              "started": datetime.now(timezone.utc).isoformat()})
    if warm_up:
        threading.Thread(target=warm, args=(endpoint,), name="grade-endpoint-warm", daemon=True).start()
    else:
        endpoint.warmed.set()
    return endpoint
