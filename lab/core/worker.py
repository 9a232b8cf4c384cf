"""What the lab's long-running workers (timeline, monitor) share: a stop event set by
SIGTERM/SIGINT, a heartbeat file the supervisor reads as their health, and a wait for
the Prefect server they run flows on (`lab up` starts them beside it, not after it).

The heartbeat is touched from its own thread every two seconds, so a worker counts as
alive while it imports heavy libraries or runs a long step.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

BEAT_SECONDS = 2.0

#: Numerical libraries on one thread, for a process's environment before they load
#: (threadpoolctl only reaches libraries already loaded). A lab service scores a few rows
#: at a time: threads there only cost, and OpenMP's threads spin between calls (half a
#: core for a shadow of HistGradientBoosting at ~170 req/s, bench/bench_release.py).
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def start_heartbeat(path: Path, stop: threading.Event) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def beat() -> None:
        while True:
            path.touch()
            if stop.wait(BEAT_SECONDS):
                return

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()


def wait_for_prefect(stop: threading.Event, poll: float = 0.5) -> bool:
    """Poll ``$PREFECT_API_URL/health`` until it answers 200 (True) or ``stop`` is set (False).

    Without ``PREFECT_API_URL`` there is no server to wait for (True at once).
    """
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return True
    import httpx  # heavy: keep off the start-up path

    while not stop.is_set():
        try:
            if httpx.get(url.rstrip("/") + "/health", timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        stop.wait(poll)
    return False
