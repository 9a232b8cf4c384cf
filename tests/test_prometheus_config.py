"""infra/prometheus, checked statically: the compose stack's Prometheus configuration and its
SLO rules (no server starts; tests/compose/test_compose.py runs them for real).

The YAML parses; every rule file it names exists; it scrapes the compose services at their
ports; recording rules are named level:metric:operations; every metric a rule reads is one
BentoML 1.4 exports (BENTOML_METRICS, verified as said there) or one the lab's exporter
renders (lab.monitoring.exporter.render). Where promtool is on PATH (Debian's `prometheus`
package), `promtool check config` passes and a `promtool test rules` suite fires the alerts
on made-up series; without it those two tests are skipped.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab.monitoring.exporter import render

ROOT = Path(__file__).resolve().parent.parent
PROM = ROOT / "infra" / "prometheus"
CONFIG_FILE = PROM / "prometheus.yml"
CONFIG = yaml.safe_load(CONFIG_FILE.read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not on PATH (Debian: apt-get install "
                                    "prometheus); the YAML checks of this module ran without it")

#: What BentoML 1.4 exports on serving's /metrics (besides the lab's own lab_* series), verified
#: on 2026-12-01 with bentoml 1.4.40: in its source (the new-style service's app,
#: _bentoml_impl/server/app.py, adds RunnerTrafficMetricsMiddleware with namespace
#: "bentoml_service"; bentoml/_internal/server/http/instruments.py names the series), and on a
#: running `python -m lab.serving.serve`'s /metrics. Labels: endpoint, http_response_code,
#: service_name, service_version, runner_name (le on buckets). test_bentoml_still_names_them
#: reads the installed source again.
BENTOML_METRICS = {
    "bentoml_service_request_total",
    "bentoml_service_request_duration_seconds_bucket",
    "bentoml_service_request_duration_seconds_count",
    "bentoml_service_request_duration_seconds_sum",
    "bentoml_service_request_in_progress",
    "bentoml_service_last_request_timestamp_seconds",
}
#: The exporter's series the rules and dashboards may rely on (the exporter's contract).
EXPORTER_CONTRACT = {"lab_business_kpi", "lab_business_kpi_rows", "lab_business_kpi_threshold",
                     "lab_business_kpi_breach", "lab_scenario_day"}
ALERTS = {"ServingLatencySLOBreach", "ServingErrorRateSLOBreach", "BusinessKPIBreach"}
#: level:metric:operations (prometheus.io/docs/practices/rules)
RECORD_NAME = re.compile(r"[a-z][a-z_]*:[a-z][a-z0-9_]*:[a-z0-9_]+")
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                   "offset", "inf", "nan"}


def exporter_metrics() -> set[str]:
    """The metric names the exporter renders for a record with every field set."""
    text = render(2.5, {"index": 3, "business": {"k": {"value": 0.1, "rows": 10, "reference": 0.1, "max": 0.2,
                                                       "min": 0.05, "breach": False}},
                        "system": {"p99_ms": 12.0, "error_rate": 0.0}})
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    aggregations, keywords or label names (strings, matchers, ranges and label lists dropped)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if not m.group(2) and m.group(1).lower() not in PROMQL_KEYWORDS:
            names.add(m.group(1))
    return names


def rule_files() -> list[Path]:
    return [path for pattern in CONFIG.get("rule_files", []) for path in sorted(CONFIG_FILE.parent.glob(pattern))]


def rules() -> list[dict]:
    return [rule for path in rule_files() for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def test_the_metric_name_reader():
    expr = ('histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job="s", code=~"5.."}[1m] offset 5m)))'
            ' / on(job) group_left b:c:rate5m > 1e3 and d == bool 1')
    assert metric_names(expr) == {"a_bucket", "b:c:rate5m", "d"}


def test_every_rule_file_exists_and_parses():
    assert CONFIG["rule_files"]
    for pattern in CONFIG["rule_files"]:
        assert list(CONFIG_FILE.parent.glob(pattern)), f"{pattern}: no such file beside {CONFIG_FILE.name}"
    for path in rule_files():
        groups = yaml.safe_load(path.read_text())["groups"]
        assert groups and all(g["name"] and g["rules"] for g in groups), path


def test_scrapes_serving_and_the_exporter_at_their_compose_ports_every_5s():
    assert CONFIG["global"]["scrape_interval"] == "5s" and CONFIG["global"]["evaluation_interval"] == "5s"
    jobs = {j["job_name"]: j for j in CONFIG["scrape_configs"]}
    assert set(jobs) == {"serving", "exporter"}
    for name, job in jobs.items():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        [target] = [t for sc in job["static_configs"] for t in sc["targets"]]
        container_port = COMPOSE[name]["ports"][0].rsplit(":", 1)[1]
        assert target == f"{name}:{container_port}", (name, target)


def test_compose_runs_prometheus_on_this_folder():
    svc = COMPOSE["prometheus"]
    assert "./infra/prometheus:/etc/prometheus:ro" in svc["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in svc["command"]
    port = svc["ports"][0].rsplit(":", 1)[1]
    assert f"--web.listen-address=0.0.0.0:{port}" in svc["command"]
    assert svc["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/-/ready"
    assert svc["depends_on"] == {"serving": {"condition": "service_started"}}


def test_recording_rules_are_named_level_metric_operations():
    recorded = [r for r in rules() if "record" in r]
    assert recorded
    for rule in recorded:
        assert RECORD_NAME.fullmatch(rule["record"]), rule["record"]
        metric = rule["record"].split(":")[1]
        read = {n.removesuffix("_total").removesuffix("_bucket") for n in metric_names(rule["expr"])}
        assert any(metric.startswith(n) for n in read), (rule["record"], read)


def test_every_metric_a_rule_reads_exists():
    exported = exporter_metrics()
    assert EXPORTER_CONTRACT <= exported, EXPORTER_CONTRACT - exported
    recorded = {r["record"] for r in rules() if "record" in r}
    known = BENTOML_METRICS | exported | recorded | {"ALERTS", "ALERTS_FOR_STATE", "up"}
    for rule in rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, (rule.get("record") or rule.get("alert"), unknown)


def test_the_slo_alerts_are_there_and_page():
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] and rule["annotations"]["summary"], name
    assert alerts["ServingLatencySLOBreach"]["for"] == alerts["ServingErrorRateSLOBreach"]["for"] == "2m"
    assert metric_names(alerts["BusinessKPIBreach"]["expr"]) == {"lab_business_kpi_breach"}


def test_bentoml_still_names_them():
    """The installed BentoML's source still spells the series BENTOML_METRICS lists (read,
    not imported: importing BentoML takes seconds)."""
    assert importlib.metadata.version("bentoml").startswith("1.4."), importlib.metadata.version("bentoml")
    impl = Path(importlib.util.find_spec("_bentoml_impl").origin).parent
    bentoml = Path(importlib.util.find_spec("bentoml").origin).parent
    assert 'namespace="bentoml_service"' in (impl / "server" / "app.py").read_text()
    instruments = (bentoml / "_internal" / "server" / "http" / "instruments.py").read_text()
    runner = instruments[instruments.index("class RunnerTrafficMetricsMiddleware"):]
    for suffix in ("request_duration_seconds", "request_total", "request_in_progress",
                   "last_request_timestamp_seconds"):
        assert f'name="{suffix}"' in runner, suffix
    for label in ("endpoint", "http_response_code"):
        assert f'"{label}"' in runner, label


@needs_promtool
def test_promtool_checks_the_config():
    proc = subprocess.run([PROMTOOL, "check", "config", str(CONFIG_FILE)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _series(name: str, values: str, **labels: str) -> dict:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _serving(ok: str, failed: str, buckets: dict[str, str]) -> list[dict]:
    """Serving's series every 15 s: /predict answered 200 and 500, its duration buckets, and
    /readyz probes (which the SLOs leave out)."""
    predict = {"job": "serving", "endpoint": "/predict"}
    return [_series("bentoml_service_request_total", ok, **predict, http_response_code="200"),
            _series("bentoml_service_request_total", failed, **predict, http_response_code="500"),
            _series("bentoml_service_request_total", "0+1000x40", job="serving", endpoint="/readyz",
                    http_response_code="500"),
            *(_series("bentoml_service_request_duration_seconds_bucket", v, **predict, http_response_code="200", le=le)
              for le, v in buckets.items())]


def _firing(*alerts: tuple[str, dict]) -> list[dict]:
    return [{"labels": "ALERTS{" + ",".join(f'{k}="{v}"' for k, v in
                                          {"alertname": name, "alertstate": "firing", **labels}.items()) + "}",
             "value": 1} for name, labels in alerts]


@needs_promtool
def test_promtool_fires_the_alerts_on_made_up_series(tmp_path):
    serving = {"job": "serving", "endpoint": "/predict", "severity": "page"}
    suite = {
        "rule_files": [str(path) for path in rule_files()],
        "evaluation_interval": "15s",
        "tests": [
            {   # slow and failing: 25% of /predict answered 500, every request between 0.5 s and 1 s
                "interval": "15s",
                "input_series": _serving("0+90x40", "0+30x40",
                                         {"0.5": "0+0x40", "1.0": "0+120x40", "+Inf": "0+120x40"}),
                "promql_expr_test": [
                    {"expr": "job_endpoint:bentoml_service_request:rate1m", "eval_time": "5m",
                     "exp_samples": [{"labels": 'job_endpoint:bentoml_service_request:rate1m'
                                                '{job="serving",endpoint="/predict"}', "value": 8}]},
                    {"expr": "job_endpoint:bentoml_service_request_5xx_per_request:ratio_rate1m", "eval_time": "5m",
                     "exp_samples": [{"labels": 'job_endpoint:bentoml_service_request_5xx_per_request:ratio_rate1m'
                                                '{job="serving",endpoint="/predict"}', "value": 0.25}]},
                    {"expr": 'ALERTS{alertstate="firing"}', "eval_time": "1m", "exp_samples": []},  # `for: 2m`
                    {"expr": 'ALERTS{alertstate="firing"}', "eval_time": "5m",
                     "exp_samples": _firing(("ServingErrorRateSLOBreach", {**serving, "slo": "errors"}),
                                            ("ServingLatencySLOBreach", {**serving, "slo": "latency"}))},
                ],
                "alert_rule_test": [  # the annotations' templates render
                    {"eval_time": "5m", "alertname": "ServingErrorRateSLOBreach", "exp_alerts": [{
                        "exp_labels": {**serving, "slo": "errors"},
                        "exp_annotations": {
                            "summary": "25% of /predict requests answered 5xx (objective: under 1%)",
                            "description": "The share of requests answered with a 5xx status over the last "
                                           "minute has been above 1% for 2 minutes."}}]},
                ],
            },
            {   # fast and sound, while a business KPI breaks its bound: only BusinessKPIBreach fires
                "interval": "15s",
                "input_series": [
                    *_serving("0+120x40", "0+0x40", {"0.1": "0+120x40", "0.5": "0+120x40", "+Inf": "0+120x40"}),
                    _series("lab_business_kpi_breach", "0x8 1x32", job="exporter", kpi="approved_default_rate"),
                ],
                "promql_expr_test": [
                    {"expr": 'ALERTS{alertstate="firing"}', "eval_time": "1m", "exp_samples": []},
                    {"expr": 'ALERTS{alertstate="firing"}', "eval_time": "5m",
                     "exp_samples": _firing(("BusinessKPIBreach", {"job": "exporter", "kpi": "approved_default_rate",
                                                                   "severity": "page", "slo": "business"}))},
                ],
            },
        ],
    }
    path = tmp_path / "rules_test.yml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    proc = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
