"""Reading an untrusted archive safely: the one place the lab opens a .tar(.gz) or .zip it did not write.

Two readers use it, with their own policies on top: the candidate's submission
(:mod:`lab.evidence.submission`: bad entries become problems, the rest is graded) and an
evidence bundle (:mod:`lab.evidence.schema`: any bad entry refuses the bundle). What they
share lives here, so a fix reaches both:

* :func:`member_problem` names why an entry's path is unsafe (``..``, absolute, a NUL byte);
* :func:`open_archive` walks the entries as :class:`Member` records without extracting
  anything, counting them against :class:`Limits` (entries, bytes per entry, bytes in
  all, the compression ratio of a zip entry, and the decompressed tar stream itself, so
  a decompression bomb stops at the cap instead of filling the disk);
* :meth:`Member.read` and :meth:`Member.copy_to` take one entry's bytes, and
  :func:`write_new` writes them, never through a link and never over an existing file.

Nothing is ever written from an entry's own path: callers choose the target name.
Two exceptions, and only these, leave the reader: :class:`ArchiveLimitExceeded` (an
archive bomb?) and :class:`ArchiveUnreadable` (corrupt, truncated, not the format its
name says); their text is a sentence fragment each caller puts in its own message.

>>> member_problem("answer/../../etc/passwd")
"has '..' in its path (it would be written outside the folder)"
>>> member_problem("answer/model_card.md") is None
True
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

MemberKind = Literal["file", "dir", "symlink", "hardlink", "other"]
ArchiveFormat = Literal["tar", "zip"]

#: Slack over ``max_total_bytes`` for the decompressed tar stream: headers and padding.
STREAM_SLACK_BYTES = 1024 * 1024
#: A zip entry is checked for its compression ratio only above this size.
RATIO_FLOOR_BYTES = 1024 * 1024
# What reading a corrupt or truncated archive raises, in the standard library.
_UNREADABLE = (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error,
               lzma.LZMAError)


class ArchiveLimitExceeded(Exception):
    """The archive is over one of its :class:`Limits`; the text says which ("has more than 1,000 entries")."""


class ArchiveUnreadable(Exception):
    """The archive cannot be read; the text is the underlying error's."""


@dataclass(frozen=True)
class Limits:
    """What an archive may hold before it is refused; ``None`` means no limit of that kind."""

    max_total_bytes: int  # all entries together, and the decompressed tar stream
    max_entries: int | None = None
    max_entry_bytes: int | None = None
    max_ratio: float | None = None  # uncompressed / compressed, for a zip entry over RATIO_FLOOR_BYTES


def member_problem(name: str) -> str | None:
    """Why an archive member's path is unsafe, or None."""
    if "\x00" in name:
        return "has a NUL byte in its name"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return "has an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "has '..' in its path (it would be written outside the folder)"
    return None


def archive_format(path: Path) -> ArchiveFormat:
    """``zip`` for a ``.zip``, else ``tar`` (plain, gzip, bzip2 or xz: told by the content, not the name)."""
    return "zip" if path.name.lower().endswith(".zip") else "tar"


@dataclass
class Member:
    """One archive entry, as its header describes it; nothing is extracted until asked."""

    name: str
    kind: MemberKind
    size: int  # as the header says; a zip header may lie, so reads are capped anyway
    linkname: str | None  # a tar link's target; None where the format does not say (zip)
    _open: Any = field(repr=False)

    @property
    def unsafe(self) -> str | None:
        """Why the entry's path is unsafe (:func:`member_problem`), or None."""
        return member_problem(self.name)

    def read(self, limit: int) -> bytes:
        """At most ``limit`` bytes of the entry (ask one more than you accept to spot a lying header)."""
        try:
            with self._open() as src:
                return src.read(limit) if src is not None else b""
        except _UNREADABLE as exc:
            raise ArchiveUnreadable(str(exc)) from None

    def copy_to(self, target: Path) -> None:
        """Stream the entry into ``target``, a new file (:func:`write_new`'s rules)."""
        try:
            with self._open() as src, _create_new(target) as out:
                if src is not None:
                    shutil.copyfileobj(src, out)
        except _UNREADABLE as exc:
            raise ArchiveUnreadable(str(exc)) from None


def write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file: never through a link, never over an existing file."""
    with _create_new(path) as f:
        f.write(data)


def _create_new(path: Path) -> IO[bytes]:
    # O_EXCL | O_NOFOLLOW: never through a link, never over an existing file
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    return os.fdopen(fd, "wb")


@contextmanager
def open_archive(path: Path, limits: Limits) -> Iterator[Iterator[Member]]:
    """The entries of the archive at ``path``, in order, each counted against ``limits`` as it comes.

    A zip's whole directory is checked before the first entry is yielded (it is at the
    end of the file); a tar is a stream, so a tar over a limit is refused at the entry
    that crosses it. Read each entry while it is the current one: a tar stream cannot
    go back. An ``OSError`` while the caller handles an entry (writing it out) counts
    as unreadable too: the caller's message names the archive either way.
    """
    try:
        if archive_format(path) == "zip":
            with zipfile.ZipFile(path) as zf:
                yield _zip_members(zf, limits)
        else:
            with open(path, "rb") as fh, _decompressed(fh) as stream:
                capped = io.BufferedReader(_CappedReader(stream, limits.max_total_bytes + STREAM_SLACK_BYTES,
                                                         limits.max_total_bytes))
                with tarfile.open(fileobj=capped, mode="r|") as tar:
                    yield _tar_members(tar, limits)
    except _UNREADABLE as exc:
        raise ArchiveUnreadable(str(exc)) from None


@contextmanager
def _decompressed(fh: IO[bytes]) -> Iterator[IO[bytes]]:
    """The tar stream inside ``fh``: gzip, bzip2 or xz by their magic bytes, else ``fh`` itself."""
    magic = fh.read(6)
    fh.seek(0)
    if magic[:2] == b"\x1f\x8b":
        stream: Any = gzip.GzipFile(fileobj=fh)
    elif magic[:3] == b"BZh":
        stream = bz2.BZ2File(fh)
    elif magic == b"\xfd7zXZ\x00":
        stream = lzma.LZMAFile(fh)
    else:
        yield fh
        return
    with stream:
        yield stream


class _Budget:
    """Counts members and bytes against the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.entries = 0
        self.total = 0

    def add(self, name: str, size: int) -> None:
        lim = self.limits
        self.entries += 1
        self.total += max(0, size)
        if lim.max_entries is not None and self.entries > lim.max_entries:
            raise ArchiveLimitExceeded(f"has more than {lim.max_entries:,} entries")
        if lim.max_entry_bytes is not None and size > lim.max_entry_bytes:
            raise ArchiveLimitExceeded(f"entry {name!r} unpacks to {size:,} bytes (limit {lim.max_entry_bytes:,})")
        if self.total > lim.max_total_bytes:
            raise ArchiveLimitExceeded(f"unpacks to more than {lim.max_total_bytes:,} bytes")


class _CappedReader(io.RawIOBase):
    """A file object that refuses to yield more than ``limit`` bytes (a decompression bomb stops here)."""

    def __init__(self, raw: Any, limit: int, shown: int) -> None:
        self.raw = raw
        self.left = limit
        self.shown = shown

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.raw.read(min(len(b), self.left + 1))
        if len(data) > self.left:
            raise ArchiveLimitExceeded(f"decompresses to more than {self.shown:,} bytes")
        self.left -= len(data)
        b[: len(data)] = data
        return len(data)


def _tar_members(tar: tarfile.TarFile, limits: Limits) -> Iterator[Member]:
    budget = _Budget(limits)
    try:
        for m in tar:
            budget.add(m.name, m.size)
            kind: MemberKind = ("symlink" if m.issym() else "hardlink" if m.islnk() else "file" if m.isfile()
                                else "dir" if m.isdir() else "other")
            yield Member(m.name, kind, m.size, m.linkname if kind in ("symlink", "hardlink") else None,
                         lambda m=m: _nullable(tar.extractfile(m)))
    except _UNREADABLE as exc:
        raise ArchiveUnreadable(str(exc)) from None


def _zip_members(zf: zipfile.ZipFile, limits: Limits) -> Iterator[Member]:
    infos = zf.infolist()
    if limits.max_entries is not None and len(infos) > limits.max_entries:
        raise ArchiveLimitExceeded(f"has {len(infos):,} entries (limit {limits.max_entries:,})")
    budget = _Budget(limits)
    for info in infos:
        budget.add(info.filename, info.file_size)
        ratio = info.file_size / max(1, info.compress_size)
        if limits.max_ratio is not None and info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            raise ArchiveLimitExceeded(f"entry {info.filename!r} expands {ratio:,.0f} times "
                                       f"(limit {limits.max_ratio:g})")
    for info in infos:
        mode = (info.external_attr >> 16) & 0o170000
        kind: MemberKind = "symlink" if mode == stat.S_IFLNK else "dir" if info.is_dir() else "file"
        yield Member(info.filename, kind, info.file_size, None, lambda info=info: _open_zip_entry(zf, info))


def _open_zip_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    if info.flag_bits & 0x1:  # zipfile would raise a bare RuntimeError asking for a password
        raise ArchiveUnreadable(f"entry {info.filename!r} is encrypted (password-protected); the lab cannot read it")
    return zf.open(info)


@contextmanager
def _nullable(f: IO[bytes] | None) -> Iterator[IO[bytes] | None]:
    """``tar.extractfile`` gives None for entries without data; make that usable in a ``with``."""
    if f is None:
        yield None
    else:
        with f:
            yield f
