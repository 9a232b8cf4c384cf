"""The evidence bundle: everything graders read, frozen in one folder (or .tar.gz).

``lab submit`` writes it from a lab home (running or stopped); graders read only it,
so ``lab grade --evidence BUNDLE`` re-grades with no server running, byte-identically.
A bundle holds::

    manifest.json            schema_version, lab_version, scenario, seed, rubric_version, law_as_at,
                             created, the sha256 of every other file, whether the journal's hash
                             chain verified, where the registry came from, the lab's commands
    scenario.json            the effective scenario (seed applied, `lab inject` overrides included)
    answer_key.json          the run's hidden ground truth, drift onsets and early injections included:
                             schema and builder in lab.scenario.answer_key (unknown fields refused)
    journal.jsonl            the journal, as written
    registry.json            {source, taken_at, model, versions[], note}: from MLflow when it is up,
                             else the last snapshot saved in the home, else rebuilt from the journal
    alias_history.json       every alias.moved entry: seq, time, day, model, alias, from, to, actor,
                             reason, via
    serving_requests.jsonl   merged serving records (lab.serving.requestlog.merged), without inputs
    traffic_requests.jsonl   the traffic replayer's log
    labels.jsonl             labelled feedback (lab.world.feedback), possibly empty
    monitoring.json          live monitoring results, when the home has any: {source: "monitoring",
                             files: {name: content}}, every path in them relative to the lab home
    training_data.json       the facts of every version's training set (rows, collection window, base
                             rates overall and per sensitive group, features, label delay), recomputed
                             from the seeded scenario (lab.scenario.datafacts); schema 3 on

This module is the bundle's schema and its reader, and all graders import of it: it
calls no service. :func:`load_evidence` reads a folder or a .tar.gz (unpacked safely by
:mod:`lab.evidence.archive` into a temporary folder it removes) into a typed :class:`Evidence`; bundles of every
schema in :data:`READABLE_SCHEMAS` load. The live collector that writes a bundle from a
lab home (reading MLflow) is :func:`lab.evidence.collect.collect_evidence`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.errors import BundleError  # re-exported: where callers have always imported it
from lab.evidence.archive import ArchiveLimitExceeded, ArchiveUnreadable, Limits, open_archive
from lab.scenario.answer_key import AnswerKey, BadRelease, DriftTruth, Injection  # re-exported: the bundle's key
from lab.scenario.datafacts import TrainingData
from lab.scenario.schema import Scenario, scenario_from_json

#: 2: ``monitoring.json`` holds no absolute path of the lab home (``source`` is
#: ``monitoring``, report paths are relative to the home). Bundles of schema 1 load the same.
#: 3: ``training_data.json`` (the training sets' facts, for the datasheet); bundles of schema 1
#: and 2 load without it (``Evidence.training_data`` is None: the grader recomputes the facts).
SCHEMA_VERSION = 3
READABLE_SCHEMAS = (1, 2, 3)
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
TRAINING_DATA = "training_data.json"
REQUIRED = (SCENARIO, ANSWER_KEY, JOURNAL, REGISTRY, ALIAS_HISTORY, SERVING, TRAFFIC, LABELS)
MAX_BUNDLE_BYTES = 2 * 1024 * 1024 * 1024  # a month of traffic logs is well under this
MAX_MONITORING_BYTES = 64 * 1024 * 1024
#: The lab's commands, for bundles whose manifest lists none (the CLI passes the real list to the collector).
FALLBACK_COMMANDS = ("lab up", "lab down", "lab status", "lab logs", "lab scenarios", "lab export-data", "lab evaluate",
                     "lab inject", "lab promote", "lab rollback", "lab shadow start", "lab shadow stop",
                     "lab shadow report", "lab init-submission", "lab submit", "lab grade")

RegistrySource = Literal["mlflow", "snapshot", "journal", "none"]


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
    """A loaded bundle. Request records stay plain dicts (fields: see lab.serving.requestlog, lab.world.traffic)."""

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
    training_data: TrainingData | None = None  # bundles of schema 3 on

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


# --------------------------------------------------------------------------- reading and packing


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; a line cut by a crash mid-write is skipped."""
    out: list[dict[str, Any]] = []
    if not Path(path).exists():
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return out


def bundle_archive(folder: Path, archive: Path | None = None) -> Path:
    """Pack a bundle folder as ``<folder>.tar.gz`` (members under ``evidence/``), reproducibly."""
    folder = Path(folder)
    archive = Path(archive) if archive else folder.with_name(folder.name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        for p in sorted(folder.iterdir()):
            if p.is_file() and not p.is_symlink():
                tar.add(p, arcname=f"evidence/{p.name}", filter=reproducible)
    return archive


def reproducible(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A tar member without owner or time, so the same files always pack to the same bytes."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


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
    """Unpack a bundle's known files flat into ``dest``; any unsafe, linked or repeated entry refuses it."""
    try:
        with open_archive(archive, Limits(max_total_bytes=MAX_BUNDLE_BYTES)) as members:
            for m in members:
                if m.unsafe:
                    raise BundleError(f"{archive.name}: entry {m.name!r} {m.unsafe}")
                if m.kind not in ("file", "dir"):
                    raise BundleError(f"{archive.name}: entry {m.name!r} is a link or a device; bundles hold files")
                name = Path(m.name).name
                if m.kind == "dir" or name not in (MANIFEST, MONITORING, TRAINING_DATA, *REQUIRED):
                    continue
                target = dest / name
                if target.exists():
                    raise BundleError(f"{archive.name}: {name} appears twice")
                m.copy_to(target)
    except ArchiveLimitExceeded as exc:
        raise BundleError(f"{archive.name}: {exc}") from None
    except ArchiveUnreadable as exc:
        raise BundleError(f"{archive.name}: not a readable bundle ({exc})") from None


def _load_folder(folder: Path, shown: Path) -> Evidence:
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise BundleError(f"{shown}: no {MANIFEST}: not an evidence bundle")
    try:
        manifest = Manifest.model_validate_json(mpath.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        raise BundleError(f"{shown}: {MANIFEST} is invalid ({str(exc).splitlines()[0]})") from None
    if manifest.schema_version not in READABLE_SCHEMAS:
        newer = manifest.schema_version > SCHEMA_VERSION
        raise BundleError(f"{shown}: bundle schema {manifest.schema_version} is "
                          f"{'newer than' if newer else 'not one'} this lab reads "
                          f"({', '.join(map(str, READABLE_SCHEMAS))})", hint="upgrade prodml-lab" if newer else None)
    missing = [n for n in REQUIRED if not (folder / n).is_file()]
    if missing:
        raise BundleError(f"{shown}: missing {', '.join(missing)}")
    for name, digest in manifest.files.items():
        f = folder / name
        if f.is_file() and sha256_of(f) != digest:
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
        training = TrainingData.model_validate(read_json(TRAINING_DATA)) if (folder / TRAINING_DATA).is_file() else None
    except ValidationError as exc:
        raise BundleError(f"{shown}: invalid content ({str(exc).splitlines()[0]}; {exc.errors()[0]['loc']})") from None
    monitoring = read_json(MONITORING) if (folder / MONITORING).is_file() else None
    return Evidence(
        path=shown, manifest=manifest, scenario=scenario, answer_key=answer_key,
        journal=read_jsonl(folder / JOURNAL),  # type: ignore[arg-type]
        registry=registry, alias_history=aliases, serving_requests=read_jsonl(folder / SERVING),
        traffic_requests=read_jsonl(folder / TRAFFIC), labels=read_jsonl(folder / LABELS), monitoring=monitoring,
        training_data=training,
    )
