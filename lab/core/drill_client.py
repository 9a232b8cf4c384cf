"""A team lab's side of a drill: its credentials in the lab home, and the console's HTTP API.

Shared by ``lab up --drill`` / ``lab hint`` / ``lab submit`` (the CLI) and the drill agent
(lab.stack.drill_agent), so the protocol (/work DRILL_PROTOCOL, README "Joining a drill")
is spelled once. httpx is imported when a request is made, not at import.

Where the credentials live::

    <home>/drill/credentials.json   {url, token, drill, team}: mode 0600, never journaled,
                                     never copied into evidence bundles
    <home>/drill/state.json          the agent's progress (last applied command, acks owed)

>>> import tempfile, pathlib, stat
>>> from lab.core.home import Home
>>> h = Home(pathlib.Path(tempfile.mkdtemp()))
>>> save_credentials(h, Credentials("http://127.0.0.1:8700", "t0k", "spring", "red"))
>>> load_credentials(h).team, oct(stat.S_IMODE(credentials_path(h).stat().st_mode))
('red', '0o600')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from lab.core import access
from lab.core.access import write_private
from lab.core.home import Clock, Home, read_json, write_json_atomic
from lab.core.journal import Journal
from lab.core.services import DRILL_CREDENTIALS
from lab.errors import LabError, ServiceError, StateError, UsageError

#: At most this many journal entries per upload (the console's limit).
BATCH = 500
#: Seconds an HTTP request to the console may take.
TIMEOUT = 10.0


class DrillUnavailable(ServiceError):
    """The console did not answer, or answered 5xx / 429: worth trying again later."""


class DrillRefused(LabError):
    """The console answered 4xx: ``status`` and its ``error``; ``body`` is the decoded JSON."""

    def __init__(self, message: str, status: int, body: dict[str, Any] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.body = body or {}
        self.exit_code = 3 if status == 409 else 2


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str
    drill: str
    team: str


def drill_dir(home: Home) -> Path:
    return home.root / "drill"


def credentials_path(home: Home) -> Path:
    return home.root / DRILL_CREDENTIALS


def state_path(home: Home) -> Path:
    return drill_dir(home) / "state.json"


def save_credentials(home: Home, creds: Credentials) -> None:
    write_private(credentials_path(home), asdict(creds))


def load_credentials(home: Home) -> Credentials | None:
    """The drill this home joined (None when it joined none)."""
    data = read_json(credentials_path(home))
    if data is None:
        return None
    try:
        return Credentials(**{k: str(data[k]) for k in ("url", "token", "drill", "team")})
    except (KeyError, TypeError):
        raise StateError(f"{credentials_path(home)}: not a drill credentials file",
                         hint="join again with `lab up --drill URL --team-token TOKEN`") from None


def require_credentials(home: Home) -> Credentials:
    creds = load_credentials(home)
    if creds is None:
        raise StateError(f"the lab in {home.root} has not joined a drill",
                         hint="join one with `lab up --drill URL --team-token TOKEN`")
    return creds


def read_state(home: Home) -> dict[str, Any]:
    return read_json(state_path(home)) or {"last_command": 0, "unacked": []}


def write_state(home: Home, state: dict[str, Any]) -> None:
    write_json_atomic(state_path(home), state)


def check_drill_url(url: str) -> str:
    """An http(s) URL with a host, without a trailing slash; else a UsageError naming it."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--drill {url!r}: not an http(s) URL with a host",
                         hint="the facilitator's console, e.g. --drill http://10.0.0.5:8700")
    return url


class DrillClient:
    """The console's API for one token (a team's, or the facilitator's)."""

    def __init__(self, url: str, token: str, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._http = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, headers={"Authorization": f"Bearer {self.token}"})
        where = f"{method} {self.url}{path}"
        try:
            r = self._http.request(method, self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise DrillUnavailable(f"the drill console did not answer {where}: {exc or type(exc).__name__}",
                                   hint="is the console up? ask the facilitator") from None
        try:
            data = r.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if r.status_code == 429 or r.status_code >= 500:
            raise DrillUnavailable(f"the drill console answered {r.status_code} to {where}: {data.get('error', '')}")
        if r.status_code >= 400:
            hint = {401: "the team token is wrong: check --team-token with the facilitator",
                    403: "this token may not do that"}.get(r.status_code)
            raise DrillRefused(f"the drill console refused {where} ({r.status_code}): "
                               f"{data.get('error', r.text[:200])}", r.status_code, data, hint=hint)
        return data

    def _team(self, team: str) -> str:
        return f"/api/teams/{quote(team, safe='')}"

    def drill(self) -> dict[str, Any]:
        return self._request("GET", "/api/drill")

    def next_seq(self, team: str) -> int:
        return int(self._request("GET", self._team(team) + "/journal/next_seq")["next_seq"])

    def send_journal(self, team: str, from_seq: int, entries: list[dict[str, Any]]) -> int:
        """Upload ``entries`` (seq ``from_seq``, ...); the console's next_seq, also after a gap (409)."""
        try:
            return int(self._request("POST", self._team(team) + "/journal",
                                     {"from_seq": from_seq, "entries": entries})["next_seq"])
        except DrillRefused as exc:
            if exc.status == 409 and "next_seq" in exc.body:
                return int(exc.body["next_seq"])
            raise

    def commands(self, team: str, after: int) -> list[dict[str, Any]]:
        return list(self._request("GET", f"{self._team(team)}/commands?after={int(after)}")["commands"])

    def ack(self, team: str, command_id: int, ok: bool, message: str) -> None:
        self._request("POST", f"{self._team(team)}/commands/{int(command_id)}/ack", {"ok": ok, "message": message})

    def upload_report(self, team: str, report: dict[str, Any], evidence_digest: str,
                      evidence: bytes | None = None, submission: tuple[str, bytes] | None = None) -> dict[str, Any]:
        """The report, and (both or neither) the evidence bundle it was graded on and the
        submission (file name, bytes), which the console grades again itself."""
        import base64

        body: dict[str, Any] = {"report": report, "evidence_digest": evidence_digest}
        if evidence is not None and submission is not None:
            body["evidence"] = base64.b64encode(evidence).decode("ascii")
            body["submission"] = {"name": submission[0], "data": base64.b64encode(submission[1]).decode("ascii")}
        return self._request("POST", self._team(team) + "/report", body)

    def hint(self, team: str) -> dict[str, Any]:
        return self._request("POST", self._team(team) + "/hints", {})


@dataclass(frozen=True)
class Joining:
    """What `lab up --drill` learnt from the console before anything was written."""

    creds: Credentials
    scenario: str
    seed: int
    speed: float

    def save(self, home: Home) -> None:
        """Keep the URL and token in the home (0600; never in the journal) and journal ``drill.joined``."""
        save_credentials(home, self.creds)
        access.ensure(home, self.creds.team)  # this lab's own credentials: other teams cannot change it
        Journal(home.journal).append("drill.joined", {"drill": self.creds.drill, "team": self.creds.team},
                                     day=Clock(home.clock_json).day(), actor="user")


def join_drill(url: str | None, token: str | None, scenario: str | None, seed: int | None,
               speed: float | None) -> Joining:
    """Ask the console which drill ``token`` belongs to; refuse explicit options that disagree with it."""
    if not url or not token:
        raise UsageError("--drill and --team-token go together",
                         hint="lab up --drill URL --team-token TOKEN (both from the facilitator)")
    url = check_drill_url(url)
    client = DrillClient(url, token.strip())
    try:
        info = client.drill()
    finally:
        client.close()
    team = info.get("team")
    if not team:
        raise UsageError("--team-token is the facilitator's token, not a team's",
                         hint="a team joins with its own token (`lab drill create` printed one per team)")
    if info.get("state") == "ended":
        raise UsageError(f"drill {info.get('drill')!r} at {url} has ended; there is nothing to join")
    name = f"drill {info.get('drill')!r}"
    if scenario is not None and Path(scenario).stem != info["scenario"]:
        raise UsageError(f"scenario {scenario!r} given, but {name} runs {info['scenario']!r}",
                         hint="leave the scenario out: a drill's teams all get its scenario")
    if seed is not None and seed != int(info["seed"]):
        raise UsageError(f"--seed {seed} given, but {name} runs seed {info['seed']}",
                         hint="leave --seed out: a drill's teams all get the same incident")
    if speed is not None and float(speed) != float(info["speed"]):
        raise UsageError(f"--speed {speed:g} given, but {name} runs at {float(info['speed']):g} s per day",
                         hint="leave --speed out: the drill sets it")
    creds = Credentials(url=url, token=token.strip(), drill=str(info["drill"]), team=str(team))
    return Joining(creds, str(info["scenario"]), int(info["seed"]), float(info["speed"]))
