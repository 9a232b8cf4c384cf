"""The base of every data model the lab reads from a file or hands between stages.

Frozen, so a validated scenario, rubric or result cannot be changed behind the
validator's back (and can be a dict key); ``extra="forbid"``, so a misspelt key in a
YAML file is an error naming it instead of a value silently ignored.

>>> class Window(Frozen):
...     size: int
>>> Window(size=500).size
500
>>> Window(size=500, sise=1)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Window
sise
  Extra inputs are not permitted [type=extra_forbidden, input_value=1, input_type=int]
    For further information visit https://errors.pydantic.dev/.../v/extra_forbidden
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
