from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from lab.core.journal import Journal, JournalError, verify


def _append_many(path: str, worker: int) -> None:
    j = Journal(Path(path))
    for i in range(25):
        j.append("traffic.summary", {"worker": worker, "i": i}, day=i / 10)


def test_chain_verifies_and_detects_edits(tmp_path: Path):
    j = Journal(tmp_path / "journal.jsonl")
    j.append("lab.header", {"scenario": "x"}, day=0)
    j.append("alias.moved", {"from": 1, "to": 2}, day=1.5, actor="mlflow-ui")
    j.append("lab.down", day=2)
    assert verify(j.path) == 3
    lines = j.path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["data"]["to"] = 3
    j.path.write_text("\n".join([lines[0], json.dumps(edited), lines[2]]) + "\n")
    with pytest.raises(JournalError, match=":2: hash mismatch"):
        verify(j.path)
    j.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(JournalError, match=":2: chain broken"):
        verify(j.path)


def test_unknown_kind_is_rejected(tmp_path: Path):
    with pytest.raises(JournalError, match="unknown journal kind"):
        Journal(tmp_path / "j.jsonl").append("made.up")


def test_concurrent_writers_keep_one_chain(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert verify(path) == 100
    seqs = [json.loads(x)["seq"] for x in path.read_text().splitlines()]
    assert seqs == list(range(100))
