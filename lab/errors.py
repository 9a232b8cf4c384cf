"""The lab's errors: one root, split by who has to fix the problem.

::

    LabError                 exit 1  (base: never raised directly)
    ├── UsageError           exit 2  the command line or a user-supplied file is wrong
    │   ├── ScenarioError    exit 2  a scenario file is invalid or unknown
    │   ├── SubmissionError  exit 2  a submission cannot be read at all
    │   ├── ConfigError      exit 2  a monitoring config (monitoring.yaml) cannot be used
    │   └── BundleError      exit 2  an evidence bundle cannot be read
    ├── StateError           exit 3  the lab home is not in the state the command needs
    │   └── JournalError     exit 3  the journal's hash chain is broken or an entry is unknown
    ├── ServiceError         exit 4  a service failed to start, died, or answered badly
    ├── InProgressError      exit 5  the work goes on in the background (e.g. a shadow still
    │                                warming up): nothing failed; run the command again to wait
    ├── UploadError          exit 6  done here (e.g. graded, report written), but the drill
    │                                console did not take it
    └── RubricError          exit 1  a rubric shipped with the lab is invalid: a lab bug
        └── CardRubricError  exit 1  the model card's rubric is invalid

Every error carries a one-line message naming what and where, and an optional hint
telling the user what to do. The CLI prints both and exits with ``exit_code``;
no traceback is shown for any of them. The errors that belong to one stage are also
importable from it (``ConfigError`` from ``lab.monitoring.config``, ``BundleError`` from
``lab.evidence.schema``, ``JournalError`` from ``lab.core.journal``, the rubric errors from
their rubric modules).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class LabError(Exception):
    exit_code = 1
    label = "error"  # how the CLI introduces the message

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(LabError):
    exit_code = 2


class ScenarioError(UsageError):
    pass


class SubmissionError(UsageError):
    pass


class ConfigError(UsageError):
    """A monitoring config that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[_Located], source: str = "monitoring.yaml") -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.line or 0, p.loc)))
        self.source = source
        n = len(self.problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''} in the monitoring config"
        super().__init__(
            "\n".join([head, *(f"  {p}" for p in self.problems)]),
            hint="Fix every line listed; method names are Evidently stattest names "
            "(see lab.monitoring.methods.METHODS).",
        )


class _Located(Protocol):
    """What :class:`ConfigError` needs of a problem (``lab.monitoring.config.Problem``)."""

    loc: str
    line: int | None


class BundleError(UsageError):
    """An evidence bundle that cannot be read (exit 2)."""


class StateError(LabError):
    exit_code = 3


class JournalError(StateError):
    """The journal cannot be trusted (a line edited, missing or reordered) or an entry's kind is unknown."""


class ServiceError(LabError):
    exit_code = 4


class InProgressError(LabError):
    exit_code = 5
    label = "still in progress"


class UploadError(LabError):
    """The work was done and kept locally, but the drill console did not take it (exit 6)."""

    exit_code = 6
    label = "warning"


class RubricError(LabError):
    """The rubric file is invalid: a lab bug, not the user's (exit 1)."""


class CardRubricError(RubricError):
    """The model card rubric file is invalid: a lab bug, not the user's (exit 1)."""
