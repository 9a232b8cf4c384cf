"""The serving request log: JSON lines, two kinds, joined by request ``id``.

* ``"kind": "request"``, written by serving when the champion answered: ``id``,
  ``time`` (unix seconds), ``day`` (scenario day), ``model``, ``champion_version``,
  ``champion_prediction`` (one per row), ``latency_ms`` (champion path), ``status``
  (HTTP status), ``error`` when it failed, ``inputs`` (column -> values); logs written
  before the shadow service existed also carry ``shadow_version`` when mirrored.
* ``"kind": "shadow"``, written by the shadow service (lab.serving.shadow_service)
  when the shadow finished with a mirrored request: ``id``, ``shadow_version``,
  ``shadow_prediction``, ``shadow_latency_ms``, ``shadow_status`` (answered: ``ok``,
  ``late``; failed: ``error``, ``crashed``; dropped: ``dropped``, ``unavailable``,
  ``cancelled``; see :mod:`lab.serving.shadow_state`) and ``shadow_error``.

:func:`merged` yields one record per request with the shadow's fields added.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator


class RequestLog:
    """Appends one JSON line per record with a single ``write`` on an ``O_APPEND`` descriptor.

    Serving and the shadow service append to the same file from two processes: one
    ``write`` per whole line keeps their lines from interleaving (a buffered text file
    may split a long line into several writes).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            written = os.write(self._fd, data)
            while written < len(data):  # only on a full disk or a signal; finish the line
                written += os.write(self._fd, data[written:])


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


def merged(path: Path) -> list[dict[str, Any]]:
    """One record per request (in arrival order), with its shadow's fields when mirrored."""
    requests: dict[str, dict[str, Any]] = {}
    shadows: dict[str, dict[str, Any]] = {}
    for rec in read_requests(path):
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
