"""What the lab's long-running workers (timeline, monitor) share: a stop event set by
SIGTERM/SIGINT, and a heartbeat file the supervisor reads as their health.

The heartbeat is touched from its own thread every two seconds, so a worker counts as
alive while it imports heavy libraries or runs a long step.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

BEAT_SECONDS = 2.0


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
