"""The drill's state in one SQLite database (WAL) in the drill home: ``DRILL_HOME/drill.db``.

One drill per home. Tokens are kept as sha256 hashes only; journal entries verbatim (as
the team's lab wrote them, checked against the hash chain on the way in); commands once
for all teams, with each team's acknowledgement; hints taken; the latest report per team.
Every call opens its own short connection, so the store is safe from the server's threads.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab.core.journal import GENESIS, _digest as entry_digest
from lab.drill.tokens import hash_token, new_token
from lab.errors import StateError, UsageError

DB_NAME = "drill.db"
STATES = ("created", "running", "paused", "ended")
COMMAND_KINDS = ("inject", "pause", "resume", "end")
TEAM_NAME = r"^[a-z][a-z0-9-]{0,31}$"

_CHECKS = """CREATE TABLE IF NOT EXISTS checks (team TEXT PRIMARY KEY, digest TEXT NOT NULL, status TEXT NOT NULL,
  score REAL, max_score REAL, reason TEXT, at TEXT NOT NULL)"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS drill (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, scenario TEXT NOT NULL,
  seed INTEGER NOT NULL, speed REAL NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, ended_at TEXT);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, team TEXT);
CREATE TABLE IF NOT EXISTS teams (name TEXT PRIMARY KEY, position INTEGER NOT NULL, last_seen TEXT);
CREATE TABLE IF NOT EXISTS journal (team TEXT NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL,
  received_at TEXT NOT NULL, kind TEXT NOT NULL, day REAL, PRIMARY KEY (team, seq));
CREATE INDEX IF NOT EXISTS journal_kind ON journal (team, kind, seq);
CREATE TABLE IF NOT EXISTS commands (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, event TEXT,
  issued_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (team TEXT NOT NULL, command_id INTEGER NOT NULL, ok INTEGER NOT NULL,
  message TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (team, command_id));
CREATE TABLE IF NOT EXISTS hints (team TEXT NOT NULL, idx INTEGER NOT NULL, cost REAL NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (team, idx));
CREATE TABLE IF NOT EXISTS reports (team TEXT PRIMARY KEY, report TEXT NOT NULL, digest TEXT NOT NULL,
  score REAL NOT NULL, max_score REAL NOT NULL, submitted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (hash TEXT PRIMARY KEY, role TEXT NOT NULL, team TEXT, created_at TEXT NOT NULL);
"""
_SCHEMA += _CHECKS + ";\n"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Drill:
    name: str
    scenario: str
    seed: int
    speed: float
    state: str
    created_at: str
    ended_at: str | None


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to: the facilitator (``team`` None) or one team."""

    role: str  # "facilitator" | "team"
    team: str | None = None

    @property
    def facilitator(self) -> bool:
        return self.role == "facilitator"

    def may_read(self, team: str) -> bool:
        return self.facilitator or self.team == team


class Conflict(UsageError):
    """A request the drill's state does not allow (HTTP 409); ``extra`` goes into the error body."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


class Store:
    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / DB_NAME

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; ``write``: take the write lock at once (read-then-write steps), so
        two writers never deadlock upgrading; readers run beside a writer (WAL)."""
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout = 30000")
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    # ------------------------------------------------------------------ creation

    def exists(self) -> bool:
        return self.path.is_file()

    def create(self, name: str, scenario: str, seed: int, speed: float, teams: Sequence[str]) -> dict[str, Any]:
        """Write a new drill; returns the tokens (the only time they are seen in clear)."""
        if self.exists():
            raise StateError(f"{self.path} already holds a drill", hint="use another --home for a new drill")
        self.home.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path)
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(_SCHEMA)
        finally:
            con.close()
        facilitator = new_token()
        team_tokens = [(t, new_token()) for t in teams]
        with self._db(write=True) as db:
            db.execute("INSERT INTO drill VALUES (1, ?, ?, ?, ?, 'created', ?, NULL)",
                       (name, scenario, seed, speed, now_iso()))
            db.execute("INSERT INTO tokens VALUES (?, 'facilitator', NULL)", (hash_token(facilitator),))
            for i, (team, token) in enumerate(team_tokens):
                db.execute("INSERT INTO teams VALUES (?, ?, NULL)", (team, i))
                db.execute("INSERT INTO tokens VALUES (?, 'team', ?)", (hash_token(token), team))
        return {"facilitator_token": facilitator, "teams": [{"name": t, "token": k} for t, k in team_tokens]}

    def drill(self) -> Drill:
        if not self.exists():
            raise StateError(f"{self.home} holds no drill", hint="`lab drill create NAME --scenario S --teams red,blue` first")
        with self._db() as db:
            row = db.execute("SELECT name, scenario, seed, speed, state, created_at, ended_at FROM drill").fetchone()
        return Drill(**dict(row))

    def teams(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT name FROM teams ORDER BY position")]

    # ------------------------------------------------------------------ auth

    def principal(self, token: str) -> Principal | None:
        with self._db() as db:
            row = db.execute("SELECT role, team FROM tokens WHERE hash = ?", (hash_token(token),)).fetchone()
        return Principal(row["role"], row["team"]) if row else None

    def new_session(self, who: Principal) -> str:
        session = new_token()
        with self._db(write=True) as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (hash_token(session), who.role, who.team, now_iso()))
        return session

    def session(self, session: str) -> Principal | None:
        with self._db() as db:
            row = db.execute("SELECT role, team FROM sessions WHERE hash = ?", (hash_token(session),)).fetchone()
        return Principal(row["role"], row["team"]) if row else None

    # ------------------------------------------------------------------ journals

    def next_seq(self, team: str) -> int:
        with self._db() as db:
            return db.execute("SELECT COUNT(*) FROM journal WHERE team = ?", (team,)).fetchone()[0]

    def add_journal(self, team: str, from_seq: int, entries: Sequence[dict[str, Any]]) -> int:
        """Store entries ``from_seq``.. (those not held yet); returns the count held.

        Each entry's ``seq`` must be its position and its hash must chain to the one before
        (which the store holds); a gap or a broken chain is refused, naming the entry.
        """
        with self._db(write=True) as db:
            held = db.execute("SELECT COUNT(*) FROM journal WHERE team = ?", (team,)).fetchone()[0]
            if from_seq > held:
                raise Conflict(f"journal of team {team}: entries from seq {from_seq} leave a gap (held: {held})",
                               next_seq=held)
            prev_row = db.execute("SELECT entry FROM journal WHERE team = ? AND seq = ?", (team, from_seq - 1)).fetchone()
            prev = json.loads(prev_row[0])["hash"] if prev_row else GENESIS
            stamp = now_iso()
            for i, entry in enumerate(entries):
                seq = from_seq + i
                where = f"journal of team {team}, entry {i} of the batch (seq {seq})"
                if not isinstance(entry, dict) or entry.get("seq") != seq:
                    raise UsageError(f"{where}: not a journal entry with seq {seq}")
                if entry.get("prev") != prev or entry_digest(entry) != entry.get("hash"):
                    raise UsageError(f"{where}: hash chain broken (entry edited, missing or reordered)")
                prev = entry["hash"]
                if seq >= held:
                    day = entry.get("day") if isinstance(entry.get("day"), (int, float)) else None
                    db.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?)",
                               (team, seq, json.dumps(entry, separators=(",", ":")), stamp, str(entry.get("kind")), day))
            held = max(held, from_seq + len(entries))
            db.execute("UPDATE teams SET last_seen = ? WHERE name = ?", (stamp, team))
            db.execute("UPDATE drill SET state = 'running' WHERE state = 'created'")
        return held

    def journal(self, team: str, kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The team's entries in order; only those of ``kinds`` when given (an index serves it, so the
        board need not parse every traffic and window entry of every team on each refresh)."""
        with self._db() as db:
            if kinds is None:
                rows = db.execute("SELECT entry FROM journal WHERE team = ? ORDER BY seq", (team,))
            else:
                marks = ", ".join("?" * len(kinds))
                rows = db.execute(f"SELECT entry FROM journal WHERE team = ? AND kind IN ({marks}) ORDER BY seq",
                                  (team, *kinds))
            return [json.loads(r[0]) for r in rows]

    def last_day(self, team: str) -> float | None:
        """The scenario day of the team's latest entry that carries one."""
        with self._db() as db:
            row = db.execute("SELECT day FROM journal WHERE team = ? AND day IS NOT NULL ORDER BY seq DESC LIMIT 1",
                             (team,)).fetchone()
        return None if row is None else float(row[0])

    def last_seen(self, team: str) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT last_seen FROM teams WHERE name = ?", (team,)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ commands

    def add_command(self, kind: str, event: str | None) -> int:
        if kind not in COMMAND_KINDS:
            raise UsageError(f"command kind {kind!r} is not one of {', '.join(COMMAND_KINDS)}")
        with self._db(write=True) as db:
            state = db.execute("SELECT state FROM drill").fetchone()[0]
            if state == "ended":
                raise Conflict("the drill has ended: no more commands")
            cur = db.execute("INSERT INTO commands (kind, event, issued_at) VALUES (?, ?, ?)", (kind, event, now_iso()))
            new_state = {"pause": "paused", "resume": "running", "end": "ended"}.get(kind)
            if new_state:
                db.execute("UPDATE drill SET state = ?, ended_at = ? WHERE id = 1",
                           (new_state, now_iso() if kind == "end" else None))
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def commands(self, after: int = 0) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT id, kind, event, issued_at FROM commands WHERE id > ? ORDER BY id", (after,))
            return [dict(r) for r in rows]

    def ack(self, team: str, command_id: int, ok: bool, message: str) -> None:
        with self._db(write=True) as db:
            if not db.execute("SELECT 1 FROM commands WHERE id = ?", (command_id,)).fetchone():
                raise LookupError(f"no command {command_id}")
            db.execute("INSERT OR REPLACE INTO acks VALUES (?, ?, ?, ?, ?)", (team, command_id, int(ok), message, now_iso()))

    def acks(self) -> dict[int, dict[str, dict[str, Any]]]:
        """{command id: {team: {ok, message, at}}}"""
        out: dict[int, dict[str, dict[str, Any]]] = {}
        with self._db() as db:
            for r in db.execute("SELECT team, command_id, ok, message, at FROM acks"):
                out.setdefault(r["command_id"], {})[r["team"]] = {"ok": bool(r["ok"]), "message": r["message"], "at": r["at"]}
        return out

    # ------------------------------------------------------------------ hints

    def take_hint(self, team: str, hints: Sequence[tuple[str, float]]) -> tuple[int, int, float]:
        """Give ``team`` its next hint: (index, hints used, total cost). 409 when none is left."""
        with self._db(write=True) as db:
            used = db.execute("SELECT COUNT(*) FROM hints WHERE team = ?", (team,)).fetchone()[0]
            if used >= len(hints):
                raise Conflict(f"team {team} has taken every hint of this scenario ({len(hints)})")
            db.execute("INSERT INTO hints VALUES (?, ?, ?, ?)", (team, used, float(hints[used][1]), now_iso()))
            total = db.execute("SELECT COALESCE(SUM(cost), 0) FROM hints WHERE team = ?", (team,)).fetchone()[0]
        return used, used + 1, float(total)

    def hints_taken(self, team: str) -> list[dict[str, Any]]:
        with self._db() as db:
            return [dict(r) for r in db.execute("SELECT idx, cost, at FROM hints WHERE team = ? ORDER BY idx", (team,))]

    # ------------------------------------------------------------------ reports

    def put_report(self, team: str, report: dict[str, Any], digest: str, score: float, max_score: float) -> None:
        with self._db(write=True) as db:
            db.execute("INSERT OR REPLACE INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                       (team, json.dumps(report), digest, score, max_score, now_iso()))

    def put_check(self, team: str, digest: str, status: str, score: float | None = None,
                  max_score: float | None = None, reason: str | None = None) -> None:
        """The console's own grade of the team's upload (lab.drill.verify); ignored when a newer
        report (another digest) has replaced the one it checked."""
        with self._db(write=True) as db:
            if status != "pending":
                row = db.execute("SELECT digest FROM reports WHERE team = ?", (team,)).fetchone()
                if row is None or row["digest"] != digest:
                    return
            db.execute("INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (team, digest, status, score, max_score, reason, now_iso()))

    def report(self, team: str) -> dict[str, Any] | None:
        """The team's latest report. ``score`` is what the board counts: the console's own grade
        when it checked the upload (``check``: verified, mismatch), nothing when it rejected it,
        else the team's reported score (``check``: pending, or unverified: no evidence sent);
        ``reported_score`` is always the team's."""
        with self._db() as db:
            row = db.execute("SELECT r.report, r.digest, r.score, r.max_score, r.submitted_at, c.status, c.reason, "
                             "c.score AS checked, c.max_score AS checked_max FROM reports r LEFT JOIN checks c "
                             "ON c.team = r.team AND c.digest = r.digest WHERE r.team = ?", (team,)).fetchone()
        if row is None:
            return None
        out = {"report": json.loads(row["report"]), "evidence_digest": row["digest"], "score": row["score"],
               "max_score": row["max_score"], "reported_score": row["score"], "submitted_at": row["submitted_at"],
               "check": row["status"] or "unverified", "check_reason": row["reason"]}
        if row["status"] in ("verified", "mismatch"):
            out["score"], out["max_score"] = row["checked"], row["checked_max"]
        elif row["status"] == "rejected":
            out["score"] = 0.0
        return out

    def upgrade(self) -> None:
        """Add what a drill created by an older console lacks (the checks table)."""
        with self._db(write=True) as db:
            db.execute(_CHECKS)
