"""`lab export-data`: a scenario's data as Parquet, for practising in a notebook."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lab.scenario.data import days_frame
from lab.errors import UsageError
from lab.scenario.schema import load_scenario, resolve


def export_scenario_data(scenario_ref: str, seed: int, out: Path) -> list[tuple[Path, int]]:
    scenario, _ = resolve(load_scenario(scenario_ref), seed)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create directory: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: not writable")
    frames = {
        "reference.parquet": days_frame(scenario, seed, scenario.reference_days),
        "traffic.parquet": days_frame(scenario, seed, (0, scenario.timeline.days)),
    }
    written = []
    for name, df in frames.items():
        target = out / name
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.")
        os.close(fd)
        df.to_parquet(tmp, index=False)
        os.replace(tmp, target)  # never leave half a file under the real name
        written.append((target, len(df)))
    return written
