"""The docker compose stack, for real: images built offline, `docker compose up`, a drill.

No mocks: infra/build-offline.sh builds the lab and PostgreSQL images with no registry
(cached: seconds when nothing changed), the stack of docker-compose.yml runs
hiring-data-drift, and the `lab` commands run where a user runs them, in the control
container (`docker compose exec lab lab ...`). Prometheus scrapes serving and the KPI
exporter and records the SLO rules of infra/prometheus once traffic flows. The drill:
inject the drift, shadow v2,
promote v3 and roll back, submit the templates and check the grade report came out, then
crash the serving container mid-traffic and check that Docker's restart policy brings it
back and the journal says so. Peak memory of the stack (the sum of `docker stats` over
its containers, sampled throughout) is printed with the timings. Skipped only when no
Docker engine is reachable.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.compose

ROOT = Path(__file__).resolve().parents[2]
PROJECT = f"prodmllabci{os.getpid()}"  # its own stack: another run on the machine is left alone
SEED = "7"
LONG_RUNNING = ("postgres", "mlflow", "prefect", "serving", "traffic", "exporter", "timeline", "monitor", "lab",
                "prometheus")
ONE_SHOT = ("init", "train")
UP_TIMEOUT = 1500.0  # cold: training on two cores is the slow part
FIGURES: dict[str, Any] = {}


def sh(cmd: list[str], timeout: float = 600, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def poll(what: str, fn, timeout: float, every: float = 1.0):
    """Call fn until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not after {timeout:.0f} s (last: {last!r})")


def compose_cli() -> list[str]:
    if sh(["docker", "compose", "version"], check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise AssertionError("a Docker engine is reachable but neither `docker compose` nor `docker-compose` exists")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mem_mib(text: str) -> float:
    """'123.4MiB / 23.4GiB' -> 123.4"""
    m = re.match(r"\s*([\d.]+)\s*([KMGT]?i?B)", text)
    if not m:
        return 0.0
    scale = {"B": 1 / 2**20, "KiB": 1 / 1024, "kB": 1 / 1024, "MiB": 1, "MB": 1, "GiB": 1024, "GB": 1024}
    return float(m.group(1)) * scale.get(m.group(2), 1)


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.cli = compose_cli()
        self.env = env
        self.peak_mib = 0.0
        self.peak_at = ""
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        return sh([*self.cli, "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), *args],
                  timeout=timeout, env=self.env, check=check)

    def lab(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        """A `lab` command in the control container, as a user runs it."""
        return self.compose("exec", "-T", "lab", "lab", *args, timeout=timeout, check=check)

    def py(self, code: str, timeout: float = 60) -> str:
        return self.compose("exec", "-T", "lab", "python", "-c", code, timeout=timeout).stdout

    def status(self) -> dict:
        return json.loads(self.lab("status", "--json").stdout)

    def journal(self, kind: str | None = None) -> list[dict]:
        text = self.compose("exec", "-T", "lab", "cat", "/lab/home/journal.jsonl").stdout
        entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [e for e in entries if kind is None or e["kind"] == kind]

    def container(self, service: str) -> str:
        return self.compose("ps", "-a", "-q", service).stdout.strip()  # -a: v2 hides finished jobs

    def state(self, service: str) -> dict:
        cid = self.container(service)
        if not cid:
            return {}
        return json.loads(sh(["docker", "inspect", "--format", "{{json .State}}", cid]).stdout) | {
            "RestartCount": int(sh(["docker", "inspect", "--format", "{{.RestartCount}}", cid]).stdout.strip())}

    def healthy(self) -> bool:
        for s in ONE_SHOT:
            st = self.state(s)
            if st.get("Status") == "exited" and st.get("ExitCode") != 0:
                raise AssertionError(f"{s} failed (exit {st['ExitCode']}):\n{self.logs(s)}")
        for s in LONG_RUNNING:
            st = self.state(s)
            if st.get("Status") == "exited":
                raise AssertionError(f"{s} exited ({st.get('ExitCode')}):\n{self.logs(s)}")
            if (st.get("Health") or {}).get("Status") != "healthy":
                return False
        return True

    def logs(self, *services: str, tail: int = 60) -> str:
        return self.compose("logs", "--no-color", f"--tail={tail}", *services, check=False).stdout[-8000:]

    # -- memory ---------------------------------------------------------------------------
    def sample_memory(self) -> None:
        ids = sh(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                 check=False).stdout.split()
        if not ids:
            return
        out = sh(["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *ids],
                 check=False, timeout=60).stdout
        rows = [line.split("\t") for line in out.splitlines() if "\t" in line]
        total = sum(mem_mib(usage) for _, usage in rows)
        if total > self.peak_mib:
            self.peak_mib = total
            self.peak_at = ", ".join(f"{name.split(PROJECT)[-1].strip('_-')} {mem_mib(u):.0f}"
                                     for name, u in sorted(rows, key=lambda r: -mem_mib(r[1])))

    def start_sampling(self) -> None:
        def loop() -> None:
            while not self._stop.wait(3.0):
                try:
                    self.sample_memory()
                except Exception:  # a container going away mid-sample
                    pass

        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._stop.set()
        if self._sampler:
            self._sampler.join(timeout=70)


@pytest.fixture(scope="module")
def stack(request):
    if shutil.which("docker") is None:
        pytest.skip("no Docker engine reachable: the docker CLI is not installed")
    info = sh(["docker", "info", "--format", "{{.ServerVersion}}"], check=False, timeout=60)
    if info.returncode != 0:
        pytest.skip(f"no Docker engine reachable: {(info.stderr or info.stdout).strip()[:300]}")

    started = time.monotonic()
    build = sh(["bash", str(ROOT / "infra" / "build-offline.sh")], timeout=3600)
    FIGURES["build_offline_s"] = round(time.monotonic() - started, 1)
    images = dict(line.split("=", 1) for line in build.stdout.split() if "=" in line)

    env = {**os.environ, **images, "LAB_SCENARIO": "hiring-data-drift", "LAB_SEED": SEED, "LAB_SPEED": "60",
           "LAB_MLFLOW_PORT": str(free_port()), "LAB_PREFECT_PORT": str(free_port()),
           "LAB_SERVING_PORT": str(free_port()), "LAB_TRAFFIC_PORT": str(free_port()),
           "LAB_EXPORTER_PORT": str(free_port()), "LAB_PROMETHEUS_PORT": str(free_port())}
    env.pop("LAB_HOME", None)
    s = Stack(env)
    failed_before = request.session.testsfailed
    try:
        started = time.monotonic()
        s.start_sampling()
        s.compose("up", "-d", "--no-build", timeout=UP_TIMEOUT)
        poll("every service healthy", s.healthy, timeout=UP_TIMEOUT, every=2.0)
        poll("the lab agent's lab.up", lambda: s.journal("lab.up"), timeout=120)
        FIGURES["up_to_healthy_s"] = round(time.monotonic() - started, 1)
        yield s
    finally:
        s.stop_sampling()
        logs = s.logs() if request.session.testsfailed > failed_before or "up_to_healthy_s" not in FIGURES else ""
        started = time.monotonic()
        s.compose("down", "-v", "--remove-orphans", timeout=600, check=False)
        FIGURES["down_s"] = round(time.monotonic() - started, 1)
        FIGURES["peak_memory_mib"] = round(s.peak_mib)
        with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
            if logs:
                print(f"\ncompose logs (last lines):\n{logs}")
            print(f"\ncompose stack figures: {json.dumps(FIGURES)}")
            print(f"peak memory of the compose stack: {s.peak_mib:.0f} MiB ({s.peak_at})")


def test_status_in_the_control_container(stack):
    st = stack.status()
    assert st["running"] is True and st["scenario"] == "hiring-data-drift" and st["seed"] == int(SEED)
    for name in ("mlflow", "prefect", "serving", "traffic", "exporter", "timeline", "monitor"):
        assert st["services"][name]["healthy"], (name, st["services"])
    assert st["services"]["mlflow"]["url"] == "http://mlflow:5000"
    versions = {v["version"]: v["aliases"] for v in st["model_versions"]}
    assert sorted(versions) == [1, 2, 3]
    assert "champion" in versions[1]
    assert st["day"] > 0  # the agent started the clock once the stack was healthy
    # what a browser on the host sees: the UIs on the published ports (MLflow checks the Host header)
    for name, path in (("MLFLOW", "/"), ("PREFECT", "/"), ("SERVING", "/readyz"), ("TRAFFIC", "/health"),
                       ("EXPORTER", "/health"), ("PROMETHEUS", "/-/ready")):
        url = f"http://localhost:{stack.env[f'LAB_{name}_PORT']}{path}"
        assert httpx.get(url, timeout=10).status_code == 200, url
    # the lab home is not the embedded supervisor's to stop
    down = stack.lab("down", check=False)
    assert down.returncode == 2 and "docker compose down" in down.stderr


def prometheus(stack: Stack, path: str, **params: str) -> Any:
    """``data`` of an answer of Prometheus' HTTP API, on its published port."""
    r = httpx.get(f"http://localhost:{stack.env['LAB_PROMETHEUS_PORT']}{path}", params=params, timeout=10)
    r.raise_for_status()
    return r.json()["data"]


def test_prometheus_scrapes_serving_and_the_exporter_and_records_the_slos(stack):
    started = time.monotonic()
    seen: dict[str, Any] = {}

    def targets_up() -> bool:
        seen["targets"] = {t["labels"]["job"]: (t["health"], t["lastError"])
                           for t in prometheus(stack, "/api/v1/targets", state="active")["activeTargets"]}
        return seen["targets"] == {"serving": ("up", ""), "exporter": ("up", "")}

    def rules_ok() -> bool:
        seen["rules"] = {r["name"]: (r["health"], r.get("lastError"))
                         for g in prometheus(stack, "/api/v1/rules")["groups"] for r in g["rules"]}
        return bool(seen["rules"]) and all(health == "ok" for health, _ in seen["rules"].values())

    def finite(query: str) -> list[float]:
        values = [float(r["value"][1]) for r in prometheus(stack, "/api/v1/query", query=query)["result"]]
        seen[query] = values
        return [v for v in values if math.isfinite(v)]

    p99 = "job_endpoint:bentoml_service_request_duration_seconds:p99_1m"
    try:
        poll("both scrape targets up", targets_up, timeout=60)
        poll("every rule evaluated without error", rules_ok, timeout=60)
        # traffic flows since the stack is healthy: two scrapes of serving with requests between them
        latency = poll(f"{p99} with a value", lambda: finite(p99), timeout=120)
        day = poll("lab_scenario_day scraped from the exporter",
                   lambda: [v for v in finite('lab_scenario_day{job="exporter"}') if v > 0], timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nPrometheus answered: {json.dumps(seen)[-3000:]}") from None
    assert 0 < latency[0] < 30, latency
    assert day[0] <= stack.status()["day"] + 0.5, day
    assert finite("job_endpoint:bentoml_service_request:rate1m")[0] > 0
    FIGURES["prometheus_slo_s"] = round(time.monotonic() - started, 1)


def test_drill_inject_shadow_promote_rollback(stack):
    started = time.monotonic()
    stack.lab("inject", "pool-shift")
    fired = [e for e in stack.journal("event.fired") if e["data"]["event"] == "pool-shift"]
    assert fired and fired[0]["actor"] == "facilitator" and fired[0]["data"]["type"] == "data_drift"

    stack.lab("shadow", "start", "--version", "2")
    report = poll("mirrored requests in the shadow report",
                  lambda: (r := json.loads(stack.lab("shadow", "report", "--json").stdout))["mirrored_requests"] >= 5
                  and r, timeout=120, every=2.0)
    assert report["shadow_version"] == 2

    stack.lab("promote", "--version", "3", "--reason", "compose drill: promote v3")
    rollback = stack.lab("rollback", "--reason", "compose drill: v3 is the defective release")
    assert "v3 -> v1" in rollback.stderr, rollback.stderr

    # the agent's alias watcher journals each move, attributed to the command that made it
    def moves() -> list[tuple]:
        return [(e["data"]["alias"], e["data"]["to"], e["actor"], e["data"]["via"])
                for e in stack.journal("alias.moved") if e["actor"] == "user"]

    want = [("shadow", 2, "user", "lab shadow start"), ("champion", 3, "user", "lab promote"),
            ("champion", 1, "user", "lab rollback")]
    poll("alias.moved for shadow v2, champion v3, champion v1", lambda: moves() == want, timeout=30)
    kinds = [e["kind"] for e in stack.journal()]
    for kind in ("shadow.started", "promote", "rollback"):
        assert kind in kinds
    assert stack.py("from pathlib import Path; from lab.core.journal import verify; "
                    "print(verify(Path('/lab/home/journal.jsonl')))").strip().isdigit()
    st = stack.status()
    aliases = {v["version"]: v["aliases"] for v in st["model_versions"]}
    assert "champion" in aliases[1] and "shadow" in aliases[2]

    # hand in the templates: the grade report comes out of the evidence the stack recorded
    stack.lab("init-submission", "/lab/home/answer")
    report = json.loads(stack.lab("submit", "/lab/home/answer", "--json", "-", timeout=600).stdout)
    assert report["total"] is not None and {"shadow", "rollback"} <= set(report["skills"]), report.keys()
    submitted = stack.journal("submit")
    assert submitted and submitted[-1]["actor"] == "user"
    folder = "/lab/home/" + submitted[-1]["data"]["folder"]
    stack.compose("exec", "-T", "lab", "test", "-s", f"{folder}/report.json")
    stack.compose("exec", "-T", "lab", "test", "-s", f"{folder}/report.html")
    FIGURES["drill_s"] = round(time.monotonic() - started, 1)


def traffic_counters(stack: Stack) -> dict:
    return json.loads(stack.py("import httpx; print(httpx.get('http://traffic:3100/health', timeout=5).text)"))


def test_serving_crash_mid_traffic_comes_back_and_is_journaled(stack):
    before = traffic_counters(stack)
    poll("traffic flowing", lambda: traffic_counters(stack)["ok"] > before["ok"], timeout=30)
    restarts = stack.state("serving")["RestartCount"]
    last_seq = stack.journal()[-1]["seq"]
    # Every process in the container dies at once, as in an OOM kill. (`docker kill`
    # counts as a manual stop: Docker never restarts a killed container, whatever its policy.)
    killed_at = time.monotonic()
    stack.compose("exec", "-T", "serving", "python", "-c", "import os, signal; os.kill(-1, signal.SIGKILL)",
                  check=False)
    poll("Docker restarting serving", lambda: stack.state("serving")["RestartCount"] > restarts, timeout=60,
         every=0.5)
    poll("serving healthy again", lambda: (stack.state("serving").get("Health") or {}).get("Status") == "healthy",
         timeout=300, every=1.0)
    FIGURES["serving_back_s"] = round(time.monotonic() - killed_at, 1)

    def journaled() -> list[dict]:
        return [e for e in stack.journal() if e["seq"] > last_seq and e["data"].get("service") == "serving"]

    entries = poll("service.exited and service.restarted for serving in the journal",
                   lambda: (j := journaled()) and {"service.exited", "service.restarted"} <= {e["kind"] for e in j}
                   and j, timeout=60)
    restarted = next(e for e in entries if e["kind"] == "service.restarted")
    assert restarted["data"]["down_seconds"] > 0
    # the clients saw the outage, and traffic flows again through the restarted container
    after = traffic_counters(stack)
    assert after["failed"] > before["failed"]
    poll("traffic answered after the restart", lambda: traffic_counters(stack)["ok"] > after["ok"], timeout=60)
    st = stack.status()
    assert st["services"]["serving"]["healthy"] and st["services"]["serving"]["restarts"] >= 1
    # the restarted container serves the champion the drill left (v1), shadowing v2
    state = json.loads(stack.py("import httpx; print(httpx.post('http://serving:3000/admin/state', json={}, "
                                "timeout=10).text)"))
    assert state["champion_version"] == 1 and state["shadow_version"] == 2
