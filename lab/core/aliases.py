"""Where the model aliases (``champion``, ``challenger``, ``shadow``) pointed, replayed from the journal.

MLflow keeps only the current aliases; the journal keeps every move (``alias.moved``,
written by the alias watcher in lab.release.audit). Whoever needs the aliases as the
journal saw them (the watcher on start, the rollback's history, the evidence collector
when MLflow is down) replays them here, one way.

>>> moved = lambda seq, alias, to, model="m": {"seq": seq, "kind": "alias.moved",
...                                            "data": {"model": model, "alias": alias, "to": to}}
>>> journal = [moved(1, "champion", 1), moved(2, "shadow", 2), moved(3, "champion", 2), moved(4, "shadow", None),
...            moved(5, "champion", 2), moved(6, "champion", 9, model="other")]
>>> alias_state(journal, "m")
{'champion': 2, 'shadow': None}
>>> alias_versions(journal, "m", "champion")
[1, 2]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

Entry = dict[str, Any]


def alias_moves(entries: Iterable[Entry], model: str) -> Iterator[Entry]:
    """The ``alias.moved`` entries of ``model``, in journal order (other entries are skipped)."""
    for e in entries:
        if e["kind"] == "alias.moved" and e["data"].get("model") == model:
            yield e


def alias_state(entries: Iterable[Entry], model: str) -> dict[str, int | None]:
    """Each alias of ``model`` the journal saw move, with the version it points at last (``None``: deleted)."""
    return {e["data"]["alias"]: e["data"].get("to") for e in alias_moves(entries, model)}


def alias_versions(entries: Iterable[Entry], model: str, alias: str) -> list[int]:
    """The versions ``alias`` pointed at, in order, without deletions or repeats in a row."""
    out: list[int] = []
    for e in alias_moves(entries, model):
        to = e["data"].get("to")
        if e["data"].get("alias") == alias and to is not None and (not out or out[-1] != to):
            out.append(to)
    return out
