"""The serving request log: JSON lines, two kinds, joined by request ``id``.

* ``"kind": "request"``, written when the champion answered: ``id``, ``time`` (unix
  seconds), ``day`` (scenario day), ``model``, ``champion_version``,
  ``champion_prediction`` (one per row), ``latency_ms`` (champion path), ``status``
  (HTTP status), ``error`` when it failed, ``inputs`` (column -> values) and
  ``shadow_version`` when the request was mirrored.
* ``"kind": "shadow"``, written when the shadow finished: ``id``, ``shadow_version``,
  ``shadow_prediction``, ``shadow_latency_ms``, ``shadow_status`` (answered: ``ok``,
  ``late``; failed: ``error``, ``crashed``; dropped: ``dropped``, ``unavailable``,
  ``cancelled``; see :mod:`lab.serving.shadow_state`) and ``shadow_error``.

:func:`merged` yields one record per request with the shadow's fields added.
"""

from __future__ import annotations

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
