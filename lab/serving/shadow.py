"""Shadow mirroring, built because BentoML OSS has none.

What a correct shadow is (Istio mirroring, Seldon shadows and KServe agree):

* the client always gets the champion's answer; the shadow can never change, delay
  or fail it: the shadow runs in a separate, lower-priority process, is handed the
  request after the champion answered, and its errors, slowness or crashes stay there;
* the shadow receives the identical rows; its prediction is logged under the same
  request id with its version;
* a configurable share of requests is mirrored, chosen by a hash of the request id
  (so a retried request is mirrored or not, consistently).

On the request path a mirrored request is only appended to a queue. The worker takes
the whole queue as one batch when it is free (one ``predict_proba`` per batch), so a
niced shadow keeps up on a busy machine; a full queue drops requests (``dropped``).

The worker's life (:class:`ShadowMirror`, driven by a keeper thread, off the request path):

* ``warming``: a new worker starts and loads the model; requests are routed to it
  only once it has (the ready handshake, :func:`lab.serving.shadow_worker.load`).
  Before the first ready, requests are not mirrored; after a crash, the requests
  chosen for the shadow are logged ``unavailable``.
* ``ready``: requests are mirrored. A batch the worker has been running for longer
  than ``HUNG_SECONDS`` (timed from when the worker started it, not from when it was
  queued) is a hang: the worker is killed, which counts as a crash.
* ``restarting``: after a crash, a new worker starts after ``CRASH_BACKOFF_SECONDS``.
* ``crash_loop``: 3 crashes within 5 minutes: no more restarts, ``on_crash_loop`` is
  called once (serving journals ``shadow.crash_loop``), and the requests chosen for the
  shadow are logged ``unavailable`` until the shadow is stopped or reconfigured.

Drills can make the shadow misbehave with the registered-model tag
``lab.shadow.fault``: ``delay_ms=N`` (each request costs N ms more), ``error``,
``crash`` (the worker exits), or ``load_delay_ms=N`` (each new worker takes N ms longer
to load). Statuses and their groups (answered, failed, dropped):
:mod:`lab.serving.shadow_state`.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable

from lab.serving import shadow_worker
from lab.serving.follower import ShadowConfig
from lab.serving.shadow_state import CrashLoop, group

log = logging.getLogger("lab.serving.shadow")

#: At most this many mirrored requests wait for the shadow; beyond it they are dropped.
MAX_QUEUED = 512
#: At most this many rows go to the worker in one batch (at least one request always does).
MAX_BATCH_ROWS = 5_000
#: A shadow answer later than this after mirroring is logged "late" (the client never waited for it).
TIME_BOX_SECONDS = 2.0
#: A batch the worker has run longer than this is a hang (``LAB_SHADOW_HUNG_SECONDS`` overrides, for tests).
HUNG_SECONDS = 30.0
#: After a crash, a new worker starts this much later.
CRASH_BACKOFF_SECONDS = 5.0
#: How often the keeper looks at the worker.
KEEP_SECONDS = 0.2


def sampled(request_id: str, percent: float) -> bool:
    """Deterministic per request id: the same id is always in or out."""
    if percent >= 100:
        return True
    bucket = int.from_bytes(hashlib.sha1(request_id.encode()).digest()[:4], "big") % 10_000
    return bucket < percent * 100


@dataclass(frozen=True, eq=False)
class _Job:
    """One mirrored request waiting for, or held by, the worker."""

    request_id: str
    version: int
    X: Any  # the champion's validated frame
    day: float
    mirrored_at: float  # perf_counter when mirrored


@dataclass(eq=False)
class _Worker:
    """One worker process (a one-process pool) and what serving knows of it."""

    pool: ProcessPoolExecutor
    busy_since: Any  # shared double: monotonic start of the batch in hand, 0.0 when idle
    warm: Future
    pid: int | None = None
    retired: bool = False  # stopped on purpose: the shadow was stopped or reconfigured
    hung: float | None = None  # seconds its batch had run when the hang check killed it
    crash_counted: bool = False

    @classmethod
    def start(cls, model_name: str, config: ShadowConfig) -> "_Worker":
        ctx = mp.get_context("spawn")
        busy_since = ctx.Value("d", 0.0, lock=False)
        pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=shadow_worker.init,
                                   initargs=(busy_since,))
        warm = pool.submit(shadow_worker.load, model_name, config.version, config.fault)
        for p in list((getattr(pool, "_processes", None) or {}).values()):
            try:  # nice it from the start: its imports and model load must not slow the champion
                os.setpriority(os.PRIO_PROCESS, p.pid, shadow_worker.NICE)
            except (OSError, TypeError):
                pass
        return cls(pool, busy_since, warm)

    def kill(self) -> None:
        for p in list((getattr(self.pool, "_processes", None) or {}).values()):
            try:
                p.kill()
            except (OSError, AttributeError, ValueError):
                pass
        self.pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Counts:
    mirrored: int = 0
    answered: int = 0
    dropped: int = 0
    failed: int = 0
    crashes: int = 0

    def add(self, status: str, n: int = 1) -> None:
        g = group(status)
        if g != "pending":
            setattr(self, g, getattr(self, g) + n)


#: A batch handed to the worker: by whom, which jobs, and its future.
_Batch = tuple[_Worker, list[_Job], Future]


class ShadowMirror:
    """Mirrors requests to one shadow worker; slow work (spawning, killing, logging) runs outside its lock."""

    def __init__(self, model_name: str, write: Callable[[dict[str, Any]], None],
                 on_crash_loop: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.model_name = model_name
        self.write = write
        self.on_crash_loop = on_crash_loop
        self.hung_seconds = float(os.environ.get("LAB_SHADOW_HUNG_SECONDS") or HUNG_SECONDS)
        self.config = ShadowConfig(None, 0.0, None)
        self.state: str | None = None
        self._worker: _Worker | None = None
        self._ever_ready = False
        self._restart_at = 0.0
        self._loop = CrashLoop()
        self._counts = _Counts()
        self._queue: deque[_Job] = deque()
        self._in_flight: list[_Job] | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        threading.Thread(target=self._keep, name="shadow-keeper", daemon=True).start()

    # -- configuration (from the registry follower) --------------------------------
    def configure(self, config: ShadowConfig) -> None:
        with self._lock:
            previous, self.config = self.config, config
            if config.version is not None and (previous.version, previous.fault) == (config.version, config.fault):
                log.info("shadow now %s", config)  # only the share changed: the worker stays
                return
            old = self._detach(retire=True)
            flushed = self._flush()
            if previous.version != config.version:
                self._counts = _Counts()
            self._loop = CrashLoop()
            self._ever_ready = False
            self.state = None if config.version is None else "warming"
        if old is not None:
            old.kill()
        self._log_jobs(flushed, "cancelled", None)
        if config.version is not None:
            self._install(config)
        log.info("shadow now %s", config)

    def _install(self, config: ShadowConfig) -> None:
        """Start a worker for ``config`` and make it the shadow's, unless the shadow changed meanwhile."""
        worker = _Worker.start(self.model_name, config)
        with self._lock:
            if self.config == config and self.state == "warming" and self._worker is None:
                self._worker = worker
                return
        worker.retired = True
        worker.kill()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def active(self) -> bool:
        return self.config.version is not None

    def snapshot(self) -> dict[str, Any] | None:
        """The shadow as `lab status` shows it; None when there is no shadow."""
        with self._lock:
            if self.config.version is None:
                return None
            c = self._counts
            return {"version": self.config.version, "state": self.state, "percent": self.config.percent,
                    "fault": self.config.fault, "warmed": self._ever_ready, "mirrored": c.mirrored, "answered": c.answered,
                    "dropped": c.dropped, "failed": c.failed,
                    "pending": c.mirrored - c.answered - c.dropped - c.failed,
                    "crashes": c.crashes, "recent_crashes": self._loop.recent(time.monotonic()),
                    "pid": self._worker.pid if self._worker and self.state == "ready" else None}

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            old = self._detach(retire=True)
            flushed = self._flush()
        if old is not None:
            old.kill()
        self._log_jobs(flushed, "cancelled", None)

    # -- the worker's life (the underscore methods without _log run under the lock) --------
    def _detach(self, retire: bool) -> _Worker | None:
        worker, self._worker = self._worker, None
        if worker is not None and retire:
            worker.retired = True
        return worker

    def _flush(self) -> list[_Job]:
        """Empty the queue (its worker is gone); the batch in flight, if any, is its callback's to log."""
        jobs = list(self._queue)
        self._queue.clear()
        self._in_flight = None
        return jobs

    def _crashed(self, worker: _Worker, why: str) -> tuple[dict[str, Any] | None, list[_Job]]:
        """Count one crash of ``worker`` (once). Returns the crash-loop record when this crash
        makes a loop, and the queued jobs it leaves without a worker. The caller kills the
        worker and logs the jobs after releasing the lock."""
        if worker.crash_counted or worker.retired or worker is not self._worker:
            return None, []
        worker.crash_counted = True
        self._detach(retire=False)
        self._counts.crashes += 1
        now = time.monotonic()
        log.warning("shadow v%s worker crashed: %s", self.config.version, why)
        if self._loop.crash(now):
            self.state = "crash_loop"
            log.error("shadow v%s crash loop: %d crashes within %.0f s; no more restarts",
                      self.config.version, self._loop.recent(now), self._loop.window_s)
            record = {"version": self.config.version, "crashes": self._loop.recent(now),
                      "window_s": self._loop.window_s, "fault": self.config.fault, "last_error": why}
            return record, self._flush()
        self.state = "restarting"
        self._restart_at = now + CRASH_BACKOFF_SECONDS
        return None, self._flush()

    def _dispatch(self) -> _Batch | None:
        """Hand the queue to the worker as one batch, when it is ready and free."""
        worker = self._worker
        if self.state != "ready" or worker is None or self._in_flight is not None or not self._queue:
            return None
        jobs, rows = [], 0
        while self._queue and (not jobs or rows + len(self._queue[0].X) <= MAX_BATCH_ROWS):
            job = self._queue.popleft()
            jobs.append(job)
            rows += len(job.X)
        try:
            future = worker.pool.submit(shadow_worker.predict, jobs[0].version, [j.X for j in jobs],
                                        self.config.fault)
        except Exception as exc:  # its pool broke: the keeper sees it and counts the crash
            log.warning("shadow worker refused a batch: %r", exc)
            self._queue.extendleft(reversed(jobs))
            return None
        self._in_flight = jobs
        return worker, jobs, future

    def _watch(self, batch: _Batch | None) -> None:
        """Outside the lock: be told when the batch is done (at once, if it is already)."""
        if batch is not None:
            worker, jobs, future = batch
            future.add_done_callback(lambda f: self._done(f, worker, jobs))

    def _keep(self) -> None:
        while not self._stop.wait(KEEP_SECONDS):
            try:
                self._keep_once()
            except Exception:  # the keeper must outlive any surprise
                log.exception("shadow keeper")

    def _keep_once(self) -> None:
        loop, dead, restart, orphans, batch = None, None, None, [], None
        with self._lock:
            worker, now = self._worker, time.monotonic()
            if self.state == "warming" and worker is not None and worker.warm.done():
                try:
                    worker.pid = worker.warm.result()
                    self.state = "ready"
                    self._ever_ready = True
                    log.info("shadow v%s ready (worker %s)", self.config.version, worker.pid)
                except (Exception, CancelledError) as exc:
                    dead = worker
                    loop, orphans = self._crashed(worker, f"worker failed to load the model: {exc!r}"[:300])
            elif self.state == "ready" and worker is not None:
                since = worker.busy_since.value
                if since and now - since > self.hung_seconds:
                    worker.hung = now - since
                    dead = worker
                    loop, orphans = self._crashed(worker, f"hung for {worker.hung:.1f} s on one batch: worker killed")
                elif getattr(worker.pool, "_broken", False):  # died while idle
                    dead = worker
                    loop, orphans = self._crashed(worker, "worker exited while idle")
                else:
                    batch = self._dispatch()  # anything queued while nothing was in flight
            elif self.state == "restarting" and now >= self._restart_at:
                self.state = "warming"
                restart = self.config
        self._after(dead, orphans, loop)
        self._watch(batch)
        if restart is not None:
            self._install(restart)

    def _after(self, dead: _Worker | None, orphans: list[_Job], loop: dict[str, Any] | None) -> None:
        """Outside the lock, after a crash: kill the worker, log what it left queued, report a loop."""
        if dead is not None:
            dead.kill()
        self._log_jobs(orphans, "unavailable", "the shadow's worker crashed while the request was queued")
        if loop is not None and self.on_crash_loop is not None:
            try:
                self.on_crash_loop(loop)
            except Exception:
                log.exception("could not report the shadow's crash loop")

    # -- the request path ----------------------------------------------------------
    def mirror(self, request_id: str, X: Any, day: float) -> int | None:
        """Hand the rows to the shadow; returns the shadow version, or None if not mirrored.

        Never raises and never blocks: every failure is logged as the shadow's.
        """
        config = self.config
        version = config.version
        if version is None or not sampled(request_id, config.percent):
            return None
        status, why, batch = None, None, None
        try:
            with self._lock:
                if self.config.version != version:
                    return None
                if self.state != "ready" or self._worker is None:
                    if not self._ever_ready:
                        return None  # the first worker is still warming: mirroring begins once it is ready
                    status, why = "unavailable", ("crash loop: the shadow is no longer restarted"
                                                  if self.state == "crash_loop" else "restarting after a crash")
                elif len(self._queue) >= MAX_QUEUED:
                    status = "dropped"
                self._counts.mirrored += 1
                if status is None:
                    self._queue.append(_Job(request_id, version, X, day, time.perf_counter()))
                    batch = self._dispatch()
        except Exception as exc:  # a pool that broke between two looks: the keeper replaces it
            with self._lock:
                self._in_flight = None
                orphans = self._flush()
            self._log_jobs(orphans, "unavailable", repr(exc)[:200])
            return version
        if status is not None:
            self._log(request_id, version, day, None, status, why)
        self._watch(batch)
        return version

    def _done(self, future: Future, worker: _Worker, jobs: list[_Job]) -> None:
        loop, orphans, batch = None, [], None
        with self._lock:
            if self._in_flight is jobs:
                self._in_flight = None
        if worker.retired or future.cancelled():  # the shadow was stopped or reconfigured meanwhile
            self._log_jobs(jobs, "cancelled", None)
            return
        try:
            predictions = future.result()
            now = time.perf_counter()
            for job, prediction in zip(jobs, predictions):
                latency = (now - job.mirrored_at) * 1000
                status = "ok" if latency <= TIME_BOX_SECONDS * 1000 else "late"
                self._log(job.request_id, job.version, job.day, prediction, status, None, latency)
        except BrokenProcessPool as exc:
            why = (f"hung for {worker.hung:.1f} s on one batch: worker killed" if worker.hung is not None
                   else f"worker died: {exc!r}"[:200])
            self._log_jobs(jobs, "crashed", why, timed=True)
            with self._lock:
                loop, orphans = self._crashed(worker, why)
            self._after(worker, orphans, loop)
            return
        except Exception as exc:
            self._log_jobs(jobs, "error", repr(exc)[:200], timed=True)
        with self._lock:
            if worker is self._worker:
                batch = self._dispatch()
        self._watch(batch)

    def _log_jobs(self, jobs: list[_Job], status: str, error: str | None, timed: bool = False) -> None:
        """Log jobs without a prediction; ``timed``: with the time since mirroring (the shadow had them)."""
        now = time.perf_counter()
        for job in jobs:
            latency = (now - job.mirrored_at) * 1000 if timed else None
            self._log(job.request_id, job.version, job.day, None, status, error, latency)

    def _log(self, request_id: str, version: int, day: float, prediction: list[float] | None, status: str,
             error: str | None, latency_ms: float | None = None) -> None:
        with self._lock:
            if version == self.config.version:
                self._counts.add(status)
        record = {"kind": "shadow", "id": request_id, "time": time.time(), "day": day, "shadow_version": version,
                  "shadow_prediction": prediction, "shadow_status": status,
                  "shadow_latency_ms": None if latency_ms is None else round(latency_ms, 3)}
        if error:
            record["shadow_error"] = error
        self.write(record)
