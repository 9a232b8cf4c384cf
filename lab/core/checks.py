"""Cheap checks of what a user typed, run before any heavy import.

MLflow, pandas, scikit-learn, Evidently, BentoML and Prefect take seconds to import (a
minute or two on a loaded machine), so every command first checks its options, paths
and YAML here, with the standard library and PyYAML only, and answers a mistake at once
(exit 2, a message naming what and where). What needs the heavy libraries (a scenario's
schema, a monitoring config's method names and columns) is checked after, before any
side effect.

>>> check_speed(0.01)
Traceback (most recent call last):
...
lab.errors.UsageError: --speed 0.01 is outside 0.05..86400 seconds per scenario day
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lab.errors import ScenarioError, SubmissionError, UsageError
from lab.core import safe_yaml as _yaml
from lab.core.paths import SCENARIO_DIR


ARCHIVES = (".tar.gz", ".tgz", ".zip")

_TEST = {"method": None, "threshold": None}
#: The keys a monitoring.yaml may use ("*": any column name). A test keeps this equal to
#: lab.monitoring.config.MonitoringConfig's fields.
MONITORING_KEYS: dict[str, Any] = {
    "window": {"size": None},
    "data_drift": {"default": _TEST, "columns": {"*": _TEST}, "dataset_drift_share": None},
    "prediction_drift": {**_TEST, "column": None, "kind": None},
    "performance": {"metric": None, "min": None, "max_drop": None, "label_column": None, "score_column": None},
    "alerting": {"consecutive_windows": None},
    "business": {"consecutive_windows": None, "rows": None,
                 "kpis": {"*": {"max": None, "min": None, "max_rise": None, "max_drop": None}}},
    "system": {"consecutive_windows": None, "p99_latency_ms": {"max": None}, "error_rate": {"max": None}},
}


def check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed < 2**32:
        raise UsageError(f"--seed {seed} is outside 0..4294967295")


def check_speed(speed: float | None) -> None:
    if speed is not None and not 0.05 <= speed <= 86400:
        raise UsageError(f"--speed {speed} is outside 0.05..86400 seconds per scenario day")


def check_port_base(port_base: int | None) -> None:
    if port_base is not None and port_base != 0 and not 1024 <= port_base <= 65530:
        raise UsageError(f"--port-base {port_base} is outside 1024..65530 (0 = any free ports)")


def scenario_ids(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def check_scenario_ref(ref: str, directory: Path = SCENARIO_DIR) -> Path:
    """The scenario file ``ref`` names (an id or a YAML path), as ``lab.scenario.schema.load_scenario`` finds it."""
    path = Path(ref)
    if ref.endswith((".yaml", ".yml")):
        if path.is_file():
            return path
        if not (directory / f"{ref}.yaml").exists():
            raise ScenarioError(f"scenario file {ref}: no such file")
    path = directory / f"{ref}.yaml"
    if not path.exists():
        raise ScenarioError(f"unknown scenario {ref!r}", hint=f"known scenarios: {', '.join(scenario_ids(directory))}")
    return path


def check_file(path: Path, what: str) -> Path:
    """An existing, readable file (``what`` names the argument in the message)."""
    if not path.exists():
        raise UsageError(f"{what} {path}: no such file")
    if path.is_dir():
        raise UsageError(f"{what} {path}: is a folder, not a file")
    return path


def check_submission_path(ref: str) -> None:
    """A folder, or a .tar.gz / .tgz / .zip file of one."""
    path = Path(ref)
    if not path.exists():
        raise SubmissionError(f"submission {ref}: no such folder or archive",
                              hint="`lab init-submission DIR` writes the templates to fill in")
    if path.is_file() and not ref.lower().endswith(ARCHIVES):
        raise SubmissionError(f"submission {ref}: not a folder, nor a .tar.gz, .tgz or .zip archive")


def check_writable_file(path: Path, what: str) -> None:
    """A file that can be created: not a folder, and no part of its folder is a file (missing folders are made)."""
    if path.is_dir():
        raise UsageError(f"{what} {path}: is a folder; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{what} {path}: {parent} is a file, not a folder")
            break


def check_out_dir(path: Path, what: str) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path}: exists and is not a folder")


def check_monitoring_yaml(path: Path) -> None:
    """The file exists, parses as YAML and uses only known keys (each problem with its line).

    Method names, thresholds and columns are checked by the full loader
    (``lab.monitoring.load_monitoring_config``), which needs Evidently's registry.
    """
    check_file(path, "monitoring config")
    source = path.name
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source}: not UTF-8 text ({exc.reason})") from None
    try:
        doc = _yaml.parse(text)
    except _yaml.YamlProblem as exc:
        raise UsageError(f"{source}:{exc.line or 1}: {exc.message}") from None
    if doc.data is None:
        return  # an empty file is `{}`: every default
    if not isinstance(doc.data, Mapping):
        raise UsageError(f"{source}:{doc.line(()) or 1}: the top level must be a mapping with keys "
                         f"{', '.join(MONITORING_KEYS)}")
    problems = [f"{source}:{doc.line(loc) or 1}: {'.'.join(map(str, loc))}: {msg}"
                for loc, msg in unknown_keys(doc.data, MONITORING_KEYS)]
    if problems:
        raise UsageError(f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''} in the monitoring "
                         "config\n" + "\n".join(f"  {p}" for p in problems),
                         hint="fix every line listed; the format is in the README (Drift monitoring)")


def unknown_keys(data: Mapping, tree: Mapping[str, Any], loc: tuple = ()) -> list[tuple[tuple, str]]:
    """Keys of ``data`` that ``tree`` does not allow, with their location.

    >>> unknown_keys({"window": {"sise": 10}}, MONITORING_KEYS)
    [(('window', 'sise'), "unknown key 'sise'; valid keys here: size")]
    """
    out = []
    for key, value in data.items():
        sub = tree.get(key, tree.get("*", KeyError)) if isinstance(key, str) else KeyError
        if sub is KeyError:
            valid = ", ".join(k for k in tree if k != "*") or "(column names)"
            out.append((loc + (key,), f"unknown key {key!r}; valid keys here: {valid}"))
        elif isinstance(sub, Mapping) and isinstance(value, Mapping):
            out += unknown_keys(value, sub, loc + (key,))
    return out


def check_webhook_url(url: str) -> str:
    """An http(s) URL with a host, or '' (no webhook); else a UsageError naming it."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--alert-webhook {url!r}: not an http(s) URL with a host",
                         hint="e.g. --alert-webhook http://127.0.0.1:9000/alerts ('' turns it off)")
    return url


def scenario_event_names(path: Path) -> list[str] | None:
    """The names of a scenario file's timeline events, read with PyYAML only.

    None when the file cannot say (unreadable, or not shaped like a scenario): the full
    loader (``lab.scenario.schema.load_scenario``) then reports why. A seed never renames
    an event, so these are the run's names too.
    """
    try:
        data = _yaml.parse(path.read_text(encoding="utf-8")).data
        events = data["timeline"]["events"]
        names = [e["name"] for e in events]
    except (OSError, UnicodeDecodeError, _yaml.YamlProblem, KeyError, TypeError):
        return None
    return names if all(isinstance(n, str) for n in names) else None


def check_event_name(event: str, scenario_file: Path, scenario_id: str) -> None:
    """``event`` is one of the scenario's timeline events; else a UsageError listing them."""
    names = scenario_event_names(scenario_file)
    if names is not None and event not in names:
        raise UsageError(f"unknown event {event!r} in scenario {scenario_id}", hint=f"events: {', '.join(names)}")
