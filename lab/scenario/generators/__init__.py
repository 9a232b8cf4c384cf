"""Seeded synthetic populations, one per scenario domain."""

from __future__ import annotations

from lab.scenario.generators.base import Feature, Generator
from lab.scenario.generators.churn import ChurnGenerator
from lab.scenario.generators.credit import CreditGenerator
from lab.scenario.generators.hiring import HiringGenerator

GENERATORS: dict[str, type[Generator]] = {g.name: g for g in (HiringGenerator, CreditGenerator, ChurnGenerator)}


def generator_class(name: str) -> type[Generator]:
    try:
        return GENERATORS[name]
    except KeyError:
        raise KeyError(f"unknown generator {name!r}; known: {', '.join(sorted(GENERATORS))}") from None


__all__ = ["Feature", "Generator", "GENERATORS", "generator_class"]
