"""What a parsed submission holds: sections, snippets (the units a fact must sit in) and tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from lab.grading.markdown.keywords import is_keyword_list
from lab.grading.markdown.text import Span, _line_key, has_placeholder, strip_placeholders

Source = Literal["metadata", "table", "prose", "code"]


@dataclass(frozen=True)
class Section:
    heading: str  # as written, inline markup removed
    key: str  # normalise_heading(heading)
    level: int
    line: int
    path: tuple[str, ...]  # keys of the enclosing headings, outermost first, ending with key
    body: str = ""  # own text up to the next heading (comments removed)
    text: str = ""  # body plus every subsection


@dataclass(frozen=True)
class Snippet:
    """One unit a fact must sit in: a sentence, a table row, a code line or a metadata leaf."""

    text: str
    source: Source
    line: int
    section: int | None  # index into Document.sections
    context: str  # heading path, then a list's lead-in and parent items, a table's header or a metadata key path
    template: bool
    block: int  # paragraph, list, table, code block or metadata: snippets of one block share it
    units: tuple[Span, ...] = ()  # smallest clauses (a table cell, a metadata value)
    groups: tuple[Span, ...] = ()  # enclosing clauses (``header: cell``, ``key: value``)
    code: tuple[str, ...] = ()  # inline code spans and code lines, as written
    item: bool = False  # a list item (or a sentence of one)
    heading: str = ""  # the innermost heading above it
    lead: str = ""  # a list's lead-in (and, nested, its parent items " | "-joined), a table's header, a key path
    keywords: bool = False  # a list of keywords rather than a statement (see is_keyword_list)
    depth: int = 0  # list nesting: 1 for a top-level item, 2 under it, ...
    lead_in: str = ""  # the paragraph ending in ":" right before this snippet's block (see _Builder.add)


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    line: int
    section: int | None


@dataclass(frozen=True)
class Document:
    metadata: dict[str, Any]
    sections: tuple[Section, ...]
    tables: tuple[Table, ...]
    snippets: tuple[Snippet, ...]
    metadata_error: str | None = None

    @property
    def content(self) -> tuple[Snippet, ...]:
        """Snippets that count: neither template text nor bare lists of keywords."""
        return tuple(s for s in self.snippets if not s.template and not s.keywords)

    @property
    def non_template(self) -> tuple[Snippet, ...]:
        """Snippets that are not template text, keyword lists included (for counting named items)."""
        return tuple(s for s in self.snippets if not s.template)

    @property
    def prose(self) -> str:
        """The document's own prose (no template text, tables, code or metadata)."""
        return "\n".join(s.text for s in self.content if s.source == "prose")

    @property
    def title(self) -> str:
        top = [s for s in self.sections if s.level == 1]
        return top[0].heading if top else ""

    def sections_matching(self, pattern: str | re.Pattern[str]) -> list[int]:
        """Indices of sections whose normalised heading matches ``pattern`` (searched)."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        return [i for i, s in enumerate(self.sections) if rx.search(s.key)]

    def in_sections(self, indices: Iterable[int]) -> list[Snippet]:
        """Content snippets inside any of the sections (or their subsections)."""
        wanted = set(indices)
        keep = set()
        for i in wanted:
            keep.update(self.subtree(i))
        return [s for s in self.content if s.section in keep]

    def subtree(self, index: int) -> list[int]:
        """``index`` and the sections nested under it."""
        top = self.sections[index]
        out = [index]
        for j in range(index + 1, len(self.sections)):
            if self.sections[j].level <= top.level:
                break
            out.append(j)
        return out


class _Builder:
    """Collects snippets in document order and numbers their blocks."""

    def __init__(self, template: frozenset[str]) -> None:
        self.template = template
        self.snippets: list[Snippet] = []
        self.block = 0
        self.lead_ins: dict[int, str] = {}

    def next_block(self) -> int:
        self.block += 1
        return self.block

    def is_template(self, raw_line: str, text: str) -> bool:
        if has_placeholder(raw_line):
            return True
        if _line_key(raw_line) in self.template:
            return True
        return not re.search(r"[A-Za-z0-9]", strip_placeholders(text))

    def add(self, **kw: Any) -> None:
        if kw["source"] == "prose":
            kw["keywords"] = is_keyword_list(kw["text"], kw.get("code", ()))
        kw["lead_in"] = self._lead_in(kw["block"], kw["section"])
        self.snippets.append(Snippet(**kw))

    def _lead_in(self, block: int, section: int | None) -> str:
        """What a reader takes as the heading of a block: a paragraph (or list item) ending in ":"
        right before it in the same section, e.g. "Live figures since the drift:" above a table.

        >>> from lab.grading.markdown import parse_markdown
        >>> doc = parse_markdown("Live figures since the drift:\\n\\n| Metric | Value |\\n|---|---|\\n"
        ...                      "| ROC AUC | 0.70 |\\n\\nThe evaluation run:\\n\\n- ROC AUC 0.78\\n")
        >>> [(s.text, s.lead_in) for s in doc.snippets if s.source != "prose" or s.item]
        [('Metric: ROC AUC | Value: 0.70', 'Live figures since the drift:'), ('ROC AUC 0.78', 'The evaluation run:')]
        """
        if block not in self.lead_ins:
            prev = self.snippets[-1] if self.snippets else None
            self.lead_ins[block] = prev.text if (
                prev is not None and prev.block == block - 1 and prev.section == section
                and prev.source == "prose" and prev.text.rstrip().endswith(":")) else ""
        return self.lead_ins[block]
