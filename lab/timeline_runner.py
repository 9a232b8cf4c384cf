"""The scenario timeline as a Prefect flow on the lab's own Prefect server.

``python -m lab.timeline_runner --home H`` (started by the supervisor) runs one flow
run, ``scenario-timeline``, for as long as the lab is up. Each event fires as a task
run when the scenario clock reaches its day; each day's labels are published as a
task run on day d + label delay. Both are journaled, and both are visible in the
Prefect UI. Restarting resumes: fired events and published days are read back from
the journal.
"""

from __future__ import annotations

import argparse
import math
import sys

from lab.worker import start_heartbeat, stop_on_signals
from lab.home import Clock, Home, resolve_home
from lab.journal import Journal

POLL_SECONDS = 0.25


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    home = Home(resolve_home(args.home))
    stop = stop_on_signals()
    start_heartbeat(home.root / "timeline" / "heartbeat", stop)  # health for the supervisor

    from prefect import flow, task

    from lab import events, feedback
    from lab.run import effective_scenario

    @task(name="fire-event", task_run_name="fire {name}")
    def fire_event(name: str) -> dict | None:
        scenario, _ = effective_scenario(home)
        return events.fire(home, scenario, name, actor="timeline", mlflow_url=home.url("mlflow"), skip_if_fired=True)

    @task(name="publish-labels", task_run_name="labels of day {day}")
    def publish_labels(day: int, arrived_day: float) -> int:
        scenario, seed = effective_scenario(home)
        n = feedback.publish_day(home, scenario, seed, day, arrived_day)
        Journal(home.journal).append("labels.arrived", {"day": day, "requests": n}, day=arrived_day, actor="timeline")
        return n

    @flow(name="scenario-timeline", flow_run_name="{scenario_id} seed {seed}")
    def timeline(scenario_id: str, seed: int) -> None:
        clock = Clock(home.clock_json)
        journal = Journal(home.journal)
        published = {e["data"]["day"] for e in journal.entries("labels.arrived")}
        while not stop.is_set():
            scenario, _ = effective_scenario(home)
            now = clock.day()
            fired = events.fired_events(home)
            for ev in sorted(scenario.timeline.events, key=lambda e: e.day):
                if ev.name not in fired and ev.day <= now:
                    fire_event(ev.name)
            # day d's labels arrive on d + delay, and never before day d is over
            wait = max(scenario.timeline.label_delay_days, 1.0)
            for d in range(0, math.floor(now - wait) + 1):
                if d not in published:
                    publish_labels(d, now)
                    published.add(d)
            stop.wait(POLL_SECONDS)

    cfg = home.config()
    timeline(cfg["scenario"], int(cfg["seed"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
