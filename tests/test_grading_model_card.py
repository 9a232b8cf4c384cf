"""The model card grader on planted cards, one per defect class, and its rubric file.

Each ``tests/fixtures/submissions/card_*/model_card.md`` plants one defect class (or one
reading the grader used to get wrong) into otherwise expert text, and is graded against
``contexts.yaml`` like the other planted submissions. ``pytest -s`` prints the table.
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from lab.grading.card_facts import extract_claims
from lab.grading.card_rubric import CARD_RUBRIC_PATH, CardRubricError, load_card_rubric, parse_card_rubric
from lab.grading.items import Item
from lab.grading.markdown import parse_markdown
from lab.grading.model_card import card_context_from_registry, grade_model_card
from lab.scenario.schema import load_scenario
from tests.test_grading_documents import CONTEXTS, card_ctx, item, pct, read

CARDS = ("expert", "incomplete", "confidently_wrong", "keyword_stuffed", "card_disparate_impact",
         "card_f1_at_threshold", "card_live_section", "card_metrics_off", "card_two_numbers", "card_wrong_group",
         "card_wrong_version", "card_boilerplate", "card_status_paste", "card_paraphrased")


@pytest.fixture(scope="module")
def cards() -> dict[str, list[Item]]:
    return {name: grade_model_card(read(name, "model_card.md"), card_ctx()) for name in CARDS}


def test_score_table_and_ordering(cards) -> None:
    print(f"\n{load_card_rubric().describe()}")
    for name, items in cards.items():
        print(f"{name:<24}{pct(items):>6.1f}%")
    score = {n: pct(i) for n, i in cards.items()}
    assert score["expert"] == pytest.approx(100)
    assert score["expert"] > score["incomplete"] > score["confidently_wrong"], score
    for low in ("keyword_stuffed", "card_boilerplate", "card_status_paste"):
        assert score[low] <= 12, (low, [(i.id, i.points) for i in cards[low] if i.points])


def test_a_correct_card_in_other_words_passes_every_item(cards) -> None:
    """Paraphrased headings, a version-column table, prose per-group rates, a live subsection."""
    card = cards["card_paraphrased"]
    assert [(i.id, i.feedback) for i in card if not i.passed or i.details["wrong"]] == []
    assert len(item(card, "card.metrics.match").details["live"]) == 2


# --------------------------------------------------------------------------- what a number is bound to


def test_a_lowest_to_highest_selection_rate_ratio_is_disparate_impact(cards) -> None:
    got = item(cards["card_disparate_impact"], "card.metrics.match")
    assert got.passed and not got.details["mismatches"], got.feedback
    assert "disparate_impact.gender" in got.feedback and "disparate_impact.age_band" in got.feedback


def test_a_number_after_at_is_the_threshold_not_the_metric(cards) -> None:
    got = item(cards["card_f1_at_threshold"], "card.metrics.match")
    assert got.passed and not got.details["mismatches"], got.feedback
    for key in ("f1", "precision", "recall", "decision_threshold"):
        assert key in got.feedback
    wrong = read("card_f1_at_threshold", "model_card.md").replace("F1 at 0.5 is 0.556", "F1 at 0.35 is 0.556")
    misstated = item(grade_model_card(wrong, card_ctx()), "card.metrics.match")
    assert ["decision_threshold: the card says 0.35, run 8c1f4e2a (v1) logged 0.5"] == misstated.details["mismatches"]


@pytest.mark.parametrize(
    "sentence, key, value",
    [
        ("The ROC AUC stands at 0.781.", "roc_auc", 0.781),
        ("Accuracy at the 0.5 decision threshold is 0.734.", "accuracy", 0.734),
        ("Precision @ 0.5: 0.579.", "precision", 0.579),
        ("We advance applications above a cut-off of 0.5; recall is 0.535.", "recall", 0.535),
        ("Accuracy at 73.4% is what the evaluation window gives.", "accuracy", 0.734),
        ("Selection rate: women at 0.26, men at 0.30.", "selection_rate.gender.female", 0.26),
        ("F1 and recall are taken at the 0.5 threshold; F1 is 0.556.", "f1", 0.556),
    ],
    ids=["value-verb-at", "at-the-threshold", "at-sign", "cut-off-then-value", "percent-after-at", "group-at-value",
         "taken-at-the-threshold"],
)
def test_threshold_cues_leave_the_value_to_its_metric(sentence, key, value) -> None:
    claims = extract_claims(parse_markdown(f"# resume-screener\n\n{sentence}\n"), card_ctx(), load_card_rubric())
    values = {c.key: c.value for c in claims}
    assert values.get(key) == pytest.approx(value), values
    assert all(c.value != 0.5 for c in claims if c.key != "decision_threshold"), claims


def test_an_alert_threshold_is_not_the_decision_threshold() -> None:
    text = "# resume-screener\n\nThe accuracy alert threshold is 0.70. The drift threshold is 0.05.\n"
    assert extract_claims(parse_markdown(text), card_ctx(), load_card_rubric()) == []


def test_live_figures_in_a_labelled_section_are_reported_not_graded(cards) -> None:
    got = item(cards["card_live_section"], "card.metrics.match")
    assert got.passed and not got.details["mismatches"], got.feedback
    assert len(got.details["live"]) == 5 and "reporting drift is good practice" in got.feedback
    assert item(cards["card_live_section"], "card.groups.gender").passed
    # the same figures outside a labelled section are graded, and are wrong
    unlabelled = read("card_live_section", "model_card.md").replace(
        "## Production monitoring (live, after the drift)\n\nThese are the champion's live figures on labelled "
        "production traffic since the applicant pool shifted on day 12, not the evaluation run: ", "Also, ")
    wrong = item(grade_model_card(unlabelled, card_ctx()), "card.metrics.match")
    assert not wrong.passed and any("0.702" in m for m in wrong.details["mismatches"]), wrong.feedback


@pytest.mark.parametrize(
    "text, expected",
    [
        ("In production, after the drift:\n\n| Metric | Value |\n|---|---|\n| ROC AUC | 0.70 |\n",
         [("roc_auc", "live")]),
        ("**Live metrics since the drift:**\n\n- ROC AUC 0.70\n- accuracy 0.68\n",
         [("roc_auc", "live"), ("accuracy", "live")]),
        ("The model in production (v1) reaches a ROC AUC of 0.781 on the evaluation window.",
         [("roc_auc", "evaluation")]),
        ("The selection rate ratio female/male is 0.87.", []),
        ("Four-fifths ratio (min/max selection rate) per attribute: gender 0.82, age band 0.78.",
         [("disparate_impact.gender", "evaluation"), ("disparate_impact.age_band", "evaluation")]),
    ],
    ids=["table-after-live-lead-in", "list-after-live-lead-in", "evaluation-wins", "two-group-ratio",
         "four-fifths-per-attribute"],
)
def test_population_and_metric_binding(text, expected) -> None:
    claims = extract_claims(parse_markdown(f"# resume-screener\n\n{text}\n"), card_ctx(), load_card_rubric())
    assert [(c.key, c.population) for c in claims] == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("For women the selection rate is 0.262 and the TPR 0.509.",
         [("selection_rate.gender.female", 0.262), ("tpr.gender.female", 0.509)]),
        ("For applicants aged 50+, the selection rate is 0.236 and the TPR 0.471.",
         [("selection_rate.age_band.50plus", 0.236), ("tpr.age_band.50plus", 0.471)]),
        ("ROC AUC 0.781, selection rate 0.262 for women.", [("roc_auc", 0.781), ("selection_rate.gender.female", 0.262)]),
        ("Selection rate 0.283, TPR 0.509 for women.", [("selection_rate", 0.283), ("tpr.gender.female", 0.509)]),
        ("For women the selection rate is 0.262, while the overall selection rate is 0.283.",
         [("selection_rate.gender.female", 0.262), ("selection_rate", 0.283)]),
    ],
    ids=["group-opens-the-clause", "age-band-opens-the-clause", "group-after-its-number", "trailing-group",
         "overall-breaks-the-group"],
)
def test_a_group_holds_for_its_unit_or_the_clause_it_opens(text, expected) -> None:
    claims = extract_claims(parse_markdown(f"# resume-screener\n\n{text}\n"), card_ctx(), load_card_rubric())
    assert [(c.key, c.value) for c in claims] == expected


def test_another_versions_numbers_are_checked_against_that_version() -> None:
    base = read("expert", "model_card.md")
    right = base + "\nThe challenger v2 reaches a ROC AUC of 0.804 and an accuracy of 0.748.\n"
    wrong = base + "\nThe challenger v2 reaches a ROC AUC of 0.90 and an accuracy of 0.748.\n"
    assert item(grade_model_card(right, card_ctx()), "card.metrics.match").passed
    got = item(grade_model_card(wrong, card_ctx()), "card.metrics.match")
    assert got.details["mismatches"] == ["roc_auc: the card says 0.90, run 3b9e0d7c (v2) logged 0.804"]
    assert 0 < got.points < got.max_points


# --------------------------------------------------------------------------- partial credit per metric


def test_one_misread_metric_costs_its_share_not_the_item(cards) -> None:
    expert = item(cards["expert"], "card.metrics.match")
    text = read("expert", "model_card.md").replace("an accuracy of 0.734", "an accuracy of 0.784")
    got = item(grade_model_card(text, card_ctx()), "card.metrics.match")
    shares = got.details["shares"]
    assert got.points == pytest.approx(expert.max_points * (shares - 2) / shares)  # its share lost, and one more
    assert got.details["wrong"] and "accuracy: the card says 0.784" in got.feedback


def test_every_metric_off_by_005_scores_clearly_below_a_correct_card(cards) -> None:
    off = cards["card_metrics_off"]
    for item_id in ("card.metrics.match", "card.groups.gender", "card.groups.age_band"):
        assert item(off, item_id).points == 0 and item(off, item_id).details["wrong"], item_id
    assert pct(off) <= pct(cards["expert"]) - 30


def test_quoting_two_numbers_does_not_beat_a_complete_card(cards) -> None:
    two = item(cards["card_two_numbers"], "card.metrics.match")
    assert two.details["matched"] == 2 and not two.details["mismatches"]
    assert two.points <= 0.5 * two.max_points < item(cards["expert"], "card.metrics.match").points
    assert "roc_auc" not in two.feedback.split("Missing for full credit")[-1]  # the headline is there
    assert "per-group values" in two.feedback


# --------------------------------------------------------------------------- the disadvantaged group


def test_the_group_named_disadvantaged_must_be_the_one_the_numbers_show(cards) -> None:
    right = item(cards["expert"], "card.groups.disadvantaged")
    assert right.passed and "50plus" in right.feedback
    wrong = item(cards["card_wrong_group"], "card.groups.disadvantaged")
    assert wrong.points == 0 and wrong.details["wrong"]
    assert "male is not below female" in wrong.feedback and "non_binary" in wrong.feedback
    assert item(cards["card_wrong_group"], "card.metrics.match").passed  # every number is right
    assert item(cards["card_wrong_group"], "card.section.ethical_considerations").points == 0


@pytest.mark.parametrize(
    "sentence, passes",
    [
        ("Non-binary applicants have the lowest selection rate.", True),
        ("Men have the lowest selection rate.", False),
        ("Applicants aged 50+ are advanced less often than applicants aged 18-29.", True),
        ("Qualified applicants aged 18-29 are advanced less often than those aged 50+.", False),
        ("Every group is selected at the same rate.", False),
        ("The youngest applicants, aged 18-29, are the lowest age band; fewer men than women applied.", None),
        ("The model must not disadvantage men.", None),
    ],
    ids=["lowest-right", "lowest-wrong", "lower-than-right", "lower-than-wrong", "parity", "not-a-claim",
         "negated"],
)
def test_disadvantaged_group_sentences(sentence, passes) -> None:
    got = item(grade_model_card(f"# resume-screener\n\n## Ethical considerations\n\n{sentence}\n", card_ctx()),
               "card.groups.disadvantaged")
    if passes is None:  # no claim: missing, not wrong
        assert got.points == 0 and not got.details["wrong"] and "does not say" in got.feedback, got.feedback
    else:
        assert got.passed == passes and got.details["wrong"] == (not passes), got.feedback


# --------------------------------------------------------------------------- the disadvantaged group, where a flag is adverse

CREDIT = "credit-concept-drift"  # a positive decision: flagged as likely default (adverse); 21-24 flagged most often


@pytest.fixture(scope="module")
def credit_cards() -> dict[str, list[Item]]:
    return {name: grade_model_card(read(name, "model_card.md"), card_ctx(CREDIT))
            for name in ("card_credit", "card_credit_wrong_group")}


def test_the_planted_contexts_say_what_their_scenarios_say_a_positive_decision_means() -> None:
    for sid in ("hiring-data-drift", "churn-label-drift", CREDIT):
        stated = load_scenario(sid).model.decision_threshold.positive_decision
        ctx = card_ctx(sid)
        assert (ctx.decision_meaning, ctx.positive_for_person) == (stated.meaning, stated.for_person), sid


def test_the_card_context_takes_the_decision_from_the_scenario() -> None:
    ctx = card_context_from_registry(load_scenario(CREDIT), CONTEXTS[CREDIT]["versions"], 1, ["gender", "age_band"])
    assert ctx.positive_for_person == "adverse" and ctx.decision_meaning.startswith("flagged as likely default")
    hiring = card_context_from_registry(load_scenario("hiring-data-drift"), [], 1, ["gender"])
    assert hiring.positive_for_person == "favourable"


def test_a_correct_credit_card_names_the_group_flagged_most_often(credit_cards) -> None:
    card = credit_cards["card_credit"]
    got = item(card, "card.groups.disadvantaged")
    assert got.passed and not got.details["wrong"], got.feedback
    assert "21-24 (age_band)" in got.feedback and "female (gender)" in got.feedback
    assert "flagged as likely default" in got.feedback
    assert [(i.id, i.feedback) for i in card if not i.passed or i.details["wrong"]] == []


def test_a_credit_card_naming_the_least_flagged_group_is_wrong(credit_cards) -> None:
    card = credit_cards["card_credit_wrong_group"]
    got = item(card, "card.groups.disadvantaged")
    assert got.points == 0 and got.details["wrong"], got.feedback
    # the truth, in the scenario's own terms
    assert "a positive decision means flagged as likely default" in got.feedback
    assert "21-24 most often (0.442; least often 65plus, 0.046)" in got.feedback
    assert "65plus is not the group with the highest selection rate" in got.feedback
    assert item(card, "card.section.ethical_considerations").points == 0
    assert item(card, "card.metrics.match").passed  # every number is right
    assert pct(card) < pct(credit_cards["card_credit"])


@pytest.mark.parametrize(
    "sentence, passes",
    [
        ("Applicants aged 21-24 are approved less often than applicants aged 50-64.", True),
        ("Applicants under 25 are declined far more often than older applicants.", True),
        ("Applicants aged 21–24 are flagged most often.", True),
        ("The highest rejection rate is for applicants aged 21-24.", True),
        ("Applicants aged 21-24 are more likely to be turned down than applicants aged 35-49.", True),
        ("Women are refused more often than men.", True),
        ("The lowest approval rate is for applicants aged 21-24.", True),
        ("Applicants aged 21-24 are flagged most often (0.44) and those aged 65+ least often (0.05).", True),
        ("Applicants aged 65+ have the highest approval rate and applicants aged 21-24 the lowest.", True),
        ("Applicants aged 21-24 are disadvantaged.", True),
        ("Applicants aged 65+ have the lowest selection rate.", None),  # true, but names no disadvantaged group
        ("The lowest selection rate is for applicants aged 65+, who are the most disadvantaged group.", False),
        ("Applicants aged 65+ are declined most often.", False),
        ("Men are refused more often than women.", False),
        ("Applicants aged 65+ are approved less often than applicants aged 21-24.", False),
        ("Applicants aged 21-24 are approved more often than applicants aged 65+.", False),
        ("Good borrowers aged 65+ are declined more often.", None),  # a TPR claim: not graded here
        ("Applicants aged 65+ are less often in arrears.", None),  # names no rate
    ],
    ids=["approved-less-often", "under-25-declined-more", "flagged-most-en-dash", "highest-rejection-rate",
         "more-likely-turned-down", "refused-more-often", "lowest-approval-rate", "most-and-least-in-one-clause",
         "highest-approval-then-the-lowest",
         "disadvantaged", "least-flagged-is-a-fact", "least-flagged-named-disadvantaged", "declined-most-wrong",
         "refused-wrong", "approved-less-wrong", "approved-more-wrong", "tpr-not-graded", "no-rate-not-graded"],
)
def test_credit_disadvantaged_group_sentences(sentence, passes) -> None:
    text = f"# credit-scorer\n\n## Ethical considerations\n\n{sentence}\n"
    got = item(grade_model_card(text, card_ctx(CREDIT)), "card.groups.disadvantaged")
    if passes is None:  # not a claim about who is disadvantaged, or not one with a clear meaning: missing, not wrong
        assert got.points == 0 and not got.details["wrong"] and "does not say" in got.feedback, got.feedback
        assert "adverse for the person" in got.feedback
    else:
        assert got.passed == passes and got.details["wrong"] == (not passes), got.feedback


@pytest.mark.parametrize(
    "sentence, passes",
    [
        ("Men are advanced more often than women.", True),
        ("Women are advanced more often than men.", False),
        ("Applicants aged 18-29 have the highest selection rate and applicants aged 50+ the lowest.", True),
        ("Qualified applicants aged 50+ are rejected more often than those aged 18-29.", True),
        ("Applicants aged 50+ are more likely to have employment gaps.", None),
    ],
    ids=["more-often-than-names-the-reference", "more-often-than-wrong", "highest-then-the-lowest",
         "rejected-more-often", "more-likely-about-something-else"],
)
def test_favourable_decisions_in_other_words(sentence, passes) -> None:
    """Where a positive decision is favourable (hiring), higher/most phrasing and adverse words read right too."""
    got = item(grade_model_card(f"# resume-screener\n\n## Ethical considerations\n\n{sentence}\n", card_ctx()),
               "card.groups.disadvantaged")
    if passes is None:
        assert got.points == 0 and not got.details["wrong"] and "does not say" in got.feedback, got.feedback
    else:
        assert got.passed == passes and got.details["wrong"] == (not passes), got.feedback


def test_a_cue_that_names_no_decision_leaves_the_group_to_the_one_that_does() -> None:
    """A guard, credited before and after: "more likely" here is about gaps, "advanced less often" the claim."""
    text = "Applicants aged 50+ are more likely to have employment gaps, so they are advanced less often."
    got = item(grade_model_card(f"# resume-screener\n\n{text}\n", card_ctx()), "card.groups.disadvantaged")
    assert got.passed and "50plus" in got.feedback, got.feedback


def test_the_same_sentence_reads_by_what_a_positive_decision_means() -> None:
    """"The lowest selection rate is for X, the most disadvantaged group": right where a positive
    decision is favourable (hiring: 50+ lowest), wrong where it is adverse (credit: 65+ is flagged least)."""
    hiring = "The lowest selection rate is for applicants aged 50+, who are the most disadvantaged group."
    assert item(grade_model_card(f"# resume-screener\n\n{hiring}\n", card_ctx()), "card.groups.disadvantaged").passed
    credit = hiring.replace("50+", "65+")
    got = item(grade_model_card(f"# credit-scorer\n\n{credit}\n", card_ctx(CREDIT)), "card.groups.disadvantaged")
    assert got.details["wrong"]
    flipped = item(grade_model_card(f"# resume-screener\n\n{hiring}\n",
                                    card_ctx(positive_for_person="adverse", decision_meaning="rejected")),
                   "card.groups.disadvantaged")
    assert flipped.details["wrong"] and "18-29 most often" in flipped.feedback  # hiring numbers read as flags


def test_disparate_impact_where_flags_are_adverse_compares_flag_rates() -> None:
    base = read("card_credit", "model_card.md")
    flags = base + "\nDisparate impact (lowest over highest selection rate): 0.103 for age band, 0.891 for gender.\n"
    got = item(grade_model_card(flags, card_ctx(CREDIT)), "card.metrics.match")
    assert got.passed and not got.details["mismatches"], got.feedback
    assert "compares flag rates, not approval rates" in got.feedback
    # the four-fifths reading of the same slice, a ratio of approval rates, is right too
    approvals = base + "\nDisparate impact of approval rates (lowest over highest): 0.585 for age band.\n"
    got = item(grade_model_card(approvals, card_ctx(CREDIT)), "card.metrics.match")
    assert got.passed and not got.details["mismatches"], got.feedback
    wrong = base + "\nDisparate impact (lowest over highest selection rate): 0.45 for age band.\n"
    got = item(grade_model_card(wrong, card_ctx(CREDIT)), "card.metrics.match")
    assert got.details["mismatches"] == ["disparate_impact.age_band: the card says 0.45, run 5e4d3c2b (v1) logged 0.103"]
    # where a positive decision is favourable, no such note and no second reading
    hiring = item(grade_model_card(read("card_disparate_impact", "model_card.md"), card_ctx()), "card.metrics.match")
    assert "flag rates" not in hiring.feedback


def test_an_approval_rate_where_flags_are_adverse_is_one_minus_the_selection_rate() -> None:
    text = "# credit-scorer\n\nThe approval rate is 0.558 for applicants aged 21-24 and 0.954 for those aged 65+.\n"
    claims = extract_claims(parse_markdown(text), card_ctx(CREDIT), load_card_rubric())
    assert [(c.key, c.value, c.approval) for c in claims] == [
        ("selection_rate.age_band.21-24", 0.442, True), ("selection_rate.age_band.65plus", 0.046, True)]
    got = item(grade_model_card(text.replace("0.954", "0.90"), card_ctx(CREDIT)), "card.groups.age_band")
    assert got.details["mismatches"] == ["selection_rate.age_band.65plus: the card says an approval rate of 0.90 "
                                         "(a selection rate of 0.1), run 5e4d3c2b (v1) logged 0.046"]


# --------------------------------------------------------------------------- wrong facts, boilerplate, pasting


def test_a_version_and_run_id_not_the_champions_are_wrong(cards) -> None:
    card = cards["card_wrong_version"]
    for item_id in ("card.registry.version", "card.registry.run-id"):
        got = item(card, item_id)
        assert got.points == 0 and got.details["wrong"], got.feedback
    assert "champion points at version 1" in item(card, "card.registry.version").feedback
    assert pct(card) <= pct(cards["expert"]) - 12


def test_wrong_facts_cost_at_least_their_absence(cards) -> None:
    wrong, absent = cards["confidently_wrong"], cards["incomplete"]
    for item_id in ("card.registry.run-id", "card.metrics.match", "card.groups.gender", "card.groups.disadvantaged"):
        assert item(wrong, item_id).points <= item(absent, item_id).points, item_id
    assert pct(wrong) < pct(absent)


SHORT_CORRECT = """# Model card: resume-screener

## Model details

This card documents resume-screener version 1, MLflow run 8c1f4e2a9b7d4c3e8f6a1b2c3d4e5f60.

## Quantitative analyses

Version 1 reaches a ROC AUC of 0.781 and an accuracy of 0.734; the selection rate is 0.262 for women and 0.302 for men.
"""


def test_a_short_correct_card_beats_a_complete_looking_wrong_one(cards) -> None:
    short = grade_model_card(SHORT_CORRECT, card_ctx())
    assert not any(i.details["wrong"] for i in short)
    assert item(short, "card.metrics.match").details["matched"] == 2  # AUC and accuracy, beside the per-group rates
    assert pct(cards["confidently_wrong"]) < pct(short) < pct(cards["expert"]) - 50


def test_generic_boilerplate_earns_little_per_section(cards) -> None:
    card = cards["card_boilerplate"]
    sections = [i for i in card if i.id.startswith("card.section.")]
    assert all(i.points <= 0.2 * i.max_points and "generic" in i.feedback for i in sections)
    assert item(card, "card.oversight").points <= 0.25 * item(card, "card.oversight").max_points


@pytest.mark.parametrize(
    "body, credited",
    [
        ("Model: resume-screener v1", True),
        ("Run: 8c1f4e2a9b7d4c3e8f6a1b2c3d4e5f60", True),
        ("Model: name", False),
        ("Model name, version, run id, MLflow, registry.", False),
        ("| Model | |\n|---|---|\n| resume-screener | |", False),  # one filled cell: a label, not a fact
        ("| Model | Version |\n|---|---|\n| resume-screener | 1 |", True),
    ],
    ids=["key-value-line", "run-id-line", "key-without-fact", "keywords", "one-cell-row", "two-cell-row"],
)
def test_a_one_fact_line_fills_a_section(body, credited) -> None:
    items = grade_model_card(f"# Card\n\n## Model details\n\n{body}\n", card_ctx())
    got = item(items, "card.section.model_details")
    assert got.passed is credited, got.feedback


def test_pasted_registry_facts_without_a_card_earn_little(cards) -> None:
    card = cards["card_status_paste"]
    run_id = item(card, "card.registry.run-id")
    assert 0 < run_id.points <= 0.25 * run_id.max_points and "document nothing" in run_id.feedback
    assert item(card, "card.metrics.match").points <= 0.25 * item(card, "card.metrics.match").max_points


# --------------------------------------------------------------------------- headings in other words

INTENDED = "TalentFlow recruiters use the ranking to decide which applicants to invite to an interview."
PARAPHRASED_HEADINGS = {
    "What it is for": ("card.section.intended_use", INTENDED),
    "How we measure it": ("card.section.metrics", "We report ROC AUC and, per gender and age band, the selection "
                                                  "rate and TPR."),
    "Who is affected": ("card.section.factors", "Applicants, whose results we break down by gender and age band."),
    # split over two sentences, so only the section binds "They" to the recruiters
    "People in the loop": ("card.oversight", "Recruiters review every ranked application. They can override the "
                                             "ranking, and a lead can pause the screener."),
    # no out-of-scope wording in the text: only the heading says what it is
    "Where it should not be used": ("card.use.intended-and-out-of-scope",
                                    "Rejecting applicants automatically, or ranking candidates for internal "
                                    "promotions."),
}


@pytest.mark.parametrize("heading", sorted(PARAPHRASED_HEADINGS))
def test_paraphrased_headings_are_accepted(heading) -> None:
    item_id, body = PARAPHRASED_HEADINGS[heading]
    lead = f"## Intended use\n\n{INTENDED}\n\n" if item_id == "card.use.intended-and-out-of-scope" else ""
    under = item(grade_model_card(f"# resume-screener\n\n{lead}## {heading}\n\n{body}\n", card_ctx()), item_id)
    assert under.passed, under.feedback
    elsewhere = item(grade_model_card(f"# resume-screener\n\n{lead}## Notes\n\n{body}\n", card_ctx()), item_id)
    assert not elsewhere.passed, elsewhere.feedback  # the heading is what made it count


def test_feedback_names_only_headings_that_are_accepted() -> None:
    rubric = load_card_rubric()
    empty = grade_model_card("# resume-screener\n\nNothing yet.\n", card_ctx())
    for spec in rubric.sections:
        feedback = item(empty, f"card.section.{spec.id}").feedback
        named = re.findall(r'"([^"]+)"', feedback.split(")")[0])
        assert named == list(spec.examples), feedback
        for heading in named:
            found = item(grade_model_card(f"# resume-screener\n\n## {heading}\n\nTBD.\n", card_ctx()),
                         f"card.section.{spec.id}")
            assert not found.feedback.startswith("No "), (heading, found.feedback)


# --------------------------------------------------------------------------- the rubric file

GOOD = yaml.safe_load(CARD_RUBRIC_PATH.read_text())


def _mutate(fn) -> str:
    data = copy.deepcopy(GOOD)
    fn(data)
    return yaml.safe_dump(data)


def _item(data, check):
    return next(i for i in data["items"] if i["check"] == check)


BAD_RUBRICS = {
    "points_not_100": (lambda d: _item(d, "metrics").update(points=20), "not 100"),
    "duplicate_ids": (lambda d: _item(d, "version").update(id="card.registry.model-name"), "repeated"),
    "unknown_check": (lambda d: _item(d, "uses").update(check="vibes"), "Input should be 'section'"),
    "unknown_metric": (lambda d: d["metrics"].update(vibes="x"), "unknown metric"),
    "bad_pattern": (lambda d: d["sections"][0].update(headings=["(unclosed"]), "invalid pattern"),
    "headline_not_a_metric": (lambda d: d.update(headline_metric="mape"), "headline_metric"),
    "alias_unknown": (lambda d: d["metric_aliases"].update(brier_score="log_loss"), "alias"),
    "gate_factor_above_1": (lambda d: d["substance_gate"].update(factor=2), "substance_gate"),
    "unknown_field": (lambda d: _item(d, "uses").update(colour="blue"), "colour"),
    "missing_version": (lambda d: d.pop("rubric_version"), "rubric_version"),
    "example_heading_not_accepted": (lambda d: d["sections"][1]["examples"].append("Miscellaneous"),
                                     "not accepted"),
    "oversight_example_not_accepted": (lambda d: d["oversight"]["examples"].append("Appendix"), "not accepted"),
}


def test_the_shipped_rubric_is_valid() -> None:
    rubric = load_card_rubric()
    assert rubric.rubric_version >= 2 and {s.id for s in rubric.sections} >= {"model_details", "caveats"}
    items = grade_model_card("x", card_ctx())
    assert {i.details["rubric_version"] for i in items} == {rubric.rubric_version}


@pytest.mark.parametrize("name", sorted(BAD_RUBRICS))
def test_each_card_rubric_rule_has_a_bad_fixture(name) -> None:
    fn, message = BAD_RUBRICS[name]
    with pytest.raises(CardRubricError) as exc:
        parse_card_rubric(_mutate(fn))
    assert message in str(exc.value), str(exc.value)


def test_a_card_rubric_that_is_not_yaml_is_a_clear_error() -> None:
    with pytest.raises(CardRubricError, match="not valid YAML"):
        parse_card_rubric("items: [\n")
