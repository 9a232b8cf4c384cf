"""What a team's `lab submit` sends beside its report: the evidence bundle and the submission.

The report's body may carry ``evidence`` (the bundle archive `lab submit` wrote, base64)
and ``submission`` (``{"name": "submission.tar.gz" | "....zip", "data": base64}``). Both or
neither: with both, the console keeps them under ``<drill home>/uploads/<team>/<n>/`` and
grades them itself (lab.drill.verify); the bundle must be the one ``evidence_digest`` names.
Archives are read later by the lab's own safe readers (their limits apply); here they are
only decoded and written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.drill.console import ApiError
from lab.drill.verify import EVIDENCE, STREAMED

SUFFIXES = (".tar.gz", ".tgz", ".zip")


@dataclass(frozen=True)
class Upload:
    folder: Path
    submission: str  # the submission's file name in the folder


def _decode(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ApiError(400, f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{what} is not valid base64") from None


def receive(home: Path, team: str, data: dict[str, Any], digest: str) -> Upload | None:
    """Check and write the attachments of a report body; None when it has none."""
    evidence, submission = data.get("evidence"), data.get("submission")
    if evidence is None and submission is None:
        return None
    if evidence is None or not isinstance(submission, dict):
        raise ApiError(400, "send both `evidence` (base64) and `submission` ({name, data}), or neither")
    bundle = _decode(evidence, "evidence")
    if "sha256:" + hashlib.sha256(bundle).hexdigest() != digest:
        raise ApiError(400, "evidence: its sha256 is not the evidence_digest sent with the report")
    name = str(submission.get("name", ""))
    suffix = next((s for s in SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        raise ApiError(400, f"submission.name must end with one of {', '.join(SUFFIXES)} (got {name[:80]!r})")
    raw = _decode(submission.get("data"), "submission.data")
    base = home / "uploads" / team
    base.mkdir(parents=True, exist_ok=True)
    n = 1 + max((int(p.name) for p in base.iterdir() if p.name.isdigit()), default=0)
    folder = base / f"{n:04d}"
    folder.mkdir()
    (folder / EVIDENCE).write_bytes(bundle)
    sub_name = "submission" + (".tar.gz" if suffix == ".tgz" else suffix)
    (folder / sub_name).write_bytes(raw)
    return Upload(folder, sub_name)


def write_streamed(upload: Upload, entries: list[dict[str, Any]]) -> None:
    """The journal the lab streamed so far, for the check against the bundle's."""
    with (upload.folder / STREAMED).open("w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
