"""Reads the MLflow model registry over its REST API.

`lab status` uses this instead of the mlflow package so the CLI starts in well
under a second (importing mlflow takes ~6 s on two cores).
"""

from __future__ import annotations

from typing import Any

import httpx

from lab.core.access import mlflow_auth
from lab.errors import ServiceError


def _get(client: httpx.Client, base: str, path: str, **params: Any) -> dict[str, Any]:
    try:
        r = client.get(f"{base}/api/2.0/mlflow/{path}", params=params)
    except httpx.HTTPError as exc:
        raise ServiceError(f"MLflow at {base} is unreachable: {exc}") from None
    if r.status_code == 404 or (r.status_code == 400 and "RESOURCE_DOES_NOT_EXIST" in r.text):
        return {}
    if r.status_code != 200:
        raise ServiceError(f"MLflow at {base} answered {r.status_code} to {path}: {r.text[:200]}")
    return r.json()


def model_versions(base: str, model: str) -> list[dict[str, Any]]:
    """Every version of ``model``: name, version, aliases, run_id, status, metrics, tags."""
    with httpx.Client(timeout=5.0, auth=mlflow_auth()) as client:
        found = _get(client, base, "model-versions/search", filter=f"name='{model}'", max_results=1000)
        registered = _get(client, base, "registered-models/get", name=model).get("registered_model", {})
        aliases: dict[str, list[str]] = {}
        for a in registered.get("aliases", []):
            aliases.setdefault(str(a["version"]), []).append(a["alias"])
        out = []
        for mv in found.get("model_versions", []):
            run_id = mv.get("run_id")
            metrics: dict[str, float] = {}
            if run_id:
                run = _get(client, base, "runs/get", run_id=run_id).get("run", {})
                metrics = {m["key"]: m["value"] for m in run.get("data", {}).get("metrics", [])}
            out.append(
                {
                    "name": mv["name"],
                    "version": int(mv["version"]),
                    "aliases": sorted(aliases.get(str(mv["version"]), [])),
                    "run_id": run_id,
                    "status": mv.get("status"),
                    "description": mv.get("description", ""),
                    "tags": {t["key"]: t["value"] for t in mv.get("tags", [])},
                    "metrics": dict(sorted(metrics.items())),
                }
            )
    return sorted(out, key=lambda v: v["version"])


def _post(client: httpx.Client, base: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        r = client.post(f"{base}/api/2.0/mlflow/{path}", json=body)
    except httpx.HTTPError as exc:
        raise ServiceError(f"MLflow at {base} is unreachable: {exc}") from None
    if r.status_code != 200:
        raise ServiceError(f"MLflow at {base} answered {r.status_code} to {path}: {r.text[:200]}")
    return r.json() if r.content else {}


def aliases(base: str, model: str, client: httpx.Client | None = None) -> dict[str, int]:
    """The model's aliases: ``{"champion": 1, "challenger": 2}``."""
    own = client is None
    client = client or httpx.Client(timeout=5.0, auth=mlflow_auth())
    try:
        registered = _get(client, base, "registered-models/get", name=model).get("registered_model", {})
    finally:
        if own:
            client.close()
    return {a["alias"]: int(a["version"]) for a in registered.get("aliases", [])}


def model_tags(base: str, model: str) -> dict[str, str]:
    """The registered model's tags: ``{"lab.shadow.percent": "100", ...}``."""
    with httpx.Client(timeout=5.0, auth=mlflow_auth()) as client:
        registered = _get(client, base, "registered-models/get", name=model).get("registered_model", {})
    return {t["key"]: t["value"] for t in registered.get("tags", [])}


def set_alias(base: str, model: str, alias: str, version: int) -> None:
    with httpx.Client(timeout=10.0, auth=mlflow_auth()) as client:
        _post(client, base, "registered-models/alias", {"name": model, "alias": alias, "version": str(version)})


def delete_alias(base: str, model: str, alias: str) -> None:
    with httpx.Client(timeout=10.0, auth=mlflow_auth()) as client:
        try:
            r = client.request("DELETE", f"{base}/api/2.0/mlflow/registered-models/alias",
                               json={"name": model, "alias": alias})
        except httpx.HTTPError as exc:
            raise ServiceError(f"MLflow at {base} is unreachable: {exc}") from None
        if r.status_code not in (200, 404):
            raise ServiceError(f"MLflow at {base} answered {r.status_code} deleting alias {alias}: {r.text[:200]}")


def set_version_tag(base: str, model: str, version: int, key: str, value: str, client: httpx.Client | None = None) -> None:
    own = client is None
    client = client or httpx.Client(timeout=5.0, auth=mlflow_auth())
    try:
        _post(client, base, "model-versions/set-tag", {"name": model, "version": str(version), "key": key, "value": value})
    finally:
        if own:
            client.close()


def set_model_tag(base: str, model: str, key: str, value: str) -> None:
    with httpx.Client(timeout=5.0, auth=mlflow_auth()) as client:
        _post(client, base, "registered-models/set-tag", {"name": model, "key": key, "value": value})


def delete_model_tag(base: str, model: str, key: str) -> None:
    with httpx.Client(timeout=5.0, auth=mlflow_auth()) as client:
        try:
            client.request("DELETE", f"{base}/api/2.0/mlflow/registered-models/delete-tag",
                           json={"name": model, "key": key})
        except httpx.HTTPError as exc:
            raise ServiceError(f"MLflow at {base} is unreachable: {exc}") from None
