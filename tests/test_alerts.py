"""Alerts without the stack: what they say, how `lab status` lists them, how the webhook delivers them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab.monitoring import alerts

from lab.stack import control as stack
from lab.core.home import Clock, Home, free_port
from lab.core.journal import Journal
from tests.conftest import run_lab

WINDOW = {
    "index": 7, "last_day": 23.1, "signals": ["prediction", "performance"], "drifted_columns": [],
    "drift_share": 0.0, "column_count": 8, "dataset_drift_share": 0.5,
    "prediction_score": 0.1234, "prediction_test": {"method": "wasserstein", "comparison": ">=", "threshold": 0.1},
    "performance": {"metric": "accuracy", "value": 0.812, "reference_value": 0.9, "n_labelled": 500,
                    "min": None, "max_drop": 0.05, "alarm": True},
}


def test_each_signal_is_described_with_its_figures():
    said = alerts.details(WINDOW)
    assert set(said) == {"prediction", "performance"}
    assert said["prediction"] == "prediction drift score 0.123 (wasserstein: drift when score >= 0.1)"
    assert said["performance"] == ("accuracy 0.812 on 500 labelled rows, 0.088 below the reference 0.900 "
                                   "(alarm more than 0.05 below the reference)")


def test_journal_alerts_lists_one_alert_per_signal(tmp_path: Path):
    home = Home(tmp_path)
    j = Journal(home.journal)
    j.append("monitor.alert", {"window": 3, "signals": ["data"]}, day=12.0, actor="monitor")  # an older entry
    j.append("monitor.alert", {"window": 7, "signals": ["prediction", "performance"],
                               "alerts": [{"signal": s, "detail": d} for s, d in alerts.details(WINDOW).items()]},
             day=23.5, actor="monitor")
    listed = alerts.journal_alerts(home)
    assert [(a["day"], a["window"], a["signal"]) for a in listed] == [
        (12.0, 3, "data"), (23.5, 7, "prediction"), (23.5, 7, "performance")]
    assert listed[2]["detail"].startswith("accuracy 0.812")


class _Receiver:
    """A local webhook: answers each POST with the next status in ``statuses`` (then 204)."""

    def __init__(self, statuses=(), gate: threading.Event | None = None) -> None:
        self.bodies: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                if gate is not None:
                    gate.wait(10)
                receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


BODY = {"schema_version": 1, "day": 23.5, "window": 7, "signal": "performance", "detail": "accuracy 0.812 ..."}


def test_webhook_delivers_the_alert_as_json(tmp_path: Path):
    r = _Receiver()
    try:
        journal = Journal(tmp_path / "journal.jsonl")
        alerts.deliver(r.url, BODY, journal, backoff=0.01).join(10)
        assert r.bodies == [BODY]
        assert not (tmp_path / "journal.jsonl").exists()
    finally:
        r.close()


def test_webhook_retries_then_succeeds(tmp_path: Path):
    r = _Receiver(statuses=[500, 503])
    try:
        journal = Journal(tmp_path / "journal.jsonl")
        alerts.deliver(r.url, BODY, journal, backoff=0.01).join(10)
        assert len(r.bodies) == 3
        assert not (tmp_path / "journal.jsonl").exists()
    finally:
        r.close()


def test_a_failed_delivery_is_journaled(tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl")
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    alerts.deliver(url, BODY, journal, attempts=2, backoff=0.01).join(10)
    [entry] = list(journal.entries())
    assert entry["kind"] == "alert.undelivered" and entry["actor"] == "monitor"
    assert entry["data"]["url"] == f"http://127.0.0.1:{url.split(':')[2].split('/')[0]}/..."  # no path: tokens live there
    assert entry["data"]["attempts"] == 2 and entry["data"]["window"] == 7
    assert "ConnectError" in entry["data"]["error"]


def test_delivery_never_blocks_the_caller(tmp_path: Path):
    gate = threading.Event()  # the receiver hangs until the gate opens
    r = _Receiver(gate=gate)
    try:
        thread = alerts.deliver(r.url, BODY, Journal(tmp_path / "journal.jsonl"), backoff=0.01)
        assert thread.is_alive() and thread.daemon and r.bodies == []  # returned while the POST hangs
        gate.set()
        thread.join(10)
        assert r.bodies == [BODY]
    finally:
        gate.set()
        r.close()


def test_webhook_url_is_kept_in_the_home_and_can_be_turned_off(tmp_path: Path):
    home = Home(tmp_path)
    assert alerts.webhook_url(home) is None
    alerts.set_webhook(home, "https://hooks.example.com/x")
    assert alerts.webhook_url(home) == "https://hooks.example.com/x"
    alerts.set_webhook(home, "")
    assert alerts.webhook_url(home) is None


@pytest.fixture
def prepared_home(tmp_path: Path) -> Home:
    """A lab home as `lab up` writes it before starting anything (no process runs)."""
    home = Home(tmp_path / "home")
    stack.prepare(home, "credit-concept-drift", 4, 10.0, 0)
    return home


def test_status_json_lists_alerts_live_metrics_and_the_end(prepared_home: Home):
    home = prepared_home
    Journal(home.journal).append("monitor.alert", {"window": 7, "signals": ["performance"], "alerts": [
        {"signal": "performance", "detail": alerts.details(WINDOW)["performance"]}]}, day=23.5, actor="monitor")
    windows = alerts.windows_path(home)
    windows.parent.mkdir(parents=True, exist_ok=True)
    live = {"champion_version": 1, "labelled_rows": 500, "roc_auc": 0.66, "accuracy": 0.812,
            "positive_rate": 0.188, "mean_score": 0.1}
    windows.write_text(json.dumps({**WINDOW, "live": live}) + "\n")
    clock = Clock(home.clock_json)
    clock.start(speed=10.0, end=40, now=0.0)  # long ago: the scenario is over
    clock.stop()
    st = json.loads(run_lab("status", "--json", home=home.root, check=True).stdout)
    assert st["alerts"] == [{"day": 23.5, "window": 7, "signal": "performance",
                             "detail": alerts.details(WINDOW)["performance"]}]
    assert st["live_metrics"] == {"window": 7, "rows_up_to_day": 23.1, **live}
    assert st["day"] == 40 and st["days"] == 40
    assert st["scenario_state"] == "ended" and st["scenario_ended"] is True
    text = run_lab("status", home=home.root, check=True).stdout
    assert "day 40.00 of 40  (scenario ended)" in text and "accuracy 0.812" in text


def test_the_default_live_config_checks_performance_on_labels():
    from lab.scenario.generators import generator_class
    from lab.monitoring.runner import DEFAULT_CONFIG, PREDICTION
    from lab.monitoring import load_monitoring_config

    kinds = {f.name: f.kind for f in generator_class("credit").features}
    kinds[PREDICTION] = "numeric"
    config = load_monitoring_config(DEFAULT_CONFIG, columns=kinds)
    assert config.performance is not None
    assert (config.performance.metric, config.performance.max_drop) == ("brier_score", 0.03)
    assert config.prediction_drift is None and config.data_drift.columns == {}  # Evidently's defaults otherwise


def test_a_calibration_alert_says_above_the_reference():
    from lab.monitoring import alerts
    from lab.monitoring.config import LOWER_IS_BETTER

    assert alerts.LOWER_IS_BETTER == LOWER_IS_BETTER
    record = {"signals": ["performance"],
              "performance": {"metric": "brier_score", "value": 0.138, "reference_value": 0.088, "n_labelled": 500,
                              "max_drop": 0.03, "min": None}}
    assert alerts.details(record)["performance"] == (
        "brier_score 0.138 on 500 labelled rows, 0.050 above the reference 0.088 "
        "(alarm more than 0.03 above the reference)")
