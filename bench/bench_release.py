"""Shadow overhead and rollback under load, on a real lab (MLflow + BentoML).

1. Shadow overhead: champion p99 latency seen by clients with the shadow on, divided
   by the same with it off, same closed-loop load, one run. Shadow variants: a normal
   one, one slowed by 200 ms, one that fails every request; each in interleaved phases
   (off, on, off, on, ...: --pairs pairs, --requests each), so load that drifts over the
   minutes cancels. Each phase's p50/p99 is printed; the ratio pools the phases of each side. Target
   <= 1.10 (goal 1.05). With the shadow on, serving only marks the requests in its log;
   the shadow service (lab.serving.shadow_service) scores them at idle priority, so the
   ratio measures what that costs the champion. After the ratios, what the shadow made
   of each variant's requests (``serving/shadow.jsonl``) is printed too.
2. Rollback under load: >= 2,000 requests while `champion` moves 10 times; failed
   requests (target 0) and the time from each alias move until clients get the new
   version.

    .venv/bin/python bench/bench_release.py [--requests 2000] [--clients 4] [--pairs 3] [--skip-rollback]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from lab.core.stats import p99, percentile

ROOT = Path(__file__).resolve().parent.parent
#: Shadow variants, each measured in interleaved phases off, on, off, on, ...
VARIANTS = [("shadow", None), ("slow shadow (200 ms)", "delay_ms=200"), ("failing shadow", "error")]
ROW = {"years_experience": 6.5, "education_level": "master", "skills_match": 0.71, "num_prior_jobs": 2,
       "employment_gap_months": 0, "certifications": 1, "referral": 0, "source_channel": "linkedin"}


def lab(*args: str, home: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "lab.cli", *args, "--home", home], capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"lab {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def closed_loop(url: str, total: int, clients: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    per = total // clients

    def run() -> None:
        nonlocal failures
        with httpx.Client(timeout=30) as client:
            for _ in range(per):
                t = time.perf_counter()
                r = client.post(f"{url}/predict", json={"rows": [ROW]})
                dt = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(dt)
                    failures += r.status_code != 200

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000, help="requests per phase")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=3, help="off/on phase pairs per variant (interleaved)")
    ap.add_argument("--skip-rollback", action="store_true", help="measure the shadow overhead only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        home = str(Path(tmp) / "home")
        lab("up", "hiring-data-drift", "--detach", "--port-base", "0", "--seed", "1", "--speed", "3600", home=home)
        try:
            st = json.loads(lab("status", "--json", home=home))
            url = st["services"]["serving"]["url"]
            mlflow_url = st["services"]["mlflow"]["url"]
            closed_loop(url, 200, args.clients)  # warm-up
            # each variant: off, on, off, on, ..., so load that drifts over the minutes falls on both sides
            print(f"shadow overhead: {args.requests} requests per phase, {args.clients} clients, "
                  f"{args.pairs} off/on pairs per variant")
            ratios = []
            for name, fault in VARIANTS:
                lat: dict[str, list[float]] = {"off": [], "on": []}
                for phase in ("off", "on") * args.pairs:
                    if phase == "off":
                        if httpx.post(f"{url}/admin/state", json={}).json()["shadow_version"] is not None:
                            lab("shadow", "stop", home=home)
                    else:
                        extra = ["--fault", fault] if fault else []
                        lab("shadow", "start", "--version", "2", *extra, "--timeout", "600", home=home)
                    got, failed = closed_loop(url, args.requests, args.clients)
                    lat[phase] += got
                    print(f"  {name:22s} {phase:3s}  p50 {percentile(got, 50):6.1f} ms  "
                          f"p99 {p99(got):6.1f} ms  failed {failed}", flush=True)
                on, off = p99(lat["on"]), p99(lat["off"])
                ratios.append((name, on / off, off))
            lab("shadow", "stop", home=home)
            from collections import Counter

            from lab.serving.requestlog import read_requests

            outcomes = Counter(r.get("shadow_status") for r in read_requests(Path(home) / "serving" / "shadow.jsonl"))
            print(f"\nshadow outcomes over all variants: {dict(outcomes)}")
            print("\nshadow overhead (champion p99 with the shadow on / off, the phases of each side pooled):")
            for name, ratio, base in ratios:
                print(f"  {name:22s} {ratio:5.2f}   (off p99 {base:.1f} ms; target <= 1.10, goal 1.05)")

            if args.skip_rollback:
                return
            # rollback under load
            from mlflow import MlflowClient

            client = MlflowClient(mlflow_url)
            seen: list[tuple[float, str]] = []
            failures: list[int] = []
            stop = threading.Event()
            lock = threading.Lock()

            def load() -> None:
                with httpx.Client(timeout=30) as c:
                    while not stop.is_set():
                        r = c.post(f"{url}/predict", json={"rows": [ROW]})
                        with lock:
                            if r.status_code == 200:
                                seen.append((time.monotonic(), r.json()["model_version"]))
                            else:
                                failures.append(r.status_code)

            threads = [threading.Thread(target=load) for _ in range(args.clients)]
            for t in threads:
                t.start()
            switch_times = []
            target = "1"
            for i in range(10):
                target = "2" if target == "1" else "1"
                moved_at = time.monotonic()
                client.set_registered_model_alias("resume-screener", "champion", target)
                while True:
                    with lock:
                        hit = next((t for t, v in reversed(seen) if v == target and t > moved_at), None)
                    if hit:
                        switch_times.append(hit - moved_at)
                        break
                    if time.monotonic() - moved_at > 30:
                        sys.exit("serving did not switch within 30 s")
                    time.sleep(0.01)
                while len(seen) < (i + 1) * 200:
                    time.sleep(0.01)
            while len(seen) + len(failures) < 2000:
                time.sleep(0.05)
            stop.set()
            for t in threads:
                t.join()
            print(f"\nrollback under load: {len(seen) + len(failures)} requests, {len(failures)} failed, "
                  f"10 champion moves; time until the new version serves: "
                  f"mean {statistics.mean(switch_times):.2f} s, max {max(switch_times):.2f} s (target 0 failed, < 2 s)")
        finally:
            lab("down", home=home)


if __name__ == "__main__":
    main()
