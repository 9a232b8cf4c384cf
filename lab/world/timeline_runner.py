"""The scenario timeline as a Prefect flow on the lab's own Prefect server.

``python -m lab.world.timeline_runner --home H`` (started by the supervisor) runs one flow
run, ``scenario-timeline``, until the scenario's last day. Each event fires as a task
run when the scenario clock reaches its day; each day's labels are published as a
task run on day d + label delay. Both are journaled, and both are visible in the
Prefect UI. On the last day the clock stops (:class:`lab.core.home.Clock` caps the day),
the journal records ``scenario.ended`` and the flow run completes; the process then
idles until the lab stops. While the lab is paused the clock is frozen, so nothing
new is due. Restarting resumes: fired events and published days are read back from
the journal. A ``release`` event runs as a ``release-pipeline`` flow run of its own
(lab.release.pipeline). The process also runs the canary controller
(lab.release.canary), which steps and guards a running canary release.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from collections.abc import Collection

from lab.core.services import heartbeat_path
from lab.release.canary import run_controller as run_canary_controller
from lab.core.worker import start_heartbeat, stop_on_signals, wait_for_prefect
from lab.core.home import Clock, Home, resolve_home
from lab.core.journal import Journal
from lab.scenario.schema import Scenario
from lab.world import feedback
from lab.scenario.run import effective_scenario

POLL_SECONDS = 0.25


def due(scenario: Scenario, now: float, fired: Collection[str], published: Collection[int]) -> tuple[list[str], list[int]]:
    """What is due on day ``now``: events to fire (in day order) and days whose labels arrive.

    Day d's labels arrive on d + label delay, and never before day d is over.

    >>> from lab.scenario.schema import load_scenario
    >>> s = load_scenario("credit-concept-drift")   # deploy on day 0, labels 5 days late
    >>> due(s, 6.5, fired=set(), published={0})
    (['deploy'], [1])
    """
    events = [e.name for e in sorted(scenario.timeline.events, key=lambda e: e.day)
              if e.name not in fired and e.day <= now]
    wait = max(scenario.timeline.label_delay_days, 1.0)
    days = [d for d in range(0, math.floor(now - wait) + 1) if d not in published]
    return events, days


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    run(Home(resolve_home(args.home)), stop_on_signals())
    return 0


def run(home: Home, stop: threading.Event) -> None:
    """The timeline until ``stop`` is set (alone, or as a thread of lab.workers.stack_worker)."""
    start_heartbeat(heartbeat_path(home.root, "timeline"), stop)  # health for the supervisor
    # canary releases are stepped and guarded here: a process that runs as long as the lab, in every stack
    threading.Thread(target=run_canary_controller, args=(home, stop), name="canary-controller", daemon=True).start()

    from prefect import flow, task

    # heavy: keep off the start-up path
    from lab.world import events

    @task(name="fire-event", task_run_name="fire {name}")
    def fire_event(name: str) -> dict | None:
        scenario, _ = effective_scenario(home)
        return events.fire(home, scenario, name, actor="timeline", mlflow_url=home.url("mlflow"), skip_if_fired=True)

    @flow(name="release-pipeline", flow_run_name="{name}")
    def release_pipeline(name: str) -> dict | None:
        """A candidate's release: gate, then promote or block (lab.release.pipeline)."""
        return fire_event(name)

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
            if clock.end is None:  # a clock started without an end (an older home, or another stack)
                clock.set_end(scenario.timeline.days)
            ended = clock.ended()  # read before the day: at the end the day is the last day
            now = clock.day()
            to_fire, to_publish = due(scenario, now, events.fired_events(home), published)
            for name in to_fire:
                (release_pipeline if scenario.event(name).type == "release" else fire_event)(name)
            for d in to_publish:
                publish_labels(d, now)
                published.add(d)
            if ended:
                fired = events.fired_events(home)
                journal.append("scenario.ended", {
                    "day": now,
                    "events_fired": sorted(fired),
                    "events_not_fired": sorted(e.name for e in scenario.timeline.events if e.name not in fired),
                    "labels_published_through_day": max(published, default=None),
                }, day=now, actor="timeline")
                return
            stop.wait(POLL_SECONDS)

    cfg = home.config()
    if not any(True for _ in Journal(home.journal).entries("scenario.ended")) and wait_for_prefect(stop):
        timeline(cfg.scenario, cfg.seed)
    stop.wait()  # the scenario is over: stay up (healthy) until the lab stops


if __name__ == "__main__":
    sys.exit(main())
