"""The shadow service: scores the shadow version on served requests, off serving's request path.

Run by the supervisor as a service of its own (``python -m lab.serving.shadow_service
--home H``). Serving writes every request, inputs included, to
``<home>/serving/requests.jsonl``; this service follows that file and mirrors what it
reads to the shadow (:class:`lab.serving.shadow.ShadowMirror`: its worker process, the
ready handshake, hang and crash-loop detection, the drill faults), and appends the
shadow's ``"kind": "shadow"`` lines to the same file. So serving does no shadow work
at all on a request, and a slow, failing or crashing shadow (or this service itself
dying) cannot delay or fail a client.

Why so: mirroring inside serving (pickling rows to a process pool, callbacks, a second
log write per request) cost the champion 1.4x to 2x its p99 latency under load
(``bench/bench_release.py``).

* It runs at idle priority (``SCHED_IDLE``; its worker inherits it): it gets the CPU
  only when the champion does not want it. Its heartbeat thread starts before that, so
  a starved but living service is not taken for a hung one.
* It follows the registry (alias ``shadow``, tags ``lab.shadow.percent`` and
  ``lab.shadow.fault``) as serving does, twice a second.
* A request is mirrored when its champion answered (status 200) after the shadow
  became ready, and its id hashes into the share (:func:`lab.serving.shadow.sampled`).
  Its latency is timed from when the champion answered, so a shadow that lags is ``late``.
* Its state (the shadow as ``lab status`` shows it, and where it is in the log) goes to
  ``<home>/serving/shadow_service.json`` every quarter second, read by ``lab status``,
  ``lab shadow start|stop`` and serving's ``/metrics``. Restarted after a crash with
  the same shadow, it resumes from the first request it had not logged, skipping those
  it had.
* The log is followed from an offset; a file that shrank or was replaced (rotation) is
  followed from its start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from lab.core.home import Clock, Home, resolve_home, write_json_atomic
from lab.core.worker import start_heartbeat, stop_on_signals
from lab.serving.shadow_state import SERVICE_STATE

log = logging.getLogger("lab.serving.shadow_service")

#: How often the registry is read and the state file written.
REGISTRY_SECONDS = 0.5
STATE_SECONDS = 0.25
#: At most this much of the log is read in one go.
READ_BYTES = 4 << 20
#: A line that is a served request (serving writes ``kind`` first, without spaces).
REQUEST_PREFIX = b'{"kind":"request"'


def go_idle() -> str:
    """Lower this thread (and what it starts) to idle priority; says which it got."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "SCHED_IDLE"
    except (AttributeError, OSError):  # not Linux: the lowest nice level instead
        os.nice(19 - os.getpriority(os.PRIO_PROCESS, 0))
        return "nice 19"


class Tail:
    """Reads whole new lines of a growing file from an offset; starts over when it shrank or was replaced."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._ino: int | None = None

    def size(self) -> int:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0
        if self._ino is None:
            self._ino = st.st_ino
        return st.st_size

    def lines(self) -> list[tuple[int, bytes]]:
        """New complete lines, each with the offset it starts at."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if (self._ino is not None and st.st_ino != self._ino) or st.st_size < self.offset:
            log.warning("%s was rotated or truncated: following it from its start", self.path)
            self.offset = 0
        self._ino = st.st_ino
        if st.st_size <= self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(READ_BYTES)
        end = data.rfind(b"\n")
        if end < 0:
            return []
        out, at = [], self.offset
        for line in data[: end + 1].splitlines(keepends=True):
            out.append((at, line))
            at += len(line)
        self.offset = at
        return out

    def lines_all(self) -> Any:
        """Every complete line from the offset to the end, batch by batch."""
        while batch := self.lines():
            yield from batch


class ShadowService:
    """Follows the registry and the request log; owns one :class:`ShadowMirror`."""

    def __init__(self, home: Home, tracking_uri: str) -> None:
        from lab.scenario.run import effective_scenario
        from lab.serving.follower import RegistryFollower, ShadowConfig
        from lab.serving.requestlog import RequestLog
        from lab.serving.shadow import ShadowMirror

        self.home = home
        scenario, _ = effective_scenario(home)
        self.model_name = scenario.model.name
        self.path = home.serving / "requests.jsonl"
        self.state_path = home.serving / SERVICE_STATE
        self.log = RequestLog(self.path)
        self.registry = RegistryFollower(tracking_uri, self.model_name, lambda _: None)
        self.config = ShadowConfig(None, 0.0, None)
        self.tail = Tail(self.path)
        self.mirror = ShadowMirror(self.model_name, self._write, self._journal_crash_loop)
        self.since: float | None = None  # wall time from which requests are mirrored (the shadow became ready)
        self.start_offset = 0
        self._skip: set[str] = set()  # ids already logged before a restart
        self._pending: dict[str, int] = {}  # mirrored, not yet logged: id -> offset of its request line
        self._by_status: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._resume(self._saved())

    # -- state --------------------------------------------------------------------------
    def _saved(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}

    def _resume(self, saved: dict[str, Any]) -> None:
        """Take up the shadow a dead predecessor left, if the registry still says the same."""
        from lab.serving.follower import ShadowConfig

        cfg = saved.get("config") or {}
        if cfg.get("version") is None or saved.get("since") is None:
            return
        try:
            now = self._read_config()
        except Exception as exc:  # MLflow not answering yet: start afresh once it does
            log.warning("could not read the registry to resume the shadow: %s", exc)
            return
        if now != ShadowConfig(cfg["version"], float(cfg["percent"]), cfg.get("fault")):
            return
        self.start_offset = int(saved.get("start_offset", 0))
        resume_at = int(saved.get("done_offset", self.start_offset))
        counts: dict[str, int] = {}
        for _, line in Tail(self.path, self.start_offset).lines_all():
            if line.startswith(b'{"kind":"shadow"'):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("shadow_version") == now.version:
                    self._skip.add(rec["id"])
                    counts[rec["shadow_status"]] = counts.get(rec["shadow_status"], 0) + 1
        self._configure(now)
        self.mirror.seed_counts(counts)
        self._by_status[str(now.version)] = dict(counts)
        self.since = float(saved["since"])
        self.tail.offset = resume_at
        log.info("resumed shadow v%s from offset %d (%d already logged)", now.version, resume_at, len(self._skip))

    def _read_config(self) -> Any:
        from lab.serving.follower import shadow_config

        aliases, tags = self.registry.read_registry()
        return shadow_config(aliases, tags)

    def _configure(self, config: Any) -> None:
        previous, self.config = self.config, config
        if (previous.version, previous.fault) != (config.version, config.fault):
            self.since = None  # a new worker: mirroring (re)starts once it is ready
            self._skip.clear()
            with self._lock:
                self._pending.clear()
        self.mirror.configure(config)

    def write_state(self) -> None:
        with self._lock:
            done = min(self._pending.values(), default=self.tail.offset)
            by_status = {v: dict(c) for v, c in self._by_status.items()}
        c = self.config
        write_json_atomic(self.state_path, {
            "pid": os.getpid(), "time": time.time(),
            "config": {"version": c.version, "percent": c.percent, "fault": c.fault},
            "since": self.since, "start_offset": self.start_offset, "done_offset": done,
            "shadow": self.mirror.snapshot(), "by_status": by_status})

    # -- callbacks from the mirror -------------------------------------------------------
    def _write(self, record: dict[str, Any]) -> None:
        self.log.write(record)
        with self._lock:
            self._pending.pop(record["id"], None)
            counts = self._by_status.setdefault(str(record["shadow_version"]), {})
            counts[record["shadow_status"]] = counts.get(record["shadow_status"], 0) + 1

    def _journal_crash_loop(self, record: dict[str, Any]) -> None:
        from lab.core.journal import Journal

        Journal(self.home.journal).append("shadow.crash_loop", {"model": self.model_name, **record},
                                          day=Clock(self.home.clock_json).day(), actor="lab")

    # -- the loop -------------------------------------------------------------------------
    def poll_registry(self) -> None:
        try:
            config = self._read_config()
        except Exception as exc:  # MLflow briefly unreachable: keep the shadow as it is
            log.warning("registry poll failed: %s", exc)
            return
        if config != self.config:
            if config.version != self.config.version:
                self.start_offset = self.tail.size()
            self._configure(config)

    def follow(self) -> int:
        """Mirror what was served since the last look; returns how many lines were read."""
        if self.config.version is None or (not self.mirror.warmed and self.since is None):
            self.tail.offset = self.tail.size()  # nothing to mirror to (yet): serving's past is not ours
            return 0
        if not self.mirror.warmed:  # resumed after a restart: the backlog waits for the new worker
            return 0
        if self.since is None:  # just became ready: requests from now on
            self.since = time.time()
            self.tail.offset = self.tail.size()
            return 0
        lines = self.tail.lines()
        for offset, line in lines:
            if line.startswith(REQUEST_PREFIX):
                self._take(offset, line)
        return len(lines)

    def _take(self, offset: int, line: bytes) -> None:
        import pandas as pd

        try:
            rec = json.loads(line)
        except ValueError:
            return  # a line cut by a crash mid-write
        if rec.get("status") != 200 or not rec.get("inputs") or rec.get("time", 0) < (self.since or 0):
            return
        rid = rec["id"]
        if rid in self._skip:
            return
        answered = rec["time"] + (rec.get("latency_ms") or 0) / 1000
        mirrored_at = time.perf_counter() - max(0.0, time.time() - answered)
        with self._lock:
            self._pending[rid] = offset
        version = self.mirror.mirror(rid, pd.DataFrame(rec["inputs"]), rec.get("day"), mirrored_at)
        if version is None:
            with self._lock:
                self._pending.pop(rid, None)

    def run(self, stop: threading.Event) -> None:
        next_registry = next_state = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_registry:
                self.poll_registry()
                next_registry = now + REGISTRY_SECONDS
            read = self.follow()
            if time.monotonic() >= next_state:
                self.write_state()
                next_state = time.monotonic() + STATE_SECONDS
            if not read:
                stop.wait(0.05)
        self.mirror.close()
        self.write_state()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.serving.shadow_service",
                                 description="Scores the shadow version on the requests serving logged.")
    ap.add_argument("--home", required=True, help="the lab home")
    args = ap.parse_args(argv)
    root = resolve_home(args.home)
    if not (Path(root) / "lab.json").exists():
        print(f"error: no lab in {root} (no lab.json)", file=sys.stderr)
        return 2
    home = Home(root)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per registry poll
    stop = stop_on_signals()
    start_heartbeat(home.serving / "shadow_service.heartbeat", stop)  # at normal priority: alive even when starved
    log.info("shadow service at %s priority", go_idle())
    uri = os.environ.get("MLFLOW_TRACKING_URI") or home.url("mlflow")
    ShadowService(home, uri).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
