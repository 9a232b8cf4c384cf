"""`lab shadow report`: how the shadow compares with the champion on the same requests.

Reads the serving request log (both predictions under one request id), the traffic
log (what clients waited) and, once they have arrived, the labels of those requests
(lab.world.feedback). Pure: give it records. The grader (lab.grading.shadow_grader) uses the
same functions, so the report a candidate reads before submitting says what is graded:

* :func:`shadow_counts`: mirrored requests by what became of them (answered ``ok``,
  ``late``, ``dropped``, ``failed``, ``cancelled``, no answer at all);
* :func:`interleaved_latency`: the champion's latency with and without mirroring,
  each mirrored request compared with unmirrored ones of the same minutes, so machine
  load that comes and goes cancels out;
* :func:`shadow_warnings`: what makes the comparison untrustworthy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from lab.core.stats import p99, percentile, roc_auc
from lab.serving.shadow_state import DROPPED, FAILED


#: Shadow statuses (lab.serving.shadow) counted as a failure of the shadow.
#: Warn when more than this share of mirrored requests got no usable answer.
NO_ANSWER_WARN_SHARE = 0.2
#: Interleaved latency: requests are grouped in buckets of this many seconds ...
BUCKET_SECONDS = 30.0
#: ... and a mirrored bucket is compared with the unmirrored requests of the buckets
#: at most this many buckets away (its own included: requests left out by --percent).
REACH_BUCKETS = 2
#: Unmirrored requests a mirrored bucket needs around it to be compared at all.
MIN_CONTROL_PER_BUCKET = 10


def _pct(values: Sequence[float], q: float) -> float | None:
    value = percentile(values, q)
    return None if value is None else round(value, 3)


def _latency(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": _pct(values, 50), "p95_ms": _pct(values, 95), "p99_ms": _pct(values, 99)}


def _metrics(y: np.ndarray, p: np.ndarray, decision: float) -> dict[str, float | None]:
    """ROC AUC, accuracy, F1 (0 when nothing is predicted positive) and selection rate, as scikit-learn
    gives them (tests/test_shadow_report.py holds them to it), in numpy."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pred = (p >= decision).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    f1_den = int(pred.sum()) + int(y.sum())
    return {
        "roc_auc": None if (auc := roc_auc(y, p)) is None else round(auc, 4),
        "accuracy": round(float((pred == y).mean()), 4),
        "f1": round(2 * tp / f1_den, 4) if f1_den else 0.0,
        "selection_rate": round(float(pred.mean()), 4),
    }


def shadow_counts(records: Iterable[dict[str, Any]], version: int | None) -> dict[str, Any]:
    """What became of the requests mirrored to ``version`` (merged serving records, status 200).

    The groups are serving's own (:mod:`lab.serving.shadow_state`), so these figures
    match `lab shadow stop` and `lab status`: ``answered`` is ``ok`` + ``late`` (both
    carry a prediction), ``failed`` is ``error`` + ``crashed``, ``dropped`` is
    ``dropped`` + ``unavailable`` + ``cancelled`` (``cancelled`` is also given alone);
    ``no_answer`` counts mirrored requests with no shadow line at all (`lab shadow stop`
    calls them pending).

    >>> recs = [{"status": 200, "shadow_version": 2, "shadow_status": s} for s in ("ok", "ok", "late", "crashed")]
    >>> c = shadow_counts(recs + [{"status": 200, "shadow_version": 2}], 2)
    >>> (c["mirrored"], c["ok"], c["late"], c["failed"], c["no_answer"], c["answered"])
    (5, 2, 1, 1, 1, 3)
    """
    statuses: dict[str, int] = {}
    for r in records:
        if r.get("status") != 200 or r.get("shadow_version") is None or _int(r.get("shadow_version")) != version:
            continue
        s = str(r.get("shadow_status") or "no_answer")
        statuses[s] = statuses.get(s, 0) + 1
    counts = {
        "mirrored": sum(statuses.values()),
        "ok": statuses.get("ok", 0),
        "late": statuses.get("late", 0),
        "dropped": sum(statuses.get(s, 0) for s in DROPPED),
        "failed": sum(statuses.get(s, 0) for s in FAILED),
        "cancelled": statuses.get("cancelled", 0),
        "no_answer": statuses.get("no_answer", 0),
    }
    counts["answered"] = counts["ok"] + counts["late"]
    counts["by_status"] = dict(sorted(statuses.items()))
    return counts


def _int(v: Any) -> int | None:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return None


def latency_samples(serving: Iterable[dict[str, Any]], traffic: Iterable[dict[str, Any]] | None,
                    version: int | None) -> tuple[list[tuple[float, float, bool]], str]:
    """(time, champion latency in ms, mirrored to ``version``) per answered request, and where latency came from.

    Latency is the client's (traffic log) where logged, else the serving log's champion
    path. Requests mirrored to another version are left out.
    """
    client = {r["id"]: float(r["latency_ms"]) for r in traffic or ()
              if r.get("status") == 200 and r.get("latency_ms") is not None and "id" in r}
    out: list[tuple[float, float, bool]] = []
    from_client = from_serving = 0
    for r in serving:
        if r.get("status") != 200 or r.get("time") is None:
            continue
        lat = client.get(r.get("id"))
        if lat is None:
            lat = r.get("latency_ms")
            if lat is None:
                continue
            from_serving += 1
        else:
            from_client += 1
        sv = _int(r.get("shadow_version"))
        if sv is not None and sv != version:
            continue
        out.append((float(r["time"]), float(lat), sv is not None))
    source = ("client-side (traffic log)" if not from_serving else "serving's champion path" if not from_client
              else "client-side where logged, else serving's champion path")
    return out, source


def interleaved_latency(samples: Sequence[tuple[float, float, bool]], *, bucket_s: float = BUCKET_SECONDS,
                        reach: int = REACH_BUCKETS, min_control: int = MIN_CONTROL_PER_BUCKET) -> dict[str, Any]:
    """Champion latency with mirroring against without, over the same minutes of the run.

    ``samples`` are (time, latency_ms, mirrored). Time is cut in buckets of ``bucket_s``
    seconds. A bucket's baseline is the median latency of the unmirrored requests at
    most ``reach`` buckets away (requests left out by ``--percent``, the minutes before
    the shadow started and after it stopped); every latency is divided by the baseline
    of its bucket, so a machine busier in one hour than in another scales both sides
    alike. Mirrored requests are compared only where a baseline exists (at least
    ``min_control`` unmirrored requests around them), against the unmirrored requests
    of those neighbourhoods. ``ratio`` is the p99 of the normalised mirrored latencies
    over the p99 of the normalised unmirrored ones; ``p99_with_ms``/``p99_without_ms``
    are the raw p99s of the same requests; ``unmatched`` mirrored requests had no
    baseline near them.

    >>> quiet = [(t, 10.0, t % 2 == 0) for t in range(0, 600)]
    >>> busy = [(t, 30.0, t % 2 == 0) for t in range(600, 1200)]   # machine load triples later on
    >>> r = interleaved_latency(quiet + busy)
    >>> (r["ratio"], r["n_with"], r["n_without"], r["unmatched"])
    (1.0, 600, 600, 0)
    >>> r = interleaved_latency([(t, 10.0 * (1 + t % 2), t % 2 == 1) for t in range(600)])  # mirroring doubles it
    >>> r["ratio"]
    2.0
    """
    with_: dict[int, list[float]] = {}
    without: dict[int, list[float]] = {}
    for t, lat, mirrored in samples:
        (with_ if mirrored else without).setdefault(int(t // bucket_s), []).append(float(lat))
    scales: dict[int, float | None] = {}

    def scale(k: int) -> float | None:
        if k not in scales:
            control = [x for j in range(k - reach, k + reach + 1) for x in without.get(j, ())]
            scales[k] = (float(np.median(control)) or 1.0) if len(control) >= min_control else None
        return scales[k]

    raw_with: list[float] = []
    norm_with: list[float] = []
    control_keys: set[int] = set()
    matched = unmatched = 0
    for k in sorted(with_):
        s = scale(k)
        if s is None:
            unmatched += len(with_[k])
            continue
        matched += 1
        raw_with += with_[k]
        norm_with += [x / s for x in with_[k]]
        control_keys |= {j for j in range(k - reach, k + reach + 1) if j in without}
    raw_without: list[float] = []
    norm_without: list[float] = []
    for j in sorted(control_keys):
        s = scale(j)
        if s is not None:
            raw_without += without[j]
            norm_without += [x / s for x in without[j]]
    out: dict[str, Any] = {
        "n_with": len(raw_with), "n_without": len(raw_without), "unmatched": unmatched, "buckets": matched,
        "bucket_seconds": bucket_s, "reach_seconds": bucket_s * (reach + 1),
        "p99_with_ms": _pct(raw_with, 99), "p99_without_ms": _pct(raw_without, 99), "ratio": None,
    }
    den = p99(norm_without)
    if norm_with and den is not None:
        out["ratio"] = round(p99(norm_with) / den, 4) if den > 0 else None
    return out


def shadow_warnings(counts: dict[str, Any], crash_loops: Iterable[dict[str, Any]] = (),
                    version: int | None = None) -> list[str]:
    """Plain sentences: a large share of mirrored requests unanswered, a journaled crash loop."""
    out = []
    n = counts["mirrored"]
    missing = n - counts["answered"]
    if n and missing / n > NO_ANSWER_WARN_SHARE:
        parts = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in ("failed", "dropped", "no_answer")
                          if counts[k])
        out.append(f"{missing} of {n} mirrored requests ({missing / n:.0%}) got no answer from the shadow ({parts}): "
                   "the comparison rests on the rest only. See `lab logs serving`.")
    for e in crash_loops:
        d = e.get("data", e)
        if version is not None and _int(d.get("version")) not in (None, version):
            continue
        out.append(f"the shadow v{d.get('version', '?')} crash-looped ({d.get('crashes', '?')} crashes in "
                   f"{d.get('window_s', '?')} s) and was stopped restarting (journal seq {e.get('seq', '?')}).")
    return out


def shadow_report(records: Iterable[dict[str, Any]], labels: Iterable[dict[str, Any]],
                  version: int | None = None, *, decision_threshold: float,
                  traffic: Iterable[dict[str, Any]] | None = None,
                  crash_loops: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """Compare shadow ``version`` (default: the most recent one mirrored) with the champion,
    deciding at ``decision_threshold`` (the scenario's ``model.decision_threshold.value``).

    ``traffic`` (the traffic log) gives client-side latencies for the interleaved
    comparison; ``crash_loops`` are the journal's ``shadow.crash_loop`` entries.
    """
    records = [r for r in records if r.get("status") == 200]
    mirrored_all = [r for r in records if r.get("shadow_version") is not None]
    if version is None and mirrored_all:
        version = _int(mirrored_all[-1]["shadow_version"])
    mirrored = [r for r in mirrored_all if _int(r.get("shadow_version")) == version]
    counts = shadow_counts(mirrored, version)
    ok = [r for r in mirrored if r.get("shadow_status") in ("ok", "late") and r.get("shadow_prediction")]
    champ = np.array([p for r in ok for p in r["champion_prediction"]], dtype=float)
    shadow = np.array([p for r in ok for p in r["shadow_prediction"]], dtype=float)
    samples, source = latency_samples(records, traffic, version)
    report: dict[str, Any] = {
        "shadow_version": version,
        "decision_threshold": decision_threshold,
        "champion_versions": sorted({r["champion_version"] for r in mirrored}),
        "mirrored_requests": len(mirrored),
        "counts": {k: v for k, v in counts.items() if k != "by_status"},
        "shadow_status": counts["by_status"],
        "compared_rows": int(len(champ)),
        "agreement_rate": round(float(np.mean((champ >= decision_threshold) == (shadow >= decision_threshold))), 4) if len(champ) else None,
        "mean_score_delta": round(float(np.mean(shadow - champ)), 4) if len(champ) else None,
        "mean_abs_score_delta": round(float(np.mean(np.abs(shadow - champ))), 4) if len(champ) else None,
        "latency": {
            "champion": _latency([r["latency_ms"] for r in mirrored if r.get("latency_ms") is not None]),
            "shadow": _latency([r["shadow_latency_ms"] for r in ok if r.get("shadow_latency_ms") is not None]),
        },
        "champion_latency_with_vs_without_mirroring": {**interleaved_latency(samples), "latency_source": source},
        "warnings": shadow_warnings(counts, crash_loops, version),
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


def counts_line(counts: dict[str, Any]) -> str:
    """One line: mirrored, answered ok, late, dropped (of which cancelled), failed, no answer.

    >>> counts_line({"mirrored": 10, "ok": 6, "late": 1, "dropped": 1, "failed": 1, "cancelled": 0, "no_answer": 1})
    '10 mirrored: 6 answered ok, 1 late, 1 dropped (0 cancelled), 1 failed, 1 no answer'
    """
    return (f"{counts['mirrored']} mirrored: {counts['ok']} answered ok, {counts['late']} late, "
            f"{counts['dropped']} dropped ({counts['cancelled']} cancelled), {counts['failed']} failed, "
            f"{counts['no_answer']} no answer")


def latency_line(cmp: dict[str, Any]) -> str:
    """The interleaved comparison in one sentence, with the counts it used."""
    if cmp["ratio"] is None:
        return (f"champion latency with vs without mirroring: not comparable yet ({cmp['n_with']} mirrored and "
                f"{cmp['n_without']} unmirrored requests within {cmp['reach_seconds']:g} s of each other; "
                f"{cmp['unmatched']} mirrored requests had no unmirrored neighbours)")
    return (f"champion p99 with mirroring {cmp['ratio']:.2f}x without, on the same minutes "
            f"({cmp['p99_with_ms']} ms on {cmp['n_with']} mirrored vs {cmp['p99_without_ms']} ms on "
            f"{cmp['n_without']} unmirrored requests within {cmp['reach_seconds']:g} s; "
            f"{cmp['unmatched']} mirrored requests unmatched; latency: {cmp.get('latency_source', 'n/a')})")


def report_lines(report: dict[str, Any]) -> list[str]:
    """The counts, the latency comparison and the warnings of a :func:`shadow_report`, as text lines."""
    lines = [counts_line(report["counts"]), latency_line(report["champion_latency_with_vs_without_mirroring"])]
    lines += [f"warning: {w}" for w in report["warnings"]]
    return lines
