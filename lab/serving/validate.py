"""Turns a request's rows into the model's input frame, or says exactly what is wrong."""

from __future__ import annotations

from typing import Any

import pandas as pd
from bentoml.exceptions import InvalidArgument

from lab.scenario.generators.base import Generator


def rows_to_frame(rows: list[dict[str, Any]], gen: type[Generator]) -> pd.DataFrame:
    problems: list[str] = []
    features = gen.features
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(f"rows[{i}]: expected an object of feature values, got {type(row).__name__}")
            continue
        for f in features:
            if f.name not in row or row[f.name] is None:
                problems.append(f"rows[{i}].{f.name}: missing")
                continue
            value = row[f.name]
            if f.kind == "categorical":
                if not isinstance(value, str):
                    problems.append(f"rows[{i}].{f.name}: expected a string, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"rows[{i}].{f.name}: expected a number, got {value!r}")
        if len(problems) >= 20:
            break
    if problems:
        shown = problems[:20]
        more = "" if len(problems) <= 20 else f" (and more)"
        raise InvalidArgument("invalid rows: " + "; ".join(shown) + more)
    return pd.DataFrame.from_records(rows, columns=[f.name for f in features])
