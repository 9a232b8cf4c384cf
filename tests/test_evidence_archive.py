"""The one safe archive reader (lab.evidence.archive), and the evidence bundle's refusals through it.

The submission's cases live in tests/test_submission_reader.py; these are the bundle's
(which had none) and the reader's own limits.
"""

from __future__ import annotations

import io
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest

from lab.evidence import schema
from lab.evidence.archive import ArchiveLimitExceeded, ArchiveUnreadable, Limits, open_archive
from lab.evidence.schema import BundleError, load_evidence
from lab.errors import SubmissionError
from lab.evidence.submission import read_submission


def tar_of(path: Path, entries: list[tuple[str, bytes | None, bytes]], mode: str = "w:gz") -> Path:
    """``entries``: (name, data or None for a link, tar type)."""
    with tarfile.open(path, mode) as tar:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if data is None:
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def load(path: Path, tmp_path: Path):
    return load_evidence(path, work_dir=tmp_path / "work")


@pytest.mark.parametrize(("entries", "message"), [
    ([("evidence/../manifest.json", b"{}", tarfile.REGTYPE)], "has '..' in its path"),
    ([("/evidence/manifest.json", b"{}", tarfile.REGTYPE)], "has an absolute path"),
    ([("evidence/manifest.json", None, tarfile.SYMTYPE)], "is a link or a device"),
    ([("evidence/manifest.json", None, tarfile.LNKTYPE)], "is a link or a device"),
    ([("evidence/null", b"", tarfile.CHRTYPE)], "is a link or a device"),
    ([("a/manifest.json", b"{}", tarfile.REGTYPE), ("b/manifest.json", b"{}", tarfile.REGTYPE)], "appears twice"),
], ids=["dotdot", "absolute", "symlink", "hardlink", "device", "duplicate"])
def test_a_bundle_with_an_unsafe_entry_is_refused_and_nothing_escapes(tmp_path, entries, message):
    bundle = tar_of(tmp_path / "evidence.tar.gz", entries)
    with pytest.raises(BundleError, match=message) as exc:
        load(bundle, tmp_path)
    assert exc.value.message.startswith("evidence.tar.gz: ")
    assert not (tmp_path / "manifest.json").exists()
    assert list((tmp_path / "work").iterdir()) == []  # the scratch folder is gone


def test_a_bundle_over_its_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "MAX_BUNDLE_BYTES", 1000)
    bundle = tar_of(tmp_path / "evidence.tar.gz", [("evidence/journal.jsonl", b"\n" * 2000, tarfile.REGTYPE)])
    with pytest.raises(BundleError, match="unpacks to more than 1,000 bytes"):
        load(bundle, tmp_path)


def test_a_corrupt_bundle_is_refused_clearly(tmp_path):
    bundle = tmp_path / "evidence.tar.gz"
    bundle.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(BundleError, match="not a readable bundle"):
        load(bundle, tmp_path)


def test_the_decompressed_tar_stream_is_capped_even_when_headers_claim_little(tmp_path):
    # 3,000 empty entries: sizes sum to 0, yet the stream is 1.5 MiB of headers
    path = tar_of(tmp_path / "many.tar.gz", [(f"e{i}", b"", tarfile.REGTYPE) for i in range(3000)])
    with pytest.raises(ArchiveLimitExceeded, match="decompresses to more than 10 bytes"):
        with open_archive(path, Limits(max_total_bytes=10)) as members:
            for _ in members:
                pass
    with open_archive(path, Limits(max_total_bytes=1024 * 1024)) as members:
        assert sum(1 for _ in members) == 3000  # the cap leaves 1 MiB for headers


def test_a_truncated_archive_is_unreadable_not_a_traceback(tmp_path):
    path = tar_of(tmp_path / "a.tar.gz", [("model_card.md", b"x" * 100_000, tarfile.REGTYPE)])
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ArchiveUnreadable):
        with open_archive(path, Limits(max_total_bytes=1 << 20)) as members:
            for m in members:
                m.read(1 << 20)


def test_an_xz_tar_submission_is_read_like_a_gzip_one(tmp_path):
    card = "# Card\n\nThe model ranks applications.\n"
    path = tar_of(tmp_path / "answer.tar", [("answer/model_card.md", card.encode(), tarfile.REGTYPE)], mode="w:xz")
    assert path.read_bytes()[:6] == b"\xfd7zXZ\x00" and lzma  # really xz, under a .tar name
    sub = read_submission(path, work_dir=tmp_path / "work")
    assert sub.text("model_card.md") == card


def test_a_folder_named_like_a_submission_file_is_not_a_file_in_tar_and_zip(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("model_card.md/", "")
        zf.writestr("monitoring.yaml", "window: {size: 500}\n")
    t = tar_of(tmp_path / "a.tar.gz", [("model_card.md", b"", tarfile.DIRTYPE),
                                       ("monitoring.yaml", b"window: {size: 500}\n", tarfile.REGTYPE)])
    for path in (z, t):
        sub = read_submission(path, work_dir=tmp_path / "work")
        assert [p.code for p in sub.problems_for("model_card.md")] == ["not-a-file"], path.name


def test_a_password_protected_zip_is_refused_clearly(tmp_path):
    z = tmp_path / "answer.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("model_card.md", "# Card\n\nFine.\n")
    raw = bytearray(z.read_bytes())
    raw[6] |= 1  # the "encrypted" flag, in the local header and in the central directory
    raw[raw.find(b"PK\x01\x02") + 8] |= 1
    z.write_bytes(bytes(raw))
    with pytest.raises(SubmissionError, match="not a readable zip archive .*'model_card.md' is encrypted"):
        read_submission(z, work_dir=tmp_path / "work")
