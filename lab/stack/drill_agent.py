"""The drill agent: a joined lab's link to the facilitator's drill console.

``python -m lab.stack.drill_agent --home H`` runs as a service of a lab that joined a
drill (``lab up --drill URL --team-token T``; lab.core.services ``drill-agent``, started
by the supervisor only then). It does two things, until the lab stops:

* **streams the journal**: every entry of ``journal.jsonl``, verbatim and in order, from
  the console's ``next_seq`` (asked at start-up and after any failure, and answered to
  every upload), in batches of at most 500. While the console is away it retries with
  backoff (1 s, 2 s, ... 30 s) and loses nothing: the next upload starts where the
  console stopped.
* **applies the facilitator's commands** (polled every 2 s): ``inject`` through the same
  code path as ``lab inject EVENT`` (lab.world.events.inject), ``pause`` / ``resume`` /
  ``end`` through the scenario clock's (lab.scenario.run). Each applied command is
  journaled (``drill.command``, actor ``facilitator``), remembered in
  ``<home>/drill/state.json`` (a restart never applies one twice) and acknowledged; an
  ack the console missed is sent again.

Its health is a heartbeat file (the service table's ``drill/heartbeat``). Under docker
compose or k8s, where no `lab up` joins, it joins the drill named by ``$LAB_DRILL_URL`` and
``$LAB_TEAM_TOKEN`` itself (:func:`join_from_env`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lab.core import drill_client as dc
from lab.core.home import Clock, Home, resolve_home
from lab.core.journal import Journal
from lab.core.services import heartbeat_path
from lab.core.worker import start_heartbeat, stop_on_signals
from lab.errors import LabError, StateError

JOURNAL_POLL_SECONDS = 0.5
COMMAND_POLL_SECONDS = 2.0
BACKOFF_MIN, BACKOFF_MAX = 1.0, 30.0


class JournalTail:
    """Reads ``journal.jsonl`` by line number (seq), remembering where it stopped so a
    streaming agent does not re-read the whole file for every new line. Only whole lines
    (ending in a newline) count: a writer's half-written line waits for the next read.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "journal.jsonl"
    >>> _ = p.write_text('{"seq": 0}\\n{"seq": 1}\\n{"seq": 2}\\n{"seq": 3')
    >>> t = JournalTail(p)
    >>> [e["seq"] for e in t.read(1, 500)], [e["seq"] for e in t.read(0, 1)]
    ([1, 2], [0])
    >>> t.advance_to(2); [e["seq"] for e in t.read(2, 500)], t.line
    ([2], 2)
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.line = 0  # the seq of the line that starts at ``offset``
        self.offset = 0

    def read(self, start: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` entries from seq ``start`` (fewer when the journal is shorter).

        The remembered position moves only past lines before ``start``: lines read but not
        yet accepted by the console are read again after a failed upload."""
        if start < self.line:
            self.line, self.offset = 0, 0
        out: list[dict[str, Any]] = []
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return out
        with f:
            f.seek(self.offset)
            while len(out) < limit:
                raw = f.readline()
                if not raw.endswith(b"\n"):
                    break
                if self.line < start:
                    self.offset, self.line = f.tell(), self.line + 1
                else:
                    out.append(json.loads(raw))
        return out

    def advance_to(self, seq: int) -> None:
        """Remember the position of line ``seq`` (the console holds the lines before it)."""
        if seq < self.line:
            self.line, self.offset = 0, 0
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return
        with f:
            f.seek(self.offset)
            while self.line < seq:
                raw = f.readline()
                if not raw.endswith(b"\n"):
                    break
                self.offset, self.line = f.tell(), self.line + 1


def apply_command(home: Home, command: dict[str, Any]) -> tuple[bool, str]:
    """Apply one facilitator command to the lab: (ok, what happened). A LabError is (False, its message)."""
    from lab.core.liveness import lab_running
    from lab.scenario import run
    from lab.world import events

    kind, event = command.get("kind"), command.get("event")
    try:
        if kind == "inject":
            fired = events.inject(home, event, lab_running=lab_running, mlflow_url=home.url("mlflow"))
            moved = f"; its onset moved from day {fired.scheduled_day:g}" if fired.moved else ""
            return True, f"fired {fired.event} ({fired.type}) on day {fired.day:.2f}{moved}"
        if kind == "pause":
            entry = run.pause(home, actor="facilitator")
            return True, "already paused" if entry is None else f"paused on day {entry['day']:.2f}"
        if kind == "resume":
            entry = run.resume(home, actor="facilitator")
            return True, "not paused" if entry is None else f"resumed on day {entry['day']:.2f}"
        if kind == "end":
            day = run.end(home)
            return True, "had ended already" if day is None else f"scenario ended on day {day:.2f}"
        return False, f"unknown command kind {kind!r} (known: inject, pause, resume, end)"
    except LabError as exc:
        return False, exc.message


class Agent:
    def __init__(self, home: Home, stop: threading.Event) -> None:
        self.home = home
        self.stop = stop
        self.creds = dc.require_credentials(home)
        self.client = dc.DrillClient(self.creds.url, self.creds.token)
        self.tail = JournalTail(home.journal)
        self.next_seq: int | None = None  # what the console holds; None: ask it
        self.backoff = 0.0
        self.retry_at = 0.0
        self.next_poll = 0.0

    def _log(self, message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    def sync_journal(self) -> None:
        """Send what the console lacks, batch by batch, until it holds the whole journal."""
        team = self.creds.team
        if self.next_seq is None:
            self.next_seq = self.client.next_seq(team)
            self.tail.advance_to(self.next_seq)
        while not self.stop.is_set():
            entries = self.tail.read(self.next_seq, dc.BATCH)
            if not entries:
                return
            held = self.client.send_journal(team, self.next_seq, entries)
            if held < self.next_seq:
                self._log(f"the console holds {held} entries, fewer than the {self.next_seq} sent before; resending")
            self.next_seq = held
            self.tail.advance_to(held)

    def _ack(self, state: dict[str, Any], cid: int, ok: bool, message: str) -> None:
        self.client.ack(self.creds.team, cid, ok, message)
        state["unacked"] = [a for a in state.get("unacked", []) if a["id"] != cid]
        dc.write_state(self.home, state)

    def poll_commands(self) -> None:
        state = dc.read_state(self.home)
        for ack in list(state.get("unacked", [])):  # acks the console missed
            self._ack(state, ack["id"], ack["ok"], ack["message"])
        for command in self.client.commands(self.creds.team, after=int(state.get("last_command", 0))):
            cid = int(command["id"])
            if cid <= int(state.get("last_command", 0)):
                continue
            ok, message = apply_command(self.home, command)
            Journal(self.home.journal).append(
                "drill.command",
                {"id": cid, "kind": command.get("kind"), "event": command.get("event"),
                 "issued_at": command.get("issued_at"), "ok": ok, "message": message},
                day=Clock(self.home.clock_json).day(), actor="facilitator")
            state["last_command"] = cid
            state.setdefault("unacked", []).append({"id": cid, "ok": ok, "message": message})
            dc.write_state(self.home, state)  # applied: never again, even if the ack is lost
            self._log(f"command {cid} {command.get('kind')} {command.get('event') or ''}: {message}")
            self._ack(state, cid, ok, message)

    def step(self) -> None:
        now = time.monotonic()
        if now < self.retry_at:
            return
        try:
            if now >= self.next_poll:
                self.next_poll = now + COMMAND_POLL_SECONDS
                self.poll_commands()
            self.sync_journal()
        except (dc.DrillUnavailable, dc.DrillRefused) as exc:
            self.next_seq = None  # ask the console what it holds before the next upload
            self.backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self.backoff * 2))
            self.retry_at = time.monotonic() + self.backoff
            self._log(f"{exc}; trying again in {self.backoff:g} s")
            return
        self.backoff = 0.0

    def run(self) -> None:
        self._log(f"drill agent for team {self.creds.team} of drill {self.creds.drill} at {self.creds.url}")
        # what applying a command imports (the scenario schema pulls in pandas), loaded now, beside
        # the first uploads, so a command is applied within seconds of its poll
        threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
        while not self.stop.is_set():
            self.step()
            self.stop.wait(JOURNAL_POLL_SECONDS)
        self.client.close()


def _warm_up() -> None:
    import lab.scenario.answer_key  # noqa: F401
    import lab.scenario.run  # noqa: F401
    import lab.world.events  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    home = Home(resolve_home(args.home))
    try:
        join_from_env(home)
        stop = stop_on_signals()
        agent = Agent(home, stop)
    except LabError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr, flush=True)
        return exc.exit_code
    start_heartbeat(heartbeat_path(home.root, "drill-agent"), stop)
    agent.run()
    return 0


def join_from_env(home: Home) -> None:
    """Under docker compose or k8s (no `lab up`): join the drill named by ``$LAB_DRILL_URL`` and
    ``$LAB_TEAM_TOKEN`` when the home has joined none; the drill must run the home's scenario and seed."""
    url, token = os.environ.get("LAB_DRILL_URL"), os.environ.get("LAB_TEAM_TOKEN")
    if dc.load_credentials(home) is not None or not (url or token):
        return
    cfg = home.config()
    if cfg is None:
        raise StateError(f"no lab in {home.root}", hint="`lab init --stack compose` writes one")
    dc.join_drill(url, token, cfg.scenario, cfg.seed, None).save(home)


if __name__ == "__main__":
    sys.exit(main())
