"""Package exports loaded on first use (PEP 562), so importing a light submodule stays light.

``lab.monitoring`` and ``lab.grading`` re-export names from submodules that import pandas,
scikit-learn or Evidently; with :func:`lazy_exports` those load only when a name is used.

>>> import types
>>> pkg = types.ModuleType("pkg")
>>> pkg.__all__, pkg.__getattr__, pkg.__dir__ = lazy_exports("json", {"decoder": ("JSONDecoder",)}, vars(pkg))
>>> pkg.__all__, pkg.__getattr__("JSONDecoder").__name__
(['JSONDecoder'], 'JSONDecoder')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, tuple[str, ...]], namespace: dict[str, Any]
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package`` exporting ``{submodule: names}``;
    a loaded name is cached in ``namespace`` (the package's ``globals()``)."""
    where = {name: module for module, names in exports.items() for name in names}
    names = sorted(where)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return names, __getattr__, __dir__
