"""Checks of `lab shadow start`'s options, light enough to run before anything heavy is imported."""

from __future__ import annotations

from lab.errors import UsageError
from lab.serving.shadow_state import FAULT_HELP, parse_fault


def check_shadow_options(percent: float, fault: str | None, timeout: float) -> None:
    """Raise :class:`UsageError` for a share outside (0, 100], a timeout of 0 or less, or an unknown fault.

    >>> check_shadow_options(150, None, 10)
    Traceback (most recent call last):
    lab.errors.UsageError: --percent 150 is outside (0, 100]
    """
    if not 0 < percent <= 100:
        raise UsageError(f"--percent {percent} is outside (0, 100]")
    if not timeout > 0:
        raise UsageError(f"--timeout {timeout} must be more than 0 seconds")
    try:
        parse_fault(fault)
    except ValueError:
        raise UsageError(f"--fault {fault!r} is not one of: {FAULT_HELP}") from None
