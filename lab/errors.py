"""The lab's errors: one root, split by who has to fix the problem.

::

    LabError                 exit 1  (base: never raised directly)
    ├── UsageError           exit 2  the command line or a user-supplied file is wrong
    │   ├── ScenarioError    exit 2  a scenario file is invalid or unknown
    │   └── SubmissionError  exit 2  a submission cannot be read at all
    ├── StateError           exit 3  the lab home is not in the state the command needs
    ├── ServiceError         exit 4  a service failed to start, died, or answered badly
    └── InProgressError      exit 5  the work goes on in the background (e.g. a shadow still
                                     warming up): nothing failed; run the command again to wait

Every error carries a one-line message naming what and where, and an optional hint
telling the user what to do. The CLI prints both and exits with ``exit_code``;
no traceback is shown for any of them.
"""

from __future__ import annotations


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


class StateError(LabError):
    exit_code = 3


class ServiceError(LabError):
    exit_code = 4


class InProgressError(LabError):
    exit_code = 5
    label = "still in progress"
