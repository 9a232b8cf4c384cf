"""How the graders read Markdown: planted documents in ``tests/fixtures/submissions/markdown_reading/``.

Parser-level tests: what :func:`parse_markdown` returns (sections, snippet texts and contexts)
and how numbers are bound, for documents a hand-written block parser misread (setext headings,
blockquotes, nested lists), word families ("told" for "tell"), keyword lists told apart from
terse statements, and numbers bound within their own clause. The graders' own tests are in
``test_grading_documents.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lab.grading.markdown as markdown
from lab.grading.markdown import (
    Document,
    Pattern,
    find_numbers,
    find_values,
    is_keyword_list,
    is_statement,
    label_numbers,
    listed_items,
    parse_markdown,
    phrase,
    word_family,
)

PLANTED = Path(__file__).resolve().parent / "fixtures" / "submissions" / "markdown_reading"


def planted(name: str) -> Document:
    return parse_markdown((PLANTED / f"{name}.md").read_text())


def texts(doc: Document) -> list[str]:
    return [s.text for s in doc.snippets]


# --------------------------------------------------------------------------- structure


def test_setext_headings_are_sections() -> None:
    doc = planted("setext_headings")
    assert [(s.key, s.level, s.line) for s in doc.sections] == [
        ("post market monitoring plan", 1, 1), ("reporting", 2, 6), ("log retention", 2, 11)]
    assert doc.title == "Post-market monitoring plan"
    assert doc.sections[1].body == "A death is reported within 10 days."
    assert doc.sections[1].path == ("post market monitoring plan", "reporting")
    death = next(s for s in doc.snippets if "death" in s.text)
    assert (death.section, death.heading, death.line) == (1, "Reporting", 9)
    assert death.context == "Post-market monitoring plan > Reporting"
    retention = doc.in_sections(doc.sections_matching(r"log retention"))
    assert [s.text for s in retention] == ["Request logs are kept for 6 months."]
    assert doc.sections[2].heading == "3. Log retention"  # numbered, underlined: a heading, not a list item


def test_a_numbered_step_over_a_rule_stays_a_step() -> None:
    doc = parse_markdown("# Plan\n\nSteps:\n1. Roll back\n---\n")
    assert [s.key for s in doc.sections] == ["plan"]
    assert [(s.text, s.item, s.lead) for s in doc.snippets] == [("Steps:", False, ""), ("Roll back", True, "Steps:")]


def test_blockquote_text_has_no_quote_marks() -> None:
    doc = planted("blockquote")
    assert texts(doc) == [
        "Deadline.",
        "Report a serious incident within 15 days of becoming aware of it, and within 2 days when the "
        "infringement is widespread.",
        "Note: the journal is the record we preserve first.",
    ]
    assert all(">" not in t for t in texts(doc))
    labels = {"case": {"general": Pattern(r"serious incident", strong=False), "widespread": Pattern(r"widespread")}}
    got = [(n.number.raw, n.labels["case"]) for n in label_numbers(doc, labels, quantities=True)]
    assert got == [("15 days", "general"), ("2 days", "widespread")]


def test_nested_list_items_keep_their_parent_as_context() -> None:
    doc = planted("nested_list")
    items = [s for s in doc.snippets if s.item]
    assert [(s.text, s.depth) for s in items] == [
        ("Preserve the evidence first:", 1),
        ("copy the journal", 2),
        ("export the request logs", 2),
        ("and the delayed labels", 3),
        ("Roll back resume-screener with lab rollback --to 1.", 1),
        ("Inform deployers within 2 days.", 1),
    ]
    lead = "When the champion misbehaves:"
    assert items[0].lead == lead
    assert items[1].lead == f"{lead} | Preserve the evidence first:"
    assert items[1].context == f"Corrective action | {lead} | Preserve the evidence first:"
    assert items[3].lead == f"{lead} | Preserve the evidence first: | export the request logs"
    assert items[4].lead == lead and items[4].code == ("resume-screener", "lab rollback --to 1")
    assert len({s.block for s in items}) == 1  # one procedure: nested steps stay in order within it
    [row] = [s for s in doc.snippets if s.source == "table"]
    assert row.text == "Step: Preserve evidence | Owner: on-call | Deadline (days): 1 days"
    assert row.lead == "Step | Owner | Deadline (days)" and row.block != items[0].block


def test_a_table_inside_a_list_item_has_the_item_as_context() -> None:
    doc = parse_markdown("# Plan\n\nSteps:\n\n- Alert thresholds:\n\n  | Input | PSI |\n  |---|---|\n"
                         "  | years_experience | 0.01 |\n\n  Reviewed weekly.\n- Roll back.\n")
    got = [(s.source, s.text, s.lead, s.line) for s in doc.snippets]
    assert got == [
        ("prose", "Steps:", "", 3),
        ("prose", "Alert thresholds:", "Steps:", 5),
        ("table", "Input: years_experience | PSI: 0.01", "Input | PSI", 9),
        ("prose", "Reviewed weekly.", "Steps: | Alert thresholds:", 11),
        ("prose", "Roll back.", "Steps:", 12),
    ]
    assert doc.snippets[2].context == "Plan | Steps: | Alert thresholds: | Input | PSI"
    assert doc.tables[0].rows == ({"Input": "years_experience", "PSI": "0.01"},)


def test_a_block_knows_the_lead_in_paragraph_above_it() -> None:
    doc = parse_markdown("# Plan\n\nSteps:\n\n- Alert thresholds:\n\n  | Input | PSI |\n  |---|---|\n"
                         "  | years_experience | 0.01 |\n\n  Reviewed weekly.\n- Roll back.\n\n"
                         "Live figures since the drift:\n\nROC AUC 0.70.\n\nNo colon here\n\n| A | B |\n|---|---|\n"
                         "| 1 | 2 |\n\nUnder a heading:\n\n## Next\n\n- item\n")
    assert [(s.text, s.lead_in) for s in doc.snippets] == [
        ("Steps:", ""),
        ("Alert thresholds:", "Steps:"),
        ("Input: years_experience | PSI: 0.01", "Alert thresholds:"),  # the item right above the table
        ("Reviewed weekly.", "Steps:"),  # back in the list: the list's lead-in
        ("Roll back.", "Steps:"),
        ("Live figures since the drift:", ""),
        ("ROC AUC 0.70.", "Live figures since the drift:"),
        ("No colon here", ""),
        ("A: 1 | B: 2", ""),
        ("Under a heading:", ""),
        ("item", ""),  # a heading ends a lead-in
    ]


def test_prose_lists_its_data_sources() -> None:
    doc = planted("prose_data_sources")
    assert [s.key for s in doc.sections] == ["data sources"]
    first, second = doc.in_sections(doc.sections_matching(r"data sources"))
    assert listed_items(first.text, phrase(r"data sources?").search(first.text).end()) == [
        "request logs", "delayed hiring labels", "recruiter overrides"]
    assert second.text == "We also read complaints from applicants, as well as the journal."
    assert not first.keywords and not second.keywords


def test_code_fences_give_code_lines_and_html_stays_text() -> None:
    doc = parse_markdown("# Rollback\n\n```bash\nlab rollback --to 1\n\nlab status\n```\n\nReport within <days> days.\n")
    code = [(s.text, s.line) for s in doc.snippets if s.source == "code"]
    assert code == [("lab rollback --to 1", 4), ("lab status", 6)]
    [prose] = [s for s in doc.snippets if s.source == "prose"]
    assert prose.text == "Report within days." and not prose.template


def test_prose_over_a_rule_stays_prose_and_short_lines_are_headings() -> None:
    doc = parse_markdown("# Plan\n\nLogs are kept\nfor 6 months.\n---\n\nReporting\n---------\n\nWithin 15 days.\n")
    assert [s.key for s in doc.sections] == ["plan", "reporting"]
    assert [(s.text, s.heading) for s in doc.snippets] == [
        ("Logs are kept for 6 months.", "Plan"), ("Within 15 days.", "Reporting")]


def test_windows_line_endings() -> None:
    doc = parse_markdown("---\r\nlicense: mit\r\n---\r\nReporting\r\n=========\r\n\r\n- Report within 15 days.\r\n"
                         "  - to the authority\r\n")
    assert doc.metadata == {"license": "mit"}
    assert [(s.key, s.line) for s in doc.sections] == [("reporting", 4)]
    assert [(s.text, s.line, s.lead) for s in doc.snippets if s.source == "prose"] == [
        ("Report within 15 days.", 7, ""), ("to the authority", 8, "Report within 15 days.")]


def test_template_lines_are_recognised_inside_quotes_and_lists() -> None:
    template = "# Plan\n\n> Describe the data sources here.\n\n- Owner of the monitoring plan: name\n"
    doc = parse_markdown("# Plan\n\n> Describe the data sources here.\n\n- Owner of the monitoring plan: name\n"
                         "- Dana Lee owns the plan.\n", template=template)
    assert [(s.text, s.template) for s in doc.snippets] == [
        ("Describe the data sources here.", True), ("Owner of the monitoring plan: name", True),
        ("Dana Lee owns the plan.", False)]


# --------------------------------------------------------------------------- word families


@pytest.mark.parametrize(
    "pattern, text, matches",
    [
        ("tell", "Applicants are told, before they apply", True),
        ("inform(?!ation)", "we informed them", True),
        ("inform(?!ation)", "informing deployers", True),
        ("inform(?!ation)", "information notice", False),
        ("notify", "Deployers were notified", True),
        ("notify", "a notification is sent", True),
        ("monitor", "monitored weekly", True),
        ("send", "the report is sent", True),
        ("keep", "logs are kept", True),
        ("take", "measures were taken", True),
        ("take", "the provider took measures", True),
        ("preserve", "preserving the journal", True),
        ("escalate", "an escalation path", True),
        ("male", "female applicants", False),
        ("tell(?![a-z])", "telling", True),
        ("sources?", "sourcing", False),
    ],
)
def test_patterns_match_word_families(pattern: str, text: str, matches: bool) -> None:
    assert bool(phrase(pattern).search(text)) is matches


def test_planted_told_satisfies_tell() -> None:
    doc = planted("told")
    assert [s.line for s in doc.snippets if phrase(r"tell|inform(?!ation)").search(s.text)] == [3, 4]
    assert [s.line for s in doc.snippets if phrase(r"notify").search(s.text)] == [4]
    assert [s.line for s in doc.snippets if phrase(r"keep").search(s.text)] == [4]
    assert "told" in word_family("tell") and "kept" in word_family("keep")


def test_label_patterns_use_word_families() -> None:
    doc = parse_markdown("Serious incidents are notified within 15 days.")
    labels = {"case": {"notify": Pattern(r"notify")}}
    assert [n.labels["case"] for n in label_numbers(doc, labels, quantities=True)] == ["notify"]


# --------------------------------------------------------------------------- keyword lists


@pytest.mark.parametrize(
    "text",
    [
        "Preserve evidence first: copy journal, request logs, labels, the registry snapshot, then roll back.",
        "Evidence to preserve: journal, request logs, labels, registry snapshot, monitoring reports.",
        "Data sources: request logs, delayed labels, the journal, registry snapshots.",
        "ROC AUC 0.781, accuracy 0.734, selection rate 0.283, TPR 0.534.",
        "Owners: Dana Lee (ML lead), Sam Ortiz (compliance), Priya Nair (on-call), Tom Berg (DPO).",
        "Roll back: lab rollback, lab status, lab shadow stop, lab submit.",
        "Reviews: weekly drift report, monthly fairness audit, quarterly plan review, yearly DPIA update.",
        "Weekly: PSI per feature, ROC AUC on labelled data, selection-rate ratio per gender and age band.",
        "Freeze: journal, request logs, labels, registry snapshot.",
        "Inputs monitored: years_experience, source_channel, education_level, skills_count.",
        "On a serious incident, inform us, the provider, first and immediately, then the authority.",
        # a finite verb makes a sentence of a comma list of terms
        "ROC AUC measures ranking; accuracy, F1 and the selection rate are taken at the 0.5 threshold, and per "
        "gender and age band we report selection rate and TPR.",
        "Accuracy, F1, precision and recall are reported per gender and age band.",
        "Per gender, age band and source channel we report selection rate, TPR and precision.",
        "The first entry, lab.header, records the lab version, scenario, seed and service versions.",
    ],
)
def test_lists_of_facts_are_statements(text: str) -> None:
    assert not is_keyword_list(text)
    assert is_statement(text)


@pytest.mark.parametrize(
    "text",
    [
        "Serious incident, market surveillance authority, death, logs, AI literacy.",
        "Serious incident, 15 days, death, 10 days, widespread, 2 days.",
        "Factors: sensitive attributes, fairness, subgroups, demographic groups, protected characteristics.",
        "This runbook covers every obligation: serious incidents, deadlines, the authority, logs, evidence.",
        "Model name, version, run id, MLflow, registry, champion, challenger, alias, resume screener.",
        "Drift, monitoring, fairness, bias, thresholds, alerts, rollback.",
        # a verb about topics, or a copula with an adjective, says nothing about them
        "Drift, bias, fairness, logs and incidents are covered.",
        "Bias, fairness, drift, logs, oversight are important.",
        "Log retention, logs, months, evidence freeze, rollback, withdraw, recall, suspend, provider.",
        "Human oversight, override, stop button, automation bias, affected persons, IT security.",
    ],
)
def test_bare_terms_are_keyword_stuffing(text: str) -> None:
    assert is_keyword_list(text)
    assert not is_statement(text)


def test_planted_keyword_lists() -> None:
    doc = planted("keyword_lists")
    assert [(s.source, s.keywords) for s in doc.snippets] == [
        ("prose", False), ("prose", False), ("prose", True), ("table", False)]
    assert len(doc.content) == 3
    assert [s.text for s in doc.content][-1] == "Metric: ROC AUC | Value: 0.781 | Threshold: 0.72"


# --------------------------------------------------------------------------- binding


def test_a_number_is_not_bound_to_the_subject_of_another_clause() -> None:
    doc = planted("bindings")
    found = find_values(doc, {"source_channel": "source_channel"}, cues="threshold|above|below")
    assert found == {}  # 0.15 is the numeric inputs' threshold
    labels = {"case": {"log retention": Pattern(r"(?:request )?logs?\b|log retention")}}
    got = [(n.number.raw, n.labels["case"], n.scopes["case"]) for n in label_numbers(doc, labels, quantities=True)]
    assert got == [("three days", None, None), ("twelve months", "log retention", "unit")]
    doc = parse_markdown("Categorical inputs such as source_channel use chi-squared (p < 0.05), numeric inputs use "
                         "Wasserstein > 0.15.")
    got = [(n.number.raw, n.labels["name"]) for n in label_numbers(doc, {"name": {"source_channel": "source_channel"}})]
    assert got == [("0.05", "source_channel"), ("0.15", None)]


def test_borrowing_still_works_within_a_statement() -> None:
    doc = parse_markdown("For a death, 10 days. Logs are retained; we keep them for 6 months. "
                         "We keep the request logs, the journal and the registry snapshot for 12 months.")
    labels = {"case": {"death": "death", "logs": "logs?"}}
    assert [(n.number.raw, n.labels["case"]) for n in label_numbers(doc, labels, quantities=True)] == [
        ("10 days", "death"), ("6 months", "logs"), ("12 months", "logs")]
    doc = parse_markdown("Selection rate is 0.26 for women and 0.30 for men.")
    metric = {"metric": {"selection_rate": "selection rate"}, "group": {"women": "women", "men": "men"}}
    got = [(n.number.value, n.labels["metric"], n.labels["group"]) for n in label_numbers(doc, metric)]
    assert got == [(0.26, "selection_rate", "women"), (0.3, "selection_rate", "men")]


def test_labelled_numbers_carry_their_clause_and_mention() -> None:
    doc = parse_markdown("Drift on years_experience alerts above 0.01; source_channel alerts above 0.05.")
    names = {"name": {"years_experience": "years_experience", "source_channel": "source_channel"}}
    a, b = label_numbers(doc, names)
    text = a.snippet.text
    assert text[slice(*a.clause_span)] == "Drift on years_experience alerts above 0.01"
    assert text[slice(*b.clause_span)].strip() == "source_channel alerts above 0.05."
    assert a.mentions["name"] is not None and text[a.mentions["name"].start : a.mentions["name"].end] == \
        "years_experience"
    assert a.bound_in_clause("name") and b.bound_in_clause("name")


@pytest.mark.parametrize(
    "text, roles",
    [
        ("F1 at 0.5 is 0.556", ["threshold", "value"]),
        ("recall @0.3: 0.71", ["threshold", "value"]),
        ("decision threshold 0.5, precision 0.58", ["threshold", "value"]),
        ("cut-off of 0.4 gives TPR 0.53", ["threshold", "value"]),
        ("ROC AUC stands at 0.78 and is at least 0.72", ["value", "value"]),
        ("selection rate: women at 0.26, men at 0.30", ["value", "value"]),
        ("accuracy at 73%", ["value"]),
        ("accuracy at the 0.5 decision threshold is 0.734", ["threshold", "value"]),
        ("F1 and recall are taken at the 0.5 threshold: 0.556 and 0.535", ["threshold", "value", "value"]),
        ("advanced when the score reaches the 0.5 cut-off", ["threshold"]),
    ],
)
def test_numbers_after_at_or_threshold_are_thresholds(text: str, roles: list[str]) -> None:
    assert [n.role for n in find_numbers(text)] == roles


def test_a_metric_at_a_threshold_in_a_table_header() -> None:
    doc = parse_markdown("| Version | F1 at 0.5 | Recall (at 0.5) |\n|---|---|---|\n| 1 | 0.556 | 0.535 |\n")
    got = [(n.number.value, n.labels["metric"], n.threshold)
           for n in label_numbers(doc, {"metric": {"f1": "f1", "recall": "recall"}})]
    assert [g for g in got if not g[2]] == [(0.556, "f1", False), (0.535, "recall", False)]
    assert sorted(g[0] for g in got if g[2]) == [0.5, 0.5]


def test_planted_f1_at_threshold() -> None:
    doc = planted("bindings")
    got = [(n.number.value, n.labels["metric"], n.threshold)
           for n in label_numbers(doc, {"metric": {"f1": "f1"}})]
    assert got == [(0.15, None, False), (0.5, "f1", True), (0.556, "f1", False)]


def test_public_names_are_pinned() -> None:
    """The graders (runbook, model card) import these; renaming one breaks them."""
    assert set(markdown.__all__) == {
        "FUNCTION_WORDS", "Document", "Labelled", "Labels", "Mention", "Number", "Pattern", "Role", "Scope",
        "Section", "Snippet", "Source", "Span", "Table", "assign", "assign_scoped", "clause_of", "clean_inline",
        "find_mentions", "find_numbers", "find_quantities", "find_values", "has_placeholder", "inflect",
        "is_keyword_list", "is_statement", "label_numbers", "lemma", "listed_items", "load_metadata",
        "normalise_heading", "parse_markdown", "phrase", "plain", "split_front_matter", "split_sentences",
        "strip_placeholders", "template_lines", "unit_of", "word_family",
    }
    assert all(hasattr(markdown, name) for name in markdown.__all__)
