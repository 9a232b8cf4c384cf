"""Time from `lab up --detach` to all-healthy, cold and warm, against the import floor.

The import floor is `python -c "import mlflow, bentoml, prefect, evidently, sklearn"`,
measured in the same run. Target (issue 2): warm start / import floor <= 2.5.

    .venv/bin/python bench/bench_up.py
"""

from __future__ import annotations

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
    print(f"import floor          {floor:6.1f} s")
    print(f"lab up, cold (first)  {cold:6.1f} s   ratio to floor {cold / floor:4.2f}")
    print(f"lab up, warm (second) {warm:6.1f} s   ratio to floor {warm / floor:4.2f}   (target <= 2.5)")


if __name__ == "__main__":
    main()
