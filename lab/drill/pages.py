"""The console's pages: login, the facilitator's board, a team's page and the debrief.

Jinja2 with autoescape renders every page (templates in ``lab/drill/templates``); the only
markup passed through unescaped is the SVG :mod:`lab.drill.svg` writes, which escapes its
own text. Pages authenticate with the session cookie ``/login?token=...`` sets (HttpOnly,
SameSite=Strict; Secure behind TLS). The board's buttons post a form carrying a token
derived from the session, checked on the way in. Pages refresh themselves with a meta
refresh (no JavaScript at all; the CSP forbids scripts).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from lab.drill import debrief as views
from lab.drill import svg
from lab.drill.console import SESSION_COOKIE, ApiError, Console
from lab.drill.store import Conflict
from lab.drill.tokens import same

REFRESH_SECONDS = 5


@lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("lab.drill", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


def render(name: str, code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env().get_template(name).render(**context), status_code=code)


def error_page(status: int, message: str) -> HTMLResponse:
    return render("error.html", status, status=status, message=message)


def csrf_for(request: Request) -> str:
    session = request.cookies.get(SESSION_COOKIE, "")
    return hashlib.sha256(f"drill-form:{session}".encode()).hexdigest()


def routes(con: Console) -> list[Route]:
    store = con.store

    async def index(request: Request) -> Response:
        return render("index.html", drill=store.drill())

    async def login(request: Request) -> Response:
        who = con.login(request, request.query_params.get("token", ""))
        target = "/board" if who.facilitator else f"/team/{who.team}"
        resp = RedirectResponse(target, status_code=303)
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        resp.set_cookie(SESSION_COOKIE, store.new_session(who), httponly=True, samesite="strict", secure=secure,
                        path="/")
        return resp

    def board_context(request: Request) -> dict[str, Any]:
        drill = store.drill()
        teams = [views.team_view(store, n) for n in store.teams()]
        rows = [views.timeline_row(n, views.relevant(store, n), store.last_day(n)) for n in store.teams()]
        board = views.leaderboard(store)
        acks = store.acks()
        cmds = [{**c, "acks": acks.get(c["id"], {})} for c in store.commands()]
        return {"drill": drill, "teams": teams, "leaderboard": board, "commands": cmds[-20:], "events": con.events,
                "timeline_svg": svg.timeline(rows, con.scenario.timeline.days), "score_svg": svg.score_chart(board),
                "csrf": csrf_for(request), "refresh": REFRESH_SECONDS, "team_names": store.teams()}

    async def board(request: Request) -> Response:
        con.facilitator(request, cookie=True)
        return render("board.html", **board_context(request))

    async def board_command(request: Request) -> Response:
        con.facilitator(request, cookie=True)
        form = await request.form()
        if not same(str(form.get("csrf", "")), csrf_for(request)):
            raise ApiError(403, "the form's token does not match this session; reload the board")
        try:
            con.command(form.get("kind"), form.get("event"))
        except Conflict as exc:
            raise ApiError(409, exc.message) from None
        return RedirectResponse("/board", status_code=303)

    async def team(request: Request) -> Response:
        who, name = con.team(request, own=False, cookie=True)
        view = views.team_view(store, name)
        row = views.timeline_row(name, views.relevant(store, name), store.last_day(name))
        hints = con.hints
        taken = [{**h, "text": hints[h["idx"]][0] if h["idx"] < len(hints) else ""} for h in store.hints_taken(name)]
        return render("team.html", drill=store.drill(), team=view, hints=taken, hints_left=len(hints) - len(taken),
                      report=store.report(name), timeline_svg=svg.timeline([row], con.scenario.timeline.days),
                      refresh=REFRESH_SECONDS, facilitator=who.facilitator)

    async def debrief(request: Request) -> Response:
        con.facilitator(request, cookie=True)
        data = views.debrief(store, con.scenario)
        days = con.scenario.timeline.days
        per_team = [{**t, "svg": svg.timeline([t], days, t["truth"])} for t in data["teams"]]
        return render("debrief.html", d=data, teams=per_team, drill=store.drill(),
                      timeline_svg=svg.timeline(data["teams"], days, data["truth"]),
                      score_svg=svg.score_chart(data["leaderboard"]))

    async def stylesheet(request: Request) -> Response:
        css = resources.files("lab.drill").joinpath("templates/drill.css").read_text(encoding="utf-8")
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    return [
        Route("/", index, methods=["GET"]),
        Route("/login", login, methods=["GET"]),
        Route("/board", board, methods=["GET"]),
        Route("/board/command", board_command, methods=["POST"]),
        Route("/team/{name}", team, methods=["GET"]),
        Route("/debrief", debrief, methods=["GET"]),
        Route("/static/drill.css", stylesheet, methods=["GET"]),
    ]
