"""Shadowing, serving's side: which requests are mirrored. The shadow itself is a service of
its own (lab.serving.shadow_service) that follows the request log.

What a correct shadow is (Istio mirroring, Seldon shadows and KServe agree):

* the client always gets the champion's answer; the shadow can never change, delay
  or fail it: nothing of the shadow runs on the request path. Serving only marks a
  request line ``shadow_version`` (one hash of the request id); the shadow service reads
  the marked lines from the request log at idle priority and writes its own log;
* the shadow receives the identical rows (the request line's ``inputs``); its prediction
  is logged under the same request id with its version;
* a configurable share of requests is mirrored, chosen by a hash of the request id
  (so a retried request is mirrored or not, consistently).

:class:`ShadowGate` holds what the marking needs, refreshed off the request path: the
shadow the registry names (from the registry follower) and the shadow service's state
file (``<home>/shadow/state.json``, read every ``POLL_SECONDS`` by a thread of its own).
A request is marked only once the shadow service has warmed up for that version (its
worker loaded the model): before that, nothing is mirrored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any, Callable

from lab.serving.follower import ShadowConfig

log = logging.getLogger("lab.serving.shadow")

#: How often serving reads the shadow service's state file.
POLL_SECONDS = 0.25


def sampled(request_id: str, percent: float) -> bool:
    """Deterministic per request id: the same id is always in or out.

    >>> sampled("abc", 100), sampled("abc", 0)
    (True, False)
    """
    if percent >= 100:
        return True
    bucket = int.from_bytes(hashlib.sha1(request_id.encode()).digest()[:4], "big") % 10_000
    return bucket < percent * 100


def read_state(path: Path) -> dict[str, Any] | None:
    """The shadow service's state file, or None when absent or cut mid-write."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def snapshot_for(config: ShadowConfig, state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The shadow as `lab status` shows it: the service's state when it is about ``config``,
    else a shadow still warming (the service has not picked the new shadow up yet).

    >>> snapshot_for(ShadowConfig(None, 100.0, None), {"version": 2}) is None
    True
    >>> snapshot_for(ShadowConfig(2, 50.0, None), None)["state"]
    'warming'
    """
    if config.version is None:
        return None
    if state and (state.get("version"), state.get("percent"), state.get("fault")) == (
            config.version, config.percent, config.fault):
        return {k: v for k, v in state.items() if k not in ("offset", "crash_times", "statuses", "clean")}
    return {"version": config.version, "state": "warming", "percent": config.percent, "fault": config.fault,
            "warmed": False, "mirrored": 0, "answered": 0, "dropped": 0, "failed": 0, "pending": 0,
            "crashes": 0, "recent_crashes": 0, "pid": None}


class ShadowGate:
    """Decides, on the request path and in microseconds, whether a request is mirrored."""

    def __init__(self, state_path: Path, on_statuses: Callable[[int, str, int], None] | None = None) -> None:
        self.state_path = Path(state_path)
        self.on_statuses = on_statuses  # (version, status, new count): serving's Prometheus counter
        self.config = ShadowConfig(None, 0.0, None)
        self.state: dict[str, Any] | None = None
        self._warmed: int | None = None  # the version the shadow service has warmed up for
        self._seen: dict[tuple[int, str], int] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._poll, name="shadow-gate", daemon=True).start()

    def configure(self, config: ShadowConfig) -> None:
        """From the registry follower, when the shadow alias or its tags change."""
        self.config = config
        self._refresh()
        log.info("shadow now %s", config)

    def decide(self, request_id: str) -> int | None:
        """The shadow version this request is mirrored to, or None. Never raises."""
        config = self.config
        if config.version is None or self._warmed != config.version:
            return None
        return config.version if sampled(request_id, config.percent) else None

    def snapshot(self) -> dict[str, Any] | None:
        return snapshot_for(self.config, self.state)

    def close(self) -> None:
        self._stop.set()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self._refresh()
            except Exception:  # the gate must outlive any surprise
                log.exception("shadow gate")

    def _refresh(self) -> None:
        state = read_state(self.state_path)
        if state is None:
            return
        self.state = state
        config = self.config
        same = (state.get("version"), state.get("percent"), state.get("fault")) == (
            config.version, config.percent, config.fault)
        self._warmed = config.version if same and state.get("warmed") else None
        if self.on_statuses is not None and state.get("version") is not None:
            for status, n in (state.get("statuses") or {}).items():
                key = (state["version"], status)
                if n > self._seen.get(key, 0):
                    self.on_statuses(state["version"], status, n - self._seen.get(key, 0))
                self._seen[key] = n
