"""`lab gate run`: hold a registered version to ``release_gate.yaml`` on the scenario's frozen
reference data, and record the verdict where a release pipeline and an auditor look for it.

The verdict is kept three ways, together (versioned CI/CD: which version, which gate, which
data): tags on the MLflow model version (``lab.gate.verdict`` ``passed`` or ``blocked``,
``lab.gate.failed``, ``lab.gate.file_sha256``, ``lab.gate.reference_sha256``,
``lab.gate.at``), a ``gate.run`` journal entry with every check, and the command's exit
code (0 passed, 7 blocked). The reference rows are the scenario's reference window, drawn
from the run's seed: the same rows for every version of the run.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab.core.home import Clock, Home
from lab.core.journal import Journal
from lab.errors import UsageError
from lab.release.actions import Ctx, context, require_registered
from lab.release.gate_config import GateConfig, load_gate
from lab.release.registry import aliases, set_version_tag


#: The lab's live release gate (``lab gate apply``), relative to the home: the release pipeline's.
GATE_FILE = "release/release_gate.yaml"


def gate_path(home: Home) -> Path:
    return home.root / GATE_FILE


def read_gate_file(path: Path) -> tuple[GateConfig, str]:
    """The parsed gate, or a UsageError naming the file (before any heavy import)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no gate file at {path}", hint="write release_gate.yaml (format: README, Release gate)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return load_gate(text, str(path)), hashlib.sha256(text.encode()).hexdigest()


def gate_problems(cfg: GateConfig, inputs: dict[str, str], sensitive: list[str]) -> list[str]:
    """What in ``cfg`` names a column the scenario lacks (``inputs``: model input -> its kind).

    >>> gate_problems(load_gate("slices: {column: zip, max_drop: 0.1}\\n"), {"age": "numeric"}, ["gender"])
    ["slices: column 'zip' is not a column of this scenario (inputs: age; sensitive: gender)"]
    """
    known = f"inputs: {', '.join(inputs)}; sensitive: {', '.join(sensitive)}"
    columns = set(inputs) | set(sensitive)
    out = [f"slices: column {s.column!r} is not a column of this scenario ({known})" for s in cfg.slices
           if s.column not in columns]
    if cfg.invariance is not None:
        out += [f"invariance: column {c!r} is not a column of this scenario ({known})" for c in cfg.invariance.columns
                if c not in columns]
    out += [f"directional: column {d.column!r} is not a numeric model input (numeric inputs: "
            f"{', '.join(n for n, k in inputs.items() if k == 'numeric')})" for d in cfg.directional
            if inputs.get(d.column) != "numeric"]
    return out


def apply_gate(home: Home, source: Path, cfg: GateConfig) -> Path:
    """Check ``cfg``'s columns against the lab's scenario, then make ``source`` the live gate
    (written whole or not at all). Nothing changes when a column is wrong."""
    from lab.scenario.generators import generator_class
    from lab.scenario.run import effective_scenario
    from lab.core.liveness import require_config

    require_config(home)
    scenario, _ = effective_scenario(home)
    gen = generator_class(scenario.generator.name)
    problems = gate_problems(cfg, {f.name: f.kind for f in gen.features}, gen.sensitive_names())
    if problems:
        raise UsageError(f"{source}: " + "; ".join(problems), hint="nothing was applied")
    target = gate_path(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(source.read_bytes())
    tmp.replace(target)
    return target


def run_for_version(home: Home, version: int, gate_path: Path, *, actor: str = "user",
                    ctx: Ctx | None = None) -> dict[str, Any]:
    """Run the gate on ``version`` of the running lab's model; returns what was recorded.
    ``ctx``: the lab's services, when the caller (the release pipeline) runs inside the lab."""
    cfg, file_digest = read_gate_file(gate_path)
    ctx = ctx or context(home)
    require_registered(ctx, version)
    # heavy: MLflow's model loading, pandas and scikit-learn
    import mlflow
    import pandas as pd

    from lab.release.gate import run_gate
    from lab.scenario.data import days_frame
    from lab.scenario.generators import generator_class
    from lab.scenario.run import effective_scenario
    from lab.serving.follower import load_sklearn

    scenario, seed = effective_scenario(home)
    reference = days_frame(scenario, seed, scenario.reference_days)
    features = list(generator_class(scenario.generator.name).feature_names())
    extra = [c for c in (cfg.invariance.columns if cfg.invariance else []) if c in reference.columns and c not in features]
    champion_version = aliases(ctx.mlflow, ctx.model).get("champion")
    mlflow.set_tracking_uri(ctx.mlflow)  # the lab's registry, not a local default (credentials: the home's env)
    candidate = load_sklearn(ctx.model, version)
    champion = load_sklearn(ctx.model, champion_version) if champion_version else None
    result = run_gate(cfg, candidate, champion, reference, features + extra, scenario.model.decision_threshold.value)
    reference_digest = hashlib.sha256(pd.util.hash_pandas_object(reference, index=True).values.tobytes()).hexdigest()
    return record(home, ctx.mlflow, ctx.model, version, champion_version, result, file_digest, reference_digest,
                  len(reference), str(gate_path), actor=actor)


def record(home: Home, mlflow_url: str, model: str, version: int, champion: int | None, result: Any,
           file_digest: str, reference_digest: str, rows: int, gate_file: str, *, actor: str = "user") -> dict[str, Any]:
    verdict = "passed" if result.passed else "blocked"
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tags = {"lab.gate.verdict": verdict, "lab.gate.failed": ",".join(result.failed), "lab.gate.file_sha256": file_digest,
            "lab.gate.reference_sha256": reference_digest, "lab.gate.at": at}
    for key, value in tags.items():
        set_version_tag(mlflow_url, model, version, key, value)
    data = {"model": model, "version": version, "champion": champion, "verdict": verdict, "failed": result.failed,
            "gate_file": gate_file, "gate_sha256": file_digest, "reference_sha256": reference_digest,
            "reference_rows": rows, "checks": [c.model_dump() for c in result.checks]}
    Journal(home.journal).append("gate.run", data, day=Clock(home.clock_json).day(), actor=actor)
    return data


__all__ = ["GATE_FILE", "apply_gate", "gate_path", "gate_problems", "read_gate_file", "record", "run_for_version"]
