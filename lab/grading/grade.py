"""``grade(evidence, submission) -> Report``: the ten graders, over the scenario's graded tasks.

Each grader is a pure function of the evidence bundle and the submission; this module
only builds their contexts from the evidence (registry snapshot, answer key, the
scenario's risk class, the submitted monitoring thresholds) and combines the items
into a :class:`lab.grading.report.Report`. Nothing here calls a service, so
``lab grade --evidence`` re-grades without a server.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab import __version__
from lab.evidence.schema import FALLBACK_COMMANDS, Evidence
from lab.grading.datasheet import datasheet_context, grade_datasheet
from lab.grading.items import SKILLS, Item
from lab.grading.model_card import card_context_from_registry, grade_model_card
from lab.grading.release_graders import grade_rollback, grade_shadow
from lab.grading.report import Report, build_report
from lab.grading.runbook import RunbookContext, default_template, grade_runbook, load_rubric
from lab.evidence.submission import DATASHEET, MODEL_CARD, MONITORING, RUNBOOK, Submission
from lab.scenario.datafacts import TrainingData
from lab.scenario.generators import generator_class


def monitoring_thresholds(text: str | None) -> dict[str, float] | None:
    """The thresholds a runbook should quote, from a monitoring.yaml (None: absent or invalid).

    Keys: a column name for its own test, ``prediction`` for prediction drift,
    ``dataset_drift_share``, ``data_drift.default.threshold``, the performance metric
    (e.g. ``roc_auc``) for its floor and ``performance.max_drop``.

    >>> monitoring_thresholds("data_drift:\\n  columns: {age: {method: ks, threshold: 0.01}}\\n"
    ...                       "performance: {metric: roc_auc, min: 0.7}\\n")
    {'age': 0.01, 'roc_auc': 0.7}
    """
    if text is None:
        return None
    # heavy: keep off the start-up path
    from lab.monitoring.config import ConfigError, load_monitoring_config

    try:
        cfg = load_monitoring_config(text if "\n" in text else text + "\n")
    except ConfigError:
        return None
    out: dict[str, float] = {}
    dd = cfg.data_drift
    fields = dd.model_fields_set
    if dd.default.threshold is not None:
        out["data_drift.default.threshold"] = float(dd.default.threshold)
    for name, test in sorted(dd.columns.items()):
        if test.threshold is not None:
            out[name] = float(test.threshold)
    if "dataset_drift_share" in fields:
        out["dataset_drift_share"] = float(dd.dataset_drift_share)
    if cfg.prediction_drift is not None and cfg.prediction_drift.threshold is not None:
        out["prediction"] = float(cfg.prediction_drift.threshold)
    if cfg.performance is not None:
        if cfg.performance.min is not None:
            out[cfg.performance.metric] = float(cfg.performance.min)
        if cfg.performance.max_drop is not None:
            out["performance.max_drop"] = float(cfg.performance.max_drop)
    return out


def _card_items(ev: Evidence, sub: Submission | None) -> list[Item]:
    versions = []
    for v in ev.registry.versions:
        versions.append({"version": int(v["version"]), "run_id": v.get("run_id") or "",
                         "aliases": tuple(v.get("aliases") or ()), "metrics": dict(v.get("metrics") or {})})
    champion = ev.champion() or ev.answer_key.last_known_good_version
    generator = generator_class(ev.scenario.generator.name)
    ctx = card_context_from_registry(ev.scenario, versions, champion, generator.sensitive_names(),
                                     features=generator.feature_names())
    items = grade_model_card(sub.text(MODEL_CARD) if sub else None, ctx)
    if ev.registry.source in ("journal", "none"):
        note = f" (Registry: {ev.registry.note}.)"
        items = [i if i.passed or not i.id.startswith(("card.metrics", "card.groups")) else
                 replace(i, feedback=i.feedback + note) for i in items]
    return items


def training_data(ev: Evidence) -> TrainingData:
    """The run's training data facts: frozen in the bundle (schema 3 on), else recomputed from its
    scenario and seed (the same seeded rows training read)."""
    if ev.training_data is not None:
        return ev.training_data
    # heavy: keep off the start-up path (pandas, scikit-learn)
    from lab.scenario.datafacts import training_data_facts

    return training_data_facts(ev.scenario, ev.seed)


def _datasheet_items(ev: Evidence, sub: Submission | None) -> list[Item]:
    ctx = datasheet_context(training_data(ev), ev.champion() or ev.answer_key.last_known_good_version,
                            ev.scenario.model.name)
    return grade_datasheet(sub.text(DATASHEET) if sub else None, ctx)


def drift_config_useful(drift_items: list[Item]) -> bool | None:
    """Whether the replayed monitoring.yaml did better than its baselines (None: drift not graded).

    Do-nothing and always-alarm score 0 by construction. The drift grader also scores the
    config against reasonable baselines (the README example, Evidently's defaults) and
    says on every item whether it beat the better one by more than its noise
    (``details["useful"]``, raw skill above the baseline's by
    :data:`lab.grading.drift_grader.USEFUL_MARGIN`); items without that flag compare
    points with the better baseline's points on the same items
    (``details["baseline_points"]``, 0 when absent). So neither an always-alarm config
    nor the README example copied unchanged, quoted faithfully in the runbook, earns
    consistency points.

    >>> drift_config_useful([]) is None
    True
    >>> drift_config_useful([Item(id="drift.detect.data", skill="drift_thresholds", title="t", points=0.0,
    ...                           max_points=20.0, feedback="")])
    False
    >>> readme_copy = Item(id="drift.detect.data", skill="drift_thresholds", title="t", points=7.5, max_points=20.0,
    ...                    feedback="", details={"baseline_points": 7.0, "useful": False})
    >>> drift_config_useful([readme_copy])
    False
    >>> drift_config_useful([Item(id="drift.delay", skill="drift_thresholds", title="t", points=9.0,
    ...                           max_points=15.0, feedback="", details={"baseline_points": 5.0})])
    True
    """
    mine = [i for i in drift_items if i.skill == "drift_thresholds"]
    if not mine:
        return None
    flags = [i.details["useful"] for i in mine if isinstance(i.details.get("useful"), bool)]
    if flags:
        return all(flags)
    baseline = sum(float(i.details.get("baseline_points", 0.0) or 0.0) for i in mine)
    return sum(i.points for i in mine) > baseline + 1e-9


def _runbook_items(ev: Evidence, sub: Submission | None, thresholds: dict[str, float] | None,
                   config_useful: bool | None = None) -> list[Item]:
    commands = ev.manifest.lab_commands or list(FALLBACK_COMMANDS)  # bundles that list none
    registered = tuple(sorted(int(v["version"]) for v in ev.registry.versions if v.get("version") is not None))
    defective = ev.scenario.version_of("defective")
    ctx = RunbookContext(scenario_id=ev.scenario.id, risk_class=ev.scenario.risk.eu_ai_act_class,
                         risk_basis=ev.scenario.risk.basis, model_name=ev.scenario.model.name,
                         role=ev.scenario.risk.role, monitoring_thresholds=thresholds, config_useful=config_useful,
                         real_commands=tuple(commands), registered_versions=registered,
                         defective_versions=(defective,) if defective is not None else ())
    rubric = load_rubric()
    items = grade_runbook(sub.text(RUNBOOK) if sub else None, ctx, rubric=rubric)
    # the incident plan against the drill: who took the drill's decisions (`--by ROLE`)
    from lab.grading.incident_consistency import decisions_of, grade_incident_consistency

    consistent = grade_incident_consistency(sub.text(RUNBOOK) if sub else None, decisions_of(ev.journal),
                                            template=default_template(),
                                            details={"rubric_version": rubric.rubric_version,
                                                     "law_as_at": rubric.law_as_at.isoformat()})
    return items + ([consistent] if consistent is not None else [])


def grade(evidence: Evidence, submission: Submission | None, *, drift_suite: Any = None,
          graded_at: str | None = None, drift_cache: Path | None = None) -> Report:
    """Grade ``submission`` against ``evidence`` on the scenario's graded tasks; total out of 100.

    ``drift_suite`` replaces the hidden replay suite (tests use a small one to stay fast);
    ``drift_cache`` is a folder where the drift grader keeps its baselines' replays.
    """
    # heavy: keep off the start-up path
    from lab.grading.drift_grader import grade_drift_thresholds

    ev = evidence
    tasks = [s for s in SKILLS if s in ev.scenario.graded_tasks]
    thresholds = monitoring_thresholds(submission.text(MONITORING) if submission else None)
    items: list[Item] = []
    for task in tasks:
        if task == "shadow":
            items += grade_shadow(ev, submission)
        elif task == "rollback":
            items += grade_rollback(ev, submission)
        elif task == "canary":
            from lab.grading.canary_grader import grade_canary

            items += grade_canary(ev)
        elif task == "gates":
            from lab.grading.gate_grader import grade_gates

            items += grade_gates(ev, submission, cache_dir=drift_cache)
        elif task == "retraining":
            from lab.grading.retrain_grader import grade_retraining

            items += grade_retraining(ev, submission)
        elif task == "observability":
            from lab.grading.observability_grader import grade_observability

            items += grade_observability(ev, submission)
        elif task == "drift_thresholds":
            items += grade_drift_thresholds(ev, submission, suite=drift_suite, cache_dir=drift_cache)
        elif task == "model_card":
            items += _card_items(ev, submission)
        elif task == "pmm_runbook":
            useful = drift_config_useful(items) if "drift_thresholds" in tasks else None
            items += _runbook_items(ev, submission, thresholds, useful)
        elif task == "datasheet":
            items += _datasheet_items(ev, submission)
    rubric = load_rubric()
    sub_info: dict[str, Any] = {}
    if submission is not None:
        sub_info = {"files": {n: {"sha256": f.sha256, "bytes": f.size} for n, f in sorted(submission.files.items())},
                    "notes": list(submission.notes)}
    m = ev.manifest
    ev_info = {"created": m.created, "files": dict(sorted(m.files.items())), "journal_verified": m.journal_verified,
               "journal_error": m.journal_error, "registry_source": m.registry_source,
               "registry_note": ev.registry.note, "lab_version": m.lab_version}
    return build_report(
        items, tasks, scenario=ev.scenario.id, seed=ev.seed, law_as_at=rubric.law_as_at.isoformat(),
        rubric_version=rubric.rubric_version, graded_at=graded_at or datetime.now(timezone.utc).isoformat(),
        lab_version=__version__, problems=[p.to_dict() for p in submission.problems] if submission else [],
        submission=sub_info, evidence=ev_info,
    )
