"""Checks of the release commands' options, light enough to run before anything heavy is imported."""

from __future__ import annotations

import re

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


MAX_ROLE_CHARS = 80


def check_role(role: str | None) -> str | None:
    """``--by``: the role that took a decision, in a few words (spaces collapsed), or None.

    >>> check_role("  ML   lead ")
    'ML lead'
    >>> check_role("42")
    Traceback (most recent call last):
    lab.errors.UsageError: --by '42': give the role that took the decision in a few words (at most 80 characters), e.g. --by 'ML lead'
    """
    if role is None:
        return None
    role = " ".join(role.split())
    if not role or len(role) > MAX_ROLE_CHARS or not re.search(r"[A-Za-z]", role):
        raise UsageError(f"--by {role!r}: give the role that took the decision in a few words (at most "
                         f"{MAX_ROLE_CHARS} characters), e.g. --by 'ML lead'")
    return role
