"""Shadow mirroring, built because BentoML OSS has none.

What a correct shadow is (Istio mirroring, Seldon shadows and KServe agree):

* the client always gets the champion's answer; the shadow can never change, delay
  or fail it: the shadow runs in a separate, lower-priority process, is handed the
  request after the champion answered, and its errors, slowness or crashes stay there;
* the shadow receives the identical rows; its prediction is logged under the same
  request id with its version;
* a configurable share of requests is mirrored, chosen by a hash of the request id
  (so a retried request is mirrored or not, consistently).

Drills can make the shadow misbehave with the registered-model tag
``lab.shadow.fault``: ``delay_ms=200``, ``error``, or ``crash`` (the worker exits).

Shadow statuses in the request log: ``ok``, ``late`` (after the time box), ``error``,
``crashed``, ``dropped`` (queue full), ``unavailable`` (restarting after a crash),
``cancelled`` (the shadow was stopped while the request waited).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

import pandas as pd

from lab.serving.follower import ShadowConfig

log = logging.getLogger("lab.serving.shadow")

#: At most this many mirrored requests wait for the shadow; beyond it they are dropped.
MAX_PENDING = 64
#: A shadow answer later than this is logged as "late" (the client never waited for it).
TIME_BOX_SECONDS = 2.0
#: A shadow busy longer than this is considered hung: its worker is replaced.
HUNG_SECONDS = 30.0
#: After the shadow's worker crashed, mirrored requests are skipped this long.
CRASH_BACKOFF_SECONDS = 5.0

_worker_models: dict[int, Any] = {}


def _worker_init() -> None:
    if os.getpriority(os.PRIO_PROCESS, 0) < 10:
        os.nice(10 - os.getpriority(os.PRIO_PROCESS, 0))  # the champion wins the CPU


def _worker_load(model_name: str, version: int) -> None:
    if version not in _worker_models:
        from lab.serving.follower import load_sklearn

        _worker_models[version] = load_sklearn(model_name, version)


def _worker_predict(model_name: str, version: int, X: pd.DataFrame, fault: str | None) -> list[float]:
    if fault == "crash":
        os._exit(13)
    if fault == "error":
        raise RuntimeError("injected shadow failure")
    if fault and fault.startswith("delay_ms="):
        time.sleep(float(fault.split("=", 1)[1]) / 1000)
    _worker_load(model_name, version)
    proba = _worker_models[version].predict_proba(X)[:, 1]
    return [round(float(p), 6) for p in proba]


def sampled(request_id: str, percent: float) -> bool:
    """Deterministic per request id: the same id is always in or out."""
    if percent >= 100:
        return True
    bucket = int.from_bytes(hashlib.sha1(request_id.encode()).digest()[:4], "big") % 10_000
    return bucket < percent * 100


class ShadowMirror:
    def __init__(self, model_name: str, write: Callable[[dict[str, Any]], None]) -> None:
        self.model_name = model_name
        self.write = write
        self.config = ShadowConfig(None, 0.0, None)
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0  # after a crash, wait before starting a new worker
        self._warm: Future | None = None

    # -- configuration (from the registry follower) --------------------------------
    def configure(self, config: ShadowConfig) -> None:
        self.config = config
        self._warm = None
        self._down_until = 0.0
        if config.version is None:
            self._shutdown_pool()
            return
        if self._pool is None:
            self._pool = self._new_pool()
        # warm up now (start the worker, load the model), not on a client's request
        self._warm = self._pool.submit(_worker_load, self.model_name, config.version)
        self._lower_priority(self._pool)
        log.info("shadow now %s", config)

    @property
    def ready(self) -> bool:
        """True once the shadow's worker has loaded the model (or failed to: it is then 'ready' to fail)."""
        return self._warm is not None and self._warm.done()

    @staticmethod
    def _lower_priority(pool: ProcessPoolExecutor) -> None:
        """Nice the worker from the start: its imports and model load must not slow the champion."""
        for p in list(getattr(pool, "_processes", {}).values()):
            try:
                os.setpriority(os.PRIO_PROCESS, p.pid, 10)
            except (OSError, TypeError):
                pass

    def _new_pool(self) -> ProcessPoolExecutor:
        import multiprocessing as mp

        return ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"), initializer=_worker_init)

    def _shutdown_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            for p in list(getattr(pool, "_processes", {}).values()):
                p.kill()
            pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._pending.clear()

    @property
    def active(self) -> bool:
        return self.config.version is not None

    # -- the request path ----------------------------------------------------------
    def mirror(self, request_id: str, X: pd.DataFrame, day: float) -> int | None:
        """Hand the rows to the shadow; returns the shadow version, or None if not mirrored.

        Never raises and never blocks: every failure is logged as the shadow's.
        """
        config = self.config
        if config.version is None or not self.ready or not sampled(request_id, config.percent):
            return None  # no shadow, still warming up, or not in the mirrored share
        try:
            with self._lock:
                self._reap_hung()
                if time.monotonic() < self._down_until:
                    self._log(request_id, config.version, day, None, "unavailable", "restarting after a crash")
                    return config.version
                if self._pool is None:
                    self._pool = self._new_pool()
                if len(self._pending) >= MAX_PENDING:
                    self._log(request_id, config.version, day, None, "dropped", None)
                    return config.version
                self._pending[request_id] = time.monotonic()
                pool = self._pool
                future = pool.submit(_worker_predict, self.model_name, config.version, X, config.fault)
            started = time.perf_counter()
            future.add_done_callback(lambda f: self._done(f, request_id, config.version, day, started, pool))
        except Exception as exc:  # a broken pool: replace it, and the client never notices
            self._log(request_id, config.version, day, None, "error", repr(exc)[:200])
            self._replace_pool()
        return config.version

    def _done(self, future: Future, request_id: str, version: int, day: float, started: float,
              pool: ProcessPoolExecutor) -> None:
        latency = (time.perf_counter() - started) * 1000
        with self._lock:
            self._pending.pop(request_id, None)
        if future.cancelled() or pool is not self._pool:  # the shadow was stopped or replaced meanwhile
            self._log(request_id, version, day, None, "cancelled", None)
            return
        try:
            prediction = future.result()
            status = "ok" if latency <= TIME_BOX_SECONDS * 1000 else "late"
            self._log(request_id, version, day, prediction, status, None, latency)
        except BrokenProcessPool as exc:
            self._log(request_id, version, day, None, "crashed", repr(exc)[:200], latency)
            self._replace_pool()
        except Exception as exc:
            self._log(request_id, version, day, None, "error", repr(exc)[:200], latency)

    def _replace_pool(self) -> None:
        """Drop a broken worker; a new one starts on a later request, after a back-off."""
        with self._lock:
            old, self._pool = self._pool, None
            self._pending.clear()
            self._down_until = time.monotonic() + CRASH_BACKOFF_SECONDS
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def _reap_hung(self) -> None:
        if self._pending and time.monotonic() - min(self._pending.values()) > HUNG_SECONDS and self._pool:
            for p in list(getattr(self._pool, "_processes", {}).values()):
                p.kill()

    def _log(self, request_id: str, version: int, day: float, prediction: list[float] | None, status: str,
             error: str | None, latency_ms: float | None = None) -> None:
        record = {"kind": "shadow", "id": request_id, "time": time.time(), "day": day, "shadow_version": version,
                  "shadow_prediction": prediction, "shadow_status": status,
                  "shadow_latency_ms": None if latency_ms is None else round(latency_ms, 3)}
        if error:
            record["shadow_error"] = error
        self.write(record)
