"""Reading a submission safely: a folder, or a .tar.gz / .tgz / .tar / .zip of one.

A submission holds up to eight files, at its top level or in one folder inside the
archive::

    monitoring.yaml             the drift-monitoring config        (graded: drift_thresholds)
    model_card.md               the model card                     (graded: model_card)
    post_market_monitoring.md   the post-market monitoring runbook (graded: pmm_runbook)
    datasheet.md                the datasheet of the training data (graded: datasheet)
    decisions.yaml              optional: the shadow decision and rollback rationale
    release_gate.yaml           the release gate (graded: gates, where the scenario lists it)
    retraining.md               the retraining procedure (graded: retraining, where the scenario lists it)
    observability.md            business vs system signals, paging, objectives (graded: observability, where listed)

Every problem becomes one :class:`Problem` with a clear message, and the file it
concerns is left out (its graders then score it as missing); nothing crashes on bad
input. Refused: files over 1 MiB, empty files, text that is not UTF-8, YAML that does
not parse (with its line) or uses anchors/aliases (no "billion laughs"), archive
entries with ``..`` or absolute paths, links (symbolic or hard) and device files,
archives over the entry-count, entry-size, total-size or compression-ratio limits.
HTML in the Markdown is never rendered or executed: ``<script>``, ``<style>``,
``<iframe>``, ``<object>`` and ``<embed>`` blocks and event-handler attributes are cut
from the text the graders read, and a note says so.

Archives are unpacked into a temporary folder inside the lab home (``work_dir``), only
the eight names above are extracted, and the folder is removed once they are read. The
archive itself is read by :mod:`lab.evidence.archive` (shared with the evidence bundle's
reader); this module decides what each entry means for a submission.
:class:`lab.errors.SubmissionError` (exit 2) is raised only when nothing at all can be
graded: the path is missing, not a folder or a supported archive, the archive is
corrupt, or none of the eight files could be read.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "model_card.md").write_text("# Card\\n<script>alert(1)</script>\\nFine.\\n")
>>> sub = read_submission(d, work_dir=d / "work")
>>> sub.files["model_card.md"].text
'# Card\\n\\nFine.\\n'
>>> [(p.code, p.file) for p in sub.problems]
[('missing', 'monitoring.yaml'), ('html', 'model_card.md'), ('missing', 'post_market_monitoring.md'), ('missing', 'datasheet.md')]
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.core import safe_yaml as _yaml
from lab.errors import SubmissionError
from lab.evidence.archive import (
    ArchiveLimitExceeded,
    ArchiveUnreadable,
    Limits,
    Member,
    archive_format,
    open_archive,
    write_new,
)

MONITORING = "monitoring.yaml"
MODEL_CARD = "model_card.md"
RUNBOOK = "post_market_monitoring.md"
DATASHEET = "datasheet.md"
DECISIONS = "decisions.yaml"
RELEASE_GATE = "release_gate.yaml"
RETRAINING = "retraining.md"
OBSERVABILITY = "observability.md"
FILES: tuple[str, ...] = (MONITORING, MODEL_CARD, RUNBOOK, DATASHEET, DECISIONS, RELEASE_GATE, RETRAINING, OBSERVABILITY)
#: Not reported missing: decisions.yaml is optional everywhere; release_gate.yaml and retraining.md
#: are graded only where the scenario lists their task (its grader says when the file is missing).
OPTIONAL = frozenset({DECISIONS, RELEASE_GATE, RETRAINING, OBSERVABILITY})
#: Which skill each file is graded under (decisions.yaml informs shadow and rollback).
SKILL_OF = {MONITORING: "drift_thresholds", MODEL_CARD: "model_card", RUNBOOK: "pmm_runbook",
            DATASHEET: "datasheet", DECISIONS: "shadow, rollback", RELEASE_GATE: "gates", RETRAINING: "retraining",
            OBSERVABILITY: "observability"}

MAX_FILE_BYTES = 1024 * 1024  # each submitted file
MAX_ENTRIES = 1_000  # archive members, of any kind
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # any single member, even one we do not extract
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # all members together, and the decompressed stream
MAX_RATIO = 200.0  # uncompressed / compressed, for a zip member over 1 MiB
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")

ProblemCode = Literal["missing", "empty", "too-large", "not-utf8", "binary", "yaml", "schema", "html", "unsafe-path",
                      "link", "not-a-file", "archive-limit", "duplicate"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the submission; ``file`` is None for the whole submission."""

    code: ProblemCode
    file: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file or "submission"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "file": self.file, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class SubmittedFile:
    name: str
    text: str  # UTF-8 decoded; HTML blocks cut from Markdown
    sha256: str  # of the bytes as submitted
    size: int


class ShadowDecision(BaseModel):
    """``decisions.yaml`` ``shadow:``: what you decided about the candidate, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int | None = None
    decision: Literal["promote", "keep", "undecided"] | None = None
    rationale: str = ""


class RollbackDecision(BaseModel):
    """``decisions.yaml`` ``rollback:``: which version you rolled back to, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to_version: int | None = None
    rationale: str = ""


class Decisions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shadow: ShadowDecision | None = None
    rollback: RollbackDecision | None = None
    notes: str = Field("", description="anything else the grader should know")


@dataclass(frozen=True)
class Submission:
    """What could be read; graders treat a file absent from ``files`` as missing."""

    source: str  # the path as given, for reports
    files: dict[str, SubmittedFile]
    problems: tuple[Problem, ...] = ()
    decisions: Decisions | None = None
    notes: tuple[str, ...] = field(default=())

    def text(self, name: str) -> str | None:
        f = self.files.get(name)
        return f.text if f else None

    def problems_for(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.file == name]


# --------------------------------------------------------------------------- reading


def read_submission(path: str | os.PathLike[str], *, work_dir: str | os.PathLike[str]) -> Submission:
    """Read the submission at ``path``; archives are unpacked under ``work_dir`` (inside the lab home)."""
    p = Path(path)
    source = str(path)
    if not p.exists() and not p.is_symlink():
        raise SubmissionError(f"{source}: no such file or folder",
                              hint="give the folder `lab init-submission DIR` created, or a .tar.gz/.zip of it")
    if p.is_symlink():
        p = p.resolve()
    if p.is_dir():
        problems: list[Problem] = []
        raw = _read_folder(p, problems)
        return _build(source, raw, problems)
    name = p.name.lower()
    if not name.endswith(ARCHIVE_SUFFIXES):
        raise SubmissionError(f"{source}: not a folder or an archive ({', '.join(ARCHIVE_SUFFIXES)})",
                              hint="submit the folder, or pack it with `tar czf answer.tar.gz answer/`")
    with _scratch(Path(work_dir)) as scratch:
        problems = []
        _extract(p, scratch, problems)
        raw = _read_folder(scratch, problems, archive=True)
    return _build(source, raw, problems)


@contextmanager
def _scratch(work_dir: Path) -> Iterator[Path]:
    work_dir.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="submission-", dir=work_dir))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _read_folder(folder: Path, problems: list[Problem], archive: bool = False) -> dict[str, bytes]:
    """The eight files' bytes; a folder with none of them at its top but one subfolder is looked into."""
    base = folder
    if not any((folder / n).exists() or (folder / n).is_symlink() for n in FILES):
        subs = [c for c in folder.iterdir() if c.is_dir() and not c.is_symlink() and not c.name.startswith(".")]
        if len(subs) == 1:
            base = subs[0]
    root = folder.resolve()
    out: dict[str, bytes] = {}
    for name in FILES:
        f = base / name
        if f.is_symlink():
            target = f.resolve()
            if archive or not _inside(target, root):
                problems.append(Problem("link", name, "is a link to a file outside the submission; it was not "
                                                      "read. Submit the file itself."))
                continue
        if not f.exists():
            continue
        try:
            st = f.stat()
        except OSError as exc:
            problems.append(Problem("not-a-file", name, f"cannot be read: {exc.strerror}"))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem("not-a-file", name, "is not a regular file; it was not read"))
            continue
        if st.st_size > MAX_FILE_BYTES:
            problems.append(Problem("too-large", name, f"is {st.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,} "
                                                       "(1 MiB). It was not read."))
            continue
        try:
            with open(f, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            problems.append(Problem("not-a-file", name, f"cannot be read: {exc.strerror}"))
            continue
        if len(data) > MAX_FILE_BYTES:
            problems.append(Problem("too-large", name, f"is over {MAX_FILE_BYTES:,} bytes (1 MiB); it was not read"))
            continue
        out[name] = data
    return out


def _inside(p: Path, root: Path) -> bool:
    try:
        p.relative_to(root)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- archives


def _wanted(name: str) -> str | None:
    """The submission file a member stands for: ``X`` or ``folder/X``, else None."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if len(parts) == 1 and parts[0] in FILES:
        return parts[0]
    if len(parts) == 2 and parts[1] in FILES and not parts[0].startswith((".", "__MACOSX")):
        return parts[1]
    return None


_REPACK_HINT = {"tar": "pack it with `tar czf answer.tar.gz answer/`, or submit the folder",
                "zip": "pack it with `zip -r answer.zip answer/`, or submit the folder"}


def _extract(path: Path, dest: Path, problems: list[Problem]) -> None:
    """Write the eight files of the archive at ``path`` into ``dest``; every other entry is only counted."""
    limits = Limits(max_total_bytes=MAX_TOTAL_BYTES, max_entries=MAX_ENTRIES, max_entry_bytes=MAX_ENTRY_BYTES,
                    max_ratio=MAX_RATIO)  # read at call time: tests lower them
    fmt = archive_format(path)
    try:
        with open_archive(path, limits) as members:
            picked: set[str] = set()
            for member in members:
                _extract_member(member, dest, picked, problems)
    except ArchiveLimitExceeded as exc:
        raise SubmissionError(f"{path.name}: refused: the archive {exc} (an archive bomb?)",
                              hint="submit only the eight files, unpacked size under 1 MiB each") from None
    except ArchiveUnreadable as exc:
        raise SubmissionError(f"{path.name}: not a readable {fmt} archive ({exc})", hint=_REPACK_HINT[fmt]) from None


def _extract_member(member: Member, dest: Path, picked: set[str], problems: list[Problem]) -> None:
    """Extract one entry if it is one of the eight files, or say why not; ``picked``: the files seen so far."""
    want = _wanted(member.name)
    why = member.unsafe
    if why:
        problems.append(Problem("unsafe-path", want, f"archive entry {member.name!r} {why}; it was not extracted"))
        return
    if member.kind in ("symlink", "hardlink"):
        if want:
            to = f" (to {member.linkname!r})" if member.linkname is not None else ""
            problems.append(Problem("link", want, f"archive entry {member.name!r} is a "
                                                  f"{'symbolic' if member.kind == 'symlink' else 'hard'} link{to}; "
                                                  "links are not followed"))
        return
    if not want:
        return
    if member.kind != "file":
        problems.append(Problem("not-a-file", want, f"archive entry {member.name!r} is not a regular file"))
        return
    if want in picked:
        problems.append(Problem("duplicate", want, f"appears twice in the archive; the first one was read, "
                                                   f"{member.name!r} was not"))
        return
    picked.add(want)
    if member.size > MAX_FILE_BYTES:
        problems.append(Problem("too-large", want, f"is {member.size:,} bytes; the limit is {MAX_FILE_BYTES:,} "
                                                   "(1 MiB). It was not read."))
        return
    data = member.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # the header lied about the size (a zip's can)
        problems.append(Problem("too-large", want, f"is over {MAX_FILE_BYTES:,} bytes (1 MiB); it was not read"))
        return
    write_new(dest / want, data)


# --------------------------------------------------------------------------- content checks

_DANGEROUS_BLOCK = re.compile(r"<\s*(script|style|iframe|object|embed|template)\b[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_DANGEROUS_OPEN = re.compile(r"<\s*/?\s*(?:script|style|iframe|object|embed|template|meta|link|base|form)\b[^>]*>",
                             re.I)
_HANDLER = re.compile(r"(<[A-Za-z][^<>]*?)\s+on[a-z]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+)", re.I)
_JS_URL = re.compile(r"(?:javascript|vbscript|data\s*:\s*text/html)\s*:", re.I)
_HTML_TAG = re.compile(r"<\s*/?\s*(?:a|img|div|span|p|br|hr|details|summary|table|tr|td|th|b|i|u|em|strong|"
                       r"h[1-6]|ul|ol|li|pre|code|svg|math|video|audio|source|input|button|textarea|select)\b[^>]*>",
                       re.I)


def neutralise_markdown(text: str) -> tuple[str, list[str]]:
    """Cut active HTML (script, style, frames, handlers, javascript: URLs) from Markdown.

    Returns the text graders read and what was found. Cut blocks keep their line breaks,
    so line numbers in feedback stay right. Other HTML tags are kept as plain text: no
    report renders them (the HTML report escapes every character).

    >>> neutralise_markdown('Hi <img src=x onerror="alert(1)"> and <b>bold</b>')
    ('Hi <img src=x> and <b>bold</b>', ['an event-handler attribute (onerror=...)', 'HTML tags (<img>, <b>)'])
    """
    found: list[str] = []

    def blank(m: re.Match[str]) -> str:
        return "\n" * m.group(0).count("\n")

    blocks = [m.group(1).lower() for m in _DANGEROUS_BLOCK.finditer(text)]
    if blocks:
        found.append(f"<{'>, <'.join(dict.fromkeys(blocks))}> block{'s' if len(blocks) > 1 else ''}, cut")
        text = _DANGEROUS_BLOCK.sub(blank, text)
    opens = _DANGEROUS_OPEN.findall(text)
    if opens:
        found.append(f"unclosed or stray active tags ({', '.join(dict.fromkeys(o[:30] for o in opens))}), cut")
        text = _DANGEROUS_OPEN.sub("", text)
    handlers = [m.group(0) for m in _HANDLER.finditer(text)]
    while _HANDLER.search(text):
        text = _HANDLER.sub(r"\1", text)
    if handlers:
        names = dict.fromkeys(re.search(r"\s(on[a-z]+)", h, re.I).group(1).lower() for h in handlers)  # type: ignore[union-attr]
        found.append(f"an event-handler attribute ({', '.join(n + '=...' for n in names)})")
    if _JS_URL.search(text):
        found.append("javascript: URLs, disabled")
        text = _JS_URL.sub("blocked:", text)
    tags = [re.match(r"<\s*/?\s*([A-Za-z0-9]+)", t).group(1).lower() for t in _HTML_TAG.findall(text)]  # type: ignore[union-attr]
    if tags:
        found.append(f"HTML tags ({', '.join('<' + t + '>' for t in dict.fromkeys(tags))})")
    return text, found


def _decode(name: str, data: bytes, problems: list[Problem]) -> str | None:
    if not data.strip():
        problems.append(Problem("empty", name, "is empty" if not data else "holds only whitespace"))
        return None
    if b"\x00" in data[:8192]:
        problems.append(Problem("binary", name, "is a binary file, not text; it was not read"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem("not-utf8", name, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                                                  f"{exc.start}); save it as UTF-8. It was not read.", line))
        return None
    return text.lstrip("\ufeff").replace("\r\n", "\n")


def _build(source: str, raw: dict[str, bytes], problems: list[Problem]) -> Submission:
    import hashlib

    files: dict[str, SubmittedFile] = {}
    decisions = None
    notes: list[str] = []
    unreadable = {p.file for p in problems if p.file}
    for name in FILES:
        if name not in raw:
            if name not in unreadable and name not in OPTIONAL:
                problems.append(Problem("missing", name, f"is missing: the {SKILL_OF[name]} items that read it "
                                                         "score 0 (`lab init-submission DIR` writes a template)"))
            continue
        data = raw[name]
        text = _decode(name, data, problems)
        if text is None:
            continue
        if name.endswith(".md"):
            text, found = neutralise_markdown(text)
            if found:
                msg = ("HTML found and neutralised: " + "; ".join(found) + ". Reports never render submitted HTML; "
                       "write Markdown.")
                problems.append(Problem("html", name, msg))
                notes.append(f"{name}: {msg}")
        elif name.endswith(".yaml"):
            try:
                doc = _yaml.parse(text)
            except _yaml.YamlProblem as exc:
                problems.append(Problem("yaml", name, exc.message + "; it was not graded", exc.line))
                continue
            if name == DECISIONS:
                decisions = _decisions(doc, problems)
                if decisions is None:
                    continue
        files[name] = SubmittedFile(name=name, text=text, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    if not files:
        listed = "; ".join(str(p) for p in problems) or "no files"
        raise SubmissionError(f"{source}: nothing could be graded: {listed}",
                              hint=f"a submission holds {', '.join(FILES)} (`lab init-submission DIR` writes them)")
    return Submission(source=source, files=files, problems=tuple(problems), decisions=decisions, notes=tuple(notes))


def _unfilled(data: Any) -> Any:
    """Template slots (``<...>``) left as they were count as not filled in."""
    if isinstance(data, dict):
        out = {k: _unfilled(v) for k, v in data.items()}
        return {k: ("" if v is None and k in ("rationale", "notes") else v) for k, v in out.items()}
    if isinstance(data, str) and re.fullmatch(r"\s*<[^<>]*>\s*", data):
        return None
    return data


def _decisions(doc: _yaml.Parsed, problems: list[Problem]) -> Decisions | None:
    if doc.data is None:
        problems.append(Problem("empty", DECISIONS, "holds no YAML mapping"))
        return None
    try:
        return Decisions.model_validate(_unfilled(doc.data))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key; decisions.yaml has shadow: {version, decision, rationale}, " \
                      "rollback: {to_version, rationale}, notes"
            problems.append(Problem("schema", DECISIONS, f"{'.'.join(map(str, loc)) or '(top level)'}: {msg}",
                                    doc.line(loc)))
        return None
