"""The console's shared core: the drill home's store and scenario, who a request is, and the API's error.

The API (:mod:`lab.drill.api`) and the pages (:mod:`lab.drill.pages`) both authenticate
through :class:`Console`: a Bearer token for the API, the session cookie ``/login`` sets for
pages; a client that sends too many bad tokens is refused (429) by the rate limiter.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from starlette.requests import Request

from lab.drill.store import COMMAND_KINDS, Principal, Store
from lab.drill.tokens import RateLimiter

SESSION_COOKIE = "drill_session"


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


class Console:
    """The drill home's store and scenario, and the checks every route shares."""

    def __init__(self, home: Path, limiter: RateLimiter | None = None) -> None:
        self.store = Store(home)
        self.drill = self.store.drill()  # fails now, before serving, if the home holds no drill
        self.store.upgrade()
        self.limiter = limiter or RateLimiter()

    @cached_property
    def scenario(self):
        from lab.scenario.schema import load_scenario

        return load_scenario(self.drill.scenario)

    @property
    def hints(self) -> list[tuple[str, float]]:
        return [(h.text, h.cost) for h in self.scenario.hints]

    @property
    def events(self) -> list[str]:
        return [e.name for e in self.scenario.timeline.events]

    # ------------------------------------------------------------------ auth

    def client(self, request: Request) -> str:
        return request.client.host if request.client else "?"

    def principal(self, request: Request, *, cookie: bool = False) -> Principal:
        client = self.client(request)
        if self.limiter.blocked(client):
            raise ApiError(429, f"too many bad tokens from {client}; wait and try again",
                           retry_after=self.limiter.retry_after(client))
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            who = self.store.principal(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        elif cookie and request.cookies.get(SESSION_COOKIE):
            who = self.store.session(request.cookies[SESSION_COOKIE])
        else:
            raise ApiError(401, "no token: send 'Authorization: Bearer <token>' (open /login?token=... for pages)")
        if who is None:
            self.limiter.fail(client)
            raise ApiError(401, "invalid token (Authorization header or session cookie)")
        return who

    def login(self, request: Request, token: str) -> Principal:
        client = self.client(request)
        if self.limiter.blocked(client):
            raise ApiError(429, f"too many bad tokens from {client}; wait and try again",
                           retry_after=self.limiter.retry_after(client))
        who = self.store.principal(token) if token else None
        if who is None:
            self.limiter.fail(client)
            raise ApiError(401, "invalid token in /login?token=...")
        return who

    def facilitator(self, request: Request, *, cookie: bool = False) -> Principal:
        who = self.principal(request, cookie=cookie)
        if not who.facilitator:
            raise ApiError(403, f"{request.url.path}: only the facilitator may do this")
        return who

    def team(self, request: Request, *, own: bool, cookie: bool = False) -> tuple[Principal, str]:
        """The principal and the team named in the path; ``own``: only that team itself (not the facilitator)."""
        who = self.principal(request, cookie=cookie)
        name = request.path_params["name"]
        if name not in self.store.teams():
            if not who.facilitator:  # a team learns nothing about other names
                raise ApiError(403, f"{request.url.path}: team {who.team} may not read or write team {name!r}")
            raise ApiError(404, f"no team {name!r} in drill {self.drill.name}")
        if who.team != name and (own or not who.facilitator):
            raise ApiError(403, f"{request.url.path}: {'the facilitator' if who.facilitator else f'team {who.team}'} "
                                f"may not {'write for' if own else 'read'} team {name!r}")
        return who, name

    def command(self, kind: Any, event: Any) -> dict[str, Any]:
        if kind not in COMMAND_KINDS:
            raise ApiError(400, f"command kind {kind!r} is not one of: {', '.join(COMMAND_KINDS)}")
        if kind == "inject":
            if event not in self.events:
                raise ApiError(400, f"event {event!r} is not in scenario {self.drill.scenario}; "
                                    f"valid events: {', '.join(self.events)}")
        else:
            event = None
        cid = self.store.add_command(kind, event)
        return {"id": cid, "teams": self.store.teams()}
