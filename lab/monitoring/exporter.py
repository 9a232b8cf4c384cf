"""The KPI exporter: the live monitor's business and system figures, for Prometheus.

``python -m lab.monitoring.exporter --home H --port P`` serves

* ``GET /health``: 200 with the latest window's index (JSON);
* ``GET /metrics``: Prometheus' text format (version 0.0.4), read from the files the live
  monitor writes under the lab home on each scrape, so the exporter holds no state and
  answers the same from any process or container that mounts the home:

  - ``lab_scenario_day``: the scenario clock;
  - ``lab_monitor_windows_total`` (a counter): windows the monitor has judged;
  - ``lab_business_kpi{kpi}``: each business KPI on the latest window's labelled rows
    (``lab_business_kpi_rows{kpi}``: how many decided rows it was computed on;
    ``lab_business_kpi_reference{kpi}``: its value on the reference window);
  - ``lab_business_kpi_threshold{kpi, bound}``: the bound the candidate's
    ``monitoring.yaml`` sets (``bound`` is ``max`` or ``min``, absolute);
  - ``lab_business_kpi_breach{kpi}``: 1 while the latest value breaks its bound;
  - ``lab_window_p99_latency_seconds`` and ``lab_window_error_ratio``: the latest
    window's system figures, as the monitor measured them from the request logs
    (serving's own histogram is BentoML's ``/metrics``: Prometheus scrapes both).

Business KPIs come from outcomes, so they lag decisions by the label delay: a series is
absent until its first labelled window. Under ``lab up`` the exporter runs as a thread of
the shared workers process (lab.workers.stack_worker); in compose and Kubernetes it is
its own small container. Standard library only (plus the lab's home helpers): it starts
in well under a second.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.core.home import Clock, Home, read_json, resolve_home
from lab.core.worker import stop_on_signals
from lab.errors import StateError

#: Written by the live monitor after each window (lab.monitoring.business.write_latest).
LATEST = "monitoring/latest.json"


def latest_path(home: Home) -> Path:
    return home.root / LATEST


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: Any) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return None
    return repr(float(value))


def render(day: float | None, latest: dict[str, Any] | None) -> str:
    """The exposition text for the clock's ``day`` and the monitor's ``latest`` record.

    >>> print(render(3.5, {"index": 7, "business": {"approved_default_rate": {"value": 0.06, "rows": 400,
    ...       "reference": 0.05, "max": 0.08, "breach": False}}}), end="")  # doctest: +ELLIPSIS
    # HELP lab_scenario_day The scenario clock, in days.
    # TYPE lab_scenario_day gauge
    lab_scenario_day 3.5
    ...
    lab_business_kpi{kpi="approved_default_rate"} 0.06
    ...
    lab_business_kpi_threshold{kpi="approved_default_rate",bound="max"} 0.08
    ...
    lab_business_kpi_breach{kpi="approved_default_rate"} 0
    """
    families: list[tuple[str, str, str, list[tuple[dict[str, str], str]]]] = []

    def family(name: str, help_text: str, samples: list[tuple[dict[str, str], Any]], kind: str = "gauge") -> None:
        kept = [(labels, text) for labels, v in samples if (text := _number(v)) is not None]
        families.append((name, help_text, kind, kept))

    latest = latest or {}
    family("lab_scenario_day", "The scenario clock, in days.", [({}, day)])
    family("lab_monitor_windows_total", "Windows the live monitor has judged.",
           [({}, latest.get("index", -1) + 1 if latest else 0)], kind="counter")
    business = latest.get("business") or {}
    family("lab_business_kpi", "Business KPI on the latest window's labelled, decided rows.",
           [({"kpi": k}, v.get("value")) for k, v in business.items()])
    family("lab_business_kpi_rows", "Decided rows with outcomes the KPI was computed on.",
           [({"kpi": k}, v.get("rows")) for k, v in business.items()])
    family("lab_business_kpi_reference", "The KPI on the reference window.",
           [({"kpi": k}, v.get("reference")) for k, v in business.items()])
    family("lab_business_kpi_threshold", "The bound monitoring.yaml sets on the KPI (absolute).",
           [({"kpi": k, "bound": b}, v.get(b)) for k, v in business.items() for b in ("max", "min")])
    family("lab_business_kpi_breach", "1 while the KPI's latest value breaks its bound.",
           [({"kpi": k}, bool(v.get("breach"))) for k, v in business.items() if v.get("value") is not None])
    system = latest.get("system") or {}
    family("lab_window_p99_latency_seconds", "p99 request latency over the latest window's requests.",
           [({}, None if system.get("p99_ms") is None else system["p99_ms"] / 1000.0)])
    family("lab_window_error_ratio", "Share of the latest window's requests that failed.",
           [({}, system.get("error_rate"))])
    out = []
    for name, help_text, kind, samples in families:
        if not samples:
            continue
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, text in samples:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{inner}}} {text}" if inner else f"{name} {text}")
    return "\n".join(out) + "\n"


def serve(home: Home, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve /health and /metrics on ``port`` in a daemon thread; the server (shut it down to stop)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0].rstrip("/")
            try:
                latest = read_json(latest_path(home))
            except StateError:  # written atomically, so only a damaged home: export nothing
                latest = None
            if path == "/metrics":
                try:
                    day: float | None = Clock(home.clock_json).day()
                except (StateError, ValueError, KeyError, TypeError):
                    day = None
                body = render(day, latest if isinstance(latest, dict) else None).encode()
                ctype = "text/plain; version=0.0.4; charset=utf-8"
            elif path in ("/health", ""):
                index = latest.get("index") if isinstance(latest, dict) else None
                body = json.dumps({"status": "ok", "window": index}).encode()
                ctype = "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="exporter-http", daemon=True).start()
    return server


def run(home: Home, port: int, host: str, stop: threading.Event) -> None:
    """Serve until ``stop`` is set (alone, or as a thread of lab.workers.stack_worker)."""
    server = serve(home, port, host)
    try:
        stop.wait()
    finally:
        server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (a container: 0.0.0.0)")
    args = parser.parse_args(argv)
    run(Home(resolve_home(args.home)), args.port, args.host, stop_on_signals())
    return 0


if __name__ == "__main__":
    sys.exit(main())
