"""Who may change a lab: its own credentials, for a lab on a shared host (one that joined a drill).

A lab that runs alone listens on 127.0.0.1 without credentials. A lab that joined a drill
(``lab up --drill``) shares its host with other teams' labs, so that team blue cannot move
team red's champion:

* serving's ``/admin/*`` routes want the header ``X-Lab-Admin-Token`` (lab.serving.service);
* MLflow wants HTTP basic auth on everything but ``/health`` (lab.stack.mlflow_server).
  MLflow's own ``--app-name basic-auth`` needs flask-wtf, which requirements.lock does
  not pin, so the lab's server checks the credentials itself;
* Prefect's API wants the same user and password (Prefect 3's own check,
  ``PREFECT_SERVER_API_AUTH_STRING``; its clients send ``PREFECT_API_AUTH_STRING``),
  all but ``GET /api/health``.

The credentials are made once per lab home, at ``lab up --drill``, and kept in
``<home>/drill/access.json`` (mode 0600). The lab's own processes get them in the
environment (:func:`service_env`: MLflow's client reads ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``, the lab's REST clients ask :func:`mlflow_auth`, Prefect's
client reads ``PREFECT_API_AUTH_STRING``); its commands load them from the home
(:func:`export_env`). A lab that joined no drill has no such file: nothing is checked.

>>> import tempfile, pathlib, os
>>> from lab.core.home import Home
>>> h = Home(pathlib.Path(tempfile.mkdtemp()))
>>> admin_headers(h), ensure(h) is not None, len(admin_headers(h)[ADMIN_HEADER]) >= 32
({}, True, True)
>>> oct(access_path(h).stat().st_mode & 0o777)
'0o600'
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from lab.core.home import Home, read_json

ADMIN_HEADER = "X-Lab-Admin-Token"
USER_ENV, PASSWORD_ENV = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"


def access_path(home: Home) -> Path:
    return home.root / "drill" / "access.json"


def load(home: Home) -> dict[str, Any] | None:
    """``{admin_token, mlflow_username, mlflow_password}``; None for a lab without credentials."""
    return read_json(access_path(home))


def ensure(home: Home, team: str = "team") -> dict[str, Any]:
    """The home's credentials, made (random, 192 bits each, mode 0600) if it has none."""
    found = load(home)
    if found:
        return found
    made = {"admin_token": secrets.token_urlsafe(24), "mlflow_username": f"lab-{team}",
            "mlflow_password": secrets.token_urlsafe(24)}
    write_private(access_path(home), made)
    return made


def write_private(path: Path, data: Any) -> None:
    """Write JSON readable by its owner only (0600, from the first byte: no window where it is wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def admin_headers(home: Home) -> dict[str, str]:
    """The header serving's admin routes want from this lab's commands ({} when it wants none)."""
    found = load(home)
    return {ADMIN_HEADER: found["admin_token"]} if found else {}


def mlflow_env(home: Home) -> dict[str, str]:
    """MLflow's credentials as its client reads them from the environment ({} for an open lab)."""
    found = load(home)
    return {USER_ENV: found["mlflow_username"], PASSWORD_ENV: found["mlflow_password"]} if found else {}


def service_env(home: Home) -> dict[str, str]:
    """What the lab's processes need in their environment: MLflow's credentials, and Prefect's
    (the server's check and its clients' header) as ``user:password``."""
    found = load(home)
    if not found:
        return {}
    prefect = f"{found['mlflow_username']}:{found['mlflow_password']}"
    return {**mlflow_env(home), "PREFECT_API_AUTH_STRING": prefect, "PREFECT_SERVER_API_AUTH_STRING": prefect}


def export_env(home: Home) -> None:
    """Give this process the home's credentials (a lab command talking to its own MLflow or Prefect)."""
    env = service_env(home)
    env.pop("PREFECT_SERVER_API_AUTH_STRING", None)
    os.environ.update(env)


def mlflow_auth() -> tuple[str, str] | None:
    """Basic-auth credentials for the lab's own HTTP clients of MLflow, from the environment."""
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    return (user, password) if user and password else None
