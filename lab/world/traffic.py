"""The traffic replayer: sends the scenario's stream to the serving API at its rate.

Each request carries ``traffic.batch_size`` rows of the current scenario day (drifted
from the onset on, as the drift engine says), with an ``X-Request-ID``. Every
request's outcome goes to ``<home>/traffic/requests.jsonl`` (``id``, ``time``, ``day``,
``status``, ``latency_ms``, ``model_version``, ``error``); counters are served on
``GET /health`` of the replayer's own port.

Traffic follows the scenario clock. While the lab is paused (``lab pause``) and before
the clock starts it sends nothing (``/health`` says ``state: paused`` or ``waiting for
the clock``). Once the scenario has ended it holds the final state: it keeps sending
rows of the last day (``state: scenario ended``), so shadowing, promoting and rolling
back still work after the end, while the clock, the events and the labels have stopped.

Run by the supervisor: ``python -m lab.world.traffic --home H``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from lab.scenario.data import day_frame
from lab.scenario.generators import generator_class
from lab.core.home import Clock, Home, resolve_home
from lab.core.worker import stop_on_signals
from lab.scenario.run import effective_scenario, overrides_path
from lab.serving.requestlog import RequestLog

HOLD_POLL_SECONDS = 0.25


class Counters:
    def __init__(self) -> None:
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self.last_error: str | None = None
        self.started = time.time()
        self.ready = False  # True once the serving API answered and traffic flows
        self.state = "starting"  # sending, paused, waiting for the clock, scenario ended (still sending)

    def snapshot(self, day: float) -> dict:
        return {
            "status": "ok",
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "last_error": self.last_error,
            "state": self.state,
            "day": round(day, 3),
            "uptime_s": round(time.time() - self.started, 1),
        }


def serve_health(port: int, counters: Counters, clock: Clock, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") not in ("/health", ""):
                self.send_error(404)
                return
            snapshot = counters.snapshot(clock.day())
            if not counters.ready:
                snapshot["status"] = "waiting for the serving API"
            body = json.dumps(snapshot).encode()
            self.send_response(200 if counters.ready else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def wait_for_serving(client: httpx.AsyncClient, url: str, stop: asyncio.Event) -> None:
    """Poll the serving API's readiness; traffic starts only once it answers."""
    while not stop.is_set():
        try:
            if (await client.get(url + "/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.25)
        except asyncio.TimeoutError:
            pass


def hold_reason(clock: Clock) -> str | None:
    """Why traffic sends nothing now (None: it sends): the clock is paused or not started.

    At the scenario's end the clock stands still on the last day but is not paused:
    traffic goes on with that day's rows.
    """
    if clock.paused:
        return "paused"
    if not clock.running:
        return "waiting for the clock"
    return None


async def replay(home: Home, stop: asyncio.Event, counters: Counters) -> None:
    scenario, seed = effective_scenario(home)
    overrides = overrides_path(home)
    overrides_seen = overrides.stat().st_mtime if overrides.exists() else None
    model_inputs = generator_class(scenario.generator.name).feature_names()
    clock = Clock(home.clock_json)
    log = RequestLog(home.traffic / "requests.jsonl")
    url = home.url("serving") + "/predict"
    interval = 1.0 / scenario.traffic.requests_per_second
    batch = scenario.traffic.batch_size
    cache: dict[int, list[dict]] = {}
    cursor: dict[int, int] = {}
    inflight = asyncio.Semaphore(32)

    def next_rows(day: int) -> tuple[list[dict], int]:
        nonlocal scenario, overrides_seen
        mtime = overrides.stat().st_mtime if overrides.exists() else None
        if mtime != overrides_seen:  # `lab inject` moved an event: follow the new onset
            overrides_seen = mtime
            scenario, _ = effective_scenario(home)
            cache.clear()
        if day not in cache:
            cache.clear()
            frame = day_frame(scenario, seed, day)
            cache[day] = frame[model_inputs].to_dict(orient="records")
            cursor[day] = 0
        rows = cache[day]
        start = cursor[day]
        cursor[day] = (start + batch) % len(rows)
        return [rows[(start + i) % len(rows)] for i in range(batch)], start

    async def send(client: httpx.AsyncClient, rows: list[dict], start: int, day: float) -> None:
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        record = {"id": request_id, "time": time.time(), "day": round(day, 4), "row_day": int(day),
                  "row_start": start, "n_rows": len(rows)}
        try:
            r = await client.post(url, json={"rows": rows}, headers={"X-Request-ID": request_id})
            record["status"] = r.status_code
            if r.status_code == 200:
                record["model_version"] = r.json().get("model_version")
                counters.ok += 1
            else:
                record["error"] = r.text[:300]
                counters.failed += 1
                counters.last_error = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            record["status"] = 0
            record["error"] = repr(exc)[:300]
            counters.failed += 1
            counters.last_error = repr(exc)[:200]
        finally:
            inflight.release()
        record["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        counters.sent += 1
        log.write(record)

    async with httpx.AsyncClient(timeout=10.0) as client:
        await wait_for_serving(client, home.url("serving"), stop)
        counters.ready = True
        next_tick = time.perf_counter()
        tasks: set[asyncio.Task] = set()
        while not stop.is_set():
            held = hold_reason(clock)
            if held:
                counters.state = held
                try:
                    await asyncio.wait_for(stop.wait(), timeout=HOLD_POLL_SECONDS)
                except asyncio.TimeoutError:
                    pass
                next_tick = time.perf_counter()
                continue
            counters.state = "scenario ended" if clock.ended() else "sending"
            day = clock.day()
            await inflight.acquire()
            rows, start = next_rows(int(day))
            task = asyncio.create_task(send(client, rows, start, day))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_tick += interval
            delay = next_tick - time.perf_counter()
            if delay < -1.0:  # fell behind (machine busy): don't burst to catch up
                next_tick = time.perf_counter()
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(delay, 0))
            except asyncio.TimeoutError:
                pass
        if tasks:
            await asyncio.wait(tasks, timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (a container: 0.0.0.0)")
    args = parser.parse_args(argv)
    run(Home(resolve_home(args.home)), args.port, args.host, stop_on_signals())
    return 0


def run(home: Home, port: int, host: str, stop: threading.Event) -> None:
    """Serve /health on ``port`` and replay until ``stop`` is set (alone, or as a thread of
    lab.workers.stack_worker)."""
    counters = Counters()
    server = serve_health(port, counters, Clock(home.clock_json), host)

    async def replay_until_stopped() -> None:
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()

        def relay() -> None:  # the thread-safe stop, into this event loop
            stop.wait()
            if not loop.is_closed():
                loop.call_soon_threadsafe(stopped.set)

        threading.Thread(target=relay, name="traffic-stop", daemon=True).start()
        await replay(home, stopped, counters)

    try:
        asyncio.run(replay_until_stopped())
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
