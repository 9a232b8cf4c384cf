"""The console's Starlette application: the JSON API (DRILL_PROTOCOL, README "Team drills").

Every response carries ``schema_version`` 1 (JSON) and strict security headers (a
Content-Security-Policy that allows only the console's own stylesheet and form posts).
Callers prove who they are with ``Authorization: Bearer <token>`` (pages: the session
cookie ``/login`` sets); a client that sends too many bad tokens is refused with 429.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lab.drill import debrief as views
from lab.drill import pages, uploads, verify
from lab.drill.console import SESSION_COOKIE, ApiError, Console
from lab.drill.store import Conflict
from lab.drill.tokens import RateLimiter
from lab.errors import LabError, UsageError

SCHEMA_VERSION = 1
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
JOURNAL_BODY_LIMIT = 16 * 1024 * 1024
REPORT_LIMIT = 2 * 1024 * 1024  # the report JSON itself
REPORT_BODY_LIMIT = 64 * 1024 * 1024  # with the evidence bundle and the submission (base64)
SMALL_BODY_LIMIT = 64 * 1024
BATCH_LIMIT = 500
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def reply(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"schema_version": SCHEMA_VERSION, **body}, status_code=status)


async def body(request: Request, limit: int) -> dict[str, Any]:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > limit:
        raise ApiError(413, f"{request.url.path}: body over {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(413, f"{request.url.path}: body over {limit} bytes")
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"{request.url.path}: body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"{request.url.path}: body must be a JSON object")
    return data


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, f"{what} must be a non-negative integer, got {value!r}")
    return value


def routes(con: Console) -> list[Route]:
    store = con.store

    async def health(request: Request) -> Response:
        return reply({"ok": True})

    async def drill(request: Request) -> Response:
        who = con.principal(request)
        d = store.drill()
        return reply({"drill": d.name, "scenario": d.scenario, "seed": d.seed, "speed": d.speed, "state": d.state,
                      "team": who.team})

    async def journal(request: Request) -> Response:
        _, name = con.team(request, own=True)
        data = await body(request, JOURNAL_BODY_LIMIT)
        from_seq = _int(data.get("from_seq"), "from_seq")
        entries = data.get("entries")
        if not isinstance(entries, list) or len(entries) > BATCH_LIMIT:
            raise ApiError(400, f"entries must be a list of at most {BATCH_LIMIT} journal entries")
        return reply({"next_seq": store.add_journal(name, from_seq, entries)})

    async def next_seq(request: Request) -> Response:
        _, name = con.team(request, own=True)
        return reply({"next_seq": store.next_seq(name)})

    async def commands(request: Request) -> Response:
        con.team(request, own=True)
        raw = request.query_params.get("after", "0")
        if not raw.isdigit():
            raise ApiError(400, f"after must be a command id (a non-negative integer), got {raw!r}")
        return reply({"commands": store.commands(int(raw))})

    async def ack(request: Request) -> Response:
        _, name = con.team(request, own=True)
        data = await body(request, SMALL_BODY_LIMIT)
        cid = int(request.path_params["cid"])
        try:
            store.ack(name, cid, bool(data.get("ok")), str(data.get("message", ""))[:2000])
        except LookupError:
            raise ApiError(404, f"no command {cid} in drill {con.drill.name}") from None
        return reply({"acked": cid})

    async def post_command(request: Request) -> Response:
        con.facilitator(request)
        data = await body(request, SMALL_BODY_LIMIT)
        return reply(con.command(data.get("kind"), data.get("event")))

    async def post_report(request: Request) -> Response:
        _, name = con.team(request, own=True)
        data = await body(request, REPORT_BODY_LIMIT)
        report, digest = data.get("report"), data.get("evidence_digest")
        if not isinstance(report, dict):
            raise ApiError(400, "report must be the JSON object `lab submit --json` prints")
        score, top = report.get("total"), report.get("max_total")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (score, top)):
            raise ApiError(400, "report.total and report.max_total must be numbers (lab submit's report JSON)")
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise ApiError(400, "evidence_digest must be 'sha256:' and 64 hex digits")
        if len(json.dumps(report)) > REPORT_LIMIT:
            raise ApiError(413, f"{request.url.path}: report over {REPORT_LIMIT} bytes")
        drill = store.drill()
        if drill.state == "ended" and store.report(name) is not None:
            raise ApiError(409, "the drill has ended: the report already stored stands")
        upload = uploads.receive(store.home, name, data, digest)  # ApiError 400 on a bad attachment
        store.put_report(name, report, digest, float(score), float(top))
        if upload is not None:  # the console grades it again itself (lab.drill.verify)
            store.put_check(name, digest, "pending")
            uploads.write_streamed(upload, store.journal(name))
            verify.start(upload.folder, upload.submission, float(score), drill.scenario, drill.seed,
                         lambda result: store.put_check(name, digest, str(result.get("status")), result.get("score"),
                                                        result.get("max_score"), result.get("reason")))
        return reply({"stored": True, "score": score, "max_score": top,
                      "check": "pending" if upload is not None else "unverified"})

    async def get_report(request: Request) -> Response:
        _, name = con.team(request, own=False)
        rep = store.report(name)
        if rep is None:
            raise ApiError(404, f"team {name} has not submitted a report")
        return reply({"team": name, **rep})

    async def hint(request: Request) -> Response:
        _, name = con.team(request, own=True)
        await body(request, SMALL_BODY_LIMIT)
        if store.drill().state == "ended":
            raise ApiError(409, "the drill has ended: no more hints")
        hints = con.hints
        index, used, total = store.take_hint(name, hints)
        text, cost = hints[index]
        return reply({"hint": {"index": index, "text": text, "cost": cost}, "hints_used": used, "hint_points": total})

    async def leaderboard(request: Request) -> Response:
        con.principal(request)
        return reply({"teams": views.leaderboard(store)})

    async def teams(request: Request) -> Response:
        who = con.principal(request)
        names = store.teams() if who.facilitator else [who.team]
        return reply({"teams": [views.team_view(store, n) for n in names if n]})

    async def debrief(request: Request) -> Response:
        con.facilitator(request)
        return reply(views.debrief(store, con.scenario))

    get, post = ["GET"], ["POST"]
    return [
        Route("/api/health", health, methods=get),
        Route("/api/drill", drill, methods=get),
        Route("/api/teams", teams, methods=get),
        Route("/api/teams/{name}/journal", journal, methods=post),
        Route("/api/teams/{name}/journal/next_seq", next_seq, methods=get),
        Route("/api/teams/{name}/commands", commands, methods=get),
        Route("/api/teams/{name}/commands/{cid:int}/ack", ack, methods=post),
        Route("/api/teams/{name}/report", post_report, methods=post),
        Route("/api/teams/{name}/report", get_report, methods=get),
        Route("/api/teams/{name}/hints", hint, methods=post),
        Route("/api/commands", post_command, methods=post),
        Route("/api/leaderboard", leaderboard, methods=get),
        Route("/api/debrief", debrief, methods=get),
    ]


SECURITY_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                    "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


class SecurityHeaders:
    """ASGI middleware: every response gets the CSP and friends (and ``no-store`` unless it set a cache policy)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers[k] = v
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(home: Path, limiter: RateLimiter | None = None) -> Starlette:
    """The console for the drill in ``home`` (raises StateError if it holds none)."""
    con = Console(Path(home), limiter)

    def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if not request.url.path.startswith("/api/"):
            return pages.error_page(exc.status, exc.message)
        resp = reply({"error": exc.message, **exc.extra}, exc.status)
        if exc.status == 429:
            resp.headers["Retry-After"] = str(exc.extra.get("retry_after", 1))
        return resp

    def lab_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LabError)
        status = 409 if isinstance(exc, Conflict) else 400 if isinstance(exc, UsageError) else 500
        return api_error(request, ApiError(status, exc.message, **getattr(exc, "extra", {})))

    app = Starlette(routes=[*routes(con), *pages.routes(con)], middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={ApiError: api_error, LabError: lab_error})
    app.state.console = con
    return app
