"""Keeps the serving model in step with MLflow's ``champion`` alias.

A background thread polls the alias. When it moves (by a lab command, MlflowClient,
or the MLflow UI), the new version is loaded beside the old one and then swapped in
with one reference assignment, so no request ever sees a half-loaded model.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("lab.serving")


@dataclass(frozen=True)
class Loaded:
    version: int
    model: Any  # a fitted scikit-learn pipeline


class AliasFollower:
    def __init__(self, tracking_uri: str, model_name: str, alias: str = "champion", poll_seconds: float = 0.5,
                 on_change: Callable[[int | None, int], None] | None = None) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri)
        self.model_name = model_name
        self.alias = alias
        self.poll_seconds = poll_seconds
        self.on_change = on_change
        self.current: Loaded | None = None
        self._cache: dict[int, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self, version: int) -> Any:
        import mlflow.sklearn

        if version not in self._cache:
            self._cache[version] = mlflow.sklearn.load_model(f"models:/{self.model_name}/{version}")
        return self._cache[version]

    def alias_version(self) -> int:
        return int(self.client.get_model_version_by_alias(self.model_name, self.alias).version)

    def refresh(self) -> bool:
        """Load and swap in the aliased version if it moved; True when it did."""
        version = self.alias_version()
        previous = self.current.version if self.current else None
        if version == previous:
            return False
        model = self.load(version)
        self.current = Loaded(version, model)
        log.info("now serving %s v%s (was v%s)", self.model_name, version, previous)
        if self.on_change:
            self.on_change(previous, version)
        return True

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="alias-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as exc:  # MLflow briefly unreachable: keep serving what we have
                log.warning("alias poll failed: %s", exc)
                time.sleep(self.poll_seconds)

    def stop(self) -> None:
        self._stop.set()
