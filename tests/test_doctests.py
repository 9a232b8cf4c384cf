"""The docstring examples run as tests (river's habit): an example that rots fails here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lab

# Modules whose import starts nothing and needs no server.
SKIP = {"lab.serving.service", "lab.cli.__main__"}


def modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(lab.__path__, "lab."):
        if info.name in SKIP:
            continue
        spec = importlib.util.find_spec(info.name)
        if spec and spec.origin and spec.origin.endswith(".py"):
            with open(spec.origin, encoding="utf-8") as f:
                if ">>> " in f.read():
                    names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
