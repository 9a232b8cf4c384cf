"""prodml-lab: production-ML incidents on one machine, and a grader that explains your response.

The public surface is small on purpose: the CLI (``lab``) is the product; these names
are what other modules and tests may import.
"""

from lab._version import __version__
from lab.errors import LabError, ScenarioError, ServiceError, SubmissionError, UsageError

__all__ = [
    "__version__",
    "LabError",
    "ScenarioError",
    "ServiceError",
    "SubmissionError",
    "UsageError",
]
