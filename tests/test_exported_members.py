"""The public names of lab's packages, pinned (httpx's tests/test_exported_members.py).

A name added to or dropped from a package's ``__all__`` changes what other code may
import; it must change here too, on purpose. Every pinned name must resolve, and an
eagerly importing package must export exactly its public names.
"""

from __future__ import annotations

import importlib
import types

import pytest

PUBLIC = {
    "lab": ["__version__", "LabError", "ScenarioError", "ServiceError", "SubmissionError", "UsageError"],
    "lab.evidence": ["BundleError", "Evidence", "Submission", "bundle_archive", "load_evidence", "read_submission"],
    "lab.grading": ["Item", "Report", "SKILLS", "build_report", "print_table", "to_json", "write_outputs"],
    "lab.grading.markdown": [
        "FUNCTION_WORDS", "Document", "Labelled", "Labels", "Mention", "Number", "Pattern", "Role", "Scope",
        "Section", "Snippet", "Source", "Span", "Table", "assign", "assign_scoped", "clause_of", "clean_inline",
        "find_mentions", "find_numbers", "find_quantities", "find_values", "has_placeholder", "inflect",
        "is_keyword_list", "is_statement", "label_numbers", "lemma", "listed_items", "load_metadata",
        "normalise_heading", "parse_markdown", "phrase", "plain", "split_front_matter", "split_sentences",
        "strip_placeholders", "template_lines", "unit_of", "word_family",
    ],
    "lab.monitoring": [
        "AlertingSpec", "ColumnDrift", "ColumnKind", "ConfigError", "DataDriftSpec", "DriftTest", "METHODS",
        "MethodInfo", "MonitoringConfig", "PerformanceResult", "PerformanceSpec", "PredictionDriftSpec", "Problem",
        "ResolvedColumn", "ResolvedConfig", "WindowResult", "WindowSpec", "check_performance", "column_drift",
        "evidently_default", "load_monitoring_config", "methods_for", "metric_value", "resolve", "same_decisions",
        "window_drift", "window_drift_report",
    ],
}
# Packages that load their names on first use (PEP 562): nothing to compare with vars().
LAZY = {"lab.evidence", "lab.grading", "lab.monitoring"}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_all_is_pinned_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == PUBLIC[package]
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert not isinstance(getattr(module, name), types.ModuleType), f"{package}.{name} is a module"


@pytest.mark.parametrize("package", sorted(set(PUBLIC) - LAZY))
def test_an_eager_package_exports_all_its_public_names(package: str) -> None:
    module = importlib.import_module(package)
    public = {name for name, value in vars(module).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"}
    assert public == set(module.__all__) - {"__version__"}


@pytest.mark.parametrize("package", sorted(LAZY))
def test_a_lazy_package_refuses_unknown_names_and_lists_its_names(package: str) -> None:
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018
    assert set(module.__all__) <= set(dir(module))


def test_the_grading_surface_holds_no_live_code() -> None:
    grading = importlib.import_module("lab.grading")
    assert set(grading._EXPORTS) == {"items", "report"}
    assert "collect_evidence" not in grading.__all__
    evidence = importlib.import_module("lab.evidence")
    assert set(evidence._EXPORTS) == {"schema", "submission"}  # the live collector is imported by name only
    assert "collect_evidence" not in evidence.__all__
