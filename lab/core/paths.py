"""Where the lab's shipped data lives: scenario files and document templates.

Both are package data under ``lab/_data`` (the repository's ``scenarios/`` and
``runbooks/`` are links to them), so an installed wheel finds them too.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "_data"
SCENARIO_DIR = DATA_DIR / "scenarios"
TEMPLATE_DIR = DATA_DIR / "runbooks"

__all__ = ["DATA_DIR", "SCENARIO_DIR", "TEMPLATE_DIR"]
