"""What runs inside the shadow's worker process (a spawned, niced process of its own).

The worker tells serving two things through a shared double, ``busy_since``: nothing
(0.0) while idle or loading, and the monotonic time it started the task in hand while
predicting. ``CLOCK_MONOTONIC`` is one clock for every process on the machine, so
serving times a hang from when the worker started the task, not from when the task
was queued (a queued task behind a slow model load is not a hang).

Readiness is a handshake: serving routes requests to a worker only once
:func:`load` has returned (the model is loaded), never before.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pandas as pd

from lab.serving.shadow_state import parse_fault

#: The priority of the shadow's worker: the champion wins the CPU.
NICE = 10

_models: dict[int, Any] = {}
_busy_since: Any = None  # a shared ctypes double, set by init()


def init(busy_since: Any) -> None:
    global _busy_since
    _busy_since = busy_since
    if os.getpriority(os.PRIO_PROCESS, 0) < NICE:
        os.nice(NICE - os.getpriority(os.PRIO_PROCESS, 0))


def load(model_name: str, version: int, fault: str | None) -> int:
    """Load the model (once); returns this worker's pid. The ready handshake."""
    parsed = parse_fault(fault)
    if parsed and parsed[0] == "load_delay_ms":  # drills: a slow start, as on a loaded machine
        time.sleep(parsed[1] / 1000)
    if version not in _models:
        from lab.serving.follower import load_sklearn

        _models[version] = load_sklearn(model_name, version)
    return os.getpid()


def predict(version: int, frames: list[Any], fault: str | None) -> list[list[float]]:
    """Score a batch of mirrored requests in one call; one list of probabilities per request.

    One ``predict_proba`` over the batch costs about what one request does (the
    pipeline's per-call overhead dominates small requests), so a niced shadow keeps
    up with the champion's traffic on a busy machine.
    """
    _busy_since.value = time.monotonic()
    try:
        parsed = parse_fault(fault)
        if parsed and parsed[0] == "crash":
            os._exit(13)
        if parsed and parsed[0] == "error":
            raise RuntimeError("injected shadow failure")
        if parsed and parsed[0] == "delay_ms":  # each request costs N ms more
            time.sleep(parsed[1] * len(frames) / 1000)
        X = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        proba = [round(float(p), 6) for p in _models[version].predict_proba(X)[:, 1]]
        out, at = [], 0
        for frame in frames:
            out.append(proba[at:at + len(frame)])
            at += len(frame)
        return out
    finally:
        _busy_since.value = 0.0
