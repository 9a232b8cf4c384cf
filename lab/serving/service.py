"""The BentoML service: ``POST /predict`` with ``{"rows": [{feature: value, ...}, ...]}``.

Answers ``{"request_id", "model", "model_version", "probabilities"}``: one probability
of the positive class per row, from the version ``champion`` points at when the
request arrived. A client may send its own ``X-Request-ID``; otherwise one is made.
Every request, failed ones too, is appended to ``<home>/serving/requests.jsonl`` with
its inputs. While a shadow is active, a request chosen for it (by a hash of its id) is
only marked ``shadow_version`` in that line (lab.serving.shadow): the shadow service
(lab.serving.shadow_service) reads the marked lines and scores them at idle priority,
so nothing of the shadow runs on the request path.

During a canary release (lab.release.canary) a share of requests, chosen by another hash
of the id, is answered by the ``canary`` version: both versions score it (the line keeps
``champion_prediction`` and adds ``canary_version``, ``canary_prediction``,
``canary_latency_ms``, or ``canary_error``), the client gets the canary's answer and its
version, and ``served_version`` says which answered. A canary that fails leaves the
champion's answer in place: no client request fails for it, and its guards see the error.

Also: ``GET /metrics`` (Prometheus, with the model version as a label) and
``POST /admin/state`` / ``POST /admin/check`` for the lab's commands (with the header
``X-Lab-Admin-Token`` in a lab that joined a drill: lab.core.access).

Started by the supervisor with ``LAB_HOME`` and ``MLFLOW_TRACKING_URI`` set.
"""

from __future__ import annotations

import hmac
import os
import time
import uuid
from http import HTTPStatus
from typing import Any

import bentoml
from bentoml.exceptions import BentoMLException, InvalidArgument, NotFound

from lab.core import access
from lab.core.access import ADMIN_HEADER
from lab.core.home import Clock, Home, resolve_home, write_json_atomic
from lab.core.services import INSTANCES
from lab.serving.follower import Canary, RegistryFollower
from lab.serving.requestlog import RequestLog
from lab.serving.shadow import ShadowGate, sampled
from lab.serving.validate import rows_to_frame

MAX_ROWS = 10_000
#: Prefixed to the request id before hashing: canary routing is independent of shadow marking.
CANARY_SALT = "canary:"

PREDICTIONS = bentoml.metrics.Counter(
    name="lab_predictions_total",
    documentation="Requests answered, by model version, role (champion or shadow) and status",
    labelnames=["model", "model_version", "role", "status"],
)
LATENCY = bentoml.metrics.Histogram(
    name="lab_prediction_latency_seconds",
    documentation="Champion latency, by model version",
    labelnames=["model", "model_version"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


@bentoml.service(name="prodml-lab-serving", workers=1, traffic={"timeout": 30})
class Screening:
    def __init__(self) -> None:
        from lab.scenario.generators import generator_class
        from lab.scenario.schema import load_scenario

        self.home = Home(resolve_home(os.environ["LAB_HOME"]))
        self.admin_token = (access.load(self.home) or {}).get("admin_token")
        cfg = self.home.config()
        scenario = load_scenario(cfg.scenario_file)
        self.model_name = scenario.model.name
        self.generator = generator_class(scenario.generator.name)
        self.clock = Clock(self.home.clock_json)
        self.log = RequestLog(self.home.serving / "requests.jsonl")
        self.shadow = ShadowGate(self.home.root / "shadow" / "state.json", self._count_shadow)
        self.follower = RegistryFollower(os.environ["MLFLOW_TRACKING_URI"], self.model_name, self.shadow.configure)
        self.follower.start()
        # a new id each start: the compose agent sees a restart it was too slow to see as an outage
        write_json_atomic(self.home.root / INSTANCES["serving"],
                          {"id": uuid.uuid4().hex, "pid": os.getpid(), "started": time.time()})

    def _count_shadow(self, version: int, status: str, n: int) -> None:
        """The shadow service's outcomes, as it counts them in its state file, on /metrics."""
        PREDICTIONS.labels(self.model_name, str(version), "shadow", status).inc(n)

    @bentoml.api(route="/predict")
    def predict(self, rows: list[dict[str, Any]], ctx: bentoml.Context) -> dict[str, Any]:
        started = time.perf_counter()
        request_id = ctx.request.headers.get("x-request-id") or uuid.uuid4().hex
        loaded = self.follower.current
        day = round(self.clock.day(), 4)
        record: dict[str, Any] = {
            "kind": "request",
            "id": request_id,
            "time": time.time(),
            "day": day,
            "model": self.model_name,
            "champion_version": loaded.version if loaded else None,
            "n_rows": len(rows),
        }
        try:
            if loaded is None:
                raise RuntimeError("no model loaded yet")
            if not rows:
                raise InvalidArgument("'rows' is empty: send at least one row")
            if len(rows) > MAX_ROWS:
                raise InvalidArgument(f"'rows' has {len(rows)} rows; at most {MAX_ROWS} per request")
            X = rows_to_frame(rows, self.generator)
            proba = loaded.model.predict_proba(X)[:, 1]
            probabilities = [round(float(p), 6) for p in proba]
        except InvalidArgument as exc:
            self._fail(record, 400, str(exc), started)
            raise
        except Exception as exc:
            self._fail(record, 500, repr(exc), started)
            raise
        latency = time.perf_counter() - started
        shadow_version = self.shadow.decide(request_id)  # a hash of the id; the shadow service does the rest
        record.update(status=200, champion_prediction=probabilities, latency_ms=round(latency * 1000, 3),
                      shadow_version=shadow_version, inputs=X.to_dict(orient="list"))
        served, answer = loaded.version, probabilities
        canary = self.follower.canary
        if canary is not None and sampled(CANARY_SALT + request_id, canary.percent):
            served, answer = self._canary(canary, X, record, served, answer)
        record["served_version"] = served
        self.log.write(record)
        PREDICTIONS.labels(self.model_name, str(loaded.version), "champion", "200").inc()
        LATENCY.labels(self.model_name, str(loaded.version)).observe(latency)
        ctx.response.headers["X-Request-ID"] = request_id
        return {
            "request_id": request_id,
            "model": self.model_name,
            "model_version": str(served),
            "probabilities": answer,
        }

    def _canary(self, canary: Canary, X: Any, record: dict[str, Any], served: int,
                answer: list[float]) -> tuple[int, list[float]]:
        """The canary's answer for a request routed to it; the champion's (already computed) when
        the canary fails, so no client request fails for it: the failure is logged for its guards."""
        started = time.perf_counter()
        record["canary_version"] = canary.version
        try:
            probabilities = [round(float(p), 6) for p in canary.model.predict_proba(X)[:, 1]]
        except Exception as exc:  # noqa: BLE001 (any failure of the canary is its own)
            record.update(canary_error=repr(exc)[:300], canary_latency_ms=round((time.perf_counter() - started) * 1000, 3))
            PREDICTIONS.labels(self.model_name, str(canary.version), "canary", "500").inc()
            return served, answer
        record.update(canary_prediction=probabilities, canary_latency_ms=round((time.perf_counter() - started) * 1000, 3))
        PREDICTIONS.labels(self.model_name, str(canary.version), "canary", "200").inc()
        return canary.version, probabilities

    def _fail(self, record: dict[str, Any], status: int, error: str, started: float) -> None:
        record.update(status=status, error=error, latency_ms=round((time.perf_counter() - started) * 1000, 3))
        self.log.write(record)
        PREDICTIONS.labels(self.model_name, str(record["champion_version"]), "champion", str(status)).inc()

    def _require_admin(self, ctx: bentoml.Context) -> None:
        """A lab that joined a drill (lab.core.access) wants its admin token: other teams' labs
        on the same host cannot read or steer this one's serving."""
        if self.admin_token is None:
            return
        given = ctx.request.headers.get(ADMIN_HEADER)
        if given is None:
            raise BentoMLException(f"{ADMIN_HEADER} missing: this lab's admin routes want its token",
                                   error_code=HTTPStatus.UNAUTHORIZED)
        if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
            raise BentoMLException(f"{ADMIN_HEADER} is not this lab's", error_code=HTTPStatus.FORBIDDEN)

    @bentoml.api(route="/admin/state")
    def state(self, ctx: bentoml.Context) -> dict[str, Any]:
        """What serving is doing now: the champion it serves and the shadow it mirrors to.

        ``shadow`` is None, or its version, ``state`` (warming, ready, restarting,
        crash_loop) and what became of the requests mirrored to it since the shadow
        service began on that version (mirrored, answered, dropped, failed, pending), as
        the shadow service's state file says.
        """
        self._require_admin(ctx)
        current = self.follower.current
        sh = self.shadow.config
        canary = self.follower.canary
        return {
            "model": self.model_name,
            "champion_version": current.version if current else None,
            "shadow_version": sh.version,
            "shadow_ready": (snap := self.shadow.snapshot()) is not None and snap["state"] == "ready",
            "shadow_state": snap["state"] if snap else None,
            "shadow": snap,
            "shadow_percent": sh.percent,
            "shadow_fault": sh.fault,
            "canary_version": canary.version if canary else None,
            "canary_percent": canary.percent if canary else None,
        }

    @bentoml.api(route="/admin/check")
    def check(self, version: int, ctx: bentoml.Context) -> dict[str, Any]:
        """Load a version (and keep it cached, so a promotion swaps at once); 404 if it cannot load."""
        self._require_admin(ctx)
        try:
            self.follower.load(int(version))
        except Exception as exc:
            raise NotFound(f"version {version} of {self.model_name} cannot be loaded: {exc}") from None
        return {"model": self.model_name, "version": int(version), "loadable": True}
