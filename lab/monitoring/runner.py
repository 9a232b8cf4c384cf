"""Live drift monitoring: one Prefect flow run per window, on the lab's own Prefect server.

``python -m lab.monitoring.runner --home H`` (started by the supervisor) follows the serving
request log. Each time ``window.size`` new rows have been served it runs the flow
``drift-monitor`` (flow run "window N") which, with the candidate's config
(``<home>/monitoring/config.yaml``, set by ``lab monitor --config``; until then the lab's
default, :data:`DEFAULT_CONFIG`: Evidently's drift defaults for the inputs and the
prediction, and the Brier score (calibration) on labelled rows more than 0.03 above the
reference):

* tests every model input and the prediction against the reference window, with the
  methods and thresholds pinned when the config was applied (lab.monitoring);
* checks performance on the most recent labelled rows (labels arrive after the delay)
  and records the champion's live metrics on them;
* applies the alerting rule (``consecutive_windows``), journals ``monitor.window`` and,
  on an alarm, ``monitor.alert`` with one alert per signal (lab.monitoring.alerts), each also
  emitted as a Prefect event and POSTed to the alert webhook when one is set;
* adds the window to the lab run's Evidently workspace (``<home>/monitoring/evidently``,
  :mod:`lab.monitoring.workspace`): a drift snapshot with the pinned methods and thresholds,
  and the champion on the labelled rows; `lab dashboard` serves it with Evidently's UI;
* redraws ``<home>/reports/drift.png`` (scores and alarms over scenario days) after every
  window, the static view for reports.

The decisions come from the fast path (lab.monitoring.fastdrift); Evidently computes the
snapshots, a view: a snapshot that fails is printed and the window's decisions stand.

Results are appended to ``<home>/monitoring/windows.jsonl``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.monitoring import alerts
from lab.core.services import heartbeat_path
from lab.core.worker import start_heartbeat, stop_on_signals, wait_for_prefect
from lab.core.home import Clock, Home, resolve_home
from lab.core.journal import Journal
from lab.scenario.generators import generator_class
from lab.scenario.run import effective_scenario
from lab.serving.follower import load_sklearn
from lab.world.feedback import read_labels
from lab.serving.requestlog import merged

POLL_SECONDS = 1.0
DEFAULT_WINDOW = 500
PREDICTION = "prediction"
#: The live monitor's config until `lab monitor --config` applies one. Accuracy, not ROC
#: AUC: on credit-concept-drift's economic shock the champion's ROC AUC falls by only
#: 0.03-0.06 (one or two standard deviations on 500 rows), while accuracy falls from about
#: 0.90 to 0.81 as defaults double (about six standard deviations).
DEFAULT_CONFIG = "performance: {metric: brier_score, max_drop: 0.03}\n"
DEFAULT_SOURCE = "lab default: Evidently's drift defaults; Brier score more than 0.03 above the reference"
LIVE_METRICS = ("roc_auc", "accuracy")


def config_path(home: Home) -> Path:
    return home.root / "monitoring" / "config.yaml"


def windows_path(home: Home) -> Path:
    return alerts.windows_path(home)


class LiveMonitor:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.scenario, self.seed = effective_scenario(home)
        gen = generator_class(self.scenario.generator.name)
        self.kinds = {f.name: f.kind for f in gen.features}
        self.kinds[PREDICTION] = "numeric"
        self.features = gen.feature_names()
        self.reference = pd.read_parquet(home.data / "reference.parquet")
        self.journal = Journal(home.journal)
        self._reference_scores: dict[int, np.ndarray] = {}
        self.config_mtime: float | None = None
        self.config = None
        self.config_text = ""
        self.resolved = None
        self.resolved_version: int | None = None
        self.offset = 0  # bytes of the request log already read
        self.buffer: list[dict[str, Any]] = []
        self.window_index = sum(1 for _ in _read_lines(windows_path(home)))
        self.run_length = 0
        self.history: list[dict[str, Any]] = [json.loads(x) for x in _read_lines(windows_path(home))]
        self.workspace: Any = None  # lab.monitoring.workspace.WindowWorkspace, on the first window
        self.requests: list[tuple[int, int, float | None]] = []  # (log offset, status, latency_ms) not yet judged
        self.judge: Any = None  # lab.monitoring.business.ObservabilityJudge, per config and version
        if self.history:  # resume after a restart: skip the rows already judged
            self.offset = int(self.history[-1].get("log_offset", 0))

    # -- reference -------------------------------------------------------------------
    def reference_scores(self, version: int) -> np.ndarray:
        if version not in self._reference_scores:
            model = load_sklearn(self.scenario.model.name, version)
            self._reference_scores[version] = model.predict_proba(self.reference[self.features])[:, 1]
        return self._reference_scores[version]

    def reference_frame(self, version: int) -> pd.DataFrame:
        ref = self.reference[self.features].copy()
        ref[PREDICTION] = self.reference_scores(version)
        return ref

    # -- config ----------------------------------------------------------------------
    def read_config(self) -> bool:
        """Re-read the config when it changed (Evidently's defaults when there is none)."""
        # heavy: keep off the start-up path
        from lab.monitoring import load_monitoring_config

        path = config_path(self.home)
        mtime = path.stat().st_mtime if path.exists() else 0.0
        if self.config is not None and mtime == self.config_mtime:
            return False
        self.config_text = path.read_text(encoding="utf-8") if path.exists() else DEFAULT_CONFIG
        kpis = [k.name for k in self.scenario.business.kpis] if self.scenario.business else []
        self.config = load_monitoring_config(self.config_text, columns=self.kinds, kpis=kpis)
        self.config_mtime = mtime
        self.resolved = None
        return True

    def load_config(self, version: int) -> None:
        """Pin the config's methods and thresholds against the reference (once per config and version)."""
        # heavy: keep off the start-up path
        from lab.monitoring import resolve

        self.read_config()
        if self.resolved is not None and self.resolved_version == version:
            return
        self.resolved = resolve(self.config, self.reference_frame(version), self.kinds)
        self.resolved_version = version
        self.judge = self.observability_judge(version)
        path = config_path(self.home)
        text = self.config_text
        self.journal.append(
            "monitor.config",
            # relative to the home: evidence bundles carry the journal and hold no path of the home
            {"source": path.relative_to(self.home.root).as_posix() if path.exists() else DEFAULT_SOURCE,
             "sha256": hashlib.sha256(text.encode()).hexdigest(),
             "pins": {c: {"method": p.method, "threshold": p.threshold} for c, p in self.resolved.columns.items()}},
            day=self._day(),
        )

    def _day(self) -> float:
        return Clock(self.home.clock_json).day()

    # -- reading the request log -----------------------------------------------------
    def read_new_rows(self) -> None:
        path = self.home.serving / "requests.jsonl"
        if not path.exists():
            return
        with open(path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n")
        if end < 0:
            return
        base = self.offset
        self.offset += end + 1
        pos = 0
        for line in data[: end + 1].splitlines(keepends=True):
            pos += len(line)
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("kind") != "request":
                continue
            self.requests.append((base + pos, int(rec.get("status") or 0), rec.get("latency_ms")))
            if rec.get("status") != 200 or not rec.get("inputs"):
                continue
            for i, p in enumerate(rec["champion_prediction"]):
                row = {c: rec["inputs"][c][i] for c in self.features}
                row[PREDICTION] = p
                row["_id"], row["_day"], row["_version"] = rec["id"], rec["day"], rec["champion_version"]
                row["_offset"] = base + pos  # where to resume after this row's request, after a restart
                self.buffer.append(row)

    def window_size(self) -> int:
        self.read_config()
        return (self.config.window.size if self.config.window else None) or DEFAULT_WINDOW

    def labelled_tail(self, n: int, columns: list[str] = ()) -> pd.DataFrame:
        """The most recent ``n`` labelled rows served: ``label``, ``prediction`` and the input ``columns``."""
        labels = {r["request_id"]: r["labels"] for r in read_labels(self.home)}
        ys: list[int] = []
        ps: list[float] = []
        cols: dict[str, list] = {c: [] for c in columns}
        for rec in merged(self.home.serving / "requests.jsonl"):
            if rec.get("status") == 200 and rec["id"] in labels:
                ys += labels[rec["id"]]
                ps += rec["champion_prediction"]
                for c in columns:
                    cols[c] += rec["inputs"][c]
        frame = {"label": np.array(ys[-n:], dtype=float), PREDICTION: np.array(ps[-n:], dtype=float)}
        return pd.DataFrame({**frame, **{c: v[-n:] for c, v in cols.items()}})

    def observability_judge(self, version: int) -> Any:
        """The judge of ``business:`` and ``system:`` (lab.monitoring.business), with the KPIs' reference values."""
        from lab.monitoring.business import ObservabilityJudge, kpi_values

        business = self.scenario.business
        threshold = self.scenario.model.decision_threshold.value
        reference: dict[str, float | None] = {}
        if business is not None:
            ref = self.reference.copy()
            ref[PREDICTION] = self.reference_scores(version)
            reference = {k: v for k, (v, _) in kpi_values(business, ref, threshold).items()}
        return ObservabilityJudge(business, self.config.business, self.config.system, threshold, reference)

    def window_requests(self, last_offset: int) -> tuple[np.ndarray, int]:
        """The requests logged up to ``last_offset`` and not judged yet: (latencies of the answered ones, failures)."""
        mine = [r for r in self.requests if r[0] <= last_offset]
        self.requests = [r for r in self.requests if r[0] > last_offset]
        latencies = np.array([r[2] for r in mine if r[1] == 200 and r[2] is not None], dtype=float)
        return latencies, sum(1 for r in mine if r[1] != 200)


def _read_lines(path: Path):
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    run(Home(resolve_home(args.home)), stop_on_signals())
    return 0


def run(home: Home, stop: threading.Event) -> None:
    """The live monitor until ``stop`` is set (alone, or as a thread of lab.workers.stack_worker)."""
    start_heartbeat(heartbeat_path(home.root, "monitor"), stop)  # health for the supervisor

    from prefect import flow
    from prefect.events import emit_event

    # heavy: keep off the start-up path
    from lab.monitoring import check_performance, metric_value, window_drift
    from lab.monitoring.business import weight_columns, write_latest

    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # scipy's small vector products are far slower with threaded BLAS on 2 cores
    while not (home.data / "reference.parquet").exists():  # a first start: training writes it
        if stop.wait(POLL_SECONDS):
            return
    if not wait_for_prefect(stop):  # each window is a flow run on it
        return
    monitor = LiveMonitor(home)
    reports = home.root / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    cfg = home.config()
    resource = {"prefect.resource.id": f"prodml-lab.model.{monitor.scenario.model.name}",
                "prefect.resource.name": monitor.scenario.model.name,
                "prodml-lab.scenario.schema": cfg.scenario, "prodml-lab.core.home": str(home.root)}

    def send_alert(alert: dict[str, Any]) -> None:
        """To Prefect's event feed (automations can act on it) and to the webhook, if set."""
        try:
            emit_event(event=f"prodml-lab.alert.{alert['signal']}", resource=resource, payload=alert)
        except Exception as exc:  # an event is a notification; the journal already holds the alert
            print(f"window {alert['window']}: Prefect event not emitted: {exc!r}", flush=True)
        url = alerts.webhook_url(home)
        if url:
            alerts.deliver(url, alerts.payload(alert, cfg, home), monitor.journal)

    @flow(name="drift-monitor", flow_run_name="window {index}")
    def monitor_window(index: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
        current = pd.DataFrame(rows)
        version = int(current["_version"].mode()[0])
        monitor.load_config(version)
        resolved = monitor.resolved
        reference = monitor.reference_frame(version)
        result = window_drift(reference, current, resolved)
        signals = []
        if result.dataset_drift:
            signals.append("data")
        if result.prediction is not None and result.prediction.drifted:
            signals.append("prediction")
        performance = None
        spec = monitor.config.business
        weights = weight_columns(monitor.scenario.business)
        labelled = monitor.labelled_tail(max(len(current), spec.rows or 0) if spec else len(current), weights)
        y, scores = (labelled["label"].to_numpy()[-len(current):], labelled[PREDICTION].to_numpy()[-len(current):])
        threshold = monitor.scenario.model.decision_threshold.value  # label metrics decide where the business does
        live = live_metrics(y, scores, version, metric_value, threshold)
        if resolved.performance is not None and len(y) >= max(50, len(current) // 2):
            ref_y = monitor.reference["label"].to_numpy(dtype=float)
            ref_value = metric_value(resolved.performance.metric, ref_y, reference[PREDICTION].to_numpy(), threshold)
            check = check_performance(y, scores, resolved.performance, ref_value, threshold)
            performance = {**check.model_dump(), "min": resolved.performance.min,
                           "max_drop": resolved.performance.max_drop}
            if check.alarm:
                signals.append("performance")
        monitor.run_length = monitor.run_length + 1 if signals else 0
        drift_alarm = monitor.run_length >= resolved.alerting.consecutive_windows
        kpi_rows = labelled.iloc[-(spec.rows or len(current)):] if spec else labelled
        observed = monitor.judge.window(kpi_rows, *monitor.window_requests(int(current["_offset"].max())))
        alarmed = (signals if drift_alarm else []) + observed["alarms"]
        signals = signals + observed["signals"]
        alarm = bool(alarmed)
        first_day, last_day = float(current["_day"].min()), float(current["_day"].max())
        snapshots = add_snapshots(monitor, index, reference, current, resolved, (y, scores), threshold,
                                  (first_day, last_day), observed["business"])
        record = {
            "index": index,
            "first_day": first_day,
            "last_day": last_day,
            "rows": len(current),
            "champion_version": version,
            "drift_share": result.drift_share,
            "dataset_drift": result.dataset_drift,
            "drifted_columns": [n for n, c in result.columns.items() if c.drifted],
            "column_scores": {n: c.score for n, c in result.columns.items()},
            "prediction_score": None if result.prediction is None else result.prediction.score,
            "prediction_drift": None if result.prediction is None else result.prediction.drifted,
            "performance": performance,
            "live": live,
            "column_count": len(result.columns),
            "dataset_drift_share": resolved.dataset_drift_share,
            "prediction_test": None if resolved.prediction is None else {
                k: getattr(resolved.prediction, k) for k in ("method", "comparison", "threshold")},
            "business": observed["business"],
            "system": observed["system"],
            "signals": signals,
            "alarm": alarm,
            "snapshots": snapshots,
            "log_offset": int(current["_offset"].max()),
        }
        with open(windows_path(home), "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=float) + "\n")
        monitor.history.append(record)
        day = monitor._day()
        monitor.journal.append("monitor.window", {k: record[k] for k in (
            "index", "first_day", "last_day", "drift_share", "dataset_drift", "drifted_columns", "prediction_score",
            "signals", "alarm")}, day=day, actor="monitor")
        write_latest(home, record)
        if alarm:
            said = alerts.details(record)
            raised = [{"signal": sig, "detail": said[sig]} for sig in alarmed]
            monitor.journal.append("monitor.alert", {"window": index, "signals": alarmed,
                                                     "drifted_columns": record["drifted_columns"],
                                                     "alerts": raised},
                                   day=day, actor="monitor")
            for a in raised:
                send_alert({"day": round(day, 4), "window": index, **a})
        plot_history(monitor.history, reports / "drift.png")
        return record

    while not stop.is_set():
        monitor.read_new_rows()
        size = monitor.window_size()
        while len(monitor.buffer) >= size and not stop.is_set():
            rows, monitor.buffer = monitor.buffer[:size], monitor.buffer[size:]
            monitor_window(monitor.window_index, rows)
            monitor.window_index += 1
        stop.wait(POLL_SECONDS)


def live_metrics(y: np.ndarray, s: np.ndarray, version: int, metric_value,
                 decision_threshold: float) -> dict[str, Any] | None:
    """The champion's metrics on the most recent labelled rows it served (None before labels).

    ``metric_value`` is :func:`lab.monitoring.metric_value` (imported once the heartbeat runs).
    """
    if len(y) == 0:
        return None
    out: dict[str, Any] = {"champion_version": version, "labelled_rows": int(len(y))}
    for m in LIVE_METRICS:
        out[m] = metric_value(m, y, s, decision_threshold)
    out["decision_threshold"] = decision_threshold
    out["positive_rate"] = float(np.mean(y))
    out["mean_score"] = float(np.mean(s))
    return out


def add_snapshots(monitor: "LiveMonitor", index: int, reference: pd.DataFrame, current: pd.DataFrame, resolved,
                  labelled: tuple[np.ndarray, np.ndarray], threshold: float,
                  days: tuple[float, float], kpis: dict[str, Any] | None = None) -> dict[str, str | None]:
    """The window's snapshots in the Evidently workspace: their ids (None: not written)."""
    # heavy: keep off the start-up path
    from lab.monitoring import workspace

    out: dict[str, str | None] = {workspace.TAG_DRIFT: None, workspace.TAG_PERFORMANCE: None}
    try:
        if monitor.workspace is None:
            business = monitor.scenario.business
            monitor.workspace = workspace.WindowWorkspace(
                monitor.home, f"{monitor.scenario.id} (seed {monitor.seed})", monitor.features, PREDICTION,
                [k.name for k in business.kpis] if business else ())
        pins = dict(resolved.columns)
        if resolved.prediction is not None:
            pins[resolved.prediction.column] = resolved.prediction
        drift = workspace.drift_snapshot(reference, current, pins, resolved.dataset_drift_share, index, *days)
        out[workspace.TAG_DRIFT] = monitor.workspace.add(drift)
        perf = workspace.performance_snapshot(*labelled, threshold, index, *days)
        if perf is not None:
            out[workspace.TAG_PERFORMANCE] = monitor.workspace.add(perf)
        biz = workspace.business_snapshot({k: v["value"] for k, v in (kpis or {}).items()}, index, *days)
        if biz is not None:
            out[workspace.TAG_BUSINESS] = monitor.workspace.add(biz)
    except Exception as exc:  # a snapshot is a view; the window's decisions stand without it
        print(f"window {index}: Evidently snapshot not written: {exc!r}", flush=True)
    return out


def plot_history(history: list[dict[str, Any]], path: Path) -> None:
    """Drift share, prediction drift score and performance per window, alarms in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = [h["last_day"] for h in history]
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    series = [
        ("share of drifted inputs", [h["drift_share"] for h in history]),
        ("prediction drift score", [h["prediction_score"] for h in history]),
        ("performance (labelled rows)", [(h["performance"] or {}).get("value") for h in history]),
    ]
    for ax, (title, values) in zip(axes, series):
        xs = [d for d, v in zip(days, values) if v is not None]
        ys = [v for v in values if v is not None]
        ax.plot(xs, ys, marker="o", ms=3)
        alarms = [(d, v) for d, v, h in zip(days, values, history) if h["alarm"] and v is not None]
        if alarms:
            ax.scatter(*zip(*alarms), color="red", zorder=3, label="alarm")
            ax.legend(loc="upper left")
        ax.set_title(title, fontsize=10)
    axes[-1].set_xlabel("scenario day")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
