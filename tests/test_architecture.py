"""Lab's import graph, read from the source with ``ast``: no cycles, and grading stays pure.

Every ``import`` and ``from ... import`` counts, at any depth (inside functions too),
relative imports resolved. A name such as ``lab.evidence.schema.Evidence`` counts as an
import of the deepest module it names (``lab.evidence.schema``). Importing a module also
runs its parent packages' ``__init__``, so the purity check walks those as well (the cycle
check does not: a package importing its own submodules is not a cycle). Imports made with
``importlib`` (``lab.monitoring``'s lazy names, the CLI's command list) are out of sight.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Grading turns evidence and a submission into scored items; it never reaches the live lab.
FORBIDDEN_FOR_GRADING = ("lab.cli", "lab.stack", "lab.world", "lab.release", "lab.serving", "lab.evidence.collect")
# Pure pieces inside forbidden packages: the shadow's state machine (replayed from the
# journal), the shadow report built from logs, the release gate's checks and file schema
# (replayed on hidden candidates), and the packages' own ``__init__`` (their
# imports are walked anyway).
ALLOWED_IN_FORBIDDEN = {"lab.serving", "lab.serving.shadow_state", "lab.release", "lab.release.shadow_report",
                        "lab.release.gate", "lab.release.gate_config"}
# The stages, lowest first. A module may import its own stage and the stages below it,
# never one above: the flow runs one way (scenario, world, release, stack, evidence,
# grading, report). ``lab`` is the package root, errors and helpers every stage uses.
LAYERS = ("lab", "core", "scenario", "serving", "release", "world", "monitoring", "stack", "evidence", "grading",
          "drill", "workers", "cli")
# Edges that still go upwards, each with why; the test fails when one disappears too, so
# the list only shrinks.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}
FORBIDDEN_LIBRARIES_FOR_GRADING = {"mlflow", "bentoml", "prefect"}
# The live collector reads MLflow and the stack to write a bundle; graders read the bundle.
LIVE_IN_GRADING = {"lab.evidence.collect"}
# Import names that differ from the distribution that provides them.
DISTRIBUTION_OF = {"sklearn": "scikit-learn", "yaml": "pyyaml", "markdown_it": "markdown-it-py"}


class ImportGraph:
    """Modules of one package under ``root`` and, per module, what it imports."""

    def __init__(self, root: Path, package: str) -> None:
        self.files = {_module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}
        self.lab_edges: dict[str, set[str]] = {}
        self.libraries: dict[str, set[str]] = {}
        for module, path in self.files.items():
            own = path.name == "__init__.py"
            names = _imported_names(ast.parse(path.read_text(), str(path)), module if own else module.rpartition(".")[0])
            top = package.split(".")[0]
            self.lab_edges[module] = {
                found for name in names if name.split(".")[0] == top
                if (found := self._deepest(name)) is not None and found != module
            }
            self.libraries[module] = {name.split(".")[0] for name in names if name.split(".")[0] != top}

    def _deepest(self, name: str) -> str | None:
        while name:
            if name in self.files:
                return name
            name = name.rpartition(".")[0]
        return None

    def cycles(self) -> list[list[str]]:
        """One cycle path (first module repeated at the end) per cycle found by a depth-first walk."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        path: list[str] = []
        found: list[list[str]] = []

        def visit(module: str) -> None:
            state[module] = 1
            path.append(module)
            for target in sorted(self.lab_edges[module]):
                if state.get(target) == 1:
                    found.append(path[path.index(target):] + [target])
                elif target not in state:
                    visit(target)
            path.pop()
            state[module] = 2

        for module in sorted(self.files):
            if module not in state:
                visit(module)
        return found

    def reachable(self, start: str) -> dict[str, str | None]:
        """Every lab module that importing ``start`` runs, each with the module that led to it."""
        parent: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            module = queue.popleft()
            packages = {module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)}
            for target in sorted(self.lab_edges[module] | (packages & self.files.keys())):
                if target not in parent:
                    parent[target] = module
                    queue.append(target)
        return parent


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(tree: ast.Module, package: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            if source == "__future__":
                continue
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def _banned(module: str) -> bool:
    inside = any(module == f or module.startswith(f + ".") for f in FORBIDDEN_FOR_GRADING)
    return inside and module not in ALLOWED_IN_FORBIDDEN


def _chain(parent: dict[str, str | None], module: str) -> str:
    chain = [module]
    while (previous := parent[chain[-1]]) is not None:
        chain.append(previous)
    return " -> ".join(reversed(chain))


@pytest.fixture(scope="module")
def lab_graph() -> ImportGraph:
    return ImportGraph(ROOT, "lab")


def test_lab_has_no_import_cycle(lab_graph: ImportGraph) -> None:
    cycles = lab_graph.cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_grading_never_reaches_the_live_lab(lab_graph: ImportGraph) -> None:
    problems = []
    for module in sorted(lab_graph.files):
        if not module.startswith("lab.grading") or module in LIVE_IN_GRADING:
            continue
        parent = lab_graph.reachable(module)
        for target in parent:
            if _banned(target) and not any(_banned(before) for before in _chain(parent, target).split(" -> ")[:-1]):
                problems.append(_chain(parent, target))  # the first banned step of a chain is enough
            if any(_banned(step) for step in _chain(parent, target).split(" -> ")):
                continue  # reported as the banned lab module already
            for library in sorted(lab_graph.libraries[target] & FORBIDDEN_LIBRARIES_FOR_GRADING):
                problems.append(f"{_chain(parent, target)} -> {library}")
    assert not problems, "grading reaches the live lab:\n" + "\n".join(sorted(set(problems)))


def _stage(module: str) -> str:
    parts = module.split(".")
    return "lab" if len(parts) == 1 or parts[1].startswith("_") or parts[1] == "errors" else parts[1]


def test_every_module_belongs_to_a_stage(lab_graph: ImportGraph) -> None:
    assert {_stage(m) for m in lab_graph.files} == set(LAYERS)


def test_imports_flow_one_way_from_scenario_to_cli(lab_graph: ImportGraph) -> None:
    rank = {stage: i for i, stage in enumerate(LAYERS)}
    upward = {(module, target) for module, targets in lab_graph.lab_edges.items() for target in targets
              if rank[_stage(target)] > rank[_stage(module)]}
    assert upward == set(KNOWN_UPWARD), "imports against the flow:\n" + "\n".join(
        f"{a} ({_stage(a)}) -> {b} ({_stage(b)})" for a, b in sorted(upward - set(KNOWN_UPWARD)))


def test_the_walk_sees_imports_inside_functions_and_the_live_collector(lab_graph: ImportGraph) -> None:
    # The checks above are only as good as the graph: it must hold edges we know exist.
    assert "lab.stack.control" in lab_graph.lab_edges["lab.evidence.collect"]
    assert "mlflow" in lab_graph.libraries["lab.release.train"]
    assert "lab.evidence.schema" in lab_graph.lab_edges["lab.grading.grade"]
    assert "lab.grading.markdown.document" in lab_graph.lab_edges["lab.grading.markdown"]


def _distribution(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0)).lower()


def _third_party(lab_graph: ImportGraph) -> dict[str, list[str]]:
    """Each library lab imports (not the standard library), with the modules importing it."""
    users: dict[str, list[str]] = {}
    for module, libraries in sorted(lab_graph.libraries.items()):
        for library in libraries - set(sys.stdlib_module_names):
            users.setdefault(library, []).append(module)
    return users


def test_every_imported_library_is_declared_and_pinned(lab_graph: ImportGraph) -> None:
    declared = {_distribution(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    lines = [line for line in (ROOT / "requirements.in").read_text().splitlines() if line.strip() and line[0] != "#"]
    in_file = {_distribution(line) for line in lines}
    pinned = {_distribution(line.split("==")[0]) for line in (ROOT / "requirements.lock").read_text().splitlines()
              if "==" in line and not line.startswith((" ", "#"))}
    users = _third_party(lab_graph)
    assert {"numpy", "scipy", "sklearn", "yaml"} <= users.keys()  # the walk sees the libraries at all
    problems = []
    for library, modules in sorted(users.items()):
        distribution = _distribution(DISTRIBUTION_OF.get(library, library))
        for where, names in (("pyproject.toml dependencies", declared), ("requirements.in", in_file),
                             ("requirements.lock", pinned)):
            if distribution not in names:
                problems.append(f"{library} (distribution {distribution}, imported by {', '.join(modules)}) "
                                f"is missing from {where}")
    assert not problems, "\n".join(problems)


def test_import_names_map_to_the_installed_distributions() -> None:
    provided = importlib.metadata.packages_distributions()
    for library, distribution in DISTRIBUTION_OF.items():
        assert distribution in {_distribution(d) for d in provided.get(library, [])}, library


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_function_level_relative_import_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "def f():\n    from ..c import thing\n",
        "pkg/c.py": "import json\nimport pkg.a.name\n",
        "pkg/d.py": "from . import c\n",
    })
    graph = ImportGraph(tmp_path, "pkg")
    assert graph.cycles() == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    assert graph.libraries["pkg.c"] == {"json"}
    reached = graph.reachable("pkg.d")
    assert _chain(reached, "pkg.sub.b") == "pkg.d -> pkg.c -> pkg.a -> pkg.sub.b"
    assert "pkg" in reached  # a module's parent packages run too
