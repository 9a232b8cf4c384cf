"""infra/k8s: the same services as docker-compose.yml, checked statically (no cluster).

Every YAML document parses and is of a known kind; every container runs the lab image
or PostgreSQL, pinned as in the compose file; Services carry the compose service names
and ports and select exactly one Deployment whose containers expose the target port;
probes hit the same health URLs as the compose healthchecks; the lab pods get the
compose environment (scenario, seed, service URLs) from one ConfigMap; every volume
claim exists; the kustomization lists every file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "infra" / "k8s"
KINDS = {"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service", "Job"}


#: Compose services with no k8s manifest: Prometheus (compose's own scraper of serving and the
#: exporter; a cluster has its monitoring stack, which scrapes their Services).
COMPOSE_ONLY = {"prometheus"}


def _compose() -> dict:
    """A lab's stack in docker-compose.yml: the drill console (profile `drill`, one per drill
    rather than per lab), Evidently's UI (profile `dashboard`, on demand; no k8s manifest),
    COMPOSE_ONLY and volumes only they mount are left out; the drill agent (profile `team`, a
    lab that joined a drill) stays, as it has a manifest of its own."""
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    left_out = {n: s for n, s in data["services"].items()
                if {"drill", "dashboard"} & set(s.get("profiles", [])) or n in COMPOSE_ONLY}
    data["services"] = {n: s for n, s in data["services"].items() if n not in left_out}
    used = {v.split(":")[0] for s in data["services"].values() for v in s.get("volumes", [])}
    data["volumes"] = {n: v for n, v in data["volumes"].items()
                       if n in used or not any(m.split(":")[0] == n for s in left_out.values() for m in s.get("volumes", []))}
    return data


def _default(value: str) -> str:
    """'${LAB_IMAGE:-prodml-lab/lab:0.1.0}' -> 'prodml-lab/lab:0.1.0'"""
    m = re.fullmatch(r"\$\{\w+:-(.+)\}", value)
    return m.group(1) if m else value


def _docs() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append({**doc, "_file": path.name})
    return docs


DOCS = _docs()
COMPOSE = _compose()
LAB_IMAGE = _default(COMPOSE["services"]["serving"]["image"])
POSTGRES_IMAGE = _default(COMPOSE["services"]["postgres"]["image"])


def of_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in DOCS if d["kind"] == kind}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict, init: bool = True) -> list[dict]:
    spec = pod_spec(workload)
    return [*(spec.get("initContainers") or [] if init else []), *spec["containers"]]


def main_container(workload: dict) -> dict:
    return pod_spec(workload)["containers"][0]


def compose_port(service: str) -> int:
    """The container port a compose service publishes ('127.0.0.1:${X:-5000}:5000' -> 5000)."""
    return int(COMPOSE["services"][service]["ports"][0].rsplit(":", 1)[1])


def compose_health_url(service: str) -> str:
    return COMPOSE["services"][service]["healthcheck"]["test"][-1]


def test_every_document_parses_and_is_a_known_kind():
    assert DOCS
    for d in DOCS:
        assert d["kind"] in KINDS, (d["_file"], d["kind"])
        assert d.get("apiVersion") and d["metadata"].get("name"), d["_file"]


def test_the_kustomization_lists_every_manifest():
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert k["kind"] == "Kustomization"
    assert sorted(k["resources"]) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_same_services_as_compose():
    long_running = {n for n, s in COMPOSE["services"].items() if s.get("restart") == "unless-stopped"}
    one_shot = {n for n, s in COMPOSE["services"].items() if s.get("restart") == "no"}
    assert set(of_kind("Deployment")) == long_running
    assert set(of_kind("Job")) == one_shot
    http = {n for n, s in COMPOSE["services"].items() if s.get("ports")} | {"postgres"}
    assert set(of_kind("Service")) == http


def test_every_image_is_the_lab_image_or_postgres_pinned_as_in_compose():
    assert LAB_IMAGE == _default(COMPOSE["x-lab"]["image"])
    assert "@sha256:" in POSTGRES_IMAGE
    for w in [*of_kind("Deployment").values(), *of_kind("Job").values()]:
        for c in containers(w):
            assert c["image"] in (LAB_IMAGE, POSTGRES_IMAGE), (w["metadata"]["name"], c["image"])
    assert main_container(of_kind("Deployment")["postgres"])["image"] == POSTGRES_IMAGE


@pytest.mark.parametrize("name", ["init", "train", "serving", "traffic", "exporter", "timeline", "monitor", "lab",
                                  "prefect"])
def test_lab_commands_match_compose(name):
    workload = {**of_kind("Deployment"), **of_kind("Job")}[name]
    assert main_container(workload)["command"] == COMPOSE["services"][name]["command"]


def test_mlflow_runs_on_postgres_with_proxied_artifacts_and_the_compose_allowed_hosts():
    k8s = main_container(of_kind("Deployment")["mlflow"])["command"]
    compose = COMPOSE["services"]["mlflow"]["command"]
    assert k8s[:3] == ["python", "-m", "lab.stack.mlflow_server"]  # no CLI parent process
    backend = next(a for a in k8s if a.startswith("--backend-store-uri="))
    assert re.fullmatch(r"--backend-store-uri=postgresql\+psycopg2://.+@postgres:5432/.+", backend)
    same = [a for a in compose if not a.startswith("--backend-store-uri=")]
    assert [a for a in k8s if not a.startswith("--backend-store-uri=")] == same
    assert "--allowed-hosts=mlflow,mlflow:5000" in ",".join(k8s)


def test_services_select_one_deployment_and_target_a_port_it_exposes():
    deployments = of_kind("Deployment")
    for name, svc in of_kind("Service").items():
        selector = svc["spec"]["selector"]
        chosen = [d for d in deployments.values()
                  if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        assert [d["metadata"]["name"] for d in chosen] == [name], (name, selector)
        # the Deployment's own selector matches its pod labels
        d = chosen[0]
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ports = {p["name"]: p["containerPort"] for c in pod_spec(d)["containers"] for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            assert target in ports or target in ports.values(), (name, target)
            container_port = ports.get(target, target)
            assert port["port"] == container_port
            if name != "postgres":
                assert container_port == compose_port(name), name


@pytest.mark.parametrize("name", ["mlflow", "prefect", "serving", "traffic", "exporter"])
def test_http_probes_match_the_compose_healthchecks(name):
    d = of_kind("Deployment")[name]
    c = main_container(d)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    url = compose_health_url(name)  # http://127.0.0.1:5000/health
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/\S*)", url)
    assert m, url
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == m.group(2), (name, probe)
        assert ports.get(get["port"], get["port"]) == int(m.group(1)), (name, probe)


@pytest.mark.parametrize("name", ["timeline", "monitor", "lab"])
def test_heartbeat_probes_match_the_compose_healthchecks(name):
    c = main_container(of_kind("Deployment")[name])
    assert c["livenessProbe"]["exec"]["command"] == COMPOSE["services"][name]["healthcheck"]["test"][1:]


def test_postgres_probe_and_credentials_match_compose():
    c = main_container(of_kind("Deployment")["postgres"])
    assert c["readinessProbe"]["exec"]["command"] == COMPOSE["services"]["postgres"]["healthcheck"]["test"][1:]
    secret = of_kind("Secret")["postgres"]["stringData"]
    assert secret == COMPOSE["services"]["postgres"]["environment"]


def test_lab_pods_get_the_compose_environment_from_the_configmap():
    config = of_kind("ConfigMap")["lab-config"]["data"]
    env = COMPOSE["x-lab"]["environment"]
    for key, value in env.items():
        assert key in config, key
        if not value.startswith("${"):
            assert config[key] == value, key
    assert config["LAB_SCENARIO"] == _default(env["LAB_SCENARIO"])
    for name in ("init", "train", "serving", "traffic", "exporter", "timeline", "monitor", "lab"):
        workload = {**of_kind("Deployment"), **of_kind("Job")}[name]
        for c in containers(workload):
            refs = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
            assert refs == ["lab-config"], (name, c["name"])


def test_every_claim_exists_and_the_shared_home_is_read_write_many():
    claims = of_kind("PersistentVolumeClaim")
    compose_volumes = set(COMPOSE["volumes"])
    assert set(claims) == compose_volumes
    assert claims["lab-home"]["spec"]["accessModes"] == ["ReadWriteMany"]
    for w in [*of_kind("Deployment").values(), *of_kind("Job").values()]:
        volumes = {v["name"]: v for v in pod_spec(w).get("volumes", [])}
        for v in volumes.values():
            assert v["persistentVolumeClaim"]["claimName"] in claims
        for c in containers(w):
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, (w["metadata"]["name"], m["name"])


def test_compose_mounts_match():
    """Each pod mounts the same claim at the same path as its compose service mounts the volume."""
    workloads = {**of_kind("Deployment"), **of_kind("Job")}
    for name, svc in COMPOSE["services"].items():
        compose_mounts = {v.split(":")[0]: v.split(":")[1] for v in svc.get("volumes", [])}
        w = workloads[name]
        volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod_spec(w).get("volumes", [])}
        k8s_mounts = {volumes[m["name"]]: m["mountPath"] for m in main_container(w).get("volumeMounts", [])}
        assert k8s_mounts == compose_mounts, name
