"""Where the lab's shipped data lives: scenario files and document templates.

Both are package data under ``lab/_data`` (the repository's ``scenarios/`` and
``runbooks/`` are links to them), so an installed wheel finds them too.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "_data"
SCENARIO_DIR = DATA_DIR / "scenarios"
TEMPLATE_DIR = DATA_DIR / "runbooks"

__all__ = ["DATA_DIR", "SCENARIO_DIR", "TEMPLATE_DIR", "read_template"]


def read_template(path: Path) -> str | None:
    """A template's untouched text (graders compare a submission with it), or None when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
