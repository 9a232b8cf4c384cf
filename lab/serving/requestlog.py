"""The serving request logs: JSON lines, two kinds in two files, joined by request ``id``.

* ``<home>/serving/requests.jsonl``, written by serving, ``"kind": "request"``, when the
  champion answered: ``id``, ``time`` (unix seconds), ``day`` (scenario day), ``model``,
  ``champion_version``, ``champion_prediction`` (one per row), ``latency_ms`` (champion
  path), ``status`` (HTTP status), ``error`` when it failed, ``inputs`` (column ->
  values), ``shadow_version`` when the request was chosen for the shadow (else null) and
  ``served_version`` (whose answer the client got); a request routed to a canary also has
  ``canary_version`` and ``canary_prediction`` and ``canary_latency_ms``, or ``canary_error``.
* ``<home>/serving/shadow.jsonl`` (:func:`shadow_log_path`), written by the shadow
  service, ``"kind": "shadow"``, when the shadow finished: ``id``, ``shadow_version``,
  ``shadow_prediction``, ``shadow_latency_ms``, ``shadow_status`` (answered: ``ok``,
  ``late``; failed: ``error``, ``crashed``; dropped: ``dropped``, ``unavailable``,
  ``cancelled``; see :mod:`lab.serving.shadow_state`) and ``shadow_error``.

:func:`merged` yields one record per request with the shadow's fields added (it reads
shadow lines from either file: logs written before the shadow had a log of its own kept
them in the request log).
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any, Iterator


class RequestLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8", buffering=1)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")


def read_requests(path: Path) -> Iterator[dict[str, Any]]:
    if not Path(path).exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash mid-write


def shadow_log_path(request_log: Path) -> Path:
    """The shadow service's log beside the request log ``request_log``."""
    return Path(request_log).with_name("shadow.jsonl")


def merged(path: Path) -> list[dict[str, Any]]:
    """One record per request (in arrival order), with its shadow's fields when mirrored.

    ``path`` is the request log; the shadow's lines come from :func:`shadow_log_path` too.
    """
    requests: dict[str, dict[str, Any]] = {}
    shadows: dict[str, dict[str, Any]] = {}
    for rec in itertools.chain(read_requests(path), read_requests(shadow_log_path(path))):
        if rec.get("kind") == "shadow":
            shadows[rec["id"]] = rec
        else:
            requests[rec["id"]] = rec
    out = []
    for rid, rec in requests.items():
        sh = shadows.get(rid)
        if sh:
            rec = {**rec, **{k: v for k, v in sh.items() if k.startswith("shadow_")}}
        out.append(rec)
    return out
