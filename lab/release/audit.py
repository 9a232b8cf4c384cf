"""The alias audit: every move of a model alias is journaled, whoever made it.

MLflow keeps no history of alias moves, so the supervisor watches the aliases
(:class:`AliasWatcher`, twice a second) and is the only writer of ``alias.moved``.
Lab commands that move an alias first journal an ``alias.requested`` entry with their
reason; the watcher attributes a move it sees to the newest matching request, and to
``external`` (the MLflow UI, MlflowClient, ...) when there is none. It also tags the
version that received the alias in MLflow (``lab.became_<alias>``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from lab.core.access import mlflow_auth
from lab.core.aliases import alias_state
from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.release.registry import aliases, delete_alias, set_alias, set_version_tag

REQUEST_WINDOW_SECONDS = 300.0


def request_alias_move(home: Home, base: str, model: str, alias: str, version: int | None, *, actor: str,
                       reason: str | None, via: str) -> dict[str, Any]:
    """Journal the intent, then move the alias in MLflow."""
    journal = Journal(home.journal)
    entry = journal.append(
        "alias.requested",
        {"model": model, "alias": alias, "to": version, "actor": actor, "reason": reason, "via": via},
        day=Clock(home.clock_json).day(),
        actor=actor,
    )
    if version is None:
        delete_alias(base, model, alias)
    else:
        set_alias(base, model, alias, version)
    return entry


class AliasWatcher:
    def __init__(self, home: Home, base: str, model: str) -> None:
        self.home = home
        self.base = base
        self.model = model
        self.journal = Journal(home.journal)
        self.clock = Clock(home.clock_json)
        self.client = httpx.Client(timeout=2.0, auth=mlflow_auth())
        self.known = alias_state(self.journal.entries("alias.moved"), model)

    def _attribution(self, alias: str, version: int | None) -> tuple[str, str | None, str | None]:
        """(actor, reason, via) from the newest unconsumed request for this move."""
        now = time.time()
        last_moved_seq = -1
        match = None
        for e in self.journal.entries():
            if e["kind"] == "alias.moved" and e["data"].get("alias") == alias:
                last_moved_seq = e["seq"]
            elif e["kind"] == "alias.requested" and e["data"].get("alias") == alias and e["data"].get("to") == version:
                match = e
        if match and match["seq"] > last_moved_seq:
            age = now - datetime.fromisoformat(match["time"]).timestamp()
            if age <= REQUEST_WINDOW_SECONDS:
                return match["data"]["actor"], match["data"].get("reason"), match["data"].get("via")
        return "external", None, "MLflow UI or API"

    def poll(self) -> list[dict[str, Any]]:
        current = aliases(self.base, self.model, self.client)
        moved = []
        for alias in sorted(set(current) | set(self.known)):
            before, after = self.known.get(alias), current.get(alias)
            if before == after:
                continue
            actor, reason, via = self._attribution(alias, after)
            day = self.clock.day()
            entry = self.journal.append(
                "alias.moved",
                {"model": self.model, "alias": alias, "from": before, "to": after, "reason": reason, "via": via},
                day=day,
                actor=actor,
            )
            self.known[alias] = after
            moved.append(entry)
            if after is not None:
                try:
                    set_version_tag(
                        self.base, self.model, after, f"lab.became_{alias}",
                        f"day {day:.2f}, from v{before} by {actor}" + (f": {reason}" if reason else ""),
                        self.client,
                    )
                except Exception:  # a tag is a courtesy copy; the journal is the record
                    pass
        return moved
