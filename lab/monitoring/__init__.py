"""Drift monitoring: the candidate's ``monitoring.yaml``, pinned, and Evidently-exact window checks.

Load and validate a config (every problem at once, with lines), pin it against a
reference, then judge windows::

    config = load_monitoring_config(path, columns=kinds, data_rows=len(data))
    resolved = resolve(config, reference, kinds)
    result = window_drift(reference, window, resolved)   # fast path
    window_drift_report(reference, window, resolved)     # same decisions via an Evidently Report
    check_performance(labels, scores, resolved.performance, reference_value, decision_threshold)

The names below are loaded on first use (PEP 562), so importing a light submodule such
as ``lab.core.safe_yaml`` does not import pandas, scikit-learn or Evidently: the CLI
checks a user's YAML before paying for them.
"""

from __future__ import annotations

from lab._lazy import lazy_exports

_EXPORTS = {
    "config": ("ConfigError", "load_monitoring_config"),
    "config_schema": (
        "AlertingSpec", "DataDriftSpec", "DriftTest", "MonitoringConfig", "PerformanceSpec", "PredictionDriftSpec",
        "Problem", "WindowSpec",
    ),
    "pinning": ("ResolvedColumn", "ResolvedConfig", "resolve"),
    "fastdrift": ("ColumnDrift", "WindowResult", "column_drift", "same_decisions", "window_drift", "window_drift_report"),
    "methods": ("METHODS", "ColumnKind", "MethodInfo", "evidently_default", "methods_for"),
    "performance": ("PerformanceResult", "check_performance", "metric_value"),
}
__all__, __getattr__, __dir__ = lazy_exports("lab.monitoring", _EXPORTS, globals())
