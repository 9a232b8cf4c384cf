"""A YAML document validated into a pydantic model, every problem named with its key and line.

Shared by the files the lab reads into models (the graders' rubrics, ``release_gate.yaml``):
:func:`lab.core.safe_yaml.parse` refuses what could blow up (size, aliases, depth) and
finds duplicate keys; the model's validation errors come back as one message, each with
the dotted key and the line it was written on.

>>> from lab.core.frozen import Frozen
>>> class M(Frozen):
...     size: int
>>> validate_yaml("size: 3\\n", M, "m.yaml").size
3
>>> validate_yaml("size: big\\n", M, "m.yaml")
Traceback (most recent call last):
lab.errors.UsageError: m.yaml: size (line 1): Input should be a valid integer, unable to parse string as an integer
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from lab.core import safe_yaml
from lab.errors import LabError, UsageError

M = TypeVar("M", bound=BaseModel)


def validate_yaml(text: str, model: type[M], source: str, error: type[LabError] = UsageError,
                  hint: str | None = None) -> M:
    """``text`` validated into ``model`` (an empty document is ``{}``); ``error(message, hint)``
    naming ``source``, each key and its line otherwise."""
    try:
        doc = safe_yaml.parse(text)
    except safe_yaml.YamlProblem as exc:
        where = f" line {exc.line}:" if exc.line else ""
        raise error(f"{source}:{where} not valid YAML: {exc.message}", hint=hint) from None
    if doc.duplicates:
        loc, line = doc.duplicates[0]
        raise error(f"{source}: line {line}: {'.'.join(str(p) for p in loc)} is written twice", hint=hint)
    try:
        return model.model_validate(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = doc.line(loc)
            where = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{where}{f' (line {line})' if line else ''}: {err['msg']}")
        raise error(f"{source}: " + "; ".join(problems), hint=hint) from None


__all__ = ["validate_yaml"]
