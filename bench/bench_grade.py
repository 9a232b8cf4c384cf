"""How long `lab grade --evidence` takes as a whole process, cold and warm, and where the time goes.

    .venv/bin/python bench/bench_grade.py [--runs 3] [--scenario hiring-data-drift]

Plants a lab home and an evidence bundle the way the grading tests do
(:func:`tests.grading_evidence.build_home`, then the real collector), and the planted
``expert`` submission of ``tests/test_grading_report.py`` (a tuned monitoring.yaml, so
the drift grader replays it over the full hidden suite). Then, each the median of
``--runs`` fresh processes:

(a) cold: ``lab grade --evidence BUNDLE SUB --home HOME`` with the home's grading cache
    (``HOME/cache``) emptied before every run;
(b) warm: the same with the cache filled by a previous run (what a second ``lab submit``
    of the same scenario meets);
(c) ``python -c "import lab.cli"`` and ``lab --help``;
(d) import against grading time: one cold and one warm run under ``python -X importtime``,
    the cumulative import time of the top-level packages and the five heaviest of
    pandas, scikit-learn, scipy, Evidently, MLflow, ... that were imported;
(e) ``lab submit SUB --home HOME`` as a whole command with the home's grading endpoint
    running (lab.workers.grade_endpoint, hosted by a separate process as the monitor hosts
    it in a running lab, warmed before timing): the first submit of the config (its replay
    not cached yet; the streams prefilled by the warm-up) and repeats (``--runs``); then
    the same command with no endpoint (grades in its own process, warm cache); and
    whether the endpoint's report equals the in-process one (timestamps and the bundle's
    creation aside);
(f) the monitoring.yaml the lab runs (written to ``<home>/monitoring/config.yaml`` as
    `lab monitor --config` does, with a comment so it is not cached yet): how long after
    the endpoint starts its replay is done, then `lab submit` of that same config.

Figures depend on the machine's load (printed): compare runs made side by side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEAVY = ("mlflow", "pandas", "sklearn", "evidently", "bentoml", "prefect", "scipy", "matplotlib", "plotly",
         "statsmodels", "nltk", "numpy", "pydantic", "rich", "typer")


def plant(tmp: Path, scenario: str) -> tuple[Path, Path, Path]:
    """A lab home, its evidence bundle and the ``expert`` submission, as the grading tests build them."""
    from lab.evidence.collect import collect_evidence
    from lab.evidence.schema import FALLBACK_COMMANDS
    from tests.grading_evidence import Drill, build_home
    from tests.test_grading_report import planted

    home = build_home(tmp / "home", Drill(scenario=scenario, shadow_quality="worse", promote_version=None))
    bundle = collect_evidence(home, tmp / "evidence", FALLBACK_COMMANDS)
    subs = tmp / "subs"
    subs.mkdir()
    return home.root, bundle, planted(subs, "expert")


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return took, proc


def importtime(stderr: str) -> tuple[float, dict[str, float]]:
    """From ``-X importtime``'s stderr: the total import seconds (the top-level imports' cumulative
    times) and each package's cumulative seconds where it was first imported (nested ones overlap)."""
    total, packages = 0.0, {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not cumulative.strip().isdigit():
            continue  # the header
        seconds = int(cumulative) / 1e6
        name = name[1:]  # one space after the bar, then two per nesting level
        if not name.startswith(" "):
            total += seconds
        packages.setdefault(name.strip(), seconds)
    return total, packages


HOST = """
import sys, time
from lab.workers.grade_endpoint import start_grade_endpoint
ep = start_grade_endpoint(sys.argv[1])
ep.warmed.wait()
print("warm", ep.port, flush=True)
sys.stdin.read()  # until the bench closes our stdin
ep.close()
"""


def submit_times(home: Path, sub: Path, tmp: Path, runs: int, env: dict[str, str]) -> dict[str, object]:
    """(e): `lab submit` through a warm endpoint (first and repeats), then in-process, and the reports compared."""
    lab = [sys.executable, "-m", "lab.cli"]
    shutil.rmtree(home / "cache", ignore_errors=True)
    started = time.perf_counter()
    host = subprocess.Popen([sys.executable, "-c", HOST, str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env=env)
    try:
        line = host.stdout.readline()  # blocks until warm (the hidden streams drawn)
        if not line.startswith("warm"):
            sys.exit(f"the endpoint host did not start: {line!r}")
        warm_up = time.perf_counter() - started
        out = [tmp / f"submit-{k}.json" for k in range(runs + 1)]
        times = []
        for k in range(runs + 1):
            took, proc = run([*lab, "submit", str(sub), "--home", str(home), "--json", str(out[k])], env)
            if "by the lab's grading endpoint" not in proc.stderr:
                sys.exit(f"lab submit did not use the endpoint:\n{proc.stderr[-2000:]}")
            times.append(took)
    finally:
        host.stdin.close()
        host.wait(timeout=60)
    here_out = tmp / "submit-here.json"
    t_here, proc = run([*lab, "submit", str(sub), "--home", str(home), "--json", str(here_out)], env)
    if "graded here" not in proc.stderr:
        sys.exit(f"lab submit used an endpoint after it closed:\n{proc.stderr[-2000:]}")

    def comparable(path: Path) -> dict:
        import json

        r = json.loads(path.read_text())
        r.pop("graded_at")
        ev = r.pop("evidence")
        return r | {"evidence": {k: v for k, v in ev.items() if k not in ("created", "files")}}

    return {"warm_up": warm_up, "first": times[0], "repeats": times[1:], "here": t_here,
            "same": comparable(out[0]) == comparable(here_out)} | live_config_submit(home, sub, tmp, env)


def live_config_submit(home: Path, sub: Path, tmp: Path, env: dict[str, str]) -> dict[str, float]:
    """(f): the monitoring.yaml the lab runs (``<home>/monitoring/config.yaml``), replayed by the
    endpoint ahead of the submit: how long until it is ready, then `lab submit` of that config."""
    import hashlib
    import json

    from lab.workers.grade_client import endpoint_info, request

    live = sub.parent / "live"
    shutil.copytree(sub, live)
    text = (sub / "monitoring.yaml").read_text() + "# applied live\n"  # not replayed yet: a new digest
    (live / "monitoring.yaml").write_text(text)
    (home / "monitoring").mkdir(exist_ok=True)
    (home / "monitoring" / "config.yaml").write_text(text)  # what `lab monitor --config` applies
    digest = hashlib.sha256(text.encode()).hexdigest()
    host = subprocess.Popen([sys.executable, "-c", HOST, str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env=env)
    try:
        if not host.stdout.readline().startswith("warm"):
            sys.exit("the endpoint host did not start")
        port, token = endpoint_info(home)
        started = time.perf_counter()
        while request(port, token, "GET", "/health", timeout=30)[1].get("live_config") != digest:
            if time.perf_counter() - started > 900:
                sys.exit("the live config was not replayed within 900 s")
            time.sleep(0.2)
        ready = time.perf_counter() - started
        took, proc = run([sys.executable, "-m", "lab.cli", "submit", str(live), "--home", str(home), "--json",
                          str(tmp / "submit-live.json")], env)
        if "by the lab's grading endpoint" not in proc.stderr:
            sys.exit(f"lab submit did not use the endpoint:\n{proc.stderr[-2000:]}")
        json.loads((tmp / "submit-live.json").read_text())
    finally:
        host.stdin.close()
        host.wait(timeout=60)
    return {"live_ready": ready, "live_submit": took}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenario", default="hiring-data-drift")
    args = ap.parse_args()
    lab = [sys.executable, "-m", "lab.cli"]
    env = {k: v for k, v in os.environ.items() if k != "LAB_HOME"}
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp_name:
        tmp = Path(tmp_name)
        home, bundle, sub = plant(tmp, args.scenario)
        grade = [*lab, "grade", "--evidence", str(bundle), str(sub), "--home", str(home), "--json", str(tmp / "r.json")]
        cache = home / "cache"

        def cold() -> float:
            shutil.rmtree(cache, ignore_errors=True)
            return run(grade, env)[0]

        colds = [cold() for _ in range(args.runs)]
        run(grade, env)  # fill the cache
        warms = [run(grade, env)[0] for _ in range(args.runs)]
        imports = [run([sys.executable, "-c", "import lab.cli"], env)[0] for _ in range(args.runs)]
        helps = [run([*lab, "--help"], env)[0] for _ in range(args.runs)]

        shutil.rmtree(cache, ignore_errors=True)
        t_cold, p_cold = run([sys.executable, "-X", "importtime", *grade[1:]], env)
        t_warm, p_warm = run([sys.executable, "-X", "importtime", *grade[1:]], env)
        sub_figures = submit_times(home, sub, tmp, args.runs, env)

    print(f"scenario {args.scenario}, submission 'expert', median of {args.runs}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"(a) lab grade --evidence, cold cache  {statistics.median(colds):6.1f} s   "
          f"({', '.join(f'{x:.1f}' for x in colds)})")
    print(f"(b) lab grade --evidence, warm cache  {statistics.median(warms):6.1f} s   "
          f"({', '.join(f'{x:.1f}' for x in warms)})")
    print(f"(c) python -c 'import lab.cli'        {statistics.median(imports):6.2f} s")
    print(f"    lab --help                        {statistics.median(helps):6.2f} s")
    for label, took, proc in (("cold", t_cold, p_cold), ("warm", t_warm, p_warm)):
        total, tops = importtime(proc.stderr)
        heavy = sorted(((tops[m], m) for m in HEAVY if m in tops), reverse=True)[:5]
        print(f"(d) {label}: {took:5.1f} s in all (under -X importtime), imports {total:5.1f} s, the rest "
              f"(grading, start-up) {took - total:5.1f} s; heaviest: "
              + ", ".join(f"{m} {s:.1f} s" for s, m in heavy))
    e = sub_figures
    print(f"(e) lab submit, endpoint warm (warm-up {e['warm_up']:.1f} s): first {e['first']:.1f} s (replays the config), "
          f"repeats {statistics.median(e['repeats']):.1f} s ({', '.join(f'{x:.1f}' for x in e['repeats'])}); "
          f"no endpoint, warm cache {e['here']:.1f} s; same report both ways: {e['same']}")
    print(f"(f) lab submit of the live monitoring.yaml (replayed by the endpoint {e['live_ready']:.1f} s after it "
          f"started, polling every 5 s): {e['live_submit']:.1f} s")


if __name__ == "__main__":
    main()
