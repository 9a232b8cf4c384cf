"""The document graders (model card, post-market monitoring runbook) on planted submissions.

Planted submissions live in ``tests/fixtures/submissions/<name>/`` and are graded against
``contexts.yaml`` (a registry snapshot and monitoring.yaml thresholds); ``templates`` are
the untouched files in ``runbooks/``. ``pytest -s`` prints the score table.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from lab.grading.items import Item
from lab.grading.markdown import has_placeholder, is_keyword_list, label_numbers, parse_markdown
from lab.grading.model_card import CardContext, grade_model_card
from lab.grading.runbook import RUBRIC_PATH, RubricError, RunbookContext, grade_runbook, load_rubric, parse_rubric

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "fixtures" / "submissions"
TEMPLATES = ROOT / "runbooks"
CONTEXTS = yaml.safe_load((SUBMISSIONS / "contexts.yaml").read_text())
PLANTED = ("expert", "incomplete", "templates", "keyword_stuffed", "confidently_wrong")
HIRING = "hiring-data-drift"
CHURN = "churn-label-drift"


def card_ctx(sid: str = HIRING, **overrides) -> CardContext:
    c = CONTEXTS[sid]
    fields = dict(scenario_id=sid, risk_class=c["risk_class"], risk_basis=c["risk_basis"], model_name=c["model_name"],
                  champion_version=c["champion_version"], versions=c["versions"],
                  sensitive_attributes=c["sensitive_attributes"], domain=c.get("domain", ""), features=tuple(c.get("features", ())))
    if "positive_decision" in c:
        fields.update(decision_meaning=c["positive_decision"]["meaning"],
                      positive_for_person=c["positive_decision"]["for_person"])
    return CardContext(**{**fields, **overrides})


def runbook_ctx(sid: str = HIRING, **overrides) -> RunbookContext:
    c = CONTEXTS[sid]
    fields = dict(scenario_id=sid, risk_class=c["risk_class"], risk_basis=c["risk_basis"], model_name=c["model_name"],
                  monitoring_thresholds=c["monitoring_thresholds"], real_commands=tuple(c["real_commands"]))
    return RunbookContext(**{**fields, **overrides})


def read(name: str, file: str) -> str | None:
    path = (TEMPLATES if name == "templates" else SUBMISSIONS / name) / file
    return path.read_text() if path.exists() else None


def pct(items: list[Item]) -> float:
    return 100.0 * sum(i.points for i in items) / sum(i.max_points for i in items)


def item(items: list[Item], item_id: str) -> Item:
    return next(i for i in items if i.id == item_id)


@pytest.fixture(scope="module")
def graded() -> dict[str, tuple[list[Item], list[Item]]]:
    return {
        name: (grade_model_card(read(name, "model_card.md"), card_ctx()),
               grade_runbook(read(name, "post_market_monitoring.md"), runbook_ctx()))
        for name in PLANTED
    }


# --------------------------------------------------------------------------- the planted submissions


def test_score_table(graded) -> None:
    rubric = load_rubric()
    print(f"\n{rubric.describe()}; scenario {HIRING}")
    print(f"{'submission':<20}{'model_card':>12}{'pmm_runbook':>13}")
    for name, (card, runbook) in graded.items():
        print(f"{name:<20}{pct(card):>11.1f}%{pct(runbook):>12.1f}%")
    card, runbook = graded["expert"]
    assert pct(card) >= 85 and pct(runbook) >= 85


@pytest.mark.parametrize("name", [n for n in PLANTED if n != "expert"])
def test_expert_is_far_above_every_other_submission(graded, name) -> None:
    card, runbook = graded[name]
    assert pct(card) <= 50, [(i.id, i.points) for i in card if i.points]
    assert pct(runbook) <= 50, [(i.id, i.points) for i in runbook if i.points]


@pytest.mark.parametrize("name", ["templates", "keyword_stuffed"])
def test_templates_and_keyword_stuffing_score_near_zero(graded, name) -> None:
    card, runbook = graded[name]
    assert pct(card) <= 15, [(i.id, i.points) for i in card if i.points]
    assert pct(runbook) <= 15, [(i.id, i.points) for i in runbook if i.points]


def test_every_expert_item_passes(graded) -> None:
    card, runbook = graded["expert"]
    assert [i.id for i in card + runbook if not i.passed] == []


@pytest.mark.parametrize(
    "file, item_id, mentions",
    [
        ("post_market_monitoring.md", "pmm.art73-2.deadline", ["30 days", "15 days", "Art. 73(2)"]),
        ("post_market_monitoring.md", "pmm.art73-3.deadline", ["7 days", "2 days"]),
        ("post_market_monitoring.md", "pmm.art73-4.deadline", ["15 days", "10 days"]),
        ("post_market_monitoring.md", "pmm.art19.log-retention", ["3 months", "6 months"]),
        ("post_market_monitoring.md", "pmm.art18.tech-doc-retention", ["5 years", "10 years"]),
        ("post_market_monitoring.md", "pmm.scope.classification", ["minimal risk", "high-risk", "4(a)"]),
        ("post_market_monitoring.md", "pmm.config.thresholds-match", ["0.65", "0.72", "0.05", "0.01"]),
        ("post_market_monitoring.md", "pmm.art73-1.recipient", ["market surveillance authority"]),
        ("post_market_monitoring.md", "pmm.art20.rollback", ["lab revert"]),
        ("post_market_monitoring.md", "pmm.art73-6.evidence-freeze", ["before the evidence is preserved"]),
        ("model_card.md", "card.metrics.match", ["0.86", "0.781", "0.81", "0.734"]),
        ("model_card.md", "card.registry.run-id", ["version 2"]),
        ("model_card.md", "card.groups.gender", ["0.31", "0.262"]),
        ("model_card.md", "card.groups.age_band", ["0.30", "0.236"]),
    ],
)
def test_confidently_wrong_loses_the_specific_items(graded, file, item_id, mentions) -> None:
    card, runbook = graded["confidently_wrong"]
    got = item(runbook if file.startswith("post") else card, item_id)
    assert got.points <= 0 and not got.passed  # the runbook's wrong items cost points: tests/test_grading_runbook.py
    for text in mentions:
        assert text in got.feedback, (text, got.feedback)


def test_wrong_facts_are_flagged_as_wrong_not_missing(graded) -> None:
    _, runbook = graded["confidently_wrong"]
    wrong = {i.id for i in runbook if i.details["wrong"]}
    assert {"pmm.art73-2.deadline", "pmm.scope.classification", "pmm.config.thresholds-match",
            "pmm.art20.rollback"} <= wrong
    _, incomplete = graded["incomplete"]
    assert not any(i.details["wrong"] for i in incomplete)


def test_missing_files_score_zero_and_say_so() -> None:
    card = grade_model_card(None, card_ctx())
    assert all(i.points == 0 and i.feedback == "model_card.md is missing." for i in card)
    runbook = grade_runbook(None, runbook_ctx())
    assert all(i.points == 0 and "missing" in i.feedback for i in runbook)


def test_same_input_gives_identical_items() -> None:
    for name in ("expert", "confidently_wrong"):
        assert grade_model_card(read(name, "model_card.md"), card_ctx()) == \
            grade_model_card(read(name, "model_card.md"), card_ctx())
        assert grade_runbook(read(name, "post_market_monitoring.md"), runbook_ctx()) == \
            grade_runbook(read(name, "post_market_monitoring.md"), runbook_ctx())


@pytest.mark.parametrize("sid, risk_class", [(HIRING, "high"), (CHURN, "minimal"),
                                             ("credit", "high")])
def test_max_points_sum_to_100(sid, risk_class) -> None:
    basis = "Annex III point 5(b): credit" if sid == "credit" else CONTEXTS.get(sid, CONTEXTS[HIRING])["risk_basis"]
    base = HIRING if sid == "credit" else sid
    card = grade_model_card("", card_ctx(base, risk_class=risk_class, risk_basis=basis))
    runbook = grade_runbook("", runbook_ctx(base, risk_class=risk_class, risk_basis=basis))
    assert sum(i.max_points for i in card) == pytest.approx(100)
    assert sum(i.max_points for i in runbook) == pytest.approx(100)
    ids = {i.id for i in runbook}
    assert ("pmm.art27.fria" in ids) == (sid == "credit")
    assert ("pmm.art26-7.workers" in ids) == (sid == HIRING)
    assert ("pmm.art73-2.deadline" in ids) == (risk_class == "high")


# --------------------------------------------------------------------------- over-claiming


VOLUNTARY = "Art. 72 and 73 do not bind this system; we follow them voluntarily, as good practice under Art. 95.\n"


def test_churn_over_claiming_costs_points_against_the_same_runbook_marked_voluntary() -> None:
    overclaim = read("churn_overclaim", "post_market_monitoring.md")
    assert overclaim is not None
    voluntary = overclaim.replace("## Owners\n", VOLUNTARY + "\n## Owners\n")
    ctx = runbook_ctx(CHURN)
    over, vol = grade_runbook(overclaim, ctx), grade_runbook(voluntary, ctx)
    penalty = item(over, "pmm.scope.overclaim")
    assert penalty.points < 0 and penalty.max_points == 0 and "over-claims legal duties" in penalty.feedback.lower()
    assert item(vol, "pmm.scope.overclaim").points == 0
    assert sum(i.points for i in over) < sum(i.points for i in vol)
    others = {i.id: i.points for i in vol if i.id != "pmm.scope.overclaim"}
    assert others == {i.id: i.points for i in over if i.id != "pmm.scope.overclaim"}


def test_calling_a_churn_model_high_risk_is_wrong_and_saying_it_is_not_is_right() -> None:
    ctx = runbook_ctx(CHURN)
    wrong = item(grade_runbook("The churn predictor is a high-risk AI system.", ctx), "pmm.scope.classification")
    right = item(grade_runbook("The churn predictor is not a high-risk AI system: churn prediction is not listed "
                               "in Annex III.", ctx), "pmm.scope.classification")
    assert wrong.points == 0 and wrong.details["wrong"]
    assert right.passed


def test_wrong_annex_point_fails_classification() -> None:
    got = item(grade_runbook("The screener is high-risk under Annex III point 5(b).", runbook_ctx()),
               "pmm.scope.classification")
    assert got.points == 0 and "5(b)" in got.feedback and "4(a)" in got.feedback


@pytest.mark.parametrize(
    "text, passes",
    [
        ("The screener is high-risk under Annex III point 4(a); the Art. 6(3) exception does not apply.", True),
        ("The screener is listed in Annex III point 4(a), but the Art. 6(3) exception for narrow procedural tasks "
         "applies, so it is not high-risk.", False),
    ],
    ids=["exception-denied", "exception-claimed"],
)
def test_the_art_6_3_exception_is_wrong_only_when_claimed(text, passes) -> None:
    got = item(grade_runbook(text, runbook_ctx()), "pmm.scope.classification")
    assert got.passed == passes, got.feedback


# --------------------------------------------------------------------------- where facts may be


DEADLINE_VARIANTS = {
    "metadata": "---\nserious_incident_report_days: 15\n---\n# Plan\n",
    "table": "# Plan\n\n| Case | Deadline |\n|---|---|\n| Serious incident | 15 days |\n",
    "prose": "# Plan\n\nSerious incidents are reported within 15 days of becoming aware of them.\n",
}
THRESHOLD_VARIANTS = {
    "metadata": "---\nthresholds:\n  roc_auc: 0.72\n  years_experience: 0.01\n---\n# Plan\n",
    "table": "# Plan\n\n| Metric | Alert threshold |\n|---|---|\n| roc_auc | 0.72 |\n| years_experience | 0.01 |\n",
    "prose": "# Plan\n\nWe page when roc_auc falls below 0.72. Drift of years_experience alerts at a KS p-value "
             "below 0.01.\n",
}
METRIC_VARIANTS = {
    "metadata": "---\nmodel-index:\n- name: resume-screener\n  results:\n  - metrics:\n"
                "    - {type: roc_auc, value: 0.781}\n    - {type: accuracy, value: 0.734}\n---\n# resume-screener\n",
    "table": "# resume-screener\n\n| Metric | Value |\n|---|---|\n| ROC AUC | 0.781 |\n| Accuracy | 73.4% |\n",
    "prose": "# resume-screener\n\nOn the evaluation window the model reaches a ROC AUC of 0.781 and an accuracy of "
             "0.734.\n",
}


@pytest.mark.parametrize("where", ["metadata", "table", "prose"])
def test_a_fact_counts_in_metadata_tables_and_prose_alike(where) -> None:
    deadline = item(grade_runbook(DEADLINE_VARIANTS[where], runbook_ctx()), "pmm.art73-2.deadline")
    assert deadline.passed, deadline.feedback
    thresholds = item(grade_runbook(THRESHOLD_VARIANTS[where], runbook_ctx()), "pmm.config.thresholds-match")
    assert thresholds.points > 0 and "roc_auc" in thresholds.feedback and "years_experience" in thresholds.feedback
    metrics = item(grade_model_card(METRIC_VARIANTS[where], card_ctx()), "card.metrics.match")
    assert metrics.details["matched"] == 2 and not metrics.details["mismatches"], metrics.feedback


@pytest.mark.parametrize(
    "text",
    [
        "Serious incident, 15 days, death, 10 days, widespread, 2 days, market surveillance authority, logs, 6 months.",
        "Serious incidents are handled by the compliance officer. We review the dashboards every 15 days.",
        "# Serious incidents\n\nSee the compliance wiki.\n\n# Dashboards\n\nThe dashboard keeps the last 15 days.\n",
    ],
    ids=["keyword-list", "number-in-another-sentence", "frequency-under-another-heading"],
)
def test_keywords_without_the_fact_in_context_do_not_score(text) -> None:
    got = item(grade_runbook(text, runbook_ctx()), "pmm.art73-2.deadline")
    assert got.points == 0 and not got.details["wrong"], got.feedback


def test_a_stricter_internal_deadline_earns_part_of_the_points() -> None:
    got = item(grade_runbook("Serious incidents are reported within 5 days.", runbook_ctx()), "pmm.art73-2.deadline")
    assert 0 < got.points < got.max_points and "15 days" in got.feedback


def test_specific_deadlines_are_not_mistaken_for_the_general_one() -> None:
    text = ("Serious incidents are reported not later than 15 days after we become aware, 10 days in case of death "
            "and 2 days for widespread infringements. If the infringement is widespread, the serious-incident "
            "report is due within 2 days.")
    items = grade_runbook(text, runbook_ctx())
    for item_id in ("pmm.art73-2.deadline", "pmm.art73-3.deadline", "pmm.art73-4.deadline"):
        assert item(items, item_id).passed, item(items, item_id).feedback


def test_group_names_with_plus_match_the_logged_plus_names() -> None:
    text = ("# resume-screener\n\n| Age band | Selection rate | TPR |\n|---|---|---|\n| 18-29 | 0.301 | 0.552 |\n"
            "| 30-39 | 0.296 | 0.545 |\n| 40-49 | 0.271 | 0.521 |\n| 50+ | 0.236 | 0.471 |\n")
    got = item(grade_model_card(text, card_ctx()), "card.groups.age_band")
    assert got.feedback.startswith("Selection rate and TPR match MLflow for every age_band group"), got.feedback


# --------------------------------------------------------------------------- templates and parsing


def test_templates_give_no_answers() -> None:
    for file in ("model_card.md", "post_market_monitoring.md"):
        text = (TEMPLATES / file).read_text()
        for fact in ("15 days", "10 days", "2 days", "6 months", "10 years", "0.72", "0.01", "resume-screener",
                     "churn-predictor", "credit-scorer", "4(a)", "5(b)"):
            assert fact not in text, (file, fact)


def test_template_text_is_recognised() -> None:
    assert has_placeholder("[More Information Needed]") and has_placeholder("TODO: fill") and \
        has_placeholder("{{ model_id }}") and has_placeholder("<fill in the owner>") and has_placeholder("Lorem ipsum")
    template = (TEMPLATES / "model_card.md").read_text()
    copied_line = "The purpose, the intended users (who sees the output, who decides), the setting,"
    uncommented = template.replace("<!--", "").replace("-->", "")
    doc = parse_markdown(f"# Card\n\n## Intended use\n\n{copied_line}\n", template=uncommented)
    assert doc.content == ()
    assert is_keyword_list("Human oversight, AI literacy, owners, data sources, metrics and thresholds.")


def test_numbers_are_labelled_by_the_nearest_mention_in_their_clause() -> None:
    doc = parse_markdown("Selection rate: female 0.262, male 0.301. ROC AUC 0.78 and accuracy 0.73; it advances 28%.")
    labels = {"metric": {"sr": "selection rate", "auc": "roc auc", "acc": "accuracy"},
              "group": {"f": "female", "m": "(?<!fe)male"}}
    got = [(n.number.raw, n.labels["metric"], n.labels["group"]) for n in label_numbers(doc, labels)]
    assert got == [("0.262", "sr", "f"), ("0.301", "sr", "m"), ("0.78", "auc", None), ("0.73", "acc", None),
                   ("28%", None, None)]


# --------------------------------------------------------------------------- the rubric file

GOOD_RUBRIC = yaml.safe_load(RUBRIC_PATH.read_text())


def _mutate(fn) -> str:
    data = copy.deepcopy(GOOD_RUBRIC)
    fn(data)
    return yaml.safe_dump(data)


def _find(data, item_id):
    return next(i for i in data["items"] if i["id"] == item_id)


BAD_RUBRICS = {
    "duplicate_ids": (lambda d: _find(d, "pmm.art19.log-retention").update(id="pmm.art73-2.deadline"), "repeated"),
    "positive_penalty": (lambda d: _find(d, "pmm.scope.overclaim").update(points=5), "penalty"),
    "negative_points": (lambda d: _find(d, "pmm.art4.ai-literacy").update(points=-1), "must be positive"),
    "bad_pattern": (lambda d: _find(d, "pmm.art73-2.deadline")["check"].update(triggers=["(unclosed"]),
                    "invalid pattern"),
    "two_bounds": (lambda d: _find(d, "pmm.art73-2.deadline")["check"].update(at_least=1), "exactly one of"),
    "mixed_family_units": (lambda d: _find(d, "pmm.art19.log-retention")["check"].update(family="incident-deadlines"),
                           "mixes units"),
    "unknown_check_kind": (lambda d: _find(d, "pmm.art4.ai-literacy")["check"].update(kind="vibes"), "vibes"),
    "unknown_risk_class": (lambda d: _find(d, "pmm.art4.ai-literacy").update(applies_to=["spicy"]), "applies_to"),
    "need_exceeds_parts": (lambda d: _find(d, "pmm.art14.human-oversight")["check"].update(need=9), "need is 9"),
    "missing_law_as_at": (lambda d: d.pop("law_as_at"), "law_as_at"),
    "unknown_field": (lambda d: _find(d, "pmm.art4.ai-literacy").update(colour="blue"), "colour"),
}


def test_the_shipped_rubric_is_valid_and_prints_its_law_date() -> None:
    rubric = load_rubric()
    assert len(rubric.items) >= 22
    assert rubric.describe().endswith(rubric.law_as_at.isoformat())
    items = grade_runbook("x", runbook_ctx())
    assert {i.details["law_as_at"] for i in items} == {rubric.law_as_at.isoformat()}
    assert all(i.citation is None or i.citation.startswith(("AI Act", "Practice:")) for i in items)  # Practice: the lab's own, never law


@pytest.mark.parametrize("name", sorted(BAD_RUBRICS))
def test_each_rubric_rule_has_a_bad_fixture(name) -> None:
    fn, message = BAD_RUBRICS[name]
    with pytest.raises(RubricError) as exc:
        parse_rubric(_mutate(fn))
    assert message in str(exc.value), str(exc.value)


def test_a_rubric_that_is_not_yaml_is_a_clear_error() -> None:
    with pytest.raises(RubricError, match="not valid YAML"):
        parse_rubric("items: [\n")


def test_a_rubric_goes_through_the_safe_yaml_guard() -> None:
    # lab.core.safe_yaml refuses anchors and aliases ("billion laughs") for rubrics as for user files
    with pytest.raises(RubricError, match=r"line 1: not valid YAML: anchors and aliases"):
        parse_rubric("rubric_version: &v 1\nlaw_as_at: *v\n")
    # a key written twice would silently drop a rule under yaml.safe_load
    text = RUBRIC_PATH.read_text(encoding="utf-8")
    with pytest.raises(RubricError, match=r"line \d+: rubric_version is written twice"):
        parse_rubric(text + "\nrubric_version: 99\n")
