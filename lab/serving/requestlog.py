"""The serving request log: one JSON object per request in a JSON-lines file.

Fields: ``id``, ``time`` (unix seconds), ``day`` (scenario day), ``model``,
``champion_version``, ``champion_prediction`` (list, one per row), ``shadow_version``
and ``shadow_prediction`` when a shadow ran, ``latency_ms`` (champion path),
``status`` (HTTP status) and ``error`` when it failed.
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
