"""``lab.json``, typed: what a lab home holds (scenario, seed, speed, ports, stack).

``lab up`` / ``lab init`` write it (lab.stack.control.prepare); the supervisor marks it
once training has registered every model version; everything else only reads it, through
:meth:`lab.core.home.Home.config`. A file written by an older lab (fewer fields) still
loads: the missing fields get their defaults. A broken or hand-edited file is a
:class:`~lab.errors.StateError` naming the file and the field, never a traceback.

>>> cfg = LabConfig(scenario="credit-concept-drift", scenario_file="/s/credit-concept-drift.yaml", seed=4)
>>> cfg.speed, cfg.stack, cfg.model_dump(mode="json")["ports"]
(60.0, 'embedded', {})
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lab.core.services import SERVED
from lab.errors import StateError

#: Wall-clock seconds per scenario day when neither ``--speed`` nor the home says otherwise.
DEFAULT_SPEED = 60.0
#: Kinds of stack a home can belong to: `lab up`'s own supervisor, or docker compose.
STACKS = ("embedded", "compose")
_HINT = "lab.json is written by `lab up` / `lab init`: fix that field, or remove the lab home to start again"


class LabConfig(BaseModel):
    """One lab home's settings, kept across runs (``<home>/lab.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    scenario: str = Field(min_length=1, description="the scenario id")
    scenario_file: str = Field(min_length=1, description="the scenario YAML the home was made from")
    seed: int = Field(ge=0, lt=2**32, description="seed of the scenario's hidden parameters")
    speed: float = Field(DEFAULT_SPEED, ge=0.05, le=86400, description="wall-clock seconds per scenario day")
    ports: dict[str, int] = Field(default_factory=dict, description="local port per service (embedded stack)")
    urls: dict[str, str] = Field(default_factory=dict, description="base URL per service (compose stack)")
    stack: Literal["embedded", "compose"] = "embedded"
    lab_version: str | None = None
    created: str | None = Field(None, description="when the home was first written (ISO 8601)")
    registered_versions: bool = Field(False, description="training registered every model version (warm start)")

    @field_validator("ports", "urls")
    @classmethod
    def _known_services(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(SERVED))
        if unknown:
            raise ValueError(f"unknown service {', '.join(map(repr, unknown))} (services: {', '.join(SERVED)})")
        return value

    @field_validator("ports")
    @classmethod
    def _port_range(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {s: p for s, p in value.items() if not 1 <= p <= 65535}
        if bad:
            raise ValueError(f"port outside 1..65535: {bad}")
        return value


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "missing":
            parts.append(f"field {field!r} is missing")
        elif err["type"] == "extra_forbidden":
            parts.append(f"field {field!r} is not a lab.json field")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"field {field!r}: {msg} (found {err['input']!r})")
    return "; ".join(parts)


def parse(data: Any, where: Path | str) -> LabConfig:
    """``data`` (lab.json's parsed JSON) as a LabConfig; a StateError naming ``where`` and the field."""
    if not isinstance(data, dict):
        raise StateError(f"{where}: expected a JSON object, found {type(data).__name__}", hint=_HINT)
    try:
        return LabConfig.model_validate(data)
    except ValidationError as exc:
        raise StateError(f"{where}: {_describe(exc)}", hint=_HINT) from None


def load(path: Path) -> LabConfig | None:
    """The config in ``path``; None when there is none (no lab in this home yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise StateError(f"{path}: unreadable ({exc.strerror or exc})", hint=_HINT) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"{path}: not valid JSON ({exc})", hint=_HINT) from None
    return parse(data, path)
