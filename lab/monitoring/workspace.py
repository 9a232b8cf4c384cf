"""The live monitor's windows as Evidently snapshots in an Evidently workspace: the dashboard.

The workspace is ``<home>/monitoring/evidently`` (Evidently's own local format: a folder per
project, a JSON file per snapshot), with one project per lab run, named after the scenario and
the seed. Each judged window adds a ``drift`` snapshot (Evidently's data drift preset over the
model inputs and the prediction, with the methods and thresholds the monitoring config pinned)
and, when enough labelled rows have arrived, a ``performance`` snapshot (the champion's ROC AUC,
accuracy, precision and recall on the most recent labelled rows, at the scenario's decision
threshold) and, in scenarios with business KPIs, a ``business`` snapshot of each KPI's value. The
project's dashboard has a panel for each: the share of drifted columns, each input's drift score,
the prediction's drift score, the champion on labelled rows, and the business KPIs.

`lab dashboard` serves the workspace with ``evidently ui`` (on demand: the UI server holds about
300 MB, which the lab does not spend unless asked). Snapshots carry the window's wall-clock time
(Evidently's dashboards plot over time) and, as tags and metadata, its index and scenario days.

The project's id is kept in ``<home>/monitoring/evidently/lab_project.json`` so a restarted
monitor adds to the same project.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from lab.core.home import Home, write_json_atomic

PROJECT_FILE = "lab_project.json"
TAG_DRIFT = "drift"
TAG_PERFORMANCE = "performance"
TAG_BUSINESS = "business"
MIN_LABELLED = 50


def workspace_dir(home: Home) -> Path:
    return home.root / "monitoring" / "evidently"


def project_id(home: Home) -> str | None:
    """The lab run's project in the workspace (None: no window has been written yet)."""
    try:
        return str(json.loads((workspace_dir(home) / PROJECT_FILE).read_text(encoding="utf-8"))["project_id"])
    except (OSError, ValueError, KeyError):
        return None


def panels(features: Sequence[str], prediction: str, kpis: Sequence[str] = ()) -> list[Any]:
    """The dashboard's panels (Evidently's dashboard models); ``kpis``: the scenario's business KPIs."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    score = ("the pinned method's score: a p-value (drift when below its threshold) or a distance (drift when "
             "above it)")
    return [
        line_plot_panel("Share of drifted columns", [
            PanelMetric(legend="share of drifted columns", metric="DriftedColumnsCount",
                        metric_labels={"value_type": "share"}, tags=[TAG_DRIFT])],
            description="Per window: the share of model inputs and the prediction whose drift test fired."),
        line_plot_panel("Drift score per input", [
            PanelMetric(legend=f, metric="ValueDrift", metric_labels={"column": f}, tags=[TAG_DRIFT]) for f in features],
            description=f"Per window and input: {score}."),
        line_plot_panel("Prediction drift", [
            PanelMetric(legend=prediction, metric="ValueDrift", metric_labels={"column": prediction},
                        tags=[TAG_DRIFT])], description=f"Per window: {score}."),
        line_plot_panel("Champion on labelled rows", [
            PanelMetric(legend=name, metric=name, tags=[TAG_PERFORMANCE]) for name in
            ("RocAuc", "Accuracy", "Precision", "Recall")],
            description="The most recent labelled rows at each window (labels arrive after the scenario's delay), "
                        "at the scenario's decision threshold."),
    ] + ([line_plot_panel("Business KPIs", [
        PanelMetric(legend=k, metric="MeanValue", metric_labels={"column": k}, tags=[TAG_BUSINESS]) for k in kpis],
        description="Per window: each business KPI on the decided rows whose outcomes have arrived (they lag "
                    "decisions by the label delay), as the live monitor computed it.")] if kpis else [])


class WindowWorkspace:
    """Adds each judged window's snapshots to the lab run's project (created on first use)."""

    def __init__(self, home: Home, name: str, features: Sequence[str], prediction: str,
                 kpis: Sequence[str] = ()) -> None:
        from evidently.ui.workspace import Workspace

        self.home = home
        path = workspace_dir(home)
        path.mkdir(parents=True, exist_ok=True)
        self.workspace = Workspace(str(path))
        pid = project_id(home)
        if pid is None or self.workspace.get_project(pid) is None:
            project = self.workspace.create_project(name, description="prodml-lab: the live monitor's windows")
            for panel in panels(features, prediction, kpis):
                project.dashboard.add_panel(panel)
            project.save()
            pid = str(project.id)
            write_json_atomic(path / PROJECT_FILE, {"project_id": pid, "name": name})
        self.project_id = pid

    def add(self, snapshot: Any) -> str:
        """Store ``snapshot`` in the project; its id."""
        ref = self.workspace.add_run(self.project_id, snapshot, include_data=False)
        return str(getattr(ref, "id", ref))


def _meta(index: int, first_day: float, last_day: float) -> tuple[dict[str, str], list[str]]:
    return ({"window": str(index), "first_day": f"{first_day:.2f}", "last_day": f"{last_day:.2f}"},
            [f"window {index}"])


def drift_snapshot(reference: Any, current: Any, pins: dict[str, Any], drift_share: float, index: int,
                   first_day: float, last_day: float, when: datetime | None = None) -> Any:
    """The window's data drift report (Evidently's preset with the config's pinned methods and
    thresholds: ``pins`` maps each column to its pinned test, with ``evidently_type``, ``method``
    and ``threshold``)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from lab.monitoring.methods import stattest

    cols = list(pins)
    definition = DataDefinition(
        numerical_columns=[c for c, p in pins.items() if p.evidently_type == "num"],
        categorical_columns=[c for c, p in pins.items() if p.evidently_type == "cat"],
    )
    preset = DataDriftPreset(columns=cols, drift_share=drift_share,
                             per_column_method={c: stattest(p.method) for c, p in pins.items()},
                             per_column_threshold={c: p.threshold for c, p in pins.items() if p.threshold is not None})
    metadata, tags = _meta(index, first_day, last_day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Report([preset], metadata=metadata, tags=[TAG_DRIFT, *tags]).run(
            Dataset.from_pandas(current[cols], data_definition=definition),
            Dataset.from_pandas(reference[cols], data_definition=definition),
            timestamp=when or datetime.now(timezone.utc).replace(tzinfo=None))


def performance_snapshot(y: Any, scores: Any, threshold: float, index: int, first_day: float, last_day: float,
                         when: datetime | None = None) -> Any | None:
    """The champion on the labelled rows (None: fewer than :data:`MIN_LABELLED`, or one class only)."""
    import numpy as np
    import pandas as pd
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import Accuracy, Precision, Recall, RocAuc

    y = np.asarray(y, dtype=int)
    if len(y) < MIN_LABELLED or len(set(y.tolist())) < 2:
        return None
    scores = np.asarray(scores, dtype=float)
    frame = pd.DataFrame({"label": y, "score": scores, "decision": (scores >= threshold).astype(int)})
    definition = DataDefinition(classification=[BinaryClassification(
        target="label", prediction_labels="decision", prediction_probas="score")])
    metadata, tags = _meta(index, first_day, last_day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Report([RocAuc(), Accuracy(), Precision(), Recall()], metadata=metadata,
                      tags=[TAG_PERFORMANCE, *tags]).run(
            Dataset.from_pandas(frame, data_definition=definition), None,
            timestamp=when or datetime.now(timezone.utc).replace(tzinfo=None))


def business_snapshot(values: dict[str, float | None], index: int, first_day: float, last_day: float,
                      when: datetime | None = None) -> Any | None:
    """The window's business KPIs as the monitor computed them (lab.monitoring.business), one
    ``MeanValue`` per KPI over a one-row frame holding its value (None: no KPI has a value yet)."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue

    known = {k: float(v) for k, v in values.items() if v is not None}
    if not known:
        return None
    frame = pd.DataFrame({k: [v] for k, v in known.items()})
    metadata, tags = _meta(index, first_day, last_day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Report([MeanValue(column=k) for k in known], metadata=metadata, tags=[TAG_BUSINESS, *tags]).run(
            Dataset.from_pandas(frame, data_definition=DataDefinition(numerical_columns=list(known))), None,
            timestamp=when or datetime.now(timezone.utc).replace(tzinfo=None))


__all__ = ["MIN_LABELLED", "TAG_BUSINESS", "business_snapshot", "PROJECT_FILE", "TAG_DRIFT", "TAG_PERFORMANCE", "WindowWorkspace", "drift_snapshot",
           "panels", "performance_snapshot", "project_id", "workspace_dir"]
