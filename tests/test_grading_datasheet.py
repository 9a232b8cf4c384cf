"""The datasheet grader on planted datasheets, its rubric, and the training data facts it reads.

The planted submissions' ``datasheet.md`` (``expert``: strong and correct; ``incomplete``: correct
but half written; ``confidently_wrong``: the expert's text with wrong numbers;
``keyword_stuffed``: keyword lists; ``datasheet_generic``: text that fits any dataset;
``datasheet_empty``; and the template itself) are graded against
``datasheet_facts.json``: the facts of hiring-data-drift's training data at seed 7 (the seed
of the planted drill in tests/grading_evidence.py), frozen; a test holds them to the seeded
rows. ``pytest -s`` prints the score table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.errors import RubricError
from lab.grading.datasheet import datasheet_context, grade_datasheet
from lab.grading.datasheet_facts import extract_claims
from lab.grading.datasheet_rubric import DATASHEET_RUBRIC_PATH, load_datasheet_rubric, parse_datasheet_rubric
from lab.grading.items import Item
from lab.grading.markdown import parse_markdown
from lab.scenario.datafacts import TrainingData, training_data_facts
from lab.scenario.schema import load_scenario, resolve

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "fixtures" / "submissions"
FACTS = TrainingData.model_validate_json((SUBMISSIONS / "datasheet_facts.json").read_text())
SHEETS = ("expert", "incomplete", "datasheet_generic", "confidently_wrong", "templates", "keyword_stuffed",
          "datasheet_empty")


def ctx(champion: int = 1):
    return datasheet_context(FACTS, champion, "resume-screener")


def read(name: str) -> str:
    if name == "templates":
        return (ROOT / "runbooks" / "datasheet.md").read_text()
    return (SUBMISSIONS / name / "datasheet.md").read_text()


def pct(items: list[Item]) -> float:
    return 100.0 * sum(i.points for i in items) / sum(i.max_points for i in items)


def item(items: list[Item], item_id: str) -> Item:
    return next(i for i in items if i.id == item_id)


def graded(text: str, champion: int = 1) -> list[Item]:
    return grade_datasheet(text, ctx(champion))


@pytest.fixture(scope="module")
def sheets() -> dict[str, list[Item]]:
    return {name: graded(read(name)) for name in SHEETS}


def test_planted_datasheets_rank_as_an_expert_would(sheets) -> None:
    print(f"\n{load_datasheet_rubric().describe()}")
    score = {n: pct(i) for n, i in sheets.items()}
    for name, s in score.items():
        print(f"{name:<26}{s:>6.1f}%")
    assert score["expert"] >= 85
    assert score["expert"] > score["incomplete"] > score["confidently_wrong"], score
    assert score["incomplete"] > score["datasheet_generic"], score
    for low in ("templates", "keyword_stuffed", "datasheet_empty"):
        assert score[low] <= 10, (low, [(i.id, i.points) for i in sheets[low] if i.points])
    assert score["confidently_wrong"] <= 50


def test_every_expert_item_passes(sheets) -> None:
    assert [(i.id, i.feedback) for i in sheets["expert"] if not i.passed] == []


def test_wrong_numbers_cost_more_than_missing_ones(sheets) -> None:
    wrong, missing = sheets["confidently_wrong"], sheets["datasheet_generic"]
    for item_id, said in (("ds.rows", "45,000"), ("ds.period", "days -75 to -10"), ("ds.label-delay", "7 days"),
                          ("ds.base-rate", "0.31")):
        got = item(wrong, item_id)
        assert got.points < 0 and got.details["wrong"] and said in got.feedback, (item_id, got.feedback)
        assert item(missing, item_id).points == 0 and not item(missing, item_id).details["wrong"]
    gender = item(wrong, "ds.group-base-rates.gender")
    assert gender.details["wrong_groups"] == ["female"] and gender.details["right"] == ["male", "non_binary"]
    assert 0 < gender.points < gender.max_points  # the wrong group costs its own share, not the item
    assert "0.42 for female" in gender.feedback and "0.371" in gender.feedback
    assert item(wrong, "ds.section.composition").details["wrong"]
    assert item(wrong, "ds.features").passed and item(wrong, "ds.sensitive").passed  # right facts keep their points


def test_a_missing_file_scores_zero_and_says_so() -> None:
    items = grade_datasheet(None, ctx())
    assert sum(i.max_points for i in items) == pytest.approx(100)
    assert all(i.points == 0 and i.feedback == "datasheet.md is missing." for i in items)


def test_the_skill_never_goes_below_zero() -> None:
    text = ("# Data\n\nThe training set holds 90,000 rows. Labels arrive after 10 days. The base rate is 0.9. "
            "Training rows were collected on days -200 to -150.\n")
    items = graded(text)
    assert sum(i.points for i in items) == pytest.approx(0, abs=1e-5)
    assert any("capped_from" in i.details for i in items)


# --------------------------------------------------------------------------- what a number is bound to


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The training set holds 30,000 rows.", [("rows", "train", 30000.0, True)]),
        ("About 29,500 applications were used for training.", [("rows", "train", 29500.0, True)]),
        ("The evaluation set has 6,000 rows.", [("rows", "eval", 6000.0, True)]),
        ("600 rows per day arrive.", []),
        ("Applicants under 30 are advanced less often.", []),
        ("Rows were collected on days -60 to -10.", [("window_range", "train", -60.0, True)]),
        ("The window spans days -60 to -11, inclusive.", [("window_range", "train", -60.0, True)]),
        ("The training window covers 50 days.", [("window_length", "train", 50.0, True)]),
        ("The training window covers 40 days.", [("window_length", "train", 40.0, False)]),
        ("Rows come from 60 to 10 days before deployment, collected in one window.",
         [("window_length", "train", 10.0, None)]),  # the window's end, not its length: not judged
        ("Labels arrive 3 days after the application.", [("delay", "label", 3.0, True)]),
        ("Ground truth is known with a delay of 72 hours.", [("delay", "label", 3.0, True)]),
        ("Labels arrive 5 days after the application.", [("delay", "label", 5.0, False)]),
        ("The base rate of the training set is 36.5%.", [("rate", "overall", 0.365, True)]),
        ("For women the base rate is 0.371.", [("rate", "gender\0female", 0.371, True)]),
        ("Applicants aged 50+ have a base rate of 0.45.", [("rate", "age_band\x0050plus", 0.45, False)]),
        ("The evaluation window's base rate is 0.31.", []),
        ("After the drift the live base rate rose to 0.45.", []),
        ("Version 2 was trained on 48,000 rows.", [("rows", "train", 48000.0, None)]),
        ("The false positive rate is 0.12.", []),
    ],
    ids=["rows", "rows-within-tolerance", "eval-rows", "per-day", "age-not-rows", "range", "inclusive-end",
         "length", "wrong-length", "window-ends-not-length", "delay", "delay-hours", "wrong-delay", "percent-rate",
         "group-opens-clause", "wrong-group-rate", "eval-rate-not-checked", "live-rate-not-checked",
         "another-versions-rows", "false-positive-rate"],
)
def test_each_fact_is_bound_to_its_own_subject(text, expected) -> None:
    sheet_ctx = ctx()
    from lab.grading.datasheet import Datasheet

    d = Datasheet(parse_markdown(f"# Data\n\n{text}\n"), sheet_ctx, load_datasheet_rubric())
    got = [(c.kind, c.subject, c.value, ok) for c, ok in d.judged]
    assert [(k, s, pytest.approx(v), ok) for k, s, v, ok in expected] == got


def test_a_label_delay_is_never_read_as_a_window() -> None:
    claims = extract_claims(parse_markdown("# Data\n\nLabels for the training window arrive after 3 days.\n"),
                            load_datasheet_rubric(), {})
    assert [c.kind for c in claims] == ["delay"]


def test_saying_a_sensitive_attribute_is_a_model_input_is_wrong() -> None:
    base = read("expert")
    wrong = base.replace("they are kept for fairness slices and are not\nmodel inputs",
                         "they are kept for fairness slices.\nGender is used as a model input")
    assert wrong != base
    got = item(graded(wrong), "ds.sensitive")
    assert got.points < 0 and got.details["wrong"] and "gender" in got.feedback


def test_credit_age_is_an_input_but_age_band_is_sensitive() -> None:
    scenario, _ = resolve(load_scenario("credit-concept-drift"), 7)
    facts = training_data_facts(scenario, 7)
    text = ("# Data\n\n## Composition\n\nAge is a model input, in whole years. Gender and age band are sensitive "
            "attributes, kept for fairness slices only and not model inputs.\n")
    got = item(grade_datasheet(text, datasheet_context(facts, 1, "credit-scorer")), "ds.sensitive")
    assert got.points > 0 and not got.details["wrong"], got.feedback


def test_facts_are_those_of_the_champion() -> None:
    """Promoting v2 (trained on days -90 to -10) changes which training set the datasheet describes."""
    expert = read("expert")
    assert item(graded(expert, champion=1), "ds.rows").passed
    v2 = item(graded(expert, champion=2), "ds.rows")
    assert not v2.passed and not v2.details["wrong"]  # v1's 30,000 rows are right for v1, not v2's data
    wrong = item(graded(expert.replace("holds 30,000", "holds 35,000"), champion=2), "ds.rows")
    assert wrong.details["wrong"] and "48,000" in wrong.feedback


# --------------------------------------------------------------------------- the facts and the rubric


def test_frozen_facts_are_the_seeded_training_rows() -> None:
    scenario, _ = resolve(load_scenario("hiring-data-drift"), 7)
    assert training_data_facts(scenario, 7) == FACTS
    v1 = FACTS.version(1)
    assert v1.rows == 30000 == sum(v1.group_rows["gender"].values()) and v1.train_days == (-60, -10)
    assert FACTS.label_delay_days == 3 and FACTS.features[0] == "years_experience"


def test_the_rubric_sums_to_100_and_cites_gebru() -> None:
    rubric = load_datasheet_rubric()
    assert sum(rubric.points_of(i) for i in rubric.items) == pytest.approx(100)
    assert "Gebru" in rubric.source and len(rubric.sections) == 7


def test_a_broken_rubric_is_refused_with_its_field() -> None:
    text = DATASHEET_RUBRIC_PATH.read_text().replace("rate_tolerance: 0.02", "rate_tolerance: 2")
    with pytest.raises(RubricError, match="rate_tolerance"):
        parse_datasheet_rubric(text)


def test_every_template_heading_is_a_rubric_section() -> None:
    rubric = load_datasheet_rubric()
    doc = parse_markdown(read("templates"))
    headings = [s.heading for s in doc.sections if s.level == 2]
    assert [next(sec.id for sec in rubric.sections if sec.accepts(h)) for h in headings] == [
        s.id for s in rubric.sections]


def test_facts_round_trip_through_json() -> None:
    assert TrainingData.model_validate(json.loads(FACTS.model_dump_json())) == FACTS
