"""The observability.md grader on planted documents (no servers): a strong document, in prose or in
tables, scores full marks; the template, a missing file and a list of keywords score nothing; each
gap or wrong figure costs its share and is named in the feedback; paraphrases (British and American
spelling, "P99" or "99th percentile", "0.5 s" or "500ms", "five days") are never marked wrong."""

from __future__ import annotations

import pytest

from lab.grading.observability_doc import (
    DOC_PLAN,
    SKILL,
    TEMPLATE_PATH,
    Kpi,
    ObservabilityFacts,
    delay_days,
    fractions,
    grade_observability_doc,
    latency_ms,
)

KPI = Kpi("approved_default_rate", "share of approved loans that default within a year", "lower_is_better")
FACTS = ObservabilityFacts(kpis=(KPI,), label_delay_days=5, segment_columns=("region", "age_band"),
                           slo_p99_ms=300.0, slo_error_rate=0.01)
NO_SYSTEM = ObservabilityFacts(kpis=(KPI,), label_delay_days=5, segment_columns=("region", "age_band"),
                               slo_p99_ms=None, slo_error_rate=None)

PROSE = """# Observability: credit-scorer

## Signals and the questions they answer

System signals (p99 latency, error rate, throughput and saturation) answer one question: is the service up and fast?
Model signals (input drift, prediction drift and ROC AUC on labelled rows) tell us whether the model is still right.
The business KPI, approved_default_rate, tells us whether the model is doing its job and what bad loans cost us.
Healthy latency and error rates do not mean a healthy model: the KPI can fall while every system dashboard stays green.

## Business KPIs

Our KPI is approved_default_rate, the share of approved loans that default within a year.
It is computed over approved loans only, from the default outcomes as they arrive, grouped by decision date.
We alert when approved_default_rate rises above 4% over the decisions whose outcomes are in.
Outcomes arrive five days after the decision, so the KPI always describes decisions at least five days old.

## Segments

We break approved_default_rate down by region and by age band every day.
A failure in one segment hides in the overall average: a region whose default rate doubles barely moves the total.

## Service level objectives

The p99 latency must stay below 300 ms and the error rate below 1% of requests, measured over 5 minutes.

## Who is paged for what

Breaches of the latency or error-rate SLO page the SRE on call immediately, day or night.
KPI breaches go to the model owner and the credit risk lead as a ticket for the next business day; we do not page the SRE for the KPI.
"""

TABLES = """# Observability: credit-scorer

## Signals

| Layer | Signals | Question it answers |
|---|---|---|
| System | P99 latency, 5xx error rate, requests per second | Is the service up and responding fast enough? |
| Model | PSI drift on inputs and scores, ROC AUC on labeled rows | Is the model still right for today's applicants? |
| Business | approved default rate | Is the model doing its job, and what do bad loans cost us? |

Green latency and error dashboards say nothing about whether the model is right.

## KPIs

| KPI | Computed on | Threshold | Outcome delay |
|---|---|---|---|
| approved default rate | defaults / approved loans, by decision date | > 0.04 | 5 days |

## Segments

| Breakdown | Why |
|---|---|
| KPI per region and per age_band | a bad age band is hidden in the overall average |

## SLOs

| SLO | Threshold |
|---|---|
| 99th percentile latency | 0.3 s |
| Error rate | 1 % |

## Paging

| Signal | Question | Who is paged | How |
|---|---|---|---|
| p99 latency, error rate | is the service up and fast? | SRE on call | page, immediately, 24/7 |
| approved default rate | is the model doing its job? | model owner and credit risk lead (not the SRE) | ticket, next business day |
"""

# Written another way: American spelling, a paraphrase for the KPI, "99th percentile", "500ms",
# "a week" avoided for "five scenario days", lists instead of paragraphs.
PARAPHRASED = """# How we watch the credit model

- Infrastructure signals such as 99th percentile latency and errors show whether the API is up and quick.
- Drift of inputs and scores, and AUC on labeled rows, show whether the model's behavior is still correct.
- The default rate of approved loans shows whether the model is doing its job, i.e. what it costs in losses.
- Even when latency is normal, the model can be wrong for one group of applicants.

We compute the share of approved loans that later default: defaults divided by approved loans, per decision day.
Our threshold for it is 0.04. Defaults are known only five scenario days after the loan is approved.
That default rate of approved loans is tracked per region and per age_band, because a pocket of bad loans is
hidden by the average over all applicants.

Service objectives: P99 latency stays under 500ms, and errors stay under 0.5 percent of requests.

Paging:

- p99 latency or error-rate breaches: the platform team's on-call engineer is paged at once.
- The default rate of approved loans: a ticket for the data scientists and the product owner, handled in business hours.
"""

# Headings naming the KPI, arrows, a blockquote, p99.9 and "<=", an ordered list.
MIXED = """# Observability for the credit scorer

## What each signal answers

- Latency, error rate, throughput → "is the service healthy and fast?"
- Drift and calibration → "is the model still right?"
- approved_default_rate → "is the model doing its job, and what does it cost?"

> Everything can look green on the SRE dashboards while the model quietly fails one group of applicants.

## approved_default_rate

- Definition: defaults among approved loans, counted by decision date.
- Alert threshold: 3.5%.
- Delay: outcomes land 5 days after each decision.
- Broken down by region and age_band, since a slice that degrades disappears in the blended rate.

## SLOs

- p99.9 latency ≤ 0.5 s
- error rate ≤ 0.1%

## Paging policy

1. SLO breach (p99.9 latency or error rate): the on-call SRE gets paged, 24/7.
2. approved_default_rate above 3.5%: a Jira ticket to the ML engineer who owns the model and to the head of credit
   risk, handled in office hours.
"""


def graded(text: str | None, facts: ObservabilityFacts = FACTS) -> dict:
    return {i.id: i for i in grade_observability_doc(text, facts)}


def points(text: str | None, facts: ObservabilityFacts = FACTS) -> dict[str, float]:
    return {k.rsplit(".", 1)[1]: round(v.points, 3) for k, v in graded(text, facts).items()}


def lost(text: str, facts: ObservabilityFacts = FACTS) -> dict[str, float]:
    """Points below the maximum, per item (short names)."""
    return {k.rsplit(".", 1)[1]: round(v.max_points - v.points, 3) for k, v in graded(text, facts).items()
            if not v.passed}


# ---- plan, template, missing file, keywords


def test_items_come_in_plan_order_with_the_plans_points():
    assert sum(p for *_, p in DOC_PLAN) == 27
    for text in (None, "", PROSE, TABLES, TEMPLATE_PATH.read_text()):
        items = grade_observability_doc(text, FACTS)
        assert [(i.id, i.title, i.max_points) for i in items] == [tuple(x) for x in DOC_PLAN]
        assert all(i.skill == SKILL == "observability" and 0 <= i.points <= i.max_points for i in items)


def test_the_template_scores_nothing_and_a_missing_file_says_so():
    template = TEMPLATE_PATH.read_text()
    assert all(v == 0 for v in points(template).values())
    assert all(v == 0 for v in points(template, NO_SYSTEM).values())
    uncommented = template.replace("<!--", "").replace("-->", "")  # its prompts, as if the candidate's own
    assert all(v == 0 for v in points(uncommented).values())
    missing = graded(None)
    assert all(i.points == 0 and "observability.md is missing" in i.feedback for i in missing.values())


def test_a_list_of_keywords_scores_next_to_nothing():
    weak = "# Observability\n\nlatency, errors, drift, KPI, SRE\n\n## Signals\n\n- latency\n- errors\n- drift\n" \
           "- KPI\n- SRE\n\nSignals: latency, errors, throughput, drift, KPI, SRE, page, ticket.\n"
    assert sum(points(weak).values()) <= 1.0


def test_a_line_of_terse_facts_binds_nothing_across_its_parts():
    line = "Notes: approved_default_rate; region; age_band; threshold 4%; model owner; credit risk lead; SRE; page; " \
           "ticket; outcomes; 5 days."
    assert sum(points(line).values()) <= 1.5  # at most the KPI's name


# ---- strong documents


@pytest.mark.parametrize("text", [PROSE, TABLES], ids=["prose", "tables"])
def test_a_strong_document_scores_full_marks(text):
    items = graded(text)
    assert {k: (i.points, i.feedback) for k, i in items.items() if not i.passed} == {}
    assert all(i.evidence.startswith("line ") for i in items.values())
    assert items["observability.doc.slos"].details == {"p99_ms": [300.0], "error_rate": [0.01]}


@pytest.mark.parametrize("text, p99, errors", [(PARAPHRASED, 500.0, 0.005), (MIXED, 500.0, 0.001)],
                         ids=["paraphrased", "mixed"])
def test_a_document_written_another_way_is_not_marked_wrong(text, p99, errors):
    facts = ObservabilityFacts(kpis=(KPI,), label_delay_days=5, segment_columns=("region", "age_band"),
                               slo_p99_ms=p99, slo_error_rate=errors)
    assert {k: i.feedback for k, i in graded(text, facts).items() if not i.passed} == {}


def test_figures_in_other_units_match_monitoring_yaml():
    slo = "The {p} latency must stay below {t} and the error rate below {e}."
    for p, t, e in (("p99", "0.3 s", "1%"), ("P99", "300ms", "0.01"), ("99th percentile", "300 milliseconds",
                                                                       "1 percent")):
        item = graded(PROSE.replace(
            "The p99 latency must stay below 300 ms and the error rate below 1% of requests, measured over 5 minutes.",
            slo.format(p=p, t=t, e=e)))["observability.doc.slos"]
        assert item.passed, (p, t, e, item.feedback)


def test_the_label_delay_in_other_words_counts():
    for said, days in (("five days", 5), ("5 days", 5), ("120 hours", 5), ("a week", 7), ("one week", 7),
                       ("5 scenario days", 5)):
        facts = ObservabilityFacts((KPI,), days, ("region",), 300.0, 0.01)
        text = PROSE.replace("Outcomes arrive five days after", f"Outcomes arrive {said} after")
        assert graded(text, facts)["observability.doc.kpis"].passed, said


# ---- partial credit, each with its reason


def test_a_wrong_delay_figure_costs_the_delay_share_and_is_named():
    item = graded(PROSE.replace("Outcomes arrive five days after the decision, so the KPI always describes decisions "
                                "at least five days old.", "Outcomes arrive ten days after the decision."))[
        "observability.doc.kpis"]
    assert item.points == pytest.approx(4.5)
    assert "5 days after a decision here, not 10" in item.feedback


def test_a_delay_without_its_figure_earns_a_third_of_its_share():
    text = PROSE.replace("Outcomes arrive five days after the decision, so the KPI always describes decisions at "
                         "least five days old.", "Outcomes arrive later than the decision.")
    item = graded(text)["observability.doc.kpis"]
    assert item.points == pytest.approx(5.0) and "the delay's figure (5 days" in item.feedback


def test_another_duration_near_the_labels_is_not_read_as_the_delay():
    text = PROSE.replace("Outcomes arrive five days after the decision, so the KPI always describes decisions at "
                         "least five days old.", "Drift shows within 1 day, and outcomes arrive later.")
    item = graded(text)["observability.doc.kpis"]
    assert "not 1" not in item.feedback and item.points == pytest.approx(5.0)


def test_slo_figures_unlike_monitoring_yaml_lose_the_consistency_point_with_both_figures():
    facts = ObservabilityFacts((KPI,), 5, ("region", "age_band"), slo_p99_ms=250.0, slo_error_rate=0.02)
    item = graded(PROSE, facts)["observability.doc.slos"]
    assert item.points == pytest.approx(4.0)
    assert "this document says 300 ms, monitoring.yaml's system.p99_latency_ms.max is 250 ms" in item.feedback
    assert "says 1% (0.01), monitoring.yaml's system.error_rate.max is 2% (0.02)" in item.feedback


def test_without_a_system_section_the_point_goes_to_a_document_stating_both_slos():
    item = graded(PROSE, NO_SYSTEM)["observability.doc.slos"]
    assert item.passed and "no system section" in item.feedback
    half = PROSE.replace(" and the error rate below 1% of requests", "")
    item = graded(half, NO_SYSTEM)["observability.doc.slos"]
    assert item.points == pytest.approx(3.0)  # p99 (2) and the error-rate SLO named without its figure (1)
    assert "no system section" in item.feedback


def test_slos_and_a_kpi_threshold_without_figures_earn_part():
    text = PROSE.replace("The p99 latency must stay below 300 ms and the error rate below 1% of requests, measured "
                         "over 5 minutes.", "We keep a p99 latency SLO and an error-rate SLO.")
    text = text.replace("rises above 4% over the decisions whose outcomes are in",
                        "rises above its threshold")
    found = points(text)
    assert found["slos"] == pytest.approx(2.0)  # 1 + 1, and no figure to compare with monitoring.yaml
    assert found["kpis"] == pytest.approx(4.5)
    feedback = graded(text)["observability.doc.slos"].feedback
    assert "no figure here to compare with monitoring.yaml's system.p99_latency_ms.max (300 ms)" in feedback


def test_a_median_latency_is_not_a_tail_slo():
    text = PROSE.replace("The p99 latency must stay below 300 ms", "The median latency must stay below 300 ms")
    item = graded(text)["observability.doc.slos"]
    assert item.points == pytest.approx(3.0)  # 1 of 2 for latency, and no p99 to check
    assert "slowest callers" in item.feedback


def test_the_kpi_named_by_a_paraphrase_counts():
    text = PROSE.replace("Our KPI is approved_default_rate, the share of approved loans that default within a year.",
                         "Our KPI is the share of approved loans that later go bad.")
    text = text.replace("approved_default_rate", "the default rate of approved loans")
    assert lost(text) == {}


def test_the_kpi_not_named_is_named_in_the_feedback():
    text = PROSE.replace("approved_default_rate", "the KPI").replace(
        "the share of approved loans that default within a year", "our main business metric")
    item = graded(text)["observability.doc.kpis"]
    assert item.points == pytest.approx(4.5)
    assert "name approved_default_rate (share of approved loans that default within a year)" in item.feedback


def test_with_two_kpis_each_is_named_for_its_share():
    loss = Kpi("loss_rate", "euros lent on approved loans that default, per euro approved", "lower_is_better")
    facts = ObservabilityFacts((KPI, loss), 5, ("region", "age_band"), 300.0, 0.01)
    item = graded(PROSE, facts)["observability.doc.kpis"]
    assert item.points == pytest.approx(6 - 0.75) and "name loss_rate (euros lent" in item.feedback
    both = PROSE.replace("We alert when approved_default_rate rises above 4%",
                         "We alert when approved_default_rate rises above 4% or the loss rate above 2%")
    assert graded(both, facts)["observability.doc.kpis"].passed


def test_negated_statements_earn_nothing_and_cost_nothing():
    # "we do not page the SRE for the KPI" is part of the strong document: no penalty there
    assert graded(PROSE)["observability.doc.paging"].passed
    text = PROSE.replace("We break approved_default_rate down by region and by age band every day.",
                         "We do not break approved_default_rate down by region or age band.")
    text = text.replace("a region whose default rate doubles", "a segment whose default rate doubles")
    assert lost(text) == {"segments": 2.0}
    text = PROSE.replace("page the SRE on call immediately, day or night", "do not page the SRE on call")
    assert lost(text) == {"paging": 3.0}  # neither the role for system signals (2) nor their page (1)


def test_paging_the_sre_for_the_kpi_costs_a_point_and_is_explained():
    text = PROSE.replace("KPI breaches go to the model owner and the credit risk lead as a ticket for the next "
                         "business day; we do not page the SRE for the KPI.",
                         "KPI breaches page the SRE on call, and the model owner and the credit risk lead get a "
                         "ticket for the next business day.")
    item = graded(text)["observability.doc.paging"]
    assert item.points == pytest.approx(5.0)
    assert "the SRE on call is paged for the KPI" in item.feedback


def test_paging_roles_are_read_per_clause_and_per_table_row():
    one_sentence = PROSE.replace(
        "Breaches of the latency or error-rate SLO page the SRE on call immediately, day or night.\n"
        "KPI breaches go to the model owner and the credit risk lead as a ticket for the next business day; we do "
        "not page the SRE for the KPI.",
        "Latency and error-rate breaches page the SRE on call immediately, and KPI breaches open a ticket for the "
        "model owner and the credit risk lead for the next business day.")
    assert lost(one_sentence) == {}
    # a row that pages the SRE for latency does not credit the model owner in the next row for latency
    swapped = TABLES.replace("| p99 latency, error rate | is the service up and fast? | SRE on call |",
                             "| p99 latency, error rate | is the service up and fast? | model owner |")
    assert lost(swapped) == {"paging": 2.0}


def test_a_paging_table_with_owner_and_channel_columns_is_read_row_by_row():
    table = """| Signal | Owner | Channel |
|---|---|---|
| p99 latency > 300 ms | SRE on-call | PagerDuty page |
| 5xx rate > 1% | SRE on-call | PagerDuty |
| approved_default_rate > 4% | Model owner + Credit Risk | Jira ticket, next business day |
"""
    items = graded(table)
    assert items["observability.doc.paging"].passed and items["observability.doc.slos"].passed


def test_urgency_without_roles_and_roles_without_urgency():
    text = PROSE.replace(" as a ticket for the next business day", "").replace(" immediately, day or night", "")
    item = graded(text)["observability.doc.paging"]
    assert item.points == pytest.approx(5.0)  # the system page is still a page; the KPI has no slower route
    assert "ticket or the next business day" in item.feedback  # "we do not page the SRE" does not say how slow
    roles_only = PROSE.replace("KPI breaches go to the model owner and the credit risk lead",
                               "KPI breaches go to the credit risk lead")
    item = graded(roles_only)["observability.doc.paging"]
    assert item.points == pytest.approx(5.0) and "an ML role" in item.feedback


def test_signals_listed_without_their_question_earn_half():
    text = """# Observability

System signals: p99 latency, error rate, throughput, saturation.

Model signals: input drift, prediction drift, ROC AUC on labelled rows.

Business KPIs: approved_default_rate, approval rate.
"""
    item = graded(text)["observability.doc.questions"]
    assert item.points == pytest.approx(3.0)
    assert "named without the question they answer" in item.feedback
    assert "healthy system signals do not mean a healthy model" in item.feedback


def test_the_healthy_system_is_not_a_healthy_model_statement_answers_for_the_business_layer():
    text = PROSE.replace("The business KPI, approved_default_rate, tells us whether the model is doing its job and "
                         "what bad loans cost us.", "")
    assert graded(text)["observability.doc.questions"].passed
    no_insight = PROSE.replace("Healthy latency and error rates do not mean a healthy model: the KPI can fall while "
                               "every system dashboard stays green.", "")
    item = graded(no_insight)["observability.doc.questions"]
    assert item.passed and "A strong answer also says" in item.feedback


def test_a_breakdown_without_a_column_or_a_reason_earns_part():
    text = PROSE.replace("by region and by age band", "per segment").replace(
        "A failure in one segment hides in the overall average: a region whose default rate doubles barely moves "
        "the total.", "")
    item = graded(text)["observability.doc.segments"]
    assert item.points == pytest.approx(1.0)
    assert "region, age_band" in item.feedback and "hides in the overall average" in item.feedback


# ---- the figure readers


def test_figures_are_read_in_their_units():
    assert latency_ms("P99 < 300ms; p95 under 0.25 s for 60 s") == [300.0, 250.0]
    assert [f for f, _, _ in fractions("errors below 1%, 0.5 percent, 0.002; 99% of requests in 300 ms")] == \
        [0.01, 0.005, 0.002]
    assert [d for d, _, _ in delay_days("labels arrive after 5 days or 120 hours, a week at most")] == [5.0, 5.0, 7.0]
