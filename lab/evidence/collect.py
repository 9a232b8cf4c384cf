"""The live collector: writes a lab home's evidence bundle (lab.evidence.schema) for ``lab submit``.

It reads the home's files and, while the lab runs, MLflow; nothing that grades imports
it (graders read only the bundle, through :mod:`lab.evidence.schema`). The lab's
command list is an argument, given by the CLI, so this layer never imports the CLI.
Everything it writes is free of the home's absolute path: a bundle graded on another
machine says the same.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lab import __version__
from lab.scenario import answer_key
from lab.errors import ServiceError, StateError, UsageError
from lab.world.feedback import labels_path
from lab.evidence.schema import (ALIAS_HISTORY, ANSWER_KEY, JOURNAL, LABELS, MANIFEST, MAX_MONITORING_BYTES,
                                  MONITORING, REGISTRY, SCENARIO, SCHEMA_VERSION, SERVING, TRAFFIC, TRAINING_DATA,
                                  JournalEntry,
                                  Manifest, RegistrySnapshot, read_jsonl, sha256_of)
from lab.core.aliases import alias_state
from lab.core.home import Home, write_json_atomic
from lab.core.journal import JournalError, verify
from lab.release.registry import model_versions
from lab.scenario.datafacts import training_data_facts
from lab.scenario.run import effective_scenario
from lab.serving.requestlog import merged, read_requests
from lab.stack.control import lab_running

#: Where the lab keeps the last registry it read, for grading after MLflow has stopped.
SNAPSHOT_NAME = "registry_snapshot.json"
#: ``source`` of monitoring.json: the home's monitoring folder, relative to the home.
MONITORING_SOURCE = "monitoring"


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, records: Any) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
            n += 1
    return n


def snapshot_path(home: Home) -> Path:
    return home.root / SNAPSHOT_NAME


def registry_snapshot(home: Home, model: str, journal: list[JournalEntry], *, live: bool) -> RegistrySnapshot:
    """The registry as graders see it: MLflow when ``live``, else the saved snapshot, else the journal."""
    now = datetime.now(timezone.utc).isoformat()
    error = ""
    if live:
        try:
            versions = model_versions(home.url("mlflow"), model)
            snap = RegistrySnapshot(source="mlflow", taken_at=now, model=model, versions=versions,
                                    note="read from the lab's MLflow server")
            write_json_atomic(snapshot_path(home), snap.model_dump(mode="json"))
            return snap
        except ServiceError as exc:
            error = f"MLflow did not answer ({exc}); "
    saved = snapshot_path(home)
    if saved.exists():
        try:
            data = json.loads(saved.read_text(encoding="utf-8"))
            snap = RegistrySnapshot.model_validate(data)
            if snap.model == model:
                return snap.model_copy(update={"source": "snapshot", "note": error + f"MLflow was not running: the "
                                               f"snapshot saved at {snap.taken_at}"})
        except (OSError, ValueError, ValidationError):
            error += "the saved snapshot is unreadable; "
    registered = [e["data"] for e in journal if e["kind"] == "model.registered" and e["data"].get("model") == model]
    if registered:
        aliases: dict[int, list[str]] = {}
        for alias, v in alias_state(journal, model).items():
            if v is not None:
                aliases.setdefault(int(v), []).append(alias)
        versions = [{"name": model, "version": int(r["version"]), "run_id": r.get("run_id"),
                     "aliases": sorted(aliases.get(int(r["version"]), [])), "metrics": {},
                     "estimator": r.get("estimator")} for r in registered]
        return RegistrySnapshot(source="journal", taken_at=now, model=model,
                                versions=sorted(versions, key=lambda v: v["version"]),
                                note=error + "MLflow was not running and no snapshot was saved: versions and run ids "
                                             "from the journal, without metrics")
    return RegistrySnapshot(source="none", taken_at=now, model=model,
                            note=error + "MLflow was not running, no snapshot was saved and the journal records no "
                                         "registered version")


def _alias_history(journal: list[JournalEntry]) -> list[dict[str, Any]]:
    out = []
    for e in journal:
        if e["kind"] != "alias.moved":
            continue
        d = e["data"]
        out.append({"seq": e["seq"], "time": e["time"], "day": e["day"], "model": d.get("model"),
                    "alias": d.get("alias"), "from": d.get("from"), "to": d.get("to"), "actor": e["actor"],
                    "reason": d.get("reason"), "via": d.get("via")})
    return out


def relative_to_home(value: Any, root: Path) -> Any:
    """``value`` with every string naming a path inside ``root`` made relative to it.

    >>> relative_to_home({"report": "/h/lab/monitoring/reports/w-1.html", "n": [1, "/h/lab"]}, Path("/h/lab"))
    {'report': 'monitoring/reports/w-1.html', 'n': [1, '.']}
    """
    if isinstance(value, dict):
        return {k: relative_to_home(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [relative_to_home(v, root) for v in value]
    if isinstance(value, str):
        prefix = str(root).rstrip("/")
        if value == prefix:
            return "."
        if value.startswith(prefix + "/"):
            return value[len(prefix) + 1:]
    return value


def _monitoring(home: Home) -> dict[str, Any] | None:
    folder = home.root / MONITORING_SOURCE
    if not folder.is_dir():
        return None
    files: dict[str, Any] = {}
    budget = MAX_MONITORING_BYTES
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.is_symlink() or p.suffix not in (".json", ".jsonl", ".yaml", ".yml"):
            continue
        size = p.stat().st_size
        if size > budget:
            files[p.name] = {"skipped": f"{size:,} bytes, over the bundle's limit"}
            continue
        budget -= size
        if p.suffix == ".jsonl":
            files[p.name] = read_jsonl(p)
        elif p.suffix == ".json":
            try:
                files[p.name] = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                files[p.name] = {"unreadable": str(exc).replace(str(p), f"{MONITORING_SOURCE}/{p.name}")}
        else:
            files[p.name] = p.read_text(encoding="utf-8", errors="replace")
    if not files:
        return None
    roots = {home.root, home.root.resolve()}
    for root in sorted(roots, key=lambda r: len(str(r)), reverse=True):
        files = relative_to_home(files, root)
    return {"source": MONITORING_SOURCE, "files": files}


def collect_evidence(home: Home, out_dir: Path, lab_commands: Sequence[str],
                     rubric: tuple[int, str] | None = None) -> Path:
    """Write the evidence bundle of ``home`` into ``out_dir`` (created; must be empty) and return it.

    ``lab_commands`` is every leaf ``lab`` command (``lab shadow start``, ...): the
    runbook grader checks the commands a runbook quotes against it. ``rubric`` is the
    runbook rubric's (version, law as at) the bundle is collected for, stamped into the
    manifest; both are passed in by the caller, so collecting imports neither the CLI nor
    the graders.
    """
    cfg = home.config()
    if cfg is None:
        raise StateError(f"{home.root} holds no lab", hint="`lab up` first, or pass --home")
    if not home.journal.exists():
        raise StateError(f"{home.root} has no journal: nothing to grade", hint="`lab up` first")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty; the evidence bundle needs an empty folder")
    scenario, seed = effective_scenario(home)
    key = answer_key.read(home) or answer_key.build_for_home(home)  # validated before anything is written
    out.mkdir(parents=True, exist_ok=True)
    # copy the journal first (it keeps growing while the lab runs), then verify the copy
    with open(home.journal, "rb") as src, open(out / JOURNAL, "wb") as dst:
        fcntl.flock(src, fcntl.LOCK_SH)  # writers hold LOCK_EX: never copy half a line
        try:
            shutil.copyfileobj(src, dst)
        finally:
            fcntl.flock(src, fcntl.LOCK_UN)
    journal: list[JournalEntry] = [json.loads(line) for line in (out / JOURNAL).read_text(encoding="utf-8").splitlines()
                                   if line.strip()]
    try:
        n = verify(out / JOURNAL)
        verified, journal_error = True, None
    except JournalError as exc:
        n, verified, journal_error = len(journal), False, str(exc).replace(str(out / JOURNAL), JOURNAL)

    _write_json(out / SCENARIO, scenario.model_dump(mode="json"))
    _write_json(out / ANSWER_KEY, answer_key.dump(key))
    registry = registry_snapshot(home, scenario.model.name, journal, live=lab_running(home))
    _write_json(out / REGISTRY, registry.model_dump(mode="json"))
    _write_json(out / ALIAS_HISTORY, _alias_history(journal))
    serving = merged(home.serving / "requests.jsonl")
    _write_jsonl(out / SERVING, ({k: v for k, v in r.items() if k != "inputs"} for r in serving))
    _write_jsonl(out / TRAFFIC, read_requests(home.traffic / "requests.jsonl"))
    _write_jsonl(out / LABELS, read_requests(labels_path(home)))
    monitoring = _monitoring(home)
    if monitoring is not None:
        _write_json(out / MONITORING, monitoring)
    _write_json(out / TRAINING_DATA, training_data_facts(scenario, int(seed)).model_dump(mode="json"))

    rubric_version, law_as_at = rubric if rubric is not None else (None, None)
    files = {p.name: sha256_of(p) for p in sorted(out.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = Manifest(
        schema_version=SCHEMA_VERSION, lab_version=__version__, scenario=scenario.id, seed=int(seed),
        rubric_version=rubric_version, law_as_at=law_as_at,
        created=datetime.now(timezone.utc).isoformat(), files=files, journal_verified=verified,
        journal_entries=n, journal_error=journal_error, registry_source=registry.source,
        monitoring=monitoring is not None, lab_commands=sorted(lab_commands),
    )
    _write_json(out / MANIFEST, manifest.model_dump(mode="json"))
    return out
