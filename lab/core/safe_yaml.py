"""Safe YAML reading that remembers where every key was written.

``parse`` returns the plain data (safe loader) and a map from each location (the tuple
of keys and list indices leading to a value, as pydantic reports it) to the 1-based line
of that key. It refuses what could blow up memory or time before anything is built:
documents over 1 MiB, any anchor or alias (so no "billion laughs" expansion, and no
``<<`` merge keys), and nesting deeper than 32 levels. Duplicate keys, which PyYAML
silently collapses, are reported too.

>>> doc = parse("a:\\n  b: 1\\n")
>>> doc.data, doc.line(("a", "b"))
({'a': {'b': 1}}, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32

Loc = tuple[Any, ...]


class YamlProblem(Exception):
    """A document that cannot be read at all; ``line`` is 1-based when known.

    ``kind`` says which rule refused it: ``"syntax"`` (not YAML), ``"size"``, ``"alias"``
    (an anchor or alias) or ``"depth"``, so a reader can word its own message.
    """

    def __init__(self, message: str, line: int | None = None, kind: str = "syntax") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind


@dataclass
class Parsed:
    data: Any
    lines: dict[Loc, int]
    duplicates: list[tuple[Loc, int]] = field(default_factory=list)

    def line(self, loc: Loc) -> int | None:
        """The line of the deepest part of ``loc`` that the document contains."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


def _mark_line(mark: Any) -> int | None:
    return None if mark is None else mark.line + 1


def check_guard(text: str) -> None:
    """The guard alone: raise :class:`YamlProblem` for a document over :data:`MAX_BYTES`, with
    an anchor or alias, or nested deeper than :data:`MAX_DEPTH`; after it, ``yaml.safe_load``
    cannot blow up. A syntax error is left to the caller as PyYAML raised it.

    >>> check_guard("a: &x 1\\nb: *x\\n")
    Traceback (most recent call last):
    ...
    lab.core.safe_yaml.YamlProblem: anchors and aliases (&name, *name) are not allowed in this file; write values out in full
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise YamlProblem(f"file is {size:,} bytes; the limit is {MAX_BYTES:,} (1 MiB)", kind="size")
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlProblem(
                "anchors and aliases (&name, *name) are not allowed in this file; write values out in full",
                _mark_line(event.start_mark), kind="alias",
            )
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlProblem(f"nesting deeper than {MAX_DEPTH} levels", _mark_line(event.start_mark),
                                  kind="depth")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def parse(text: str) -> Parsed:
    """Parse one YAML document safely; raise :class:`YamlProblem` when it cannot be read."""
    try:
        check_guard(text)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return Parsed(data=None, lines={})
            data = loader.construct_document(node)
            parsed = Parsed(data=data, lines={(): _mark_line(node.start_mark) or 1})
            _walk(loader, node, (), parsed)
            return parsed
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = ": ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlProblem(f"YAML syntax error: {reason}", _mark_line(mark)) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML error: {exc}") from None


def _walk(loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, out: Parsed) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            try:
                key = loader.construct_object(key_node, deep=True)
                hash(key)
            except Exception:  # an unhashable key fails construction earlier; be safe
                continue
            line = _mark_line(key_node.start_mark) or 1
            if key in seen:  # PyYAML keeps the last value, so the map does too
                out.duplicates.append((loc + (key,), line))
            seen.add(key)
            out.lines[loc + (key,)] = line
            _walk(loader, value_node, loc + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.lines[loc + (i,)] = _mark_line(item.start_mark) or 1
            _walk(loader, item, loc + (i,), out)
