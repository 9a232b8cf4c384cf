"""Start the serving API as one process: bind the port, then become BentoML's HTTP worker.

``bentoml serve`` runs two Python processes: a parent (BentoML's process manager, ~0.12 GB
PSS, importing BentoML) that binds the socket and starts one worker, and the worker that
serves. The lab's supervisor, Compose and Kubernetes already restart a service that dies,
so the parent adds nothing here. This module does the parent's part with the standard
library (bind the socket, set the worker's environment as ``bentoml serve`` sets it) and
then ``exec``s BentoML's own worker (``_bentoml_impl.worker.service``, the locked BentoML)
in the same process, with the socket as file descriptor: same pid, same API, same
``/readyz`` and ``/metrics``.

    python -m lab.serving.serve [--host 127.0.0.1] [--port 3000] [--target lab.serving.service:Screening]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

from lab.core.worker import ONE_THREAD_ENV

TARGET = "lab.serving.service:Screening"
SERVICE_NAME = "prodml-lab-serving"  # the @bentoml.service name in lab.serving.service
WORKER = "_bentoml_impl.worker.service"
BACKLOG = 2048  # bentoml serve's default


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that the worker inherits (as BentoML's arbiter binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def worker_argv(target: str, fd: int) -> list[str]:
    """The worker's command line, as ``bentoml serve`` builds it for one HTTP worker without TLS."""
    return [sys.executable, "-m", WORKER, target, "--fd", str(fd), "--service-name", SERVICE_NAME,
            "--backlog", str(BACKLOG), "--worker-id", "1", "--args", "{}"]


def worker_env(host: str, port: int) -> dict[str, str]:
    """What ``bentoml serve`` adds to the worker's environment: its multiprocess metrics folder
    (under ``$BENTOML_HOME``) and the map naming the service's own URL; and numerical libraries
    on one thread unless the environment says otherwise (a request scores a few rows: threads
    there only cost, and OpenMP's spin between requests)."""
    home = Path(os.environ.get("BENTOML_HOME") or Path(tempfile.gettempdir()) / "bentoml")
    metrics = home / "prometheus_multiproc_dir"
    metrics.mkdir(parents=True, exist_ok=True)
    for stale in metrics.iterdir():  # a (re)started worker counts afresh, as bentoml serve empties the folder
        if stale.is_file():
            stale.unlink(missing_ok=True)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    return {**ONE_THREAD_ENV, **os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            "BENTOML_RUNNER_MAP": json.dumps({SERVICE_NAME: f"http://{shown}:{port}"})}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m lab.serving.serve", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--target", default=TARGET, help="the BentoML service (module:Class)")
    args = ap.parse_args(argv)
    if not 0 <= args.port <= 65535:
        ap.error(f"--port must be 0..65535, got {args.port}")
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        sys.exit(f"serving: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    port = sock.getsockname()[1]
    print(f"serving: {args.target} listening on http://{args.host}:{port} (BentoML worker, pid {os.getpid()})",
          flush=True)
    os.execve(sys.executable, worker_argv(args.target, sock.fileno()), worker_env(args.host, port))


if __name__ == "__main__":
    main()
