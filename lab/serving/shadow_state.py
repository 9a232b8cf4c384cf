"""What the shadow's statuses mean, its drill faults, and its crash-loop detector.

Pure and light (no pandas, no MLflow): read by the shadow service, by serving, by
`lab shadow start|stop` and by `lab status`.

Every mirrored request (marked ``shadow_version`` in the request log) ends in one shadow
status, written by the shadow service (lab.serving.shadow_service), counted in one of
three groups:

* **answered**: ``ok``, ``late`` (after the time box; the client never waited for it);
* **failed**: ``error`` (the shadow raised), ``crashed`` (its worker died or was killed
  as hung while it held the request);
* **dropped**: ``dropped`` (the shadow fell too far behind the request log and skipped
  it), ``unavailable`` (the shadow had stopped restarting after a crash loop),
  ``cancelled`` (the shadow was stopped or changed before it read the request).

A mirrored request without a shadow line yet is **pending** (the shadow has not read it:
it is behind, warming up, or restarting; it resumes where it stopped).

>>> shadow_counts([{"shadow_version": 2, "shadow_status": "ok"},
...                {"shadow_version": 2, "shadow_status": "unavailable"},
...                {"shadow_version": 2}, {"shadow_version": 3, "shadow_status": "ok"}], 2)
{'mirrored': 3, 'answered': 1, 'dropped': 1, 'failed': 0, 'pending': 1}
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

ANSWERED = frozenset({"ok", "late"})
FAILED = frozenset({"error", "crashed"})
DROPPED = frozenset({"dropped", "unavailable", "cancelled"})
STATUSES = ANSWERED | FAILED | DROPPED

#: States of the shadow service: its worker is starting and loading the model, answers,
#: waits to be restarted after a crash, or has crashed too often and is left stopped.
STATES = ("warming", "ready", "restarting", "crash_loop")

#: A crash loop: this many crashes of the shadow's worker within this window.
CRASH_LOOP_CRASHES = 3
CRASH_LOOP_WINDOW_SECONDS = 300.0

#: Faults a drill can inject into the shadow (tag ``lab.shadow.fault``).
FAULT_HELP = "error, crash, delay_ms=N, load_delay_ms=N"


def group(status: str | None) -> str:
    """``answered``, ``failed``, ``dropped`` or ``pending`` (no shadow line yet)."""
    if status in ANSWERED:
        return "answered"
    if status in FAILED:
        return "failed"
    if status in DROPPED:
        return "dropped"
    return "pending"


def shadow_counts(records: Iterable[dict[str, Any]], version: int) -> dict[str, int]:
    """Mirrored requests of shadow ``version`` (merged request-log records) by outcome."""
    counts = {"mirrored": 0, "answered": 0, "dropped": 0, "failed": 0, "pending": 0}
    for r in records:
        if r.get("shadow_version") == version:
            counts["mirrored"] += 1
            counts[group(r.get("shadow_status"))] += 1
    return counts


def parse_fault(fault: str | None) -> tuple[str, float] | None:
    """``(name, milliseconds)`` of a fault, or None for no fault; ValueError when unknown.

    >>> parse_fault("load_delay_ms=2500")
    ('load_delay_ms', 2500.0)
    >>> parse_fault("crash")
    ('crash', 0.0)
    """
    if not fault:
        return None
    if fault in ("error", "crash"):
        return fault, 0.0
    name, _, value = fault.partition("=")
    if name in ("delay_ms", "load_delay_ms") and value.isdigit():
        return name, float(value)
    raise ValueError(f"fault {fault!r} is not one of: {FAULT_HELP}")


class CrashLoop:
    """Counts crashes in a sliding window; :meth:`crash` says when they make a loop.

    >>> loop = CrashLoop(crashes=3, window_s=300)
    >>> [loop.crash(t) for t in (0.0, 100.0, 350.0)]  # the first crash left the window
    [False, False, False]
    >>> loop.crash(360.0), loop.recent(360.0)
    (True, 3)
    """

    def __init__(self, crashes: int = CRASH_LOOP_CRASHES, window_s: float = CRASH_LOOP_WINDOW_SECONDS) -> None:
        if crashes < 1 or window_s <= 0:
            raise ValueError("a crash loop needs crashes >= 1 and window_s > 0")
        self.crashes = crashes
        self.window_s = window_s
        self._times: deque[float] = deque()

    def recent(self, now: float) -> int:
        """Crashes within the window ending at ``now``."""
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        return len(self._times)

    def crash(self, now: float) -> bool:
        """Record a crash at ``now`` (seconds, monotonic); True when it completes a loop."""
        self._times.append(now)
        return self.recent(now) >= self.crashes
