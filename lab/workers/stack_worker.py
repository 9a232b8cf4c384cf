"""The timeline, the live monitor, the traffic replayer and the KPI exporter in one process.

``lab up``'s supervisor runs ``python -m lab.workers.stack_worker --home H --traffic-port P --exporter-port Q``
once for the services the table marks ``process="workers"`` (lab.core.services):
one Python process instead of four, so pandas, numpy, scikit-learn, Prefect and httpx are
loaded once (about 0.2 GB of PSS less; bench/bench_memory.py). Each service stays itself:
the timeline and the monitor touch their own heartbeat files, traffic serves ``/health`` on
its own port, so the supervisor, ``lab status``, the liveness checks and the journal see
the same services as before, all with this process's pid.

Each service runs as a thread with its own entry (``run(home, ..., stop)`` of
lab.world.timeline_runner, lab.monitoring.runner, lab.world.traffic, lab.monitoring.exporter); SIGTERM or SIGINT
stops them all. A service whose thread ends while the lab is up (an exception, or a
return) takes the whole process down with exit code 1 and its traceback in the log: its
heartbeat or ``/health`` would otherwise go on while it does nothing, or the others would
go on without it. The supervisor then journals ``service.exited`` for each and
restarts the process (each service resumes from the home: fired events and published
labels from the journal, judged windows from ``windows.jsonl``).

Traffic keeps its rate beside the monitor's CPU-heavy windows: the thread switch interval
is cut to 1 ms, so the replayer's event loop gets the interpreter within a millisecond of
its next tick instead of 5 ms.

The process also serves `lab submit`'s grading on 127.0.0.1 (lab.workers.grade_endpoint),
since it already holds the grading libraries.

The compose and Kubernetes stacks keep one container per service (each runs its module's
own ``main``, the table's ``entry``): there a container is the unit of health, restart and logs.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable

from lab.core.home import Home, resolve_home
from lab.core.worker import stop_on_signals
from lab.monitoring import exporter, runner as monitor
from lab.world import timeline_runner, traffic
from lab.workers.grade_endpoint import start_grade_endpoint

#: How long the services get, together, to finish once stopped, before the process exits
#: anyway (within the supervisor's own grace before it kills).
STOP_GRACE_SECONDS = 10.0
SWITCH_INTERVAL_SECONDS = 0.001


def run_all(loops: dict[str, Callable[[threading.Event], None]], stop: threading.Event) -> list[str]:
    """Run each loop in its own thread until ``stop`` is set or one of them ends; the names
    of those that ended on their own (an exception or a return before ``stop``).

    >>> stop = threading.Event()
    >>> run_all({"quits": lambda s: None, "waits": lambda s: s.wait()}, stop)
    quits: returned while the lab is up; the process exits so that it is restarted
    ['quits']
    """
    ended: list[str] = []

    def guarded(name: str, loop: Callable[[threading.Event], None]) -> None:
        try:
            loop(stop)
        except BaseException:
            print(f"{name}: stopped by an error; the process exits so that it is restarted", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
            ended.append(name)
        else:
            if not stop.is_set():
                print(f"{name}: returned while the lab is up; the process exits so that it is restarted",
                      flush=True)
                ended.append(name)
        finally:
            stop.set()  # one service down takes the others with it

    threads = [threading.Thread(target=guarded, args=(name, loop), name=name, daemon=True)
               for name, loop in loops.items()]
    for t in threads:
        t.start()
    while not stop.wait(0.5):  # a timeout, so the main thread handles signals promptly
        pass
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return ended


def _start_grade_endpoint(home: Home):
    """`lab submit`'s grading endpoint (an optimisation: when it cannot start, the loops run
    anyway and `lab submit` grades in its own process)."""
    try:
        endpoint = start_grade_endpoint(home)
    except OSError as exc:
        print(f"grade endpoint not started ({exc!r}); `lab submit` grades in its own process", flush=True)
        return None
    print(f"grade endpoint on 127.0.0.1:{endpoint.port}", flush=True)
    return endpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True)
    parser.add_argument("--traffic-port", type=int, required=True, help="the port traffic serves /health on")
    parser.add_argument("--exporter-port", type=int, required=True, help="the port the KPI exporter serves on")
    parser.add_argument("--host", default="127.0.0.1", help="address traffic and the exporter bind")
    args = parser.parse_args(argv)
    home = Home(resolve_home(args.home))
    stop = stop_on_signals()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    endpoint = _start_grade_endpoint(home)
    ended = run_all({
        "timeline": lambda s: timeline_runner.run(home, s),
        "monitor": lambda s: monitor.run(home, s),
        "traffic": lambda s: traffic.run(home, args.traffic_port, args.host, s),
        "exporter": lambda s: exporter.run(home, args.exporter_port, args.host, s),
    }, stop)
    if endpoint is not None:
        endpoint.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # a thread a library left running (Prefect's workers) must not hold the process up
    os._exit(1 if ended else 0)


if __name__ == "__main__":
    sys.exit(main())
