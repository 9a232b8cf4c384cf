"""The BentoML service: ``POST /predict`` with ``{"rows": [{feature: value, ...}, ...]}``.

Answers ``{"request_id", "model", "model_version", "probabilities"}``: one probability
of the positive class per row, from the version ``champion`` points at when the
request arrived. A client may send its own ``X-Request-ID``; otherwise one is made.
Every request, failed ones too, is appended to ``<home>/serving/requests.jsonl``.

Started by the supervisor with ``LAB_HOME`` and ``MLFLOW_TRACKING_URI`` set.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import bentoml
from bentoml.exceptions import InvalidArgument

from lab.home import Clock, Home, resolve_home
from lab.serving.models import AliasFollower
from lab.serving.requestlog import RequestLog
from lab.serving.validate import rows_to_frame

MAX_ROWS = 10_000


@bentoml.service(name="prodml-lab-serving", workers=1, traffic={"timeout": 30})
class Screening:
    def __init__(self) -> None:
        from lab.generators import generator_class
        from lab.scenario import load_scenario

        self.home = Home(resolve_home(os.environ["LAB_HOME"]))
        cfg = self.home.config()
        scenario = load_scenario(cfg["scenario_file"])
        self.model_name = scenario.model.name
        self.generator = generator_class(scenario.generator.name)
        self.clock = Clock(self.home.clock_json)
        self.log = RequestLog(self.home.serving / "requests.jsonl")
        self.follower = AliasFollower(os.environ["MLFLOW_TRACKING_URI"], self.model_name)
        self.follower.start()

    @bentoml.api(route="/predict")
    def predict(self, rows: list[dict[str, Any]], ctx: bentoml.Context) -> dict[str, Any]:
        started = time.perf_counter()
        request_id = ctx.request.headers.get("x-request-id") or uuid.uuid4().hex
        loaded = self.follower.current
        record: dict[str, Any] = {
            "id": request_id,
            "time": time.time(),
            "day": round(self.clock.day(), 4),
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
            self.log.write({**record, "status": 400, "error": str(exc), "latency_ms": _ms(started)})
            raise
        except Exception as exc:
            self.log.write({**record, "status": 500, "error": repr(exc), "latency_ms": _ms(started)})
            raise
        record.update(status=200, champion_prediction=probabilities, latency_ms=_ms(started))
        self.log.write(record)
        ctx.response.headers["X-Request-ID"] = request_id
        return {
            "request_id": request_id,
            "model": self.model_name,
            "model_version": str(loaded.version),
            "probabilities": probabilities,
        }


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
