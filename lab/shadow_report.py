"""`lab shadow report`: how the shadow compares with the champion on the same requests.

Reads the serving request log (both predictions under one request id) and, once they
have arrived, the labels of those requests (lab.feedback). Pure: give it records.
Decisions (agreement, accuracy, F1, selection rate) are taken at the scenario's
``decision_threshold``.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _latency(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": _pct(values, 50), "p95_ms": _pct(values, 95), "p99_ms": _pct(values, 99)}


def _metrics(y: np.ndarray, p: np.ndarray, decision: float) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = (p >= decision).astype(int)
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if len(np.unique(y)) == 2 else None,
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "f1": round(float(f1_score(y, pred, zero_division=0)), 4),
        "selection_rate": round(float(pred.mean()), 4),
    }


def shadow_report(records: Iterable[dict[str, Any]], labels: Iterable[dict[str, Any]],
                  version: int | None = None, *, decision_threshold: float) -> dict[str, Any]:
    """Compare shadow ``version`` (default: the most recent one mirrored) with the champion,
    deciding at ``decision_threshold`` (the scenario's ``model.decision_threshold.value``)."""
    records = [r for r in records if r.get("status") == 200]
    mirrored_all = [r for r in records if r.get("shadow_version") is not None]
    if version is None and mirrored_all:
        version = mirrored_all[-1]["shadow_version"]
    mirrored = [r for r in mirrored_all if r.get("shadow_version") == version]
    statuses: dict[str, int] = {}
    for r in mirrored:
        s = r.get("shadow_status", "pending")
        statuses[s] = statuses.get(s, 0) + 1
    ok = [r for r in mirrored if r.get("shadow_status") in ("ok", "late") and r.get("shadow_prediction")]
    champ = np.array([p for r in ok for p in r["champion_prediction"]], dtype=float)
    shadow = np.array([p for r in ok for p in r["shadow_prediction"]], dtype=float)
    report: dict[str, Any] = {
        "shadow_version": version,
        "decision_threshold": decision_threshold,
        "champion_versions": sorted({r["champion_version"] for r in mirrored}),
        "mirrored_requests": len(mirrored),
        "shadow_status": statuses,
        "compared_rows": int(len(champ)),
        "agreement_rate": round(float(np.mean((champ >= decision_threshold) == (shadow >= decision_threshold))), 4) if len(champ) else None,
        "mean_score_delta": round(float(np.mean(shadow - champ)), 4) if len(champ) else None,
        "mean_abs_score_delta": round(float(np.mean(np.abs(shadow - champ))), 4) if len(champ) else None,
        "latency": {
            "champion": _latency([r["latency_ms"] for r in mirrored if r.get("latency_ms") is not None]),
            "shadow": _latency([r["shadow_latency_ms"] for r in ok if r.get("shadow_latency_ms") is not None]),
        },
    }
    by_id = {lab["request_id"]: lab["labels"] for lab in labels}
    y, pc, ps = [], [], []
    for r in ok:
        if r["id"] in by_id and len(by_id[r["id"]]) == len(r["champion_prediction"]):
            y += by_id[r["id"]]
            pc += r["champion_prediction"]
            ps += r["shadow_prediction"]
    report["labelled_rows"] = len(y)
    if y:
        yy = np.array(y)
        report["labelled"] = {"champion": _metrics(yy, np.array(pc), decision_threshold),
                              "shadow": _metrics(yy, np.array(ps), decision_threshold)}
    else:
        report["labelled"] = None
    return report
