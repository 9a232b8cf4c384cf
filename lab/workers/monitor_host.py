"""The monitor service's entry: the grading endpoint, then the live monitor (lab.monitoring.runner).

    python -m lab.workers.monitor_host --home HOME

A thin host until the stack's loops share one process (lab.workers.stack_worker): it
starts :func:`lab.workers.grade_endpoint.start_grade_endpoint` for the home, runs the
monitor's own ``main`` with the same arguments, and closes the endpoint when the monitor
stops. The endpoint is an optimisation: when it cannot start, the monitor runs anyway and
`lab submit` grades in its own process.
"""

from __future__ import annotations

import argparse
import sys

from lab.core.home import Home, resolve_home


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__, add_help=False)
    parser.add_argument("--home")
    known, _ = parser.parse_known_args(argv)
    endpoint = None
    if known.home:
        from lab.workers.grade_endpoint import start_grade_endpoint

        try:
            endpoint = start_grade_endpoint(Home(resolve_home(known.home)))
            print(f"grade endpoint on 127.0.0.1:{endpoint.port}", flush=True)
        except OSError as exc:
            print(f"grade endpoint not started ({exc!r}); `lab submit` grades in its own process", flush=True)
    from lab.monitoring.runner import main as monitor_main

    try:
        return monitor_main(argv)
    finally:
        if endpoint is not None:
            endpoint.close()


if __name__ == "__main__":
    sys.exit(main())
