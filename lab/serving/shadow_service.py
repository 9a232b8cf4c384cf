"""The shadow service: follows the request log and scores the requests serving marked for
the shadow, at idle priority, in a process of its own (``python -m lab.serving.shadow_service
--home H``, started and restarted by the supervisor like the other workers).

Nothing of it is on the request path: serving writes each request's line (with its
``inputs`` and, when chosen for the shadow, ``shadow_version``) and never waits for, or
talks to, the shadow. So a slow, failing, hung or killed shadow cannot touch a client.

* It reads the registry (alias ``shadow``, tags ``lab.shadow.percent`` and
  ``lab.shadow.fault``) twice a second; for a shadow it starts one worker process
  (lab.serving.shadow_worker) that loads the model, then scores at ``SCHED_IDLE``. This
  process's reading thread runs at ``SCHED_IDLE`` too; its heartbeat thread does not.
* ``<home>/shadow/state.json`` holds its state (written atomically): the shadow's version,
  ``state`` (warming, ready, restarting, crash_loop), ``warmed`` (its worker has loaded the
  model once: serving marks requests only from then on), the counts by group and by
  status, recent crashes, its ``pid``, and the byte ``offset`` in the request log it has
  read up to. Each shadow line also carries its request's ``log_offset``, so a restarted
  service resumes after the last line it logged: nothing lost, nothing logged twice.
* It reads the log only while it can score: while its worker warms up or restarts, the
  lines wait in the log. It reads at most ``MAX_BACKLOG`` marked requests at a time;
  older ones beyond that are logged ``dropped`` (it fell behind), never queued in memory.
* Outcomes (``<home>/serving/shadow.jsonl``, one line per marked request; statuses in
  lab.serving.shadow_state): ``ok`` or ``late`` (answered more than ``TIME_BOX_SECONDS``
  after the request), ``error``, ``crashed`` (the worker died or hung on the batch),
  ``dropped``, ``unavailable`` (crash loop), ``cancelled`` (marked for a shadow that is no
  longer the shadow).
* A batch the worker runs longer than ``HUNG_SECONDS`` (``LAB_SHADOW_HUNG_SECONDS``) is a
  hang: the worker is killed, which counts as a crash. 3 crashes within 5 minutes
  (the service itself dying counts too) are a crash loop: journaled ``shadow.crash_loop``
  once, no more restarts until the shadow is stopped or reconfigured.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.core.home import Clock, Home, resolve_home, write_json_atomic
from lab.core.journal import Journal
from lab.core.services import heartbeat_path
from lab.core.worker import ONE_THREAD_ENV, start_heartbeat, stop_on_signals
from lab.serving import shadow_worker
from lab.serving.follower import RegistryFollower, ShadowConfig
from lab.serving.requestlog import RequestLog, shadow_log_path
from lab.serving.shadow_state import CrashLoop, group, parse_fault

log = logging.getLogger("lab.serving.shadow_service")

#: At most this many marked requests are read at once; older ones beyond it are dropped.
MAX_BACKLOG = 512
#: At most this many bytes of the request log are read at once.
READ_BYTES = 4 << 20
#: At most this many requests go to the worker in one batch.
MAX_BATCH = 256
#: A shadow answer later than this after the request is logged "late" (the client never waited for it).
TIME_BOX_SECONDS = 2.0
HUNG_SECONDS = 30.0
CRASH_BACKOFF_SECONDS = 5.0
#: How often the registry is read, and how long the loop rests when there is nothing to do.
REGISTRY_SECONDS = 0.5
REST_SECONDS = 0.05
#: After a turn that scored, the loop rests this long so the next turn scores a batch, not a
#: few rows: the worker's per-call cost (pipeline, pickling, the state file) is paid about
#: twice a second instead of at every request, which keeps the shadow's CPU (which
#: ``SCHED_IDLE`` does not keep off the champion's cores on a 2-core VM) to a few percent of
#: a core. Answers still come well inside ``TIME_BOX_SECONDS``.
GATHER_SECONDS = 0.5


@dataclass
class Line:
    """A marked request read from the log, and where its line ends."""

    id: str
    version: int
    time: float
    day: float
    inputs: dict[str, list[Any]]
    end: int


def read_marked(path: Path, offset: int, limit: int = READ_BYTES) -> tuple[list[Line], int]:
    """The marked requests in ``path`` from byte ``offset`` (whole lines only), and the offset
    after the last whole line read. Unmarked lines are skipped without parsing them."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(limit)
    except FileNotFoundError:
        return [], offset
    cut = data.rfind(b"\n")
    if cut < 0:
        return [], offset
    out, at = [], offset
    for raw in data[:cut + 1].splitlines(keepends=True):
        at += len(raw)
        if b'"shadow_version":null' in raw or b'"shadow_version"' not in raw:
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue  # a line cut by a crash mid-write
        if rec.get("kind") == "request" and rec.get("shadow_version") is not None and rec.get("inputs"):
            out.append(Line(rec["id"], rec["shadow_version"], rec["time"], rec.get("day", 0.0), rec["inputs"], at))
    return out, offset + cut + 1


def last_logged_offset(path: Path) -> int:
    """The request-log offset (``log_offset``) of the last whole line of the shadow's log ``path``,
    0 when there is none. A line cut by a kill mid-write is ended, so the next line starts clean."""
    try:
        with open(path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - (256 << 10)))
            tail = f.read()
            if tail and not tail.endswith(b"\n"):
                f.write(b"\n")
    except FileNotFoundError:
        return 0
    for raw in reversed(tail.splitlines()):
        try:
            return int(json.loads(raw)["log_offset"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


@dataclass
class State:
    """What the service keeps in ``shadow/state.json``."""

    version: int | None = None
    percent: float = 0.0
    fault: str | None = None
    state: str | None = None
    warmed: bool = False
    offset: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    crash_times: list[float] = field(default_factory=list)
    crashes: int = 0
    pid: int | None = None
    clean: bool = False  # the process stopped on purpose (SIGTERM), not killed

    def counts(self) -> dict[str, int]:
        c = {"answered": 0, "dropped": 0, "failed": 0}
        for status, n in self.statuses.items():
            c[group(status)] = c.get(group(status), 0) + n
        return {"mirrored": sum(self.statuses.values()), **c, "pending": 0}

    def to_json(self, loop: CrashLoop) -> dict[str, Any]:
        return {"version": self.version, "percent": self.percent, "fault": self.fault, "state": self.state,
                "warmed": self.warmed, **self.counts(), "crashes": self.crashes,
                "recent_crashes": loop.recent(time.time()),
                "pid": self.pid if self.state == "ready" else None, "offset": self.offset,
                "statuses": self.statuses, "crash_times": self.crash_times, "clean": self.clean}


class ShadowService:
    def __init__(self, home: Home, model_name: str, tracking_uri: str,
                 spawner: ThreadPoolExecutor | None = None) -> None:
        self.home = home
        self.spawner = spawner  # a thread at normal priority: workers inherit the policy of the thread that spawns them
        self.model_name = model_name
        self.request_log = home.serving / "requests.jsonl"
        self._close_cut_line(shadow_log_path(self.request_log))
        self.out = RequestLog(shadow_log_path(self.request_log))
        self.state_path = home.root / "shadow" / "state.json"
        self.registry = RegistryFollower(tracking_uri, model_name, lambda _c: None)
        self.hung_seconds = float(os.environ.get("LAB_SHADOW_HUNG_SECONDS") or HUNG_SECONDS)
        self.st = State()
        self.loop = CrashLoop()
        self.pool: ProcessPoolExecutor | None = None
        self.warm: Future | None = None
        self.restart_at = 0.0
        self._registry_at = 0.0
        self._resume()

    @staticmethod
    def _close_cut_line(path: Path) -> None:
        last_logged_offset(path)

    # -- state ------------------------------------------------------------------
    def _resume(self) -> None:
        """Pick up where the previous process left off; a previous process that was killed counts as a crash."""
        try:
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = None
        if not saved:  # first start: begin at the end of the log (nothing was marked for a shadow yet)
            self.st.offset = self.request_log.stat().st_size if self.request_log.exists() else 0
            return
        self.st = State(saved.get("version"), saved.get("percent", 0.0), saved.get("fault"), saved.get("state"),
                        bool(saved.get("warmed")), int(saved.get("offset", 0)), dict(saved.get("statuses") or {}),
                        list(saved.get("crash_times") or []), int(saved.get("crashes", 0)))
        # lines logged after the last save say how far it had read: nothing is logged twice
        self.st.offset = max(self.st.offset, last_logged_offset(self.out.path))
        for t in self.st.crash_times:
            self.loop.crash(t)
        if self.st.version is not None and not saved.get("clean") and self.st.state != "crash_loop":
            self._count_crash("the shadow service was killed")
        if self.st.state not in (None, "crash_loop"):
            self.st.state = "restarting" if self.st.state == "restarting" else "warming"
            self.restart_at = 0.0

    def save(self) -> None:
        self.st.pid = os.getpid()
        write_json_atomic(self.state_path, self.st.to_json(self.loop))

    def _count_crash(self, why: str) -> None:
        now = time.time()
        self.st.crashes += 1
        self.st.crash_times = [t for t in self.st.crash_times if now - t <= self.loop.window_s] + [now]
        log.warning("shadow v%s crashed: %s", self.st.version, why)
        if self.loop.crash(now):
            self.st.state = "crash_loop"
            log.error("shadow v%s crash loop: no more restarts", self.st.version)
            Journal(self.home.journal).append(
                "shadow.crash_loop", {"model": self.model_name, "version": self.st.version,
                                      "crashes": self.loop.recent(now), "window_s": self.loop.window_s,
                                      "fault": self.st.fault, "last_error": why[:300]},
                day=Clock(self.home.clock_json).day(), actor="lab")
        else:
            self.st.state = "restarting"
            self.restart_at = time.monotonic() + CRASH_BACKOFF_SECONDS

    # -- the worker ---------------------------------------------------------------
    def _start_worker(self) -> None:
        self._stop_worker()

        def spawn() -> tuple[ProcessPoolExecutor, Future]:
            pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"),
                                       initializer=shadow_worker.init)
            return pool, pool.submit(shadow_worker.load, self.model_name, self.st.version, self.st.fault)

        self.pool, self.warm = self.spawner.submit(spawn).result() if self.spawner else spawn()
        self.st.state = "warming"

    def _stop_worker(self) -> None:
        pool, self.pool, self.warm = self.pool, None, None
        if pool is None:
            return
        for p in list((getattr(pool, "_processes", None) or {}).values()):
            try:
                p.kill()
            except (OSError, AttributeError, ValueError):
                pass
        pool.shutdown(wait=False, cancel_futures=True)

    def configure(self, config: ShadowConfig) -> None:
        st = self.st
        if (st.version, st.percent, st.fault) == (config.version, config.percent, config.fault):
            return
        same_worker = (st.version, st.fault) == (config.version, config.fault) and config.version is not None
        if st.version != config.version:
            st.statuses = {}
            st.crashes = 0
        st.version, st.percent, st.fault = config.version, config.percent, config.fault
        log.info("shadow now %s", config)
        if same_worker:  # only the share changed
            return
        self.loop, st.crash_times, st.warmed = CrashLoop(), [], False
        self._stop_worker()
        if config.version is None:
            st.state = None
        else:
            self._start_worker()

    # -- the loop -------------------------------------------------------------------
    def step(self) -> bool:
        """One turn; True when it did work (no rest needed)."""
        now = time.monotonic()
        worked = self._turn(now)
        if worked or now - self._registry_at < REST_SECONDS:  # the registry was read this turn, or lines were
            self.save()
        return worked

    def _turn(self, now: float) -> bool:
        if now - self._registry_at >= REGISTRY_SECONDS:
            self._registry_at = now
            try:
                aliases, tags = self.registry.read_registry()
                self.configure(ShadowConfig(aliases.get("shadow"), float(tags.get("lab.shadow.percent", "100")),
                                            tags.get("lab.shadow.fault") or None))
            except Exception as exc:  # MLflow briefly unreachable
                log.warning("registry read failed: %s", exc)
        st = self.st
        if st.state == "restarting" and now >= self.restart_at:
            self._start_worker()
        if st.state == "warming" and self.pool is None:
            self._start_worker()  # resumed after a restart of this service
        if st.state == "warming" and self.warm is not None and self.warm.done():
            try:
                self.warm.result()
                st.state, st.warmed = "ready", True
                log.info("shadow v%s ready", st.version)
            except Exception as exc:
                self._stop_worker()
                self._count_crash(f"worker failed to load the model: {exc!r}")
        if st.state in ("warming", "restarting"):
            return False  # the lines wait in the log until the worker can score them
        lines, end = read_marked(self.request_log, st.offset)
        if not lines:
            st.offset = end
            return False
        if len(lines) > MAX_BACKLOG:  # fell behind: skip the oldest, logged, never queued
            self._log_all(lines[:-MAX_BACKLOG], "dropped", "the shadow fell behind the request log")
            st.offset = lines[-MAX_BACKLOG - 1].end
            lines = lines[-MAX_BACKLOG:]
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.version != st.version or st.state is None:
                self._log(line, None, "cancelled", "the shadow changed before it read the request")
                st.offset, i = line.end, i + 1
                continue
            if st.state == "crash_loop":
                self._log(line, None, "unavailable", "crash loop: the shadow is no longer restarted")
                st.offset, i = line.end, i + 1
                continue
            batch = [line]
            for x in lines[i + 1:i + self._batch_size()]:
                if x.version != st.version:
                    break
                batch.append(x)
            if not self._score(batch):
                break  # the worker crashed: the rest waits in the log for its replacement
            i += len(batch)
        if i >= len(lines):
            st.offset = end
        return True

    def _batch_size(self) -> int:
        parsed = parse_fault(self.st.fault)
        if parsed and parsed[0] == "delay_ms" and parsed[1] > 0:  # keep a slow batch well inside the hang limit
            return max(1, min(MAX_BATCH, int(self.hung_seconds * 500 / parsed[1])))
        return MAX_BATCH

    def _score(self, batch: list[Line]) -> bool:
        """Score one batch and log it; False when the worker crashed on it."""
        st = self.st
        try:
            future = self.pool.submit(shadow_worker.predict, st.version, [x.inputs for x in batch], st.fault)
            predictions = future.result(timeout=self.hung_seconds)
        except FutureTimeout:
            why = f"hung for more than {self.hung_seconds:.0f} s on one batch: worker killed"
        except BrokenProcessPool as exc:
            why = f"worker died: {exc!r}"[:200]
        except Exception as exc:  # the shadow raised
            self._log_all(batch, "error", repr(exc)[:200], timed=True)
            st.offset = batch[-1].end
            return True
        else:
            now = time.time()
            for line, prediction in zip(batch, predictions):
                latency = now - line.time
                self._log(line, prediction, "ok" if latency <= TIME_BOX_SECONDS else "late", None, latency)
            st.offset = batch[-1].end
            return True
        self._log_all(batch, "crashed", why, timed=True)
        st.offset = batch[-1].end
        self._stop_worker()
        self._count_crash(why)
        return False

    def _log_all(self, lines: list[Line], status: str, error: str | None, timed: bool = False) -> None:
        now = time.time()
        for line in lines:
            self._log(line, None, status, error, now - line.time if timed else None)

    def _log(self, line: Line, prediction: list[float] | None, status: str, error: str | None,
             latency_s: float | None = None) -> None:
        if line.version == self.st.version:
            self.st.statuses[status] = self.st.statuses.get(status, 0) + 1
        record = {"kind": "shadow", "id": line.id, "time": time.time(), "day": line.day,
                  "shadow_version": line.version, "shadow_prediction": prediction, "shadow_status": status,
                  "shadow_latency_ms": None if latency_s is None else round(latency_s * 1000, 3),
                  "log_offset": line.end}
        if error:
            record["shadow_error"] = error
        self.out.write(record)

    def close(self) -> None:
        self._stop_worker()
        self.st.clean = True
        self.save()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.serving.shadow_service", description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per registry read
    home = Home(resolve_home(args.home))
    stop = stop_on_signals()
    start_heartbeat(heartbeat_path(home.root, "shadow"), stop)  # its thread keeps normal priority
    os.environ.update(ONE_THREAD_ENV)  # the spawned workers start with it, before any library loads
    spawner = ThreadPoolExecutor(1, thread_name_prefix="spawner")
    spawner.submit(lambda: None).result()  # its thread exists before this one drops to idle
    shadow_worker.idle_priority()  # this thread, and threads it starts from here on
    from lab.scenario.schema import load_scenario

    model_name = load_scenario(home.config().scenario_file).model.name
    service = ShadowService(home, model_name, os.environ["MLFLOW_TRACKING_URI"], spawner)
    service.save()
    try:
        while not stop.is_set():
            stop.wait(GATHER_SECONDS if service.step() else REST_SECONDS)
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
