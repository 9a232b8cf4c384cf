"""The service table (lab.core.services) against everything that spells the same facts:
docker-compose.yml and infra/k8s (parsed with PyYAML), `lab up`'s supervisor, the compose
agent and `lab status`. Pure: no server starts."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from lab.core import services
from lab.core.home import Home
from lab.core.labconfig import LabConfig
from lab.core.services import AGENT_HEARTBEAT, HEARTBEAT_SECONDS, TABLE, Service, command_head

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
#: Compose services that are not the lab's own: the database, the one-shot `lab init`, the agent,
#: the drill console (profile `drill`: the facilitator's, one for all teams' labs), Evidently's
#: UI (profile `dashboard`: on demand, like `lab dashboard`) and Prometheus (a third-party server
#: scraping the lab's services; `lab up` runs none: its exporter's /metrics is for one of yours).
COMPOSE_ONLY = {"postgres", "init", "lab", "drill", "dashboard", "prometheus"}
#: The lab home's mount in the containers.
CONTAINER_HOME = "/lab/home"
LONG_RUNNING = [s.name for s in TABLE if s.kind != "job"]
#: What runs in a home that joined no drill (the drill agent does not).
ALWAYS = [s.name for s in TABLE if s.only_if is None]


def _k8s() -> dict[str, dict]:
    docs = {}
    for path in sorted((ROOT / "infra" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in ("Deployment", "Job"):
                docs[doc["metadata"]["name"]] = doc
    return docs


K8S = _k8s()


def _main_container(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]["containers"][0]


def _port_argument(command: list[str]) -> int | None:
    for i, arg in enumerate(command):
        if arg == "--port":
            return int(command[i + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return None


def _heartbeat_seconds(check: str) -> float:
    """'... time.time() - os.stat(sys.argv[1]).st_mtime > 10)' -> 10.0"""
    return float(re.search(r"st_mtime > ([\d.]+)\)", check).group(1))


def test_the_table_is_consistent():
    names = [s.name for s in TABLE]
    assert len(set(names)) == len(names) and tuple(names) == services.NAMES
    for s in TABLE:
        assert set(s.needs) | set(s.after) <= set(names) - {s.name}, s.name
        assert not set(s.needs) & set(s.after), s.name
        assert (s.health is None) == (s.kind == "job"), s.name
        assert (s.port is not None) == (s.kind == "http"), s.name
        if s.kind == "http":
            assert s.health.startswith("/")
        if s.kind == "heartbeat":
            assert not Path(s.health).is_absolute() and ".." not in Path(s.health).parts
    # needs come earlier in the table: the order it lists is an order to start in
    for i, s in enumerate(TABLE):
        assert set(s.needs) | set(s.after) <= set(names[:i]), s.name
    assert services.SERVED == ("mlflow", "prefect", "serving", "traffic", "exporter")  # --port-base N gives them N..N+4


def test_a_skipped_job_lets_its_dependants_start_at_once():
    cold, warm = services.start_order(), services.start_order(frozenset({"train"}))
    assert cold["serving"] == ("train",) and warm["serving"] == ()
    assert warm["train"] == ("mlflow",)  # the skipped job itself is still ordered (marked done after MLflow)
    assert {k: v for k, v in warm.items() if k != "serving"} == {k: v for k, v in cold.items() if k != "serving"}


def test_services_sharing_a_process_start_together():
    assert services.members("workers") == ("traffic", "exporter", "timeline", "monitor")
    for process, entry in services.PROCESSES.items():
        group = services.members(process)
        assert group and all(services.service(n).kind != "job" and services.service(n).takes_home for n in group)
        assert (ROOT / (entry[entry.index("-m") + 1].replace(".", "/") + ".py")).is_file()
        needs = {n for m in group for n in services.service(m).needs}
        assert all(set(services.start_order()[m]) == needs for m in group)
    # served ones among them still have their own port and health (traffic's /health)
    assert services.service("traffic").port in services.DEFAULT_PORTS.values()


# -- docker-compose.yml ---------------------------------------------------------------------

def test_compose_runs_the_services_of_the_table():
    assert set(COMPOSE) - COMPOSE_ONLY == set(services.NAMES)


def test_an_optional_service_runs_only_when_asked():
    """Compose starts it under a profile of its own (the drill agent: `team`, as profile `drill`
    is the console's); k8s keeps it at zero replicas."""
    assert services.OPTIONAL == {"drill-agent": "drill"}
    profile = {"drill": "team"}
    for name, needs in services.OPTIONAL.items():
        assert COMPOSE[name]["profiles"] == [profile[needs]]
        assert K8S[name]["spec"]["replicas"] == 0
    for name in ALWAYS:
        assert "profiles" not in COMPOSE[name] and K8S[name]["spec"].get("replicas", 1) >= 1


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.name)
def test_compose_command_and_order_match(spec: Service):
    svc = COMPOSE[spec.name]
    command = svc["command"]
    assert command[: len(spec.entry) + 1] == command_head(spec, python="python"), command
    assert ("--home" in command) == spec.takes_home
    if spec.takes_home:
        assert command[command.index("--home") + 1] == CONTAINER_HOME
    depends = {name: d["condition"] for name, d in (svc.get("depends_on") or {}).items()}
    assert set(depends) - COMPOSE_ONLY == set(spec.needs) | set(spec.after)
    for name in set(depends) - COMPOSE_ONLY:
        wanted = "service_completed_successfully" if services.service(name).kind == "job" else "service_healthy"
        assert depends[name] == wanted, (spec.name, name)


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.name)
def test_compose_health_matches(spec: Service):
    svc = COMPOSE[spec.name]
    if spec.kind == "job":
        assert "healthcheck" not in svc and svc["restart"] == "no"
        return
    check = svc["healthcheck"]["test"]
    if spec.kind == "http":
        assert check[-1] == f"http://127.0.0.1:{spec.port}{spec.health}"
        assert _port_argument(svc["command"]) == spec.port
        assert svc["ports"][0].rsplit(":", 1)[1] == str(spec.port)
    else:
        assert check[-1] == f"{CONTAINER_HOME}/{spec.health}"
        assert _heartbeat_seconds(check[-2]) == HEARTBEAT_SECONDS


def test_compose_agent_service_matches():
    agent = COMPOSE["lab"]
    assert agent["command"][:3] == ["python", "-m", "lab.stack.compose_agent"]
    assert agent["healthcheck"]["test"][-1] == f"{CONTAINER_HOME}/{AGENT_HEARTBEAT}"


# -- infra/k8s ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.name)
def test_k8s_workload_matches(spec: Service):
    workload = K8S[spec.name]
    assert workload["kind"] == ("Job" if spec.kind == "job" else "Deployment")
    container = _main_container(workload)
    command = container["command"]
    assert command[: len(spec.entry) + 1] == command_head(spec, python="python"), command
    assert ("--home" in command) == spec.takes_home
    if spec.kind == "http":
        assert _port_argument(command) == spec.port
        assert [p["containerPort"] for p in container["ports"]] == [spec.port]
        probes = [container[p] for p in ("startupProbe", "readinessProbe", "livenessProbe") if p in container]
        assert probes and all(p["httpGet"]["path"] == spec.health for p in probes)
    elif spec.kind == "heartbeat":
        probes = [container[p] for p in ("startupProbe", "livenessProbe")]
        for probe in probes:
            assert probe["exec"]["command"][-1] == f"{CONTAINER_HOME}/{spec.health}"
            assert _heartbeat_seconds(probe["exec"]["command"][-2]) == HEARTBEAT_SECONDS


def test_k8s_agent_matches():
    container = _main_container(K8S["lab"])
    assert container["command"][:3] == ["python", "-m", "lab.stack.compose_agent"]
    assert container["livenessProbe"]["exec"]["command"][-1] == f"{CONTAINER_HOME}/{AGENT_HEARTBEAT}"


# -- the lab's own readers ---------------------------------------------------------------------

@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path / "home")
    home.ensure_writable()
    ports = {name: 15000 + i for i, name in enumerate(services.SERVED)}
    home.write_config(LabConfig(scenario="credit-concept-drift", scenario_file="/s/credit-concept-drift.yaml",
                                seed=4, speed=10.0, ports=ports))
    return home


@pytest.mark.parametrize("warm", [False, True])
def test_the_supervisor_starts_the_table(home: Home, warm: bool):
    from lab.stack.supervisor import service_plan

    if warm:
        home.write_config(home.config().model_copy(update={"registered_versions": True}))
    plan = service_plan(home)
    assert [s.name for s in plan] == ALWAYS
    bindir = Path(sys.executable).parent
    order = services.start_order(frozenset({"train"}) if warm else frozenset())
    for s, spec in zip(plan, [t for t in TABLE if t.name in ALWAYS]):
        if spec.process is None:
            assert s.cmd[: len(spec.entry) + 1] == command_head(spec, python=sys.executable, bindir=bindir)
        else:  # one process for its services: the same command line, the traffic port among its arguments
            assert s.cmd[: len(services.PROCESSES[spec.process]) + 1] == [sys.executable,
                                                                         *services.PROCESSES[spec.process]]
            assert s.cmd == next(p.cmd for p in plan if p.name == services.members(spec.process)[0])
            assert s.process == spec.process
        assert ("--home" in s.cmd) == spec.takes_home and s.needs == order[s.name]
        assert s.job == (spec.kind == "job") and s.skip == (warm and spec.name == "train")
        assert s.startup_timeout == spec.startup_timeout
        port = home.config().ports.get(spec.name)
        if spec.kind == "http":
            assert s.health_url == f"http://127.0.0.1:{port}{spec.health}"
            assert _port_argument(s.cmd) == port or s.cmd[s.cmd.index(f"--{spec.name}-port") + 1] == str(port)
        else:
            assert s.health_url is None
        assert s.heartbeat == (home.root / spec.health if spec.kind == "heartbeat" else None)


def test_the_drill_agent_runs_once_the_home_joined_a_drill(home: Home):
    from lab.core.drill_client import Credentials, save_credentials
    from lab.stack.control import services_status
    from lab.stack.supervisor import service_plan

    assert "drill-agent" not in [s.name for s in service_plan(home)] and "drill-agent" not in services_status(home)
    save_credentials(home, Credentials("http://127.0.0.1:8700", "token", "spring", "red"))
    plan = {s.name: s for s in service_plan(home)}
    assert list(plan) == list(services.NAMES)
    assert plan["drill-agent"].heartbeat == home.root / "drill" / "heartbeat"
    assert plan["drill-agent"].cmd[-2:] == ["--home", str(home.root)]
    assert services_status(home)["drill-agent"] == {"url": "http://127.0.0.1:8700", "healthy": False,
                                                    "status": "stopped", "pid": None, "restarts": 0}


def test_the_compose_agent_and_lab_status_watch_the_table(home: Home):
    from lab.stack.compose_agent import ComposeAgent
    from lab.stack.control import services_status

    agent = ComposeAgent(home)
    assert [s.name for s in agent.services] == [n for n in LONG_RUNNING if n in ALWAYS]
    for s in agent.services:
        spec = services.service(s.name)
        target = agent.health_target(s)
        assert target == (home.url(s.name) + spec.health if spec.kind == "http" else spec.health)
    status = services_status(home)  # nothing runs: no probe is sent
    assert list(status) == [n for n in LONG_RUNNING if n in ALWAYS] and not any(s["healthy"] for s in status.values())


def test_a_fresh_heartbeat_counts_and_a_stale_one_does_not(tmp_path):
    beat = services.heartbeat_path(tmp_path, "timeline")
    assert not services.heartbeat_fresh(beat)
    beat.parent.mkdir(parents=True)
    beat.touch()
    mtime = beat.stat().st_mtime
    assert services.heartbeat_fresh(beat, now=mtime + HEARTBEAT_SECONDS - 1)
    assert not services.heartbeat_fresh(beat, now=mtime + HEARTBEAT_SECONDS + 1)


def test_no_module_spells_a_heartbeat_path_of_its_own():
    """Heartbeat files are named in the table only (the workers and watchers ask it)."""
    spelled = []
    for path in sorted((ROOT / "lab").rglob("*.py")):
        if path == ROOT / "lab" / "core" / "services.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            joined = (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)  # home / "x" / "heartbeat"
                      and isinstance(node.right, ast.Constant) and node.right.value == "heartbeat")
            literal = isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith("/heartbeat")
            if joined or literal:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not spelled, "\n".join(spelled)
