"""A release gate: declarative checks a candidate model version must pass on the scenario's
frozen reference data before it may be promoted (``release_gate.yaml``, run by `lab gate run`).

The file (every section optional; unknown keys are refused, with their line)::

    metrics:                      # the candidate's value on the reference rows
      roc_auc: {min: 0.75}
      brier_score: {max: 0.20}
    slices:                       # no group may lose more than max_drop against the champion
      - column: gender            # (one mapping, or a list: one check per column)
        metric: roc_auc
        max_drop: 0.03
        min_rows: 200             # smaller groups are reported, not judged
    invariance:                   # changing only these columns must not change decisions
      columns: [referral]
      max_flip_rate: 0.0
    directional:                  # raising a column by delta must not lower the score
      - {column: skills_match, direction: increasing, delta: 0.1, max_violation_rate: 0.02}
    schema: true                  # scores the scenario's input columns, probabilities in [0, 1]
    latency: {p99_ms: 50, calls: 200}   # one-row predictions, measured here

:func:`run_gate` is a pure function of the config, the two models and the reference
frame (it only calls ``predict_proba``); the CLI loads the models and records the
verdict. Metrics use the scenario's decision threshold where they need decisions.

The file's schema and loader are in :mod:`lab.release.gate_config`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from lab.core.frozen import Frozen
from lab.core.metrics import metric_value
from lab.release.gate_config import (
    LOWER_IS_BETTER,
    DirectionalSpec,
    GateConfig,
    InvarianceSpec,
    LatencySpec,
    SliceSpec,
    load_gate,
)


class CheckResult(Frozen):
    """One check: ``passed``, the measured ``value``, the ``limit`` it was held to and why."""

    name: str
    passed: bool
    value: float | None = None
    limit: float | None = None
    detail: str


class GateResult(Frozen):
    passed: bool
    checks: list[CheckResult]

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]


def _scores(model: Any, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X), dtype=float)[:, 1]


# --------------------------------------------------------------------------- checks


def _schema(candidate: Any, X: pd.DataFrame) -> tuple[CheckResult, np.ndarray | None]:
    try:
        proba = np.asarray(candidate.predict_proba(X), dtype=float)
    except Exception as exc:  # noqa: BLE001 (any failure to score the scenario's rows is the finding)
        why = f"cannot score the scenario's input columns: {exc!r}"[:300]
        return CheckResult(name="schema", passed=False, detail=why), None
    ok = proba.ndim == 2 and proba.shape == (len(X), 2) and bool(np.all(np.isfinite(proba))) \
        and bool(np.all((proba >= 0) & (proba <= 1)))
    detail = (f"scores the {X.shape[1]} input columns, {len(X)} rows: probabilities in [0, 1]" if ok else
              f"predict_proba returned shape {proba.shape}, finite {bool(np.all(np.isfinite(proba)))}, "
              f"within [0, 1] {bool(np.all((proba >= 0) & (proba <= 1)))}")
    return CheckResult(name="schema", passed=ok, detail=detail), (proba[:, 1] if ok else None)


def _metric_checks(cfg: GateConfig, y: np.ndarray, s: np.ndarray, threshold: float) -> list[CheckResult]:
    out = []
    for name, bound in cfg.metrics.items():
        value = metric_value(name, y, s, threshold)
        if value is None:
            out.append(CheckResult(name=f"metric {name}", passed=False, detail=f"{name} is undefined on the reference rows"))
            continue
        low_ok = bound.min is None or value >= bound.min
        high_ok = bound.max is None or value <= bound.max
        limit = bound.min if not low_ok or bound.max is None else bound.max
        words = " and ".join(w for w in (f">= {bound.min:g}" if bound.min is not None else "",
                                          f"<= {bound.max:g}" if bound.max is not None else "") if w)
        out.append(CheckResult(name=f"metric {name}", passed=low_ok and high_ok, value=round(value, 6), limit=limit,
                               detail=f"{name} {value:.4f} on the reference rows (must be {words})"))
    return out


def _slice_check(spec: SliceSpec, ref: pd.DataFrame, y: np.ndarray, s_new: np.ndarray, s_old: np.ndarray,
                 threshold: float) -> CheckResult:
    if spec.column not in ref.columns:
        return CheckResult(name=f"slices by {spec.column}", passed=False,
                           detail=f"the reference data has no column {spec.column!r}")
    worst, worst_group, judged, small = -math.inf, None, [], []
    for group, idx in ref.groupby(spec.column, sort=True).indices.items():
        if len(idx) < spec.min_rows:
            small.append(str(group))
            continue
        new = metric_value(spec.metric, y[idx], s_new[idx], threshold)
        old = metric_value(spec.metric, y[idx], s_old[idx], threshold)
        if new is None or old is None:
            small.append(str(group))
            continue
        drop = (new - old) if spec.metric in LOWER_IS_BETTER else (old - new)
        judged.append(f"{group} {old:.3f}->{new:.3f}")
        if drop > worst:
            worst, worst_group = drop, group
    if not judged:
        return CheckResult(name=f"slices by {spec.column}", passed=False,
                           detail=f"no group of {spec.column!r} has {spec.min_rows} rows with both outcomes")
    passed = worst <= spec.max_drop
    tail = f"; not judged (fewer than {spec.min_rows} rows): {', '.join(small)}" if small else ""
    head = (f"worst {spec.metric} change against the champion: {worst_group} loses {worst:.4f}" if worst > 0 else
            f"no group loses {spec.metric} against the champion")
    return CheckResult(name=f"slices by {spec.column}", passed=passed, value=round(worst, 6), limit=spec.max_drop,
                       detail=f"{head} (max {spec.max_drop:g}); {', '.join(judged)}{tail}")


def _invariance(spec: InvarianceSpec, model: Any, X: pd.DataFrame, base: np.ndarray, threshold: float) -> CheckResult:
    flips = np.zeros(len(X), dtype=bool)
    for column in spec.columns:
        if column not in X.columns:
            continue  # not a model input: changing it cannot change a decision
        values = sorted(X[column].dropna().unique().tolist(), key=str)
        if len(values) < 2:
            continue
        for k in range(1, len(values)):  # every other value in turn
            shifted = X.copy()
            shifted[column] = X[column].map({v: values[(i + k) % len(values)] for i, v in enumerate(values)})
            flips |= (_scores(model, shifted) >= threshold) != (base >= threshold)
    rate = float(flips.mean()) if len(X) else 0.0
    return CheckResult(name=f"invariance to {', '.join(spec.columns)}", passed=rate <= spec.max_flip_rate,
                       value=round(rate, 6), limit=spec.max_flip_rate,
                       detail=f"{rate:.2%} of decisions change when only {', '.join(spec.columns)} changes "
                              f"(max {spec.max_flip_rate:.2%})")


def _directional(spec: DirectionalSpec, model: Any, X: pd.DataFrame, base: np.ndarray) -> CheckResult:
    name = f"{spec.column} {spec.direction}"
    if spec.column not in X.columns or not pd.api.types.is_numeric_dtype(X[spec.column]):
        return CheckResult(name=name, passed=False, detail=f"{spec.column!r} is not a numeric input of the model")
    moved = X.copy()
    moved[spec.column] = X[spec.column] + spec.delta
    after = _scores(model, moved)
    wrong = after < base - 1e-9 if spec.direction == "increasing" else after > base + 1e-9
    rate = float(wrong.mean()) if len(X) else 0.0
    return CheckResult(name=name, passed=rate <= spec.max_violation_rate, value=round(rate, 6),
                       limit=spec.max_violation_rate,
                       detail=f"raising {spec.column} by {spec.delta:g} moves the score the wrong way for {rate:.2%} "
                              f"of rows (max {spec.max_violation_rate:.2%})")


def _latency(spec: LatencySpec, model: Any, X: pd.DataFrame) -> CheckResult:
    rows = [X.iloc[[i % len(X)]] for i in range(spec.calls)]
    model.predict_proba(rows[0])  # warm
    took = []
    for row in rows:
        t = time.perf_counter()
        model.predict_proba(row)
        took.append((time.perf_counter() - t) * 1000)
    p99 = float(np.percentile(took, 99))
    return CheckResult(name="latency", passed=p99 <= spec.p99_ms, value=round(p99, 3), limit=spec.p99_ms,
                       detail=f"one-row prediction p99 {p99:.1f} ms over {spec.calls} calls (budget {spec.p99_ms:g} ms)")


def run_gate(cfg: GateConfig, candidate: Any, champion: Any | None, reference: pd.DataFrame, features: list[str],
             decision_threshold: float, label: str = "label", *, measure_latency: bool = True) -> GateResult:
    """Every check of ``cfg`` on ``candidate`` against ``reference`` (features, label and any
    sensitive columns); ``champion`` is the comparison for slices (None: slices fail, nothing to compare).
    ``measure_latency=False`` (the grader's replay) reports a latency check without timing it."""
    X = reference[features]
    y = reference[label].to_numpy()
    schema, s = _schema(candidate, X)
    checks = [schema] if cfg.schema_check or s is None else []
    if s is None:  # nothing else can be measured on a model that cannot score the rows
        return GateResult(passed=False, checks=checks)
    checks += _metric_checks(cfg, y, s, decision_threshold)
    champion_scores = _scores(champion, X) if champion is not None and cfg.slices else None
    for spec in cfg.slices:
        if champion_scores is None:
            checks.append(CheckResult(name=f"slices by {spec.column}", passed=False, detail="no champion to compare with"))
        else:
            checks.append(_slice_check(spec, reference, y, s, champion_scores, decision_threshold))
    if cfg.invariance is not None:
        missing = [c for c in cfg.invariance.columns if c not in reference.columns]
        if missing:
            checks.append(CheckResult(name=f"invariance to {', '.join(cfg.invariance.columns)}", passed=False,
                                      detail=f"the reference data has no column {', '.join(map(repr, missing))}"))
        else:
            checks.append(_invariance(cfg.invariance, candidate, X, s, decision_threshold))
    checks += [_directional(d, candidate, X, s) for d in cfg.directional]
    if cfg.latency is not None:
        if measure_latency:
            checks.append(_latency(cfg.latency, candidate, X))
        else:
            checks.append(CheckResult(name="latency", passed=True, limit=cfg.latency.p99_ms,
                                      detail="not measured here (a replay away from serving's machine): "
                                             "neither passes nor blocks"))
    return GateResult(passed=all(c.passed for c in checks), checks=checks)


__all__ = ["CheckResult", "GateConfig", "GateResult", "load_gate", "run_gate"]
