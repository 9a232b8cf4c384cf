"""Memory of a running embedded lab: RSS and PSS of every process it started, and the total PSS.

Starts `lab up` (hiring-data-drift, seed 1, free ports) in a temporary home, waits until
every service is healthy, traffic has been answered and the live monitor has judged a
window (so Evidently, loaded for its report, counts), samples each process the lab
started (they carry PRODML_LAB_HOME) over a settle window, prints the last sample, then
`lab down`. Target (issue 13): total PSS <= 1.5 GB, goal 1.0 GB.

PSS (proportional set size) counts a page shared by n processes as 1/n in each, so the
column adds up to what the lab really costs; RSS counts shared pages in every process
(MLflow's parent and its worker share most of their imports); USS counts only pages no
other process maps. PSS also splits pages with processes outside the lab that map the
same files (another lab, or another venv hard-linked from uv's cache), so it reads lower
on a busy machine: compare figures taken on a quiet one, or compare USS.

    .venv/bin/python bench/bench_memory.py [--scenario S] [--windows 1] [--settle 30] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
MARKER_ENV = "PRODML_LAB_HOME"  # lab.core.home.MARKER_ENV (not imported: the bench measures, it loads nothing)
MB = 1024 * 1024


def lab(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"lab {' '.join(args)} failed:\n{proc.stderr[-3000:]}")


def wait_for_traffic(home: Path, answered: int, timeout: float) -> dict:
    """Poll the replayer's /health until it counts `answered` successful requests."""
    port = json.loads((home / "lab.json").read_text())["ports"]["traffic"]
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0).json()
            if last.get("ok", 0) >= answered:
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    sys.exit(f"traffic did not reach {answered} answered requests in {timeout:.0f} s: {last}")


def wait_for_windows(home: Path, windows: int, timeout: float) -> int:
    """Poll until the live monitor has judged `windows` windows (it loads Evidently for the first report)."""
    path = home / "monitoring" / "windows.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(path.read_text().splitlines()) if path.exists() else 0
        if done >= windows:
            return done
        time.sleep(1.0)
    sys.exit(f"the monitor judged fewer than {windows} windows in {timeout:.0f} s ({path})")


def lab_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(MARKER_ENV) == str(home) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def name_of(proc: psutil.Process, roots: dict[int, str]) -> str:
    """The service a process belongs to: a service's own pid is its name, a descendant is `<name> child`."""
    if proc.pid in roots:
        return roots[proc.pid]
    try:
        for parent in proc.parents():
            if parent.pid in roots:
                return f"{roots[parent.pid]} child"
        return "other: " + " ".join(proc.cmdline())[:60]
    except psutil.NoSuchProcess:
        return "gone"


def sample(home: Path) -> list[dict]:
    state = json.loads((home / "run.json").read_text())
    roots = {state["supervisor_pid"]: "supervisor"}
    for name, s in state["services"].items():  # services sharing a process: "workers (traffic, timeline, monitor)"
        if s.get("pid"):
            shared = [n for n, o in state["services"].items() if o.get("pid") == s["pid"]]
            roots[s["pid"]] = f"{s['process']} ({', '.join(shared)})" if s.get("process") else name
    rows = []
    for proc in lab_processes(home):
        try:
            info = proc.memory_full_info()
            cmd = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rows.append({"name": name_of(proc, roots), "pid": proc.pid, "rss_mb": info.rss / MB,
                     "pss_mb": info.pss / MB, "uss_mb": info.uss / MB, "cmdline": cmd[:160]})
    return sorted(rows, key=lambda r: -r["pss_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="hiring-data-drift")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--answered", type=int, default=20, help="answered traffic requests before sampling")
    parser.add_argument("--windows", type=int, default=1, help="monitor windows judged before sampling")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds of sampling after traffic flows")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        home = Path(tmp) / "home"
        lab("up", args.scenario, "--detach", "--port-base", "0", "--seed", str(args.seed), "--home", str(home))
        try:
            wait_for_traffic(home, args.answered, timeout=600.0)
            windows = wait_for_windows(home, args.windows, timeout=900.0)
            peak = 0.0
            end = time.monotonic() + args.settle
            while True:
                rows = sample(home)
                peak = max(peak, sum(r["pss_mb"] for r in rows))
                if time.monotonic() >= end:
                    break
                time.sleep(2.0)
            traffic = wait_for_traffic(home, 0, timeout=10.0)
        finally:
            lab("down", "--home", str(home))
    total_pss = sum(r["pss_mb"] for r in rows)
    result = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.1f} GiB, "
                   f"load {os.getloadavg()[0]:.1f}",
        "scenario": args.scenario,
        "seed": args.seed,
        "traffic_answered": traffic.get("ok"),
        "monitor_windows": windows,
        "processes": rows,
        "total_rss_mb": sum(r["rss_mb"] for r in rows),
        "total_pss_mb": total_pss,
        "total_uss_mb": sum(r["uss_mb"] for r in rows),
        "peak_total_pss_mb": peak,
        "target_pss_mb": 1536,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['date']}  {result['machine']}  {args.scenario} seed {args.seed}, "
          f"{traffic.get('ok')} requests answered, {windows} monitor windows")
    print(f"{'process':<36} {'pid':>7} {'RSS MB':>8} {'PSS MB':>8} {'USS MB':>8}  command")
    for r in rows:
        print(f"{r['name']:<36} {r['pid']:>7} {r['rss_mb']:8.0f} {r['pss_mb']:8.0f} {r['uss_mb']:8.0f}  "
              f"{r['cmdline'][:70]}")
    print(f"{'total':<36} {'':>7} {result['total_rss_mb']:8.0f} {total_pss:8.0f} {result['total_uss_mb']:8.0f}  "
          f"(peak PSS over {args.settle:.0f} s: {peak:.0f} MB; target <= 1536, goal 1024)")


if __name__ == "__main__":
    main()
