"""The live monitor's alerts: what one says, where it is kept, and where it is sent.

An alert is one signal of an alarming window::

    {"day": 23.4, "window": 7, "signal": "performance",
     "detail": "accuracy 0.812 on 500 labelled rows, 0.088 below the reference 0.900 (alarm beyond 0.05)"}

``signal`` is ``data`` (dataset drift), ``prediction`` (drift of the champion's scores),
``performance`` (a metric on labelled rows), ``business`` (a business KPI broke its bound)
or ``system`` (a service level objective was broken; lab.monitoring.observability_config); ``day`` is the scenario day the alarm
was raised on. The monitor journals each alarm once (``monitor.alert``, the alerts under
``data.alerts``), emits each alert as a Prefect event ``prodml-lab.alert.<signal>``, and
POSTs it as JSON to the alert webhook when one is set (``lab up`` / ``lab monitor``
``--alert-webhook URL``). Delivery runs in a background thread and never holds the
monitor up: up to ``WEBHOOK_ATTEMPTS`` attempts, ``WEBHOOK_TIMEOUT`` s each, waiting
0.5 s then 1 s between them; an alert that was never accepted (HTTP 2xx) is journaled
``alert.undelivered`` with the last error and the URL's scheme and host only. The URL
is kept in ``<home>/alert_webhook.json``, outside what evidence bundles copy.

This module imports no heavy library: ``lab status`` reads alerts through it.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from lab.core.checks import check_webhook_url
from lab.core.home import Home, read_json, write_json_atomic
from lab.core.journal import Journal
from lab.core.metrics import LOWER_IS_BETTER  # light: `lab status` imports no pandas

if TYPE_CHECKING:
    from lab.core.labconfig import LabConfig


SIGNALS = ("data", "prediction", "performance", "business", "system")
WEBHOOK_ATTEMPTS = 3
WEBHOOK_TIMEOUT = 2.0
WEBHOOK_BACKOFF = 0.5
PAYLOAD_SCHEMA_VERSION = 1


def details(record: dict[str, Any]) -> dict[str, str]:
    """One line per signal that fired on a window record (``lab.monitoring.runner``'s windows.jsonl).

    >>> details({"signals": ["data"], "drifted_columns": ["income", "age"], "drift_share": 0.25,
    ...          "column_count": 8, "dataset_drift_share": 0.25})
    {'data': '2 of 8 inputs drifted (share 0.25, alarm at 0.25): income, age'}
    """
    out: dict[str, str] = {}
    for signal in record.get("signals") or []:
        if signal == "data":
            drifted = record.get("drifted_columns") or []
            inputs = [c for c in drifted if c != "prediction"]
            out[signal] = (f"{len(inputs)} of {record.get('column_count', '?')} inputs drifted "
                           f"(share {record.get('drift_share', 0):.2f}, alarm at {record.get('dataset_drift_share', 0):g})"
                           + (f": {', '.join(inputs)}" if inputs else ""))
        elif signal == "prediction":
            test = record.get("prediction_test") or {}
            out[signal] = (f"prediction drift score {_g(record.get('prediction_score'))} "
                           f"({test.get('method', '?')}: drift when score {test.get('comparison', '?')} "
                           f"{_g(test.get('threshold'))})")
        elif signal == "performance":
            p = record.get("performance") or {}
            limits = []
            if p.get("min") is not None:
                limits.append(f"below {p['min']:g}")
            side = "above" if p.get("metric") in LOWER_IS_BETTER else "below"
            if p.get("max_drop") is not None:
                limits.append(f"more than {p['max_drop']:g} {side} the reference")
            value, ref = p.get("value"), p.get("reference_value")
            drop = (f", {abs(ref - value):.3f} {'above' if value > ref else 'below'} the reference {ref:.3f}"
                    if value is not None and ref is not None else "")
            out[signal] = (f"{p.get('metric', '?')} {_g(value)} on {p.get('n_labelled', 0)} labelled rows{drop} "
                           f"(alarm {' or '.join(limits) or 'never'})")
        elif signal == "business":
            out[signal] = "; ".join(
                f"{name} {_g(v.get('value'))} on {v.get('rows', 0)} decided rows with outcomes (bound: "
                + " and ".join(f"{b} {_g(v[b])}" for b in ("max", "min") if v.get(b) is not None)
                + (f"; reference {_g(v['reference'])})" if v.get("reference") is not None else ")")
                for name, v in (record.get("business") or {}).items() if v.get("breach")) or "a KPI broke its bound"
        elif signal == "system":
            sysfig = record.get("system") or {}
            said = [f"p99 latency {_g(sysfig.get('p99_ms'))} ms" for b in sysfig.get("breaches", []) if b == "p99_latency_ms"]
            said += [f"error rate {_g(sysfig.get('error_rate'))}" for b in sysfig.get("breaches", []) if b == "error_rate"]
            out[signal] = f"{', '.join(said) or 'an objective was broken'} over {sysfig.get('requests', 0)} requests"
    return out


def _g(x: Any) -> str:
    return "?" if x is None else f"{x:.3g}" if isinstance(x, float) else str(x)


def journal_alerts(home: Home) -> list[dict[str, Any]]:
    """Every alert so far, oldest first: ``{day, window, signal, detail}``."""
    out = []
    for e in Journal(home.journal).entries("monitor.alert"):
        listed = e["data"].get("alerts")
        if listed is None:  # an entry written before alerts carried details
            listed = [{"signal": s, "detail": ""} for s in e["data"].get("signals", [])]
        out += [{"day": e["day"], "window": e["data"].get("window"), "signal": a["signal"], "detail": a["detail"]}
                for a in listed]
    return out


def windows_path(home: Home):
    """The live monitor's per-window results (one JSON object a line)."""
    return home.root / "monitoring" / "windows.jsonl"


def live_metrics(home: Home) -> dict[str, Any] | None:
    """The champion's metrics on labelled rows as of the monitor's latest window (None before labels)."""
    path = windows_path(home)
    if not path.exists():
        return None
    last = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            last = line
    if last is None:
        return None
    record = json.loads(last)
    live = record.get("live")
    return None if not live else {"window": record["index"], "rows_up_to_day": record["last_day"], **live}


def business_figures(home: Home) -> dict[str, Any] | None:
    """The business KPIs and system figures of the monitor's latest window (None before its first).

    ``{"window", "last_day", "business": {kpi: {value, rows, reference, max, min, breach}},
    "system": {requests, p99_ms, error_rate, breaches}}``, as the KPI exporter serves them.
    """
    from lab.monitoring.exporter import latest_path

    try:
        latest = read_json(latest_path(home))
    except Exception:  # a damaged file: say nothing rather than fail `lab status`
        return None
    if not isinstance(latest, dict):
        return None
    return {"window": latest.get("index"), "last_day": latest.get("last_day"),
            "business": latest.get("business") or {}, "system": latest.get("system") or {}}


# -- the webhook --------------------------------------------------------------------------


def webhook_path(home: Home):
    """Outside ``monitoring/``, which evidence bundles copy: a webhook URL often holds a token."""
    return home.root / "alert_webhook.json"


def redacted(url: str) -> str:
    """Scheme and host only: the path and query of a webhook URL often hold a token.

    >>> redacted("https://hooks.example.com/services/T000/B000/XXXX?x=1")
    'https://hooks.example.com/...'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/..."


def set_webhook(home: Home, url: str) -> None:
    write_json_atomic(webhook_path(home), {"url": check_webhook_url(url) or None})


def webhook_url(home: Home) -> str | None:
    return (read_json(webhook_path(home)) or {}).get("url")


def payload(alert: dict[str, Any], cfg: LabConfig | None, home: Home) -> dict[str, Any]:
    """The JSON body POSTed for one alert."""
    return {
        "schema_version": PAYLOAD_SCHEMA_VERSION,
        "kind": "prodml-lab.alert",
        **{k: alert[k] for k in ("day", "window", "signal", "detail")},
        "scenario": cfg.scenario if cfg else None,
        "seed": cfg.seed if cfg else None,
        "home": str(home.root),
        "sent_at": datetime.now(timezone.utc).isoformat(),
    }


def deliver(url: str, body: dict[str, Any], journal: Journal, *, attempts: int = WEBHOOK_ATTEMPTS,
            timeout: float = WEBHOOK_TIMEOUT, backoff: float = WEBHOOK_BACKOFF) -> threading.Thread:
    """POST ``body`` to ``url`` in a daemon thread (returned, started); journal a failed delivery."""

    def run() -> None:
        error = None
        for attempt in range(attempts):
            try:
                r = httpx.post(url, json=body, timeout=timeout)
                if 200 <= r.status_code < 300:
                    return
                error = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                error = repr(exc)[:300]
            if attempt < attempts - 1:
                time.sleep(backoff * 2**attempt)
        journal.append("alert.undelivered", {"url": redacted(url), "attempts": attempts, "error": error,
                                             "window": body.get("window"), "signal": body.get("signal")},
                       day=body.get("day"), actor="monitor")

    thread = threading.Thread(target=run, name="alert-webhook", daemon=True)
    thread.start()
    return thread
