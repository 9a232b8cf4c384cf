"""The ``observability`` task: business signals apart from system signals, from the config, the live run and the document.

Three parts, all pure functions of the evidence and the submission:

* **The config, replayed** (22 points; lab.monitoring.observability_replay on the hidden
  streams of the grading seed, the same for every run of the scenario):
  ``observability.business.detect`` (8): the share of hidden KPI drops the ``business:``
  section alarms on within the budget (label delay + 5 days), above what alarming at
  random at the config's own false-alarm rate would catch (its ``chance``), so an
  always-alarming config earns nothing; ``observability.business.timely`` (3): how soon,
  full within the label delay + 2 days; ``observability.business.quiet`` (4): pages and
  time in alarm on streams where nothing changed (silence counts only beside detection);
  ``observability.system.detect`` (3): latency and error incidents alarmed on within
  three windows; ``observability.system.quiet`` (4): no pages from the service's ordinary
  noise (short pauses, a few failed requests), the same rule.
* **The live run** (``observability.live``, 4): the live monitor raised a ``business``
  alert after the change began (from the journal); a config with a ``business:`` section
  applied but no such alert: 2.
* **The document** (``observability.md``; lab.grading.observability_doc).

The thresholds below are the lab's policy for a useful pager, stated in each item's
feedback, not an industry standard.
"""

from __future__ import annotations

from typing import Any

from lab.core.stats import above_chance
from lab.evidence.schema import Evidence
from lab.evidence.submission import MONITORING, OBSERVABILITY, Submission
from lab.grading.items import Item, sentence
from lab.grading.observability_doc import Kpi, ObservabilityFacts, grade_observability_doc

SKILL = "observability"
PLAN = (("observability.business.detect", "The KPI drop is alarmed on (business section, hidden replay)", 8.0),
        ("observability.business.timely", "How soon the KPI alarm comes after the change", 3.0),
        ("observability.business.quiet", "No business pages where nothing changed", 4.0),
        ("observability.system.detect", "Latency and error incidents are alarmed on (system section)", 3.0),
        ("observability.system.quiet", "No pages from the service's ordinary noise", 4.0),
        ("observability.live", "The live monitor raised a business alert after the change", 4.0))
_PLANNED = {key: (title, points) for key, title, points in PLAN}
#: A useful pager (lab policy): full credit at or below the first figure, none at or above the second.
PAGES_PER_WEEK = {"business": (0.25, 1.5), "system": (0.25, 2.0)}
ALARM_SHARE = {"business": (0.03, 0.25), "system": (0.01, 0.10)}


def _item(key: str, points: float, feedback: str, evidence: str = "", **details: Any) -> Item:
    title, full = _PLANNED[key]
    return Item(key, SKILL, title, round(max(0.0, min(full, points)), 2), full, sentence(feedback), evidence,
                details=details)


def _linear(value: float, full_at: float, zero_at: float) -> float:
    """1 at or below ``full_at``, 0 at or above ``zero_at``, linear between."""
    if value <= full_at:
        return 1.0
    if value >= zero_at:
        return 0.0
    return (zero_at - value) / (zero_at - full_at)


def _section_items(result: Any, section: str, delay: float) -> list[Item]:
    res = getattr(result, section)
    s = res.summary()
    figures = (f"{section}: {round(s['hit_rate'] * s['incidents'])} of {s['incidents']} hidden incidents alarmed on "
               f"within {s['budget_days']:g} days; chance {s['chance']:.2f}; "
               f"{s['false_pages_per_week']:.2f} false pages a week, {res.false_window_rate:.1%} of quiet windows "
               f"in alarm")
    key = f"observability.{section}"
    if not res.configured:
        out = [_item(f"{key}.detect", 0, f"there is no `{section}:` section in monitoring.yaml, so nothing alarms on "
                     + ("the KPI drop: system signals stay healthy while the business loses money"
                        if section == "business" else "a slow or failing service"), figures)]
        if section == "business":
            out.append(_item(f"{key}.timely", 0, "there is no `business:` section to be timely", figures))
        out.append(_item(f"{key}.quiet", 0, f"quiet counts only beside detection; there is no `{section}:` section",
                         figures))
        return out
    credit = above_chance(res.hit_rate, res.chance)
    full = _PLANNED[f"{key}.detect"][1]
    if credit >= 1 - 1e-9:
        fb = f"every hidden {section} incident was alarmed on in time"
    elif credit == 0 and res.chance >= 0.999:
        fb = "the config alarms all the time where nothing changed, so its alarms say nothing"
    else:
        fb = (f"{s['hit_rate']:.0%} of the hidden incidents alarmed on in time, against {s['chance']:.0%} by chance "
              f"at the config's own false-alarm rate; "
              + ("more rows per KPI or a bound nearer the reference value catches more"
                 if section == "business" else "an objective nearer the service's own figures catches more"))
    out = [_item(f"{key}.detect", full * credit, fb, figures, **s)]
    if section == "business":
        mean = s["mean_delay_days"]
        if mean is None or credit == 0:
            out.append(_item(f"{key}.timely", 0, "no KPI drop was alarmed on above chance", figures))
        else:
            t = _linear(mean, delay + 2.0, s["budget_days"]) * credit
            out.append(_item(f"{key}.timely", 3.0 * t, f"alarms came {mean:.1f} days after the change on average "
                             f"(outcomes arrive {delay:g} days late; full credit within {delay + 2:g} days)", figures))
    pages_full, pages_zero = PAGES_PER_WEEK[section]
    share_full, share_zero = ALARM_SHARE[section]
    quiet = min(_linear(s["false_pages_per_week"], pages_full, pages_zero),
                _linear(res.false_window_rate, share_full, share_zero))
    qfull = _PLANNED[f"{key}.quiet"][1]
    if credit == 0:
        out.append(_item(f"{key}.quiet", 0, "quiet counts only beside detection (a silent config is quiet too)",
                         figures))
    else:
        fb = (f"{s['false_pages_per_week']:.2f} pages a week and {res.false_window_rate:.1%} of windows in alarm where "
              f"nothing was wrong (lab policy: full credit at or below {pages_full:g} a week and {share_full:.0%}, "
              f"none at {pages_zero:g} a week or {share_zero:.0%})")
        if quiet < 1 and section == "system":
            fb += "; a single slow or failing window is noise: alarm on several in a row (`consecutive_windows`)"
        elif quiet < 1:
            fb += "; a KPI on few rows swings: more rows or `consecutive_windows` steadies it"
        out.append(_item(f"{key}.quiet", qfull * quiet, fb, figures))
    return out


def _live_item(ev: Evidence, configured: bool) -> Item:
    onsets = [d.onset_day for d in ev.answer_key.drifts]
    onset = min(onsets) if onsets else None
    business = [e for e in ev.entries("monitor.alert") if "business" in (e["data"].get("signals") or [])]
    after = [e for e in business if onset is not None and e["day"] is not None and e["day"] >= onset]
    applied = [e for e in ev.entries("monitor.config") if not str(e["data"].get("source", "")).startswith("lab default")]
    if after:
        first = after[0]
        detail = next((a.get("detail", "") for a in first["data"].get("alerts", []) if a.get("signal") == "business"), "")
        return _item("observability.live", 4, f"the live monitor raised a business alert on day {first['day']:.1f}, "
                     f"{first['day'] - onset:.1f} days after the change began", detail, day=first["day"])
    said = f"{len(applied)} config(s) applied; {len(business)} business alert(s) in all"
    if applied and configured:
        return _item("observability.live", 2, "a config was applied to the live monitor, but it raised no business "
                     "alert after the change began (apply it earlier, or run the scenario further)", said)
    if applied:
        return _item("observability.live", 0, "a config ran in the live monitor, but the submitted monitoring.yaml "
                     "has no `business:` section, so nothing could alarm on the KPIs", said)
    return _item("observability.live", 0, "no config was applied to the live monitor, so it ran the lab's default, "
                 "which has no `business:` section (`lab monitor --config monitoring.yaml`)", said)


def grade_observability(ev: Evidence, sub: Submission | None) -> list[Item]:
    """The task's items: the replayed config, the live run, then observability.md."""
    # heavy: keep off the start-up path
    from lab.grading.drift_grader import grading_seed
    from lab.monitoring.config import ConfigError
    from lab.monitoring.observability_replay import replay_observability
    from lab.monitoring.replay import validate_config

    sc = ev.scenario
    delay = float(sc.timeline.label_delay_days)
    text = sub.text(MONITORING) if sub else None
    config = None
    problem = "no monitoring.yaml was submitted"
    if text is not None:
        try:
            config = validate_config(text if "\n" in text else text + "\n", sc, ev.seed)
        except ConfigError as exc:
            problem = f"monitoring.yaml is not valid: {exc.problems[0]}"
    items: list[Item] = []
    if config is None:
        items += [_item(key, 0, problem) for key, _, _ in PLAN if key != "observability.live"]
    else:
        result = replay_observability(config, sc, grading_seed(ev.seed, sc.id))
        items += _section_items(result, "business", delay) + _section_items(result, "system", delay)
    items.append(_live_item(ev, config is not None and config.business is not None))
    system = config.system if config is not None else None
    facts = ObservabilityFacts(
        kpis=tuple(Kpi(k.name, k.description, k.direction) for k in (sc.business.kpis if sc.business else [])),
        label_delay_days=int(round(delay)),
        segment_columns=tuple(_segment_columns(ev)),
        slo_p99_ms=system.p99_latency_ms.max if system and system.p99_latency_ms else None,
        slo_error_rate=system.error_rate.max if system and system.error_rate else None,
    )
    items += grade_observability_doc(sub.text(OBSERVABILITY) if sub else None, facts)
    order = {k: i for i, (k, _, _) in enumerate(PLAN)}
    return sorted(items, key=lambda i: order.get(i.id, len(order)))


def _segment_columns(ev: Evidence) -> list[str]:
    """Columns a KPI can be broken down by: the generator's categorical inputs and sensitive attributes."""
    from lab.scenario.generators import generator_class

    gen = generator_class(ev.scenario.generator.name)
    return [f.name for f in (*gen.features, *gen.sensitive) if f.categories]
