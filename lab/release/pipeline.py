"""The scenario's release pipeline: what happens to a candidate version on its ``release`` event.

It runs in the timeline's Prefect flow (a ``release-pipeline`` flow run per candidate, in
the Prefect UI) and does what a model CI/CD pipeline does at the release step:

* the lab's release gate is ``<home>/release/release_gate.yaml`` (``lab gate apply FILE``
  puts it there). With a gate, the candidate is checked by :func:`lab.release.gate_run.run_for_version`
  (verdict as MLflow tags and a ``gate.run`` journal entry, actor ``release-pipeline``) and
  ``champion`` moves to it only if it passed;
* a gate file that no longer loads holds the release (the pipeline fails closed) and says why;
* with no gate, the candidate is promoted on its offline evaluation alone, as the release
  team did before the lab had gates: the incident the drill is about.

The outcome goes into the event's ``event.fired`` entry (``decision``: ``promoted``,
``blocked`` or ``held``), beside the gate's and the reference data's digests.
"""

from __future__ import annotations

from typing import Any

from lab.core.home import Home
from lab.errors import LabError
from lab.release.gate_run import GATE_FILE, gate_path

ACTOR = "release-pipeline"


def release(home: Home, model: str, version: int, mlflow_url: str, serving_url: str, via: str) -> dict[str, Any]:
    """Gate ``version`` and promote it if it passes; returns what to journal with the event."""
    from lab.release.actions import Ctx
    from lab.release.audit import request_alias_move
    from lab.release.gate_run import run_for_version

    path = gate_path(home)
    if not path.exists():
        request_alias_move(home, mlflow_url, model, "champion", version, actor=ACTOR, via=via,
                           reason=f"v{version} released on its offline evaluation: no release gate is set "
                                  f"({GATE_FILE}, `lab gate apply`)")
        return {"version": version, "decision": "promoted", "gate": None}
    try:
        record = run_for_version(home, version, path, actor=ACTOR, ctx=Ctx(home, model, mlflow_url, serving_url))
    except LabError as exc:  # the gate does not load, or the registry refused: fail closed
        return {"version": version, "decision": "held", "gate": str(path), "why": str(exc)[:500]}
    out = {"version": version, "gate": str(path), "gate_sha256": record["gate_sha256"],
           "reference_sha256": record["reference_sha256"], "failed": record["failed"]}
    if record["verdict"] != "passed":
        return {**out, "decision": "blocked"}
    request_alias_move(home, mlflow_url, model, "champion", version, actor=ACTOR, via=via,
                       reason=f"v{version} passed the release gate (sha256 {record['gate_sha256'][:12]})")
    return {**out, "decision": "promoted"}


__all__ = ["ACTOR", "release"]
