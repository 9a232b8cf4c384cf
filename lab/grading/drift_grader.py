"""Grades ``monitoring.yaml`` by replaying it over hidden drift streams (skill "drift_thresholds").

The replay evaluator (:func:`lab.monitoring.evaluate.evaluate`) runs the submitted config
over :data:`GRADING_SUITE`: no-drift streams, and data, concept and label drift at three
magnitudes each, every episode its own seeded stream. The seed is derived from the
run's seed and a constant kept in this module (:func:`grading_seed`), so the streams
are the same at every re-grade of a bundle but are not the ones ``lab evaluate`` shows
for any seed a user would try.

Points (max 100), with the do-nothing and always-alarm baselines beside each figure:

* ``drift.detect.<kind>`` (20 each for data, concept, label): the detection rate above
  chance, ``max(0, (rate - chance) / (1 - chance))``, where chance is the rate alarms
  drawn at random at the config's own false-positive rate would reach. An always-alarm
  config has chance 1 and scores 0; do-nothing detects nothing and scores 0.
* ``drift.delay`` (15): how early within the detection budget the detections came,
  weighted by detection (no detection, no delay points).
* ``drift.false-alarms`` (25): ``1 - FP / 0.2`` (0 at one false alarm in five no-drift
  windows, about one a week of nights paged), weighted by detection: a silent monitor
  that sees nothing earns nothing for being silent.

A missing or invalid ``monitoring.yaml`` scores 0 with every config problem listed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lab.grading.evidence import Evidence
from lab.grading.items import Item
from lab.grading.submission import MONITORING, Submission

SKILL = "drift_thresholds"
_SECRET = "f0514f1e1409929bcf3712cd59577d32"  # never shown; changing it changes every grade
FP_LIMIT = 0.2
POINTS = {"drift.detect.data": 20.0, "drift.detect.concept": 20.0, "drift.detect.label": 20.0, "drift.delay": 15.0,
          "drift.false-alarms": 25.0}
TITLES = {"drift.detect.data": "Detects data drift (above chance)",
          "drift.detect.concept": "Detects concept drift (above chance)",
          "drift.detect.label": "Detects label drift (above chance)",
          "drift.delay": "Detection delay within the budget",
          "drift.false-alarms": "Few false alarms on no-drift windows"}
_KIND_WORDS = {"data": ("data drift", "dataset_drift_share", "column"), "concept": ("concept",),
               "label": ("label drift", "positive rate")}
_CACHE: dict[tuple[str, str, int, Any], Any] = {}
_CACHE_SIZE = 16


def grading_suite() -> Any:
    """The hidden suite: 3 magnitudes per drift kind, one episode each, and 2 no-drift streams."""
    from lab.monitoring.evaluate import SuiteSpec

    return SuiteSpec(episodes_per_magnitude=1, no_drift_streams=2)


def grading_seed(seed: int, scenario_id: str) -> int:
    """The replay seed for a run: stable, and not guessable without this module's constant."""
    digest = hashlib.sha256(f"{_SECRET}:{scenario_id}:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _evaluate(text: str, evidence: Evidence, seed: int, suite: Any) -> Any:
    from lab.monitoring.evaluate import evaluate

    key = (hashlib.sha256(text.encode()).hexdigest(), evidence.scenario.model_dump_json(), seed, suite)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        # a one-line text ending .yaml would be read as a path: keep it text
        _CACHE[key] = evaluate(text if "\n" in text else text + "\n", evidence.scenario, seed, suite=suite)
    return _CACHE[key]


def _zero(feedback: str, first_feedback: str | None = None) -> list[Item]:
    out = []
    for i, (item_id, pts) in enumerate(POINTS.items()):
        out.append(Item(id=item_id, skill=SKILL, title=TITLES[item_id], points=0.0, max_points=pts,
                        feedback=first_feedback if i == 0 and first_feedback else feedback))
    return out


def grade_drift_thresholds(evidence: Evidence, submission: Submission | None, *, suite: Any = None) -> list[Item]:
    """Replay the submitted monitoring.yaml over the hidden suite; max points sum to 100."""
    from lab.monitoring.config import ConfigError

    text = submission.text(MONITORING) if submission else None
    if text is None:
        why = "; ".join(p.message for p in submission.problems_for(MONITORING)) if submission else ""
        return _zero(f"monitoring.yaml is missing{' (' + why + ')' if why else ''}: no drift thresholds to test. "
                     "`lab init-submission DIR` writes a template; `lab evaluate monitoring.yaml` scores it.")
    suite = suite or grading_suite()
    seed = grading_seed(evidence.seed, evidence.scenario.id)
    try:
        result = _evaluate(text, evidence, seed, suite)
    except ConfigError as exc:
        problems = "; ".join(str(p) for p in exc.problems)
        return _zero("monitoring.yaml could not be used (see drift.detect.data for every problem).",
                     f"monitoring.yaml could not be used: {problems}. Fix each line (`lab evaluate monitoring.yaml "
                     f"--scenario {evidence.scenario.id}` lists them).")
    except ValueError as exc:  # a config the schema accepts but the replay cannot apply
        return _zero("monitoring.yaml could not be replayed (see drift.detect.data).",
                     f"monitoring.yaml could not be replayed: {exc}. `lab evaluate monitoring.yaml --scenario "
                     f"{evidence.scenario.id}` shows the same problem.")
    return _items(result)


def _items(result: Any) -> list[Item]:
    s = result.summaries
    diags: list[str] = list(result.diagnostics)
    fp = s["all"].false_positive_rate or 0.0
    base = (f"baselines: do-nothing detects 0% with 0 false alarms; always-alarm detects 100% at a "
            f"false-positive rate of 100% (chance 100%)")
    skills: dict[str, float] = {}
    items: list[Item] = []
    for kind in ("data", "concept", "label"):
        summ = s[kind]
        rate = summ.detection_rate or 0.0
        chance = summ.chance_detection_rate if summ.chance_detection_rate is not None else 0.0
        skill = 0.0 if chance >= 1 else max(0.0, (rate - chance) / (1 - chance))
        skills[kind] = skill
        item_id = f"drift.detect.{kind}"
        by_m = ", ".join(f"{m.magnitude:g}: {m.detected}/{m.episodes}" for m in summ.by_magnitude)
        related = [d for d in diags if any(w in d.lower() for w in _KIND_WORDS[kind])]
        if skill >= 0.999:
            fb = f"Caught every {kind}-drift episode ({by_m}) well above chance ({chance:.0%})."
        elif rate == 0:
            fb = f"Never caught {kind} drift ({by_m} by magnitude)."
        elif rate <= chance + 1e-9:
            fb = (f"Caught {rate:.0%} of {kind}-drift episodes, no better than random alarms at your false-alarm "
                  f"rate ({chance:.0%}).")
        else:
            fb = f"Caught {rate:.0%} of {kind}-drift episodes ({by_m} by magnitude; chance {chance:.0%})."
        if related and skill < 0.999:
            fb += " " + " ".join(related)
        items.append(Item(id=item_id, skill=SKILL, title=TITLES[item_id],
                          points=round(POINTS[item_id] * skill, 6), max_points=POINTS[item_id], feedback=fb,
                          evidence=f"detection {rate:.0%} ({summ.detected}/{summ.episodes} episodes)"
                                   f", chance {chance:.0%}; {base}",
                          details={"detection_rate": rate, "chance": round(chance, 6), "skill": round(skill, 6),
                                   "by_magnitude": {f"{m.magnitude:g}": m.detection_rate for m in summ.by_magnitude}}))
    overall = sum(skills.values()) / len(skills)

    # delay
    budget = result.max_delay_windows
    parts = []
    delay_bits = []
    for kind in ("data", "concept", "label"):
        d = s[kind].mean_delay_windows
        if d is not None and skills[kind] > 0:
            parts.append(skills[kind] * max(0.0, 1 - d / max(1, budget)))
            delay_bits.append(f"{kind} {d:.1f} windows ({s[kind].mean_delay_days:.1f} days)")
    delay_share = sum(parts) / 3
    delay_diags = [d for d in diags if "consecutive" in d or "Labels arrive" in d]
    if not delay_bits:
        fb = "Nothing was detected, so there is no delay to score."
    else:
        fb = (f"Mean delay {', '.join(delay_bits)} within a budget of {budget} windows "
              f"({result.max_delay_days:.1f} days).")
        if delay_share < 0.7:
            fb += " Earlier alarms need more sensitive tests or smaller windows; " + " ".join(delay_diags)
    items.append(Item(id="drift.delay", skill=SKILL, title=TITLES["drift.delay"],
                      points=round(POINTS["drift.delay"] * delay_share, 6), max_points=POINTS["drift.delay"],
                      feedback=fb.strip(),
                      evidence=f"window {result.window_size} rows, label lag {result.label_lag_windows} windows, "
                               f"budget {budget} windows; always-alarm: delay 0",
                      details={"budget_windows": budget, "share": round(delay_share, 6)}))

    # false alarms
    quality = max(0.0, 1 - fp / FP_LIMIT)
    share = quality * overall
    pooled = s["all"]
    fa_diags = [d for d in diags if "no-drift" in d or "false alarm" in d.lower() or "never alarmed" in d
                or "every replayed window" in d]
    every = f", one every {pooled.mtbfa_days:.1f} days" if pooled.mtbfa_days is not None else ""
    fb = (f"False alarms on {fp:.1%} of {pooled.no_drift_windows} no-drift windows "
          f"({pooled.false_alarms_per_1k_rows or 0:.2f} per 1,000 rows{every}).")
    if overall < 0.999:
        fb += f" These points are weighted by what the config detects ({overall:.0%}): silence that sees nothing is " \
              "not a virtue."
    if fa_diags and share < 0.999:
        fb += " " + " ".join(fa_diags)
    items.append(Item(id="drift.false-alarms", skill=SKILL, title=TITLES["drift.false-alarms"],
                      points=round(POINTS["drift.false-alarms"] * share, 6), max_points=POINTS["drift.false-alarms"],
                      feedback=fb,
                      evidence=f"FP rate {fp:.3f} (limit {FP_LIMIT}), {pooled.false_alarms} false alarms; "
                               f"do-nothing: 0, always-alarm: FP rate 1.0",
                      details={"false_positive_rate": round(fp, 6), "false_alarms": pooled.false_alarms,
                               "no_drift_windows": pooled.no_drift_windows, "diagnostics": diags}))
    return items
