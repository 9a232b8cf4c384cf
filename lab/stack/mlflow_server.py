"""MLflow's tracking server in one process: its app served by uvicorn in-process.

``mlflow server --workers 1`` runs two Python processes: a CLI parent that imports all
of MLflow (about 290 MB) only to set a few environment variables, initialise the
backend store and wait on a ``python -m uvicorn`` child that serves the app. This
module does what that parent does (``mlflow.cli.server`` and
``mlflow.server._run_server`` in MLflow 3.x) and then serves the same app, MLflow's
FastAPI wrapper ``mlflow.server.fastapi_app:app`` around its Flask app, in the same
process, so the lab pays for MLflow's imports once.

    python -m lab.stack.mlflow_server --backend-store-uri sqlite:///H/mlflow.db \
        --artifacts-destination H/artifacts --serve-artifacts --host 127.0.0.1 --port 5000

``--auth-file F`` (a lab that joined a drill, lab.core.access) asks every request but
``GET /health`` for HTTP basic auth with F's ``mlflow_username`` / ``mlflow_password``:
401 without credentials, 403 with others. MLflow's own ``--app-name basic-auth`` needs
flask-wtf, which the lab does not pin; this check is a small ASGI wrapper instead.

Not supported (the lab does not use them): several workers, gunicorn or waitress,
``--app-name`` (basic auth), Prometheus, workspaces, MLflow's job runner (the lab sets
``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``; this module never starts it).
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid

# MLflow's internal server-to-worker variables (mlflow.server.constants and
# mlflow.environment_variables). They must be set before mlflow.server is imported: its
# module body reads them (security middleware). Checked against MLflow after the import.
SERVER_ENV = {
    "BACKEND_STORE_URI_ENV_VAR": "_MLFLOW_SERVER_FILE_STORE",
    "REGISTRY_STORE_URI_ENV_VAR": "_MLFLOW_SERVER_REGISTRY_STORE",
    "ARTIFACT_ROOT_ENV_VAR": "_MLFLOW_SERVER_ARTIFACT_ROOT",
    "SERVE_ARTIFACTS_ENV_VAR": "_MLFLOW_SERVER_SERVE_ARTIFACTS",
    "ARTIFACTS_DESTINATION_ENV_VAR": "_MLFLOW_SERVER_ARTIFACT_DESTINATION",
}
DEFAULT_ARTIFACTS_URI = "mlflow-artifacts:/"  # mlflow.utils.server_cli_utils (served through the proxy)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lab.stack.mlflow_server",
        description="MLflow's tracking server (UI + REST) in one process (uvicorn in-process, one worker).",
    )
    parser.add_argument("--backend-store-uri", required=True, help="e.g. sqlite:///path/mlflow.db or postgresql://...")
    parser.add_argument("--registry-store-uri", default=None, help="default: the backend store URI")
    parser.add_argument("--default-artifact-root", default=None,
                        help="default: mlflow-artifacts:/ with --serve-artifacts, else the backend store's folder")
    parser.add_argument("--artifacts-destination", default=None, help="where proxied artifacts are stored")
    parser.add_argument("--serve-artifacts", action="store_true", help="proxy artifact uploads and downloads")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--allowed-hosts", default=None, help="Host headers accepted (MLflow's --allowed-hosts)")
    parser.add_argument("--cors-allowed-origins", default=None, help="MLflow's --cors-allowed-origins")
    parser.add_argument("--auth-file", default=None,
                        help="JSON with mlflow_username and mlflow_password: basic auth on all but /health")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: not a TCP port (1-65535)")
    if args.artifacts_destination and not args.serve_artifacts:
        parser.error("--artifacts-destination needs --serve-artifacts (the destination is used by the artifact proxy)")
    return args


class BasicAuth:
    """An ASGI wrapper: HTTP basic auth with one user on every path but ``open_paths``.

    >>> import asyncio
    >>> sent = []
    >>> async def app(scope, receive, send): sent.append("app")
    >>> async def send(message): sent.append(message.get("status"))
    >>> guard = BasicAuth(app, "u", "p")
    >>> for headers in ([], [(b"authorization", b"Basic dTp4")], [(b"authorization", b"Basic dTpw")]):
    ...     asyncio.run(guard({"type": "http", "path": "/api/2.0/mlflow/x", "headers": headers}, None, send))
    >>> asyncio.run(guard({"type": "http", "path": "/health", "headers": []}, None, send)); sent
    [401, None, 403, None, 'app', 'app']
    """

    def __init__(self, app, username: str, password: str, open_paths: tuple[str, ...] = ("/health",)) -> None:
        import base64

        self.app = app
        self.expected = b"Basic " + base64.b64encode(f"{username}:{password}".encode())
        self.open_paths = open_paths

    async def __call__(self, scope, receive, send) -> None:
        import hmac

        if scope["type"] != "http" or scope.get("path") in self.open_paths:
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or []).get(b"authorization")
        if given is not None and hmac.compare_digest(given, self.expected):
            return await self.app(scope, receive, send)
        status = 401 if given is None else 403
        body = b'{"error_code": "UNAUTHENTICATED", "message": "this lab\'s MLflow wants its credentials"}'
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b'Basic realm="prodml-lab"')]})
        await send({"type": "http.response.body", "body": body})


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment MLflow's CLI gives its server workers, for these arguments."""
    registry = args.registry_store_uri or args.backend_store_uri
    root = args.default_artifact_root
    if root is None:
        root = DEFAULT_ARTIFACTS_URI if args.serve_artifacts else None
    env = {
        SERVER_ENV["BACKEND_STORE_URI_ENV_VAR"]: args.backend_store_uri,
        SERVER_ENV["REGISTRY_STORE_URI_ENV_VAR"]: registry,
        "_MLFLOW_SERVER_BOOT_ID": uuid.uuid4().hex,
        "_MLFLOW_IN_JOB_EXECUTOR": "false",
        "_MLFLOW_SGI_NAME": "uvicorn",
    }
    if root:
        env[SERVER_ENV["ARTIFACT_ROOT_ENV_VAR"]] = root
    if args.serve_artifacts:
        env[SERVER_ENV["SERVE_ARTIFACTS_ENV_VAR"]] = "true"
    if args.artifacts_destination:
        env[SERVER_ENV["ARTIFACTS_DESTINATION_ENV_VAR"]] = args.artifacts_destination
    if args.allowed_hosts:
        env["MLFLOW_SERVER_ALLOWED_HOSTS"] = args.allowed_hosts
    if args.cors_allowed_origins:
        env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] = args.cors_allowed_origins
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)  # a mistake is answered before MLflow's ~6 s import
    env = server_env(args)
    os.environ.update(env)

    import uvicorn
    from mlflow.server import constants
    from mlflow.server.handlers import initialize_backend_stores

    renamed = [f"{name} is {getattr(constants, name, None)!r}, not {value!r}"
               for name, value in SERVER_ENV.items() if getattr(constants, name, None) != value]
    if renamed:
        print(f"lab.stack.mlflow_server: this MLflow renamed its server variables ({'; '.join(renamed)}); "
              "update SERVER_ENV in lab/stack/mlflow_server.py", file=sys.stderr)
        return 2
    root = env.get(SERVER_ENV["ARTIFACT_ROOT_ENV_VAR"])
    if root is None:  # as mlflow's CLI: a local backend store keeps its artifacts beside it
        from mlflow.utils.server_cli_utils import resolve_default_artifact_root

        root = resolve_default_artifact_root(False, None, args.backend_store_uri)
        os.environ[SERVER_ENV["ARTIFACT_ROOT_ENV_VAR"]] = root
    try:  # creates or upgrades the database schema, as `mlflow server` does before it forks
        from mlflow.tracing.trace_rollup_service import validate_sql_trace_rollup_startup

        validate_sql_trace_rollup_startup(args.backend_store_uri)
        initialize_backend_stores(args.backend_store_uri, env[SERVER_ENV["REGISTRY_STORE_URI_ENV_VAR"]], root)
    except Exception as exc:  # noqa: BLE001 (any store error ends the server with one line)
        print(f"lab.stack.mlflow_server: cannot open the backend store {args.backend_store_uri}: {exc}",
              file=sys.stderr)
        return 1

    from pathlib import Path

    import mlflow.server
    from mlflow.server.fastapi_app import app

    log_config = Path(mlflow.server.__file__).with_name("uvicorn_log_config.yaml")
    if args.auth_file:
        import json

        creds = json.loads(Path(args.auth_file).read_text(encoding="utf-8"))
        app = BasicAuth(app, creds["mlflow_username"], creds["mlflow_password"])
    uvicorn.run(app, host=args.host, port=args.port, log_config=str(log_config) if log_config.exists() else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
