"""The evidence bundle: everything graders read, frozen in one folder (or .tar.gz).

``lab submit`` writes it from a lab home (running or stopped); graders read only it,
so ``lab grade --evidence BUNDLE`` re-grades with no server running, byte-identically.
A bundle holds::

    manifest.json            schema_version, lab_version, scenario, seed, rubric_version, law_as_at,
                             created, the sha256 of every other file, whether the journal's hash
                             chain verified, where the registry came from, the lab's commands
    scenario.json            the effective scenario (seed applied, `lab inject` overrides included)
    answer_key.json          the run's hidden ground truth (lab.answer_key)
    journal.jsonl            the journal, as written
    registry.json            {source, taken_at, model, versions[], note}: from MLflow when it is up,
                             else the last snapshot saved in the home, else rebuilt from the journal
    alias_history.json       every alias.moved entry: seq, time, day, model, alias, from, to, actor,
                             reason, via
    serving_requests.jsonl   merged serving records (lab.serving.requestlog.merged), without inputs
    traffic_requests.jsonl   the traffic replayer's log
    labels.jsonl             labelled feedback (lab.feedback), possibly empty
    monitoring.json          live monitoring results, when the home has any

:func:`collect_evidence` writes only inside ``out_dir`` (and refreshes the registry
snapshot inside the lab home); :func:`load_evidence` reads a folder or a .tar.gz
(unpacked safely into a temporary folder it removes) into a typed :class:`Evidence`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.errors import StateError, UsageError
from lab.home import Home, write_json_atomic
from lab.scenario import Scenario, scenario_from_json

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SCENARIO = "scenario.json"
ANSWER_KEY = "answer_key.json"
JOURNAL = "journal.jsonl"
REGISTRY = "registry.json"
ALIAS_HISTORY = "alias_history.json"
SERVING = "serving_requests.jsonl"
TRAFFIC = "traffic_requests.jsonl"
LABELS = "labels.jsonl"
MONITORING = "monitoring.json"
REQUIRED = (SCENARIO, ANSWER_KEY, JOURNAL, REGISTRY, ALIAS_HISTORY, SERVING, TRAFFIC, LABELS)
#: Where the lab keeps the last registry it read, for grading after MLflow has stopped.
SNAPSHOT_NAME = "registry_snapshot.json"
MAX_BUNDLE_BYTES = 2 * 1024 * 1024 * 1024  # a month of traffic logs is well under this
MAX_MONITORING_BYTES = 64 * 1024 * 1024
#: The lab's commands when the CLI cannot be introspected.
FALLBACK_COMMANDS = ("lab up", "lab down", "lab status", "lab logs", "lab scenarios", "lab export-data", "lab evaluate",
                     "lab inject", "lab promote", "lab rollback", "lab shadow start", "lab shadow stop",
                     "lab shadow report", "lab init-submission", "lab submit", "lab grade")

RegistrySource = Literal["mlflow", "snapshot", "journal", "none"]


class BundleError(UsageError):
    """An evidence bundle that cannot be read (exit 2)."""


# --------------------------------------------------------------------------- typed contents


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Manifest(_Model):
    schema_version: int
    lab_version: str
    scenario: str
    seed: int
    rubric_version: int | None = None
    law_as_at: str | None = None
    created: str
    files: dict[str, str]  # name -> sha256
    journal_verified: bool
    journal_entries: int = 0
    journal_error: str | None = None
    registry_source: RegistrySource = "none"
    monitoring: bool = False
    lab_commands: list[str] = []


class DriftTruth(_Model):
    event: str
    type: Literal["data", "concept", "label"]
    onset_day: float
    width_days: float = 0.0
    magnitude: float
    features: list[str] = []


class BadRelease(_Model):
    event: str
    day: float
    version: int


class AnswerKey(_Model):
    schema_version: int = 1
    scenario: str
    seed: int
    model: str
    label_delay_days: float
    drifts: list[DriftTruth] = []
    bad_release: BadRelease | None = None
    last_known_good_version: int
    challenger_version: int | None = None
    randomised: dict[str, Any] = {}


class AliasMove(_Model):
    seq: int
    time: str
    day: float | None = None
    model: str
    alias: str
    from_: int | None = Field(None, alias="from")
    to: int | None = None
    actor: str
    reason: str | None = None
    via: str | None = None

    @property
    def timestamp(self) -> float:
        return parse_time(self.time)


class RegistrySnapshot(_Model):
    source: RegistrySource
    taken_at: str | None = None
    model: str
    versions: list[dict[str, Any]] = []
    note: str = ""


class JournalEntry(TypedDict):
    seq: int
    time: str
    day: float | None
    kind: str
    actor: str
    data: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True)
class Evidence:
    """A loaded bundle. Request records stay plain dicts (fields: see lab.serving.requestlog, lab.traffic)."""

    path: Path
    manifest: Manifest
    scenario: Scenario
    answer_key: AnswerKey
    journal: list[JournalEntry]
    registry: RegistrySnapshot
    alias_history: list[AliasMove]
    serving_requests: list[dict[str, Any]]
    traffic_requests: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    monitoring: dict[str, Any] | None

    @property
    def seed(self) -> int:
        return self.manifest.seed

    @property
    def model(self) -> str:
        return self.scenario.model.name

    def entries(self, kind: str) -> list[JournalEntry]:
        return [e for e in self.journal if e["kind"] == kind]

    def champion(self) -> int | None:
        """The version ``champion`` ended on (alias history first, then the registry)."""
        moves = [m for m in self.alias_history if m.alias == "champion" and m.model == self.model]
        if moves:
            return moves[-1].to
        for v in self.registry.versions:
            if "champion" in (v.get("aliases") or []):
                return int(v["version"])
        return None


def parse_time(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# --------------------------------------------------------------------------- collecting


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, records: Any) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
            n += 1
    return n


def _jsonl(path: Path) -> list[dict[str, Any]]:
    from lab.serving.requestlog import read_requests

    return list(read_requests(path))


def snapshot_path(home: Home) -> Path:
    return home.root / SNAPSHOT_NAME


def registry_snapshot(home: Home, model: str, journal: list[JournalEntry], *, live: bool) -> RegistrySnapshot:
    """The registry as graders see it: MLflow when ``live``, else the saved snapshot, else the journal."""
    now = datetime.now(timezone.utc).isoformat()
    error = ""
    if live:
        from lab.errors import ServiceError
        from lab.registry import model_versions

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
        state: dict[str, int | None] = {}
        for e in journal:
            if e["kind"] == "alias.moved" and e["data"].get("model") == model:
                state[e["data"]["alias"]] = e["data"].get("to")
        for alias, v in state.items():
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


def _monitoring(home: Home) -> dict[str, Any] | None:
    folder = home.root / "monitoring"
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
            files[p.name] = _jsonl(p)
        elif p.suffix == ".json":
            try:
                files[p.name] = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                files[p.name] = {"unreadable": str(exc)}
        else:
            files[p.name] = p.read_text(encoding="utf-8", errors="replace")
    if not files:
        return None
    return {"source": str(folder), "files": files}


def lab_commands() -> list[str]:
    """Every leaf ``lab`` command (``lab shadow start``, ``lab rollback``, ...), from the CLI itself."""
    try:
        import typer

        from lab.cli import app

        root = typer.main.get_command(app)
    except Exception:  # a CLI module that does not import must not stop evidence collection
        return list(FALLBACK_COMMANDS)
    out: list[str] = []

    def walk(cmd: Any, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if isinstance(subs, dict) and subs:
            for name, sub in sorted(subs.items()):
                walk(sub, f"{prefix} {name}")
        else:
            out.append(prefix)

    walk(root, "lab")
    return sorted(out)


def collect_evidence(home: Home, out_dir: Path) -> Path:
    """Write the evidence bundle of ``home`` into ``out_dir`` (created; must be empty) and return it."""
    from lab import __version__
    from lab.feedback import labels_path
    from lab.grading.runbook import load_rubric
    from lab.journal import JournalError, verify
    from lab.run import effective_scenario
    from lab.serving.requestlog import merged, read_requests
    from lab.stack import lab_running

    cfg = home.config()
    if not cfg:
        raise StateError(f"{home.root} holds no lab", hint="`lab up` first, or pass --home")
    if not home.journal.exists():
        raise StateError(f"{home.root} has no journal: nothing to grade", hint="`lab up` first")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty; the evidence bundle needs an empty folder")
    out.mkdir(parents=True, exist_ok=True)

    scenario, seed = effective_scenario(home)
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
    key = json.loads(home.answer_key.read_text(encoding="utf-8")) if home.answer_key.exists() else None
    if key is None:
        from lab.answer_key import answer_key
        from lab.scenario import load_scenario, resolve

        resolved, drawn = resolve(load_scenario(cfg["scenario_file"]), seed)
        key = answer_key(resolved, seed, drawn)
    _write_json(out / ANSWER_KEY, key)
    live = lab_running(home)
    registry = registry_snapshot(home, scenario.model.name, journal, live=live)
    _write_json(out / REGISTRY, registry.model_dump(mode="json"))
    _write_json(out / ALIAS_HISTORY, _alias_history(journal))
    serving = merged(home.serving / "requests.jsonl")
    _write_jsonl(out / SERVING, ({k: v for k, v in r.items() if k != "inputs"} for r in serving))
    _write_jsonl(out / TRAFFIC, read_requests(home.traffic / "requests.jsonl"))
    _write_jsonl(out / LABELS, read_requests(labels_path(home)))
    monitoring = _monitoring(home)
    if monitoring is not None:
        _write_json(out / MONITORING, monitoring)

    rubric = load_rubric()
    files = {p.name: _sha256(p) for p in sorted(out.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = Manifest(
        schema_version=SCHEMA_VERSION, lab_version=__version__, scenario=scenario.id, seed=int(seed),
        rubric_version=rubric.rubric_version, law_as_at=rubric.law_as_at.isoformat(),
        created=datetime.now(timezone.utc).isoformat(), files=files, journal_verified=verified,
        journal_entries=n, journal_error=journal_error, registry_source=registry.source,
        monitoring=monitoring is not None, lab_commands=lab_commands(),
    )
    _write_json(out / MANIFEST, manifest.model_dump(mode="json"))
    return out


def bundle_archive(folder: Path, archive: Path | None = None) -> Path:
    """Pack a bundle folder as ``<folder>.tar.gz`` (members under ``evidence/``), reproducibly."""
    folder = Path(folder)
    archive = Path(archive) if archive else folder.with_name(folder.name + ".tar.gz")

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with tarfile.open(archive, "w:gz") as tar:
        for p in sorted(folder.iterdir()):
            if p.is_file() and not p.is_symlink():
                tar.add(p, arcname=f"evidence/{p.name}", filter=clean)
    return archive


# --------------------------------------------------------------------------- loading


def load_evidence(path: str | os.PathLike[str], *, work_dir: Path | None = None) -> Evidence:
    """Read a bundle folder or .tar.gz; checks every file's sha256 against the manifest."""
    p = Path(path)
    if p.is_dir():
        return _load_folder(p, p)
    if not p.is_file():
        raise BundleError(f"{p}: no such evidence bundle", hint="`lab submit` writes one under <home>/submissions/")
    if not p.name.endswith((".tar.gz", ".tgz", ".tar")):
        raise BundleError(f"{p}: an evidence bundle is a folder or a .tar.gz")
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="evidence-", dir=work_dir))
    try:
        _extract_bundle(p, tmp)
        return _load_folder(tmp, p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_bundle(archive: Path, dest: Path) -> None:
    from lab.grading.submission import _member_problem

    total = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for m in tar:
                total += max(0, m.size)
                if total > MAX_BUNDLE_BYTES:
                    raise BundleError(f"{archive.name}: unpacks to more than {MAX_BUNDLE_BYTES:,} bytes")
                why = _member_problem(m.name)
                if why:
                    raise BundleError(f"{archive.name}: entry {m.name!r} {why}")
                if not (m.isfile() or m.isdir()):
                    raise BundleError(f"{archive.name}: entry {m.name!r} is a link or a device; bundles hold files")
                if m.isdir():
                    continue
                name = Path(m.name).name
                if name not in (MANIFEST, MONITORING, *REQUIRED):
                    continue
                src = tar.extractfile(m)
                if src is None:
                    continue
                target = dest / name
                if target.exists():
                    raise BundleError(f"{archive.name}: {name} appears twice")
                with open(target, "wb") as f:
                    shutil.copyfileobj(src, f)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"{archive.name}: not a readable bundle ({exc})") from None


def _load_folder(folder: Path, shown: Path) -> Evidence:
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise BundleError(f"{shown}: no {MANIFEST}: not an evidence bundle")
    try:
        manifest = Manifest.model_validate_json(mpath.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        raise BundleError(f"{shown}: {MANIFEST} is invalid ({str(exc).splitlines()[0]})") from None
    if manifest.schema_version > SCHEMA_VERSION:
        raise BundleError(f"{shown}: bundle schema {manifest.schema_version} is newer than this lab reads "
                          f"({SCHEMA_VERSION})", hint="upgrade prodml-lab")
    missing = [n for n in REQUIRED if not (folder / n).is_file()]
    if missing:
        raise BundleError(f"{shown}: missing {', '.join(missing)}")
    for name, digest in manifest.files.items():
        f = folder / name
        if f.is_file() and _sha256(f) != digest:
            raise BundleError(f"{shown}: {name} does not match its sha256 in the manifest (edited after collection)")

    def read_json(name: str) -> Any:
        try:
            return json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"{shown}: {name} is unreadable ({exc})") from None

    try:
        scenario = scenario_from_json(read_json(SCENARIO))  # fills in 0.5 for bundles written before thresholds
        answer_key = AnswerKey.model_validate(read_json(ANSWER_KEY))
        registry = RegistrySnapshot.model_validate(read_json(REGISTRY))
        aliases = [AliasMove.model_validate(a) for a in read_json(ALIAS_HISTORY)]
    except ValidationError as exc:
        raise BundleError(f"{shown}: invalid content ({str(exc).splitlines()[0]}; {exc.errors()[0]['loc']})") from None
    monitoring = read_json(MONITORING) if (folder / MONITORING).is_file() else None
    return Evidence(
        path=shown, manifest=manifest, scenario=scenario, answer_key=answer_key,
        journal=_jsonl(folder / JOURNAL),  # type: ignore[arg-type]
        registry=registry, alias_history=aliases, serving_requests=_jsonl(folder / SERVING),
        traffic_requests=_jsonl(folder / TRAFFIC), labels=_jsonl(folder / LABELS), monitoring=monitoring,
    )
