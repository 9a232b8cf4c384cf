"""lab.stack.mlflow_server: the environment it gives MLflow's app, and its argument errors.

The server itself runs in tests/integration/test_stack.py (the supervisor starts it).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab.stack.mlflow_server import DEFAULT_ARTIFACTS_URI, SERVER_ENV, parse_args, server_env


def test_proxied_artifacts_get_mlflows_proxy_root_and_the_registry_follows_the_backend():
    args = parse_args(["--backend-store-uri", "sqlite:////h/mlflow.db", "--artifacts-destination", "/h/artifacts",
                       "--serve-artifacts", "--port", "5123"])
    env = server_env(args)
    assert env["_MLFLOW_SERVER_FILE_STORE"] == "sqlite:////h/mlflow.db"
    assert env["_MLFLOW_SERVER_REGISTRY_STORE"] == "sqlite:////h/mlflow.db"
    assert env["_MLFLOW_SERVER_ARTIFACT_ROOT"] == DEFAULT_ARTIFACTS_URI
    assert env["_MLFLOW_SERVER_SERVE_ARTIFACTS"] == "true"
    assert env["_MLFLOW_SERVER_ARTIFACT_DESTINATION"] == "/h/artifacts"
    assert env["_MLFLOW_IN_JOB_EXECUTOR"] == "false"
    assert "MLFLOW_SERVER_ALLOWED_HOSTS" not in env  # MLflow's default: localhost only


def test_without_the_proxy_no_artifact_variables_and_allowed_hosts_pass_through():
    env = server_env(parse_args(["--backend-store-uri", "postgresql://u:p@db/mlflow", "--allowed-hosts", "mlflow,mlflow:5000"]))
    assert "_MLFLOW_SERVER_SERVE_ARTIFACTS" not in env
    assert "_MLFLOW_SERVER_ARTIFACT_ROOT" not in env  # resolved by MLflow itself from the backend store
    assert env["MLFLOW_SERVER_ALLOWED_HOSTS"] == "mlflow,mlflow:5000"


def test_the_variable_names_are_mlflows():
    from mlflow.server import constants

    for name, value in SERVER_ENV.items():
        assert getattr(constants, name) == value, name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "5000"], "--backend-store-uri"),
        (["--backend-store-uri", "sqlite:///x.db", "--port", "70000"], "--port 70000"),
        (["--backend-store-uri", "sqlite:///x.db", "--artifacts-destination", "/a"], "needs --serve-artifacts"),
    ],
)
def test_bad_arguments_fail_with_one_line_before_importing_mlflow(argv, message):
    proc = subprocess.run([sys.executable, "-m", "lab.stack.mlflow_server", *argv], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
