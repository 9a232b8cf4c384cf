"""Map a function over independent items on the machine's cores (forked workers), with the
serial map's result.

A replay's episodes are independent: each is drawn from its own seeded stream and replayed
on its own, so a cold ``lab grade`` or ``lab evaluate`` spreads them over the cores it may
use. Workers are forked, so they inherit the function and the data (nothing is pickled but
the items' indexes and the results). Forking a process that runs other threads is unsafe,
so such a process (the lab's grading endpoint) maps serially, as does a machine without
``fork``. ``LAB_REPLAY_WORKERS`` caps the number of workers (``1``: serial). A worker that
dies (killed, out of memory) costs no result: the whole map is run again serially.

>>> fork_map(lambda x: x * x, [1, 2, 3], workers=1)
[1, 4, 9]
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: At most this many workers, whatever the machine: the gain flattens and memory grows.
MAX_WORKERS = 4
ENV = "LAB_REPLAY_WORKERS"

_STATE: dict[str, Any] = {}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_workers(items: int) -> int:
    """How many workers a map of ``items`` gets here: 1 where forking is unsafe or unavailable,
    else the usable cores (at most :data:`MAX_WORKERS`, at most ``items``, at most ``$LAB_REPLAY_WORKERS``)."""
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    n = min(_cores(), MAX_WORKERS, items)
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            n = min(n, int(raw))
        except ValueError:
            from lab.errors import UsageError

            raise UsageError(f"{ENV} must be a whole number of workers, got {raw!r}",
                             hint=f"unset {ENV}, or set it to 1 for a serial replay") from None
    return max(1, n)


def _call(index: int) -> Any:
    return _STATE["func"](_STATE["items"][index])


def fork_map(func: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """``[func(x) for x in items]``, computed by forked workers (``workers``; by default
    :func:`default_workers`). ``func`` may be a closure: it is inherited, not pickled; its
    results must pickle. An exception in ``func`` is raised here as the serial map would."""
    items = list(items)
    n = default_workers(len(items)) if workers is None else max(1, min(int(workers), len(items) or 1))
    if n <= 1 or _STATE:  # serial, and never nested
        return [func(x) for x in items]
    _STATE.update(func=func, items=items)
    try:
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_call, range(len(items)), chunksize=1))
    except BrokenProcessPool:
        pass  # a worker died: nothing is lost, the serial map below gives the same result
    finally:
        _STATE.clear()
    return [func(x) for x in items]


__all__ = ["ENV", "MAX_WORKERS", "default_workers", "fork_map"]
