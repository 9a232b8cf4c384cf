"""Grades ``monitoring.yaml`` by replaying it over hidden drift streams (skill "drift_thresholds").

The replay evaluator (:func:`lab.monitoring.evaluate.evaluate`) runs the submitted config
over :func:`grading_suite` at the live traffic rate: :data:`NO_DRIFT_STREAMS` no-drift
streams, and data, concept and label drift at three magnitudes each,
:data:`EPISODES_PER_MAGNITUDE` seeded streams per magnitude (three times ``lab
evaluate``'s suite). The seed is derived from the scenario id and a constant kept in this
module (:func:`grading_seed`), not from the run's seed: every run of a scenario is graded
on the same hidden streams, like an exam's hidden test set, so a config's score does not
move between runs, and the streams are not the ones ``lab evaluate`` shows for any seed a
user would try.

Raw skill (max 100), with the do-nothing and always-alarm baselines (both 0) beside each figure:

* ``drift.detect.<kind>`` (20 each for data, concept, label): the detection rate above
  chance, ``max(0, (rate - chance) / (1 - chance))``, where chance is the rate alarms
  drawn at random at the config's own false-positive rate would reach. An always-alarm
  config has chance 1 and scores 0; do-nothing detects nothing and scores 0.
* ``drift.delay`` (15): how early within the detection budget the detections came,
  weighted by detection (no detection, no delay points).
* ``drift.false-alarms`` (25): ``1 - FP / 0.2`` (0 at one false alarm in five no-drift
  windows, about one a week of nights paged), weighted by detection: a silent monitor
  that sees nothing earns nothing for being silent.

Points are then given for improvement over two reasonable baselines: the README's
example config (:data:`README_EXAMPLE`, its per-column entries kept for the scenario's
columns only) and Evidently's defaults (``{}``). Their level is shipped, not replayed at
grading: ``rubrics/drift_baselines.json`` holds, per scenario, each item's raw share on
the scenario's grading streams, the very streams every config is replayed on (paired)
(``scripts/drift_baselines.py`` writes it; each entry carries :func:`baseline_key`, a
hash of the scenario file, the suite, the rate, the reference configs and the scoring,
and a changed one is ignored). With
``B`` the better baseline's level and ``S`` the config's raw skill, the skill earns
``100 x BASELINE_SHARE x S / B`` up to the baseline, and from there ``BASELINE_SHARE``
plus the rest in proportion to ``(S - B) / (TOP_RAW - B)`` (about 1.3 points per raw
point above a baseline level of ~50); against a baseline weaker than
``BASELINE_SHARE``, matching it earns its own raw skill. Each item keeps its raw figure
and the better baseline's points on it (``details["baseline_points"]``) in its evidence
and is scaled by the same factor, so the items add up. ``details["useful"]`` says
whether the config beat the better baseline by more than :data:`USEFUL_MARGIN` raw
points (its noise); the runbook's thresholds item pays only then
(:func:`lab.grading.grade.drift_config_useful`). Another suite (tests pass small ones),
or a scenario the file does not fit, replays the baselines on the run's own streams
instead (paired; cached per scenario, grading seed and suite in memory and, given a
folder, on disk: ``lab submit`` uses ``<home>/cache/drift``).

Noise between runs: none by construction, since every run of a scenario is graded on the
same streams (``bench/bench_drift_grading.py`` prints the spread over run seeds: 0). What
remains is how well one suite measures a config: with 18 episodes per drift kind a
detection rate near 0.5-0.8 has a binomial sd of ~0.1, a config's raw skill an sd of
~3.6-4.4 points over independent suites (measured on hiring-data-drift with suites drawn
per run seed, before the suite was fixed: README example +-4.0, defaults +-6.2, a tuned
config +-7.4 in final points, against +-2.5, +-3.6 and +-28.6 under the previous rule,
which replayed two episodes per magnitude and both baselines per run). That error is the
same for every candidate of a scenario, so it never reorders two configs graded on it.

Cost: a grade replays the config only (~360 windows of 500 rows, ~3x ``lab evaluate``'s
suite; ~12 s per config at load average ~10 on two cores, against 31-34 s for the
previous rule on a cold cache); a config that never alarms replays every window (~440).

A missing or invalid ``monitoring.yaml`` scores 0 with every config problem listed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.core.stats import above_chance
from lab.errors import ScenarioError
from lab.evidence.schema import Evidence
from lab.grading.items import Item
from lab.evidence.submission import MONITORING, Submission
from lab.monitoring.config import ConfigError
from lab.monitoring.evaluate import EvaluationResult, SuiteSpec, column_kinds, evaluate, live_rows_per_day
from lab.scenario.schema import Scenario, load_scenario, resolve

SKILL = "drift_thresholds"
_SECRET = "f0514f1e1409929bcf3712cd59577d32"  # never shown; changing it changes every grade
FP_LIMIT = 0.2
EPISODES_PER_MAGNITUDE = 6
NO_DRIFT_STREAMS = 4
BASELINE_FILE = Path(__file__).resolve().parent / "rubrics" / "drift_baselines.json"
BASELINE_SHARE = 0.35  # matching the better reasonable baseline earns this share of the skill
TOP_RAW = 100.0  # the raw skill at which a config earns every point (above the baseline: 65 points over 100 - B)
USEFUL_MARGIN = 10.0  # raw points above the better baseline for a config to count as useful (2 sd of a copy's noise)
POINTS = {"drift.detect.data": 20.0, "drift.detect.concept": 20.0, "drift.detect.label": 20.0, "drift.delay": 15.0,
          "drift.false-alarms": 25.0}
TITLES = {"drift.detect.data": "Detects data drift (above chance)",
          "drift.detect.concept": "Detects concept drift (above chance)",
          "drift.detect.label": "Detects label drift (above chance)",
          "drift.delay": "Detection delay within the budget",
          "drift.false-alarms": "Few false alarms on no-drift windows"}
_KIND_WORDS = {"data": ("data drift", "dataset_drift_share", "column"), "concept": ("concept",),
               "label": ("label drift", "positive rate")}

# The README's example monitoring.yaml (section "Drift monitoring", "Format"); a test keeps them equal.
README_EXAMPLE = """\
window: {size: 500}                              # rows per monitoring window (default 500)
data_drift:
  default: {method: wasserstein, threshold: 0.1} # applies to columns the method fits
  columns:
    years_experience: {method: ks, threshold: 0.01}
  dataset_drift_share: 0.3                       # alarm when >= this share drifts (default 0.5)
prediction_drift: {method: psi, threshold: 0.2}  # on the model's scores, column `prediction`
performance: {metric: roc_auc, min: 0.75, max_drop: 0.05}
alerting: {consecutive_windows: 1}
"""
BASELINE_NAMES = {"readme_example": "the README example", "defaults": "Evidently's defaults ({})"}
_CACHE_VERSION = 1  # bump when the replay or the raw scoring changes: the disk cache is keyed by it
_CACHE: dict[tuple[str, str, int, Any, int], Any] = {}
_BASELINES: dict[str, dict[str, "RawScore"]] = {}
_CACHE_SIZE = 16


def grading_suite() -> SuiteSpec:
    """The hidden suite: the one ``lab evaluate`` runs (3 magnitudes per drift kind,
    :data:`EPISODES_PER_MAGNITUDE` episodes each, 2 no-drift streams), on other streams."""
    return SuiteSpec(episodes_per_magnitude=EPISODES_PER_MAGNITUDE, no_drift_streams=NO_DRIFT_STREAMS)


def grading_seed(seed: int, scenario_id: str) -> int:
    """The replay seed of a scenario's hidden suite: the same for every run (``seed`` is not
    used, so a config's grade does not depend on the run's luck), and not guessable without
    this module's constant.

    >>> grading_seed(0, "hiring-data-drift") == grading_seed(7, "hiring-data-drift")
    True
    >>> grading_seed(0, "hiring-data-drift") == grading_seed(0, "credit-concept-drift")
    False
    """
    del seed  # kept in the signature: callers pass the run's seed
    digest = hashlib.sha256(f"{_SECRET}:{scenario_id}:fixed-suite".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def baseline_config(name: str, scenario: Scenario) -> str:
    """A reference config's text for ``scenario``: the README example keeps only the scenario's columns."""
    if name == "defaults":
        return "{}\n"
    doc = yaml.safe_load(README_EXAMPLE)
    kinds = column_kinds(scenario)
    cols = doc["data_drift"].get("columns", {})
    doc["data_drift"]["columns"] = {c: v for c, v in cols.items() if c in kinds}
    if not doc["data_drift"]["columns"]:
        del doc["data_drift"]["columns"]
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass(frozen=True)
class RawScore:
    """A config's raw skill: each item's share (0..1) and the total out of 100."""

    shares: dict[str, float]

    @property
    def total(self) -> float:
        return sum(POINTS[i] * self.shares[i] for i in POINTS)


def scaled_total(raw: float, best_baseline: float) -> float:
    """Points out of 100 for raw skill ``raw`` against the better baseline's ``best_baseline``.

    >>> scaled_total(60.0, 60.0)  # matching the baseline earns BASELINE_SHARE
    35.0
    >>> scaled_total(30.0, 60.0), scaled_total(100.0, 60.0)
    (17.5, 100.0)
    >>> round(scaled_total(80.0, 60.0), 2)  # 35 + 65 x (80 - 60) / (100 - 60)
    67.5
    """
    if raw <= 0:
        return 0.0
    b = best_baseline
    if b <= 0:
        return min(100.0, raw)
    floor = min(100 * BASELINE_SHARE, b)  # what matching the baseline earns (never more than its raw skill)
    if raw <= b:
        return floor * raw / b
    if raw >= TOP_RAW or b >= TOP_RAW:
        return 100.0
    return floor + (100 - floor) * (raw - b) / (TOP_RAW - b)


def _evaluate(text: str, scenario: Scenario, seed: int, suite: SuiteSpec,
              cache_dir: Path | None = None) -> EvaluationResult:
    """The replay of config ``text``: from this process's memory, else from ``cache_dir``
    (``drift-result-<key>.json``, keyed by the config's digest, the scenario, the seed, the
    suite, the rate, the code (:func:`lab.monitoring.stream_cache.code_ident`) and
    :data:`_CACHE_VERSION`), else replayed (streams cached there too) and written."""
    from lab.monitoring.stream_cache import code_ident, scenario_ident

    key = (hashlib.sha256(text.encode()).hexdigest(), scenario.model_dump_json(), seed, suite,
           live_rows_per_day(scenario))
    if key in _CACHE:
        return _CACHE[key]
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps([_CACHE_VERSION, code_ident(), key[0], scenario_ident(scenario), seed,
                                            repr(suite), key[4]]).encode()).hexdigest()[:32]
        path = Path(cache_dir) / f"drift-result-{digest}.json"
    result = _load_result(path)
    if result is None:
        # a one-line text ending .yaml would be read as a path: keep it text
        result = evaluate(text if "\n" in text else text + "\n", scenario, seed, suite=suite, cache_dir=cache_dir)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(result.model_dump_json(), encoding="utf-8")
            tmp.replace(path)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = result
    return result


def _load_result(path: Path | None) -> EvaluationResult | None:
    """A cached replay, or None when there is none or it is damaged (then it is replayed and rewritten)."""
    from pydantic import ValidationError

    from lab.monitoring.results import EvaluationResult

    if path is None or not path.is_file():
        return None
    try:
        return EvaluationResult.model_validate_json(path.read_bytes())
    except (OSError, ValueError, ValidationError):
        return None


def baseline_key(scenario_id: str) -> str:
    """What the shipped baseline levels of ``scenario_id`` depend on, hashed: the scenario's file,
    the grading suite and its seed, the live rate, the reference configs and the raw scoring."""
    base = load_scenario(scenario_id)
    ident = json.dumps([_CACHE_VERSION, base.model_dump_json(), repr(grading_suite()), live_rows_per_day(base),
                        README_EXAMPLE, POINTS, FP_LIMIT, grading_seed(0, scenario_id)])
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def measure_baselines(scenario_id: str) -> dict[str, RawScore]:
    """The reference configs' raw skill on the scenario's grading streams (two replays)."""
    sc = resolve(load_scenario(scenario_id), 0)[0]  # the replay does not read the run's randomised timeline
    seed = grading_seed(0, sc.id)
    return {name: raw_score(_evaluate(baseline_config(name, sc), sc, seed, grading_suite())) for name in BASELINE_NAMES}


def shipped_baselines(scenario_id: str, path: Path = BASELINE_FILE) -> dict[str, RawScore] | None:
    """The baseline levels shipped for ``scenario_id`` (each item's share on the grading
    streams), or None when the file has none for it or was computed for another scenario
    file, suite or scoring (its key differs)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entry = data["scenarios"][scenario_id]
        if entry["key"] != baseline_key(scenario_id):
            return None
        return {name: RawScore({i: float(entry["shares"][name][i]) for i in POINTS}) for name in BASELINE_NAMES}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def baseline_scores(scenario: Scenario, seed: int, suite: SuiteSpec,
                    cache_dir: Path | None = None) -> dict[str, RawScore]:
    """The reference configs' raw skill replayed on the grading streams of ``seed`` (paired with
    the config's): what the grader uses when no shipped level fits (another suite, a scenario
    file changed since :data:`BASELINE_FILE` was written). Each reference config is an ordinary
    replay, so it is kept on disk the way the candidate's is (:func:`_evaluate`)."""
    ident = json.dumps([_CACHE_VERSION, scenario.model_dump_json(), seed, repr(suite), live_rows_per_day(scenario),
                        README_EXAMPLE, POINTS, FP_LIMIT])
    key = hashlib.sha256(ident.encode()).hexdigest()[:32]
    out = _BASELINES.get(key)
    if out is None:
        out = {name: raw_score(_evaluate(baseline_config(name, scenario), scenario, seed, suite, cache_dir))
               for name in BASELINE_NAMES}
        if len(_BASELINES) >= _CACHE_SIZE:
            _BASELINES.pop(next(iter(_BASELINES)))
        _BASELINES[key] = out
    return out


def _zero(feedback: str, first_feedback: str | None = None) -> list[Item]:
    out = []
    for i, (item_id, pts) in enumerate(POINTS.items()):
        out.append(Item(id=item_id, skill=SKILL, title=TITLES[item_id], points=0.0, max_points=pts,
                        feedback=first_feedback if i == 0 and first_feedback else feedback))
    return out


def grade_drift_thresholds(evidence: Evidence, submission: Submission | None, *, suite: Any = None,
                           cache_dir: Path | None = None) -> list[Item]:
    """Replay the submitted monitoring.yaml over the hidden suite; max points sum to 100.

    ``cache_dir`` keeps, between runs, the hidden streams (per scenario, grading seed and
    suite), the config's replay (per config digest too) and the reference baselines' replays.
    """
    text = submission.text(MONITORING) if submission else None
    if text is None:
        why = "; ".join(p.message for p in submission.problems_for(MONITORING)) if submission else ""
        return _zero(f"monitoring.yaml is missing{' (' + why + ')' if why else ''}: no drift thresholds to test. "
                     "`lab init-submission DIR` writes a template; `lab evaluate monitoring.yaml` scores it.")
    suite = suite or grading_suite()
    seed = grading_seed(evidence.seed, evidence.scenario.id)
    try:
        result = _evaluate(text, evidence.scenario, seed, suite, cache_dir)
    except ConfigError as exc:
        problems = "; ".join(str(p) for p in exc.problems)
        return _zero("monitoring.yaml could not be used (see drift.detect.data for every problem).",
                     f"monitoring.yaml could not be used: {problems}. Fix each line (`lab evaluate monitoring.yaml "
                     f"--scenario {evidence.scenario.id}` lists them).")
    except ValueError as exc:  # a config the schema accepts but the replay cannot apply
        return _zero("monitoring.yaml could not be replayed (see drift.detect.data).",
                     f"monitoring.yaml could not be replayed: {exc}. `lab evaluate monitoring.yaml --scenario "
                     f"{evidence.scenario.id}` shows the same problem.")
    shipped = shipped_baselines(evidence.scenario.id) if suite == grading_suite() else None
    if shipped is not None and not _current_scenario(evidence.scenario, evidence.seed):
        shipped = None  # a bundle of an older scenario file: its own streams are the fair yardstick
    if shipped is not None:
        return score_items(result, shipped, where=SHIPPED_WHERE)
    return score_items(result, baseline_scores(evidence.scenario, seed, suite, cache_dir))


def prefill_streams(scenario: Scenario, run_seed: int, cache_dir: Path, window_size: int | None = None,
                    suite: SuiteSpec | None = None, config: str | None = None) -> Path | None:
    """Draw (or load) the hidden suite's streams for ``scenario`` into ``cache_dir`` and this
    process's memory, as :func:`grade_drift_thresholds` will ask for them for a config with
    windows of ``window_size`` rows (default: the default window) and ``suite`` (default: the
    hidden one); given ``config`` (a monitoring.yaml's text), replay it there too (its window
    size applies; a config the replay refuses raises ConfigError or ValueError). Returns the
    streams' cache file. What a warm grading process does ahead of a `lab submit`."""
    if config is not None:
        _evaluate(config, scenario, grading_seed(run_seed, scenario.id), suite or grading_suite(), cache_dir)
    from lab.monitoring.evaluate import DEFAULT_WINDOW_SIZE
    from lab.monitoring.stream_cache import stream_key, suite_inputs
    from lab.monitoring.suite import _scenario

    seed = grading_seed(run_seed, scenario.id)
    sc = _scenario(scenario, seed)  # what the replay resolves (lab.monitoring.evaluate.evaluate)
    size = window_size or DEFAULT_WINDOW_SIZE
    spec, rpd = suite or grading_suite(), live_rows_per_day(sc)
    suite_inputs(sc, seed, size, spec, rpd, cache_dir)
    path = Path(cache_dir) / f"streams-{stream_key(sc, seed, size, spec, rpd)}.npz"
    return path if path.is_file() else None


def _current_scenario(scenario: Scenario, run_seed: int) -> bool:
    """Whether ``scenario`` is today's scenario file resolved at ``run_seed`` (what the shipped levels were measured on)."""
    from lab.monitoring.stream_cache import scenario_ident

    try:  # compared as canonical JSON: a bundle's copy has its mappings' keys sorted
        return scenario_ident(resolve(load_scenario(scenario.id), run_seed)[0]) == scenario_ident(scenario)
    except (ScenarioError, ValueError):
        return False


SHIPPED_WHERE = "raw, on the same hidden streams (measured once for this scenario and shipped)"


def score_items(result: EvaluationResult, baselines: dict[str, RawScore],
                where: str = "raw, on the same hidden streams") -> list[Item]:
    """The items for ``result``, scaled against the better of ``baselines`` (``where`` says how they were measured)."""
    items = _items(result)
    raw = sum(i.points for i in items)
    best_name, best = max(baselines.items(), key=lambda kv: (kv[1].total, kv[0]))
    total = scaled_total(raw, best.total)
    factor = total / raw if raw > 0 else 0.0
    base_total = scaled_total(best.total, best.total)
    base_factor = base_total / best.total if best.total > 0 else 0.0
    useful = raw > best.total + USEFUL_MARGIN  # better than copying the better reasonable baseline
    others = "; ".join(f"{BASELINE_NAMES[n]} {b.total:.1f}" for n, b in baselines.items())
    why = (f"Raw skill {raw:.1f}/100 against {others} ({where}); do-nothing and always-alarm "
           f"score 0. Matching the better reasonable baseline ({BASELINE_NAMES[best_name]}) earns "
           f"{100 * BASELINE_SHARE:.0f}%, a raw {TOP_RAW:g} earns everything: {total:.1f}/100, so every item is "
           f"scaled by {factor:.2f}. {'More' if useful else 'Not more'} than {USEFUL_MARGIN:g} raw points above that "
           f"baseline, so the config {'counts' if useful else 'does not count'} as useful (the runbook's thresholds "
           f"item pays for consistency with a useful config only).")
    out = []
    for item in items:
        base_pts = "; ".join(f"{BASELINE_NAMES[n]} {POINTS[item.id] * b.shares[item.id]:.1f}" for n, b in baselines.items())
        details = dict(item.details) | {"raw_points": item.points, "scale": round(factor, 6),
                                        "baselines": {n: round(POINTS[item.id] * b.shares[item.id], 6)
                                                      for n, b in baselines.items()},
                                        "raw_total": round(raw, 6), "best_baseline": best_name,
                                        "best_baseline_total": round(best.total, 6),
                                        # what the better baseline earns on this item, in the same points
                                        "baseline_points": round(POINTS[item.id] * best.shares[item.id] * base_factor, 6),
                                        "useful": useful}
        out.append(Item(id=item.id, skill=SKILL, title=item.title, points=round(item.points * factor, 6),
                        max_points=item.max_points, feedback=f"{item.feedback} {why}",
                        evidence=f"{item.evidence}; raw {item.points:.1f}/{item.max_points:g} ({base_pts})",
                        details=details))
    return out


def raw_score(result: EvaluationResult) -> RawScore:
    """The raw skill of a replay: each item's share of its points."""
    return RawScore({i.id: (i.points / i.max_points if i.max_points else 0.0) for i in _items(result)})


def _items(result: Any) -> list[Item]:
    """Detection per drift kind, then delay, then false alarms (weighted by what is detected), in raw points."""
    diags: list[str] = list(result.diagnostics)
    items, skills = _detection_items(result, diags)
    overall = sum(skills.values()) / len(skills)
    return [*items, _delay_item(result, skills, diags), _false_alarm_item(result, overall, diags)]


def _detection_items(result: Any, diags: list[str]) -> tuple[list[Item], dict[str, float]]:
    """One item per drift kind, and each kind's skill: detection above chance, in [0, 1]."""
    s = result.summaries
    base = (f"baselines: do-nothing detects 0% with 0 false alarms; always-alarm detects 100% at a "
            f"false-positive rate of 100% (chance 100%)")
    skills: dict[str, float] = {}
    items: list[Item] = []
    for kind in ("data", "concept", "label"):
        summ = s[kind]
        rate = summ.detection_rate or 0.0
        chance = summ.chance_detection_rate if summ.chance_detection_rate is not None else 0.0
        skill = above_chance(rate, chance)
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
    return items, skills


def _delay_item(result: Any, skills: dict[str, float], diags: list[str]) -> Item:
    """How soon detected drift was alarmed on, within the budget of windows; a kind never detected earns nothing."""
    s = result.summaries
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
    return Item(id="drift.delay", skill=SKILL, title=TITLES["drift.delay"],
                points=round(POINTS["drift.delay"] * delay_share, 6), max_points=POINTS["drift.delay"],
                feedback=fb.strip(),
                evidence=f"window {result.window_size} rows, label lag {result.label_lag_windows} windows, "
                         f"budget {budget} windows; always-alarm: delay 0",
                details={"budget_windows": budget, "share": round(delay_share, 6)})


def _false_alarm_item(result: Any, overall: float, diags: list[str]) -> Item:
    """False alarms on no-drift windows, weighted by ``overall`` detection: a silent config earns nothing here."""
    s = result.summaries
    fp = s["all"].false_positive_rate or 0.0
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
    return Item(id="drift.false-alarms", skill=SKILL, title=TITLES["drift.false-alarms"],
                points=round(POINTS["drift.false-alarms"] * share, 6), max_points=POINTS["drift.false-alarms"],
                feedback=fb,
                evidence=f"FP rate {fp:.3f} (limit {FP_LIMIT}), {pooled.false_alarms} false alarms; "
                         f"do-nothing: 0, always-alarm: FP rate 1.0",
                details={"false_positive_rate": round(fp, 6), "false_alarms": pooled.false_alarms,
                         "no_drift_windows": pooled.no_drift_windows, "diagnostics": diags})
