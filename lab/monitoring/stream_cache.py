"""The replay's inputs (reference window and episode streams, with the champion's scores) kept on disk.

Drawing a suite's streams means training the scenario's champion (scikit-learn, ~3 s to
import) and generating ~20 streams; both depend only on the scenario (as resolved for the
run), the replay seed, the window size, the suite and the rate, never on the config
replayed over them. :func:`suite_inputs` keeps them in ``cache_dir`` as one ``.npz`` per
key (no pickle: plain arrays and a JSON header), so a second grade of the same scenario,
in another process, replays a new config without training anything.

The key hashes the resolved scenario (:func:`scenario_ident`: a changed scenario file or
seed makes a new entry), the code that draws and replays streams (:func:`code_ident`: the
lab's version, the source of ``lab.scenario`` and ``lab.monitoring``, and the versions of
numpy, pandas, scipy and scikit-learn) and :data:`STREAM_CACHE_VERSION`; an unreadable,
truncated or mismatched file is ignored and written again.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab.monitoring.methods import ColumnKind
from lab.monitoring.suite import (SuiteSpec, _EpisodeData, _LOADED, _REPLAYS, _SUITES, _suite, column_kinds,
                                  replay_inputs)
from lab.scenario.schema import Scenario

STREAM_CACHE_VERSION = 1  # bump when the streams' generation changes without a lab version change


_LOADED_SIZE = 2
_CODE_PACKAGES = ("scenario", "monitoring")
_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn")
_CODE_IDENT: list[str] = []


def scenario_ident(sc: Scenario) -> str:
    """The resolved scenario as canonical JSON (keys sorted): a bundle's copy, read back from
    JSON, and the scenario file resolved again give the same text when they say the same."""
    return json.dumps(sc.model_dump(mode="json"), sort_keys=True)


def code_ident() -> str:
    """What the streams and replays are computed with, hashed: the lab's version, every source
    file of ``lab.scenario`` and ``lab.monitoring`` (and lab.grading's drift grader), and the
    numerical libraries' versions. An edit to any of them makes every cache key new (the
    files are read once per process)."""
    from lab import __version__

    return hashlib.sha256(f"{__version__}:{source_digest()}".encode()).hexdigest()[:32]


def source_digest() -> str:
    """The digest of the stream and replay code's source files and library versions (computed once per process)."""
    if not _CODE_IDENT:
        import importlib.metadata

        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        files = [f for pkg in _CODE_PACKAGES for f in sorted((root / pkg).rglob("*.py"))]
        for f in [*files, root / "grading" / "drift_grader.py"]:
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
        for lib in _LIBRARIES:
            h.update(f"{lib}=={importlib.metadata.version(lib)};".encode())
        _CODE_IDENT.append(h.hexdigest()[:32])
    return _CODE_IDENT[0]


def stream_key(sc: Scenario, seed: int, size: int, spec: SuiteSpec, rpd: int) -> str:
    """What a suite's streams depend on, hashed (32 hex digits)."""
    ident = json.dumps([STREAM_CACHE_VERSION, code_ident(), scenario_ident(sc), int(seed), size, repr(spec), rpd])
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def suite_inputs(sc: Scenario, seed: int, size: int, spec: SuiteSpec, rpd: int, cache_dir: Path | None = None
                 ) -> tuple[pd.DataFrame, dict[str, ColumnKind], list[_EpisodeData]]:
    """``(reference, column kinds, episodes)`` for a resolved scenario: from this process's memory,
    else from ``cache_dir``, else drawn (training the champion) and written there."""
    kinds = column_kinds(sc)
    in_memory = (sc.model_dump_json(), int(seed)) in _REPLAYS and \
        (sc.model_dump_json(), int(seed), size, spec, rpd) in _SUITES
    path = Path(cache_dir) / f"streams-{stream_key(sc, seed, size, spec, rpd)}.npz" if cache_dir is not None else None
    if not in_memory and path is not None:
        loaded = _LOADED.get(path.name) or _load(path)
        if loaded is not None:
            _LOADED.pop(path.name, None)
            while len(_LOADED) >= _LOADED_SIZE:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[path.name] = loaded  # a warm process (the grading endpoint) reads the file once
            return loaded[0], kinds, loaded[1]
    replay = replay_inputs(sc, seed)
    episodes = _suite(replay, size, spec, rpd)
    if path is not None and not (in_memory and path.is_file()):  # a file just found damaged is rewritten
        _save(path, replay.reference, episodes)
    return replay.reference, kinds, episodes


def _columns(prefix: str, frame: pd.DataFrame, arrays: dict[str, np.ndarray]) -> list[list[str]]:
    """Store ``frame``'s columns as ``prefix/i`` arrays; returns ``[[name, dtype], ...]``."""
    out = []
    for i, (name, column) in enumerate(frame.items()):
        dtype = str(column.dtype)
        values = column.to_numpy()
        if dtype == "object":
            if not all(isinstance(v, str) for v in values):
                raise TypeError(f"column {name!r} holds non-strings")  # not expected: then nothing is cached
            values = values.astype(str)
        arrays[f"{prefix}/{i}"] = values
        out.append([str(name), dtype])
    return out


def _frame(prefix: str, columns: list[list[str]], data: Any) -> pd.DataFrame:
    return pd.DataFrame({name: data[f"{prefix}/{i}"].astype(dtype) for i, (name, dtype) in enumerate(columns)})


def _save(path: Path, reference: pd.DataFrame, episodes: list[_EpisodeData]) -> None:
    arrays: dict[str, np.ndarray] = {}
    try:
        header = {"reference": _columns("reference", reference, arrays), "episodes": []}
        for k, ep in enumerate(episodes):
            meta = {f: getattr(ep, f) for f in ("id", "kind", "magnitude", "stream_id", "onset_window", "onset_day",
                                                 "n_windows", "offset")}
            header["episodes"].append(meta | {"features": list(ep.features),
                                              "columns": _columns(f"episode{k}", ep.frame, arrays)})
    except TypeError:
        return
    arrays["header"] = np.array(json.dumps(header))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)


def _load(path: Path) -> tuple[pd.DataFrame, list[_EpisodeData]] | None:
    """The cached reference and episodes, or None when the file is missing or damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            reference = _frame("reference", header["reference"], data)
            episodes = []
            for k, meta in enumerate(header["episodes"]):
                frame = _frame(f"episode{k}", meta.pop("columns"), data)
                meta["features"] = tuple(meta["features"])
                episodes.append(_EpisodeData(**meta, frame=frame))
        return reference, episodes
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # damaged: drawn again and rewritten
