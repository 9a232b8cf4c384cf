"""Drift monitoring: the candidate's ``monitoring.yaml``, pinned, and Evidently-exact window checks.

Load and validate a config (every problem at once, with lines), pin it against a
reference, then judge windows::

    config = load_monitoring_config(path, columns=kinds, data_rows=len(data))
    resolved = resolve(config, reference, kinds)
    result = window_drift(reference, window, resolved)   # fast path
    window_drift_report(reference, window, resolved)     # same decisions via an Evidently Report
    check_performance(labels, scores, resolved.performance, reference_value, decision_threshold)
"""

from lab.monitoring.config import (
    AlertingSpec,
    ConfigError,
    DataDriftSpec,
    DriftTest,
    MonitoringConfig,
    PerformanceSpec,
    PredictionDriftSpec,
    Problem,
    ResolvedColumn,
    ResolvedConfig,
    WindowSpec,
    load_monitoring_config,
    resolve,
)
from lab.monitoring.fastdrift import (
    ColumnDrift,
    WindowResult,
    column_drift,
    same_decisions,
    window_drift,
    window_drift_report,
)
from lab.monitoring.methods import METHODS, ColumnKind, MethodInfo, evidently_default, methods_for
from lab.monitoring.performance import PerformanceResult, check_performance, metric_value

__all__ = [
    "AlertingSpec",
    "ColumnDrift",
    "ColumnKind",
    "ConfigError",
    "DataDriftSpec",
    "DriftTest",
    "METHODS",
    "MethodInfo",
    "MonitoringConfig",
    "PerformanceResult",
    "PerformanceSpec",
    "PredictionDriftSpec",
    "Problem",
    "ResolvedColumn",
    "ResolvedConfig",
    "WindowResult",
    "WindowSpec",
    "check_performance",
    "column_drift",
    "evidently_default",
    "load_monitoring_config",
    "methods_for",
    "metric_value",
    "resolve",
    "same_decisions",
    "window_drift",
    "window_drift_report",
]
