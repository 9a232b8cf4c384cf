"""What runs inside the shadow service's worker process (spawned, one per shadow version).

The worker loads the model niced (at idle priority a model load on a saturated machine
would take many minutes), then scores at ``SCHED_IDLE``: it runs only on CPU time no
other process wants, so it can never slow the champion. Numerical libraries are held
to one thread. It dies with its parent (``PR_SET_PDEATHSIG``), so a killed shadow
service leaves no orphan.

Readiness is a handshake: the service reads requests for a worker only once :func:`load`
has returned (the model is loaded), never before.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import Any

from lab.serving.shadow_state import parse_fault

#: The priority of the worker while it loads the model.
NICE = 10

_models: dict[int, Any] = {}


def idle_priority() -> None:
    """The calling thread (and threads it starts later) runs at ``SCHED_IDLE``."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux: the lowest nice instead
        os.nice(max(0, 19 - os.getpriority(os.PRIO_PROCESS, 0)))


def init() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    try:  # spawned by a thread at idle priority: load at normal policy (root, or a RLIMIT_NICE allowing it)
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    if os.getpriority(os.PRIO_PROCESS, 0) < NICE:
        os.nice(NICE - os.getpriority(os.PRIO_PROCESS, 0))
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def load(model_name: str, version: int, fault: str | None) -> int:
    """Load the model (once), then drop to idle priority; returns this worker's pid. The ready handshake."""
    parsed = parse_fault(fault)
    if parsed and parsed[0] == "load_delay_ms":  # drills: a slow start, as on a loaded machine
        time.sleep(parsed[1] / 1000)
    if version not in _models:
        from lab.serving.follower import load_sklearn

        _models[version] = load_sklearn(model_name, version)
    idle_priority()
    return os.getpid()


def predict(version: int, frames: list[dict[str, list[Any]]], fault: str | None) -> list[list[float]]:
    """Score a batch of requests (each its log line's ``inputs``) in one call; one list of
    probabilities per request.

    One ``predict_proba`` over the batch costs about what one request does (the
    pipeline's per-call overhead dominates small requests), so an idle-priority shadow
    keeps up with the champion's traffic on a busy machine.
    """
    parsed = parse_fault(fault)
    if parsed and parsed[0] == "crash":
        os._exit(13)
    if parsed and parsed[0] == "error":
        raise RuntimeError("injected shadow failure")
    if parsed and parsed[0] == "delay_ms":  # each request costs N ms more
        time.sleep(parsed[1] * len(frames) / 1000)
    import pandas as pd

    X = pd.concat([pd.DataFrame(f) for f in frames], ignore_index=True)
    proba = [round(float(p), 6) for p in _models[version].predict_proba(X)[:, 1]]
    out, at = [], 0
    for frame in frames:
        n = len(next(iter(frame.values()))) if frame else 0
        out.append(proba[at:at + n])
        at += n
    return out
