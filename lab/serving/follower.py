"""Keeps serving in step with the MLflow registry.

A background thread reads the registered model twice a second over MLflow's REST
API (aliases and tags in one call):

* ``champion``: when it moves (by a lab command, MlflowClient, or the MLflow UI) the
  new version is loaded beside the old one, then swapped in with one reference
  assignment, so no request sees a half-loaded model or waits for a load.
* ``shadow`` plus the tags ``lab.shadow.percent`` and ``lab.shadow.fault``: passed to
  the shadow mirror (lab.serving.shadow).
* ``canary`` plus the tag ``lab.canary.percent``: the version loaded (off the request
  path, as for the champion) for the share of requests a canary release routes to it
  (lab.release.canary steps the share); a version that fails to load is not retried.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from lab.core.access import mlflow_auth

log = logging.getLogger("lab.serving")

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Loaded:
    version: int
    model: Any  # a fitted scikit-learn pipeline


@dataclass(frozen=True)
class Canary:
    version: int
    percent: float
    model: Any


@dataclass(frozen=True)
class ShadowConfig:
    version: int | None
    percent: float
    fault: str | None


def load_sklearn(model_name: str, version: int) -> Any:
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{model_name}/{version}")


class RegistryFollower:
    def __init__(self, tracking_uri: str, model_name: str, on_shadow: Callable[[ShadowConfig], None]) -> None:
        self.base = tracking_uri.rstrip("/")
        self.model_name = model_name
        self.on_shadow = on_shadow
        self.current: Loaded | None = None
        self.shadow = ShadowConfig(None, 0.0, None)
        self.canary: Canary | None = None
        self._unloadable: dict[int, str] = {}
        self._cache: dict[int, Any] = {}
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        self._http = httpx.Client(timeout=5.0, auth=mlflow_auth())

    def load(self, version: int) -> Any:
        """Load (once) and cache a version; raises when it does not exist or cannot load."""
        with self._load_lock:
            if version not in self._cache:
                self._cache[version] = load_sklearn(self.model_name, version)
            return self._cache[version]

    def read_registry(self) -> tuple[dict[str, int], dict[str, str]]:
        r = self._http.get(f"{self.base}/api/2.0/mlflow/registered-models/get", params={"name": self.model_name})
        r.raise_for_status()
        reg = r.json()["registered_model"]
        aliases = {a["alias"]: int(a["version"]) for a in reg.get("aliases", [])}
        tags = {t["key"]: t["value"] for t in reg.get("tags", [])}
        return aliases, tags

    def refresh(self) -> None:
        aliases, tags = self.read_registry()
        champion = aliases.get("champion")
        if champion is not None and (self.current is None or self.current.version != champion):
            previous = self.current.version if self.current else None
            model = self.load(champion)  # the old version keeps serving while this loads
            self.current = Loaded(champion, model)
            log.info("now serving %s v%s (was v%s)", self.model_name, champion, previous)
        shadow = ShadowConfig(
            aliases.get("shadow"),
            float(tags.get("lab.shadow.percent", "100")),
            tags.get("lab.shadow.fault") or None,
        )
        if shadow != self.shadow:
            self.shadow = shadow
            self.on_shadow(shadow)
        self._follow_canary(aliases.get("canary"), float(tags.get("lab.canary.percent", "0") or 0))

    def _follow_canary(self, version: int | None, percent: float) -> None:
        if version is None or version in self._unloadable:
            self.canary = None
            return
        if self.canary is not None and self.canary.version == version:
            if self.canary.percent != percent:
                self.canary = Canary(version, percent, self.canary.model)
            return
        try:
            model = self.load(version)  # the champion alone serves while it loads
        except Exception as exc:  # noqa: BLE001 (any failure to load is the canary's)
            self._unloadable[version] = repr(exc)[:300]
            log.warning("canary v%s cannot be loaded: %s", version, exc)
            self.canary = None
            return
        self.canary = Canary(version, percent, model)
        log.info("canary v%s at %s%% of requests", version, percent)

    def wait_for_champion(self, timeout: float = 600.0) -> None:
        """Block until MLflow answers and a champion is loaded (serving may start before MLflow)."""
        import time

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.refresh()
                if self.current is not None:
                    return
            except Exception as exc:  # MLflow still starting
                last = exc
            time.sleep(0.25)
        raise RuntimeError(f"no champion of {self.model_name} could be loaded from {self.base}: {last}")

    def start(self) -> None:
        self.wait_for_champion()
        threading.Thread(target=self._run, name="registry-follower", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.refresh()
            except Exception as exc:  # MLflow briefly unreachable, or a version that fails to load
                log.warning("registry poll failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
