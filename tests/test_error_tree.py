"""The error tree: one ``LabError`` root, each error's base and exit code pinned, and the
tree drawn in ``lab/errors.py``'s docstring kept true to the classes."""

from __future__ import annotations

import inspect
import re

import pytest

import lab.errors
from lab.errors import LabError

# name -> (base, exit code). A change here is a change in what users and scripts see.
TREE = {
    "LabError": ("Exception", 1),
    "UsageError": ("LabError", 2),
    "ScenarioError": ("UsageError", 2),
    "SubmissionError": ("UsageError", 2),
    "ConfigError": ("UsageError", 2),
    "BundleError": ("UsageError", 2),
    "StateError": ("LabError", 3),
    "JournalError": ("StateError", 3),
    "ServiceError": ("LabError", 4),
    "InProgressError": ("LabError", 5),
    "UploadError": ("LabError", 6),
    "RubricError": ("LabError", 1),
    "CardRubricError": ("RubricError", 1),
}


def _errors() -> dict[str, type[BaseException]]:
    return {name: cls for name, cls in vars(lab.errors).items()
            if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == "lab.errors"}


def test_every_error_has_its_pinned_base_and_exit_code() -> None:
    errors = _errors()
    assert sorted(errors) == sorted(TREE)
    for name, cls in errors.items():
        base, code = TREE[name]
        assert [b.__name__ for b in cls.__bases__] == [base], name
        assert cls.exit_code == code, name


def test_the_docstring_draws_the_tree_of_the_classes() -> None:
    drawn: dict[str, tuple[str, int]] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name) along the current branch
    for line in (lab.errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*(?:[│├└─ ]*\s)?)(\w+Error)\s+exit (\d)", line)
        if not match:
            continue
        column, name, code = len(match.group(1)), match.group(2), int(match.group(3))
        while stack and stack[-1][0] >= column:
            stack.pop()
        drawn[name] = (stack[-1][1] if stack else "Exception", code)
        stack.append((column, name))
    assert drawn == TREE


@pytest.mark.parametrize(("module", "name"), [
    ("lab.monitoring.config", "ConfigError"),
    ("lab.monitoring", "ConfigError"),
    ("lab.evidence.schema", "BundleError"),
    ("lab.grading.runbook_rubric", "RubricError"),
    ("lab.grading.runbook", "RubricError"),
    ("lab.grading.card_rubric", "CardRubricError"),
    ("lab.core.journal", "JournalError"),
])
def test_stage_errors_are_still_importable_where_they_were(module: str, name: str) -> None:
    assert getattr(__import__(module, fromlist=[name]), name) is getattr(lab.errors, name)


def test_a_journal_error_is_a_lab_error_the_cli_can_print(tmp_path) -> None:
    from lab.core.journal import JournalError, verify

    path = tmp_path / "journal.jsonl"
    path.write_text("not json\n")
    with pytest.raises(JournalError) as exc:
        verify(path)
    assert isinstance(exc.value, LabError) and exc.value.exit_code == 3
    assert str(exc.value) == f"{path}:1: not JSON"
