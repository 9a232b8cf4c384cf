"""Rubric files (YAML, shipped with the lab) read into their frozen pydantic schema.

One reader for every rubric, so a bad file gets the same message: the file, the field
and the reason, and a hint to restore it. The text goes through the lab's safe YAML
reader (lab.core.safe_yaml: no anchors or aliases, bounded size and depth) and a key
written twice is an error, not a rule silently dropped.

>>> from pydantic import BaseModel
>>> class R(BaseModel):
...     rubric_version: int
>>> parse_rubric_yaml("rubric_version: 2", R, "r.yaml").rubric_version
2
>>> parse_rubric_yaml("rubric_version: two", R, "r.yaml")
Traceback (most recent call last):
...
lab.errors.RubricError: r.yaml: rubric_version (line 1): Input should be a valid integer, unable to parse string as an integer
>>> parse_rubric_yaml("rubric_version: 2\\nrubric_version: 3\\n", R, "r.yaml")
Traceback (most recent call last):
...
lab.errors.RubricError: r.yaml: line 2: rubric_version is written twice
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from lab.core.yaml_model import validate_yaml
from lab.errors import RubricError

M = TypeVar("M", bound=BaseModel)


def parse_rubric_yaml(text: str, model: type[M], source: str, error: type[RubricError] = RubricError) -> M:
    """Validate a rubric document into ``model``; a bad one raises ``error`` naming each field,
    its line and the reason (lab.core.yaml_model)."""
    hint = "the rubric ships with the lab; restore it from version control"
    return validate_yaml(text, model, source, error, hint=hint)


_LOADED: dict[tuple[Path, Callable[..., object]], object] = {}


def read_rubric_file(path: str | Path, parse: Callable[[str, str], M], error: type[RubricError] = RubricError) -> M:
    """The rubric at ``path`` parsed by ``parse(text, file name)``, validated once per process;
    an unreadable file raises ``error`` naming it."""
    p = Path(path)
    key = (p, parse)
    if key not in _LOADED:
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise error(f"cannot read rubric {p}: {exc.strerror}") from None
        _LOADED[key] = parse(text, p.name)
    return _LOADED[key]  # type: ignore[return-value]
