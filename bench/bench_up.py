"""Time from `lab up --detach` to all-healthy, cold and warm, against the import floor.

The import floor is `python -c "import mlflow, bentoml, prefect, evidently, sklearn"`,
measured in the same run. Target (issue 13): warm start / import floor <= 2.0, goal 1.5.
Also prints, from the journal's ``lab.up``, the seconds each service took from its start
to healthy on the warm start: the slowest one is what to cut.

    .venv/bin/python bench/bench_up.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return took


def main() -> None:
    lab = [sys.executable, "-m", "lab.cli"]
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        home = str(Path(tmp) / "home")
        floor = timed([sys.executable, "-c", "import mlflow, bentoml, prefect, evidently, sklearn"])
        cold = timed([*lab, "up", "hiring-data-drift", "--detach", "--port-base", "0", "--seed", "1", "--home", home])
        timed([*lab, "down", "--home", home])
        warm = timed([*lab, "up", "hiring-data-drift", "--detach", "--home", home])
        timed([*lab, "down", "--home", home])
        ups = [json.loads(x) for x in (Path(home) / "journal.jsonl").read_text().splitlines() if '"lab.up"' in x]
        took = {k: v for k, v in ups[-1]["data"].items()} if ups else {}
    print(f"import floor          {floor:6.1f} s")
    print(f"lab up, cold (first)  {cold:6.1f} s   ratio to floor {cold / floor:4.2f}")
    print(f"lab up, warm (second) {warm:6.1f} s   ratio to floor {warm / floor:4.2f}   (target <= 2.0, goal 1.5)")
    print("warm, start to healthy: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(took.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
