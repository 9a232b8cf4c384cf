"""Rubric files (YAML, shipped with the lab) read into their frozen pydantic schema.

One reader for every rubric, so a bad file gets the same message: the file, the field
and the reason, and a hint to restore it.

>>> from pydantic import BaseModel
>>> class R(BaseModel):
...     rubric_version: int
>>> parse_rubric_yaml("rubric_version: 2", R, "r.yaml").rubric_version
2
>>> parse_rubric_yaml("rubric_version: two", R, "r.yaml")
Traceback (most recent call last):
...
lab.errors.RubricError: r.yaml: rubric_version: Input should be a valid integer, unable to parse string as an integer
"""

from __future__ import annotations

from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lab.errors import RubricError

M = TypeVar("M", bound=BaseModel)


def parse_rubric_yaml(text: str, model: type[M], source: str, error: type[RubricError] = RubricError) -> M:
    """Validate a rubric document into ``model``; a bad one raises ``error`` naming the field and the reason."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise error(f"{source}: {loc}: {err['msg']}{more}",
                    hint="the rubric ships with the lab; restore it from version control") from None
