"""Markdown read with markdown-it-py (CommonMark plus tables) into a :class:`Document`.

The block structure comes from markdown-it's tokens and their line maps; the lab's own logic
(snippets with context, template lines, placeholders) sits on top. So setext headings are
sections, a blockquote's text has no ``>``, and a nested item keeps its parent as context:

>>> doc = parse_markdown('''Reporting
... =========
...
... > Report serious incidents within **15 days**.
...
... Evidence to preserve:
...
... - Copy the journal
...   - with the request logs
... ''')
>>> [(s.heading, s.level) for s in doc.sections]
[('Reporting', 1)]
>>> [(s.text, s.lead) for s in doc.snippets if s.item]
[('Copy the journal', 'Evidence to preserve:'), ('with the request logs', 'Evidence to preserve: | Copy the journal')]
>>> doc.snippets[0].text
'Report serious incidents within 15 days.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from lab.grading.markdown.document import Document, Section, Table, _Builder
from lab.grading.markdown.metadata import load_metadata, metadata_snippets
from lab.grading.markdown.numbers import _UNIT_WORDS
from lab.grading.markdown.text import (
    _CLAUSE_SPLIT,
    _UNIT_SPLIT,
    _line_key,
    _spans,
    _strip_comments,
    has_placeholder,
    normalise_heading,
    plain,
    split_front_matter,
    split_sentences,
    strip_placeholders,
    template_lines,
)

#: CommonMark with GitHub tables; raw HTML is read as text (``<days>`` is a placeholder, not a tag).
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")
_TASK_BOX = re.compile(r"^\[[ xX]\]\s+")
#: "3. Data sources" underlined: CommonMark reads a list item and a rule, its author a numbered heading.
_NUMBERED_SETEXT = re.compile(r"(\A|\n[ \t]*\n)([ ]{0,3}\d{1,3})([.)])([ \t]+\S[^\n]*\n[ ]{0,3}(?:=+|-+)[ \t]*)(?=\n|\Z)")


@dataclass
class _Inline:
    """An inline token as plain text, one entry per source line, with its code spans per line."""

    lines: list[str]
    raw: list[str]
    code: list[list[str]]
    first: int  # 0-based line of the first entry in the parsed body


def _render(token: Token) -> _Inline:
    lines = [""]
    code: list[list[str]] = [[]]
    links: list[tuple[str, int, int]] = []  # (href, line, offset) where the link text starts
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "html_inline"):
            lines[-1] += child.content
        elif kind == "code_inline":
            lines[-1] += child.content
            code[-1].append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            lines.append("")
            code.append([])
        elif kind == "link_open":
            links.append((str(child.attrs.get("href", "")), len(lines) - 1, len(lines[-1])))
        elif kind == "link_close" and links:
            href, line, offset = links.pop()
            shown = lines[-1][offset:] if line == len(lines) - 1 else lines[-1]
            if href and href not in (shown, f"mailto:{shown}"):
                lines[-1] += f" ({href})"
        elif kind == "image":
            src = str(child.attrs.get("src", ""))
            lines[-1] += child.content + (f" ({src})" if src else "")
    raw = token.content.split("\n")
    raw += [""] * (len(lines) - len(raw))
    first = token.map[0] if token.map else 0
    return _Inline([plain(x) for x in lines], raw[: len(lines)], code, first)


def _paragraph_read_as_heading(t: Token, inline: Token) -> bool:
    """A paragraph of several lines (or many words) over a ``---`` line: a renderer makes it a
    setext heading, but its author wrote prose followed by a rule, and its facts count."""
    if t.markup not in ("=", "-"):
        return False
    return "\n" in inline.content or len(inline.content.split()) > 12


def _joined(inline: _Inline) -> str:
    return plain(" ".join(inline.lines))


@dataclass
class _List:
    block: int
    chain: list[str]  # the lead-in, then the text of each enclosing item
    depth: int
    item_text: str = ""  # the current item's first paragraph
    item_paragraphs: int = 0


@dataclass
class _Walker:
    b: _Builder
    lines: list[str]
    first: int  # the file's line number of the body's first line
    sections: list[dict[str, Any]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    path: list[tuple[int, str]] = field(default_factory=list)  # (level, key) of enclosing headings
    cur: int | None = None
    lead_in: str = ""
    lists: list[_List] = field(default_factory=list)

    # ------------------------------------------------------------------ context

    def heading(self) -> str:
        return self.sections[self.cur]["heading"] if self.cur is not None else ""

    def context_path(self) -> str:
        if self.cur is None:
            return ""
        names, level = [], 99
        for j in range(self.cur, -1, -1):
            if self.sections[j]["level"] < level:
                names.append(self.sections[j]["heading"])
                level = self.sections[j]["level"]
        return " > ".join(reversed(names))

    def chain(self, *, within_item: bool = True) -> list[str]:
        """The lead-ins above what comes next: the list's lead-in, the enclosing items and, for
        a table, code or later paragraph inside an item (``within_item``), that item's text."""
        if self.lists:
            frame = self.lists[-1]
            return [c for c in frame.chain + ([frame.item_text] if within_item else []) if c]
        return [self.lead_in] if self.lead_in else []

    def context(self, chain: list[str]) -> str:
        return self.context_path() + "".join(f" | {c}" for c in chain)

    # ------------------------------------------------------------------ tokens

    def run(self, tokens: list[Token]) -> None:
        i = 0
        while i < len(tokens):
            t = tokens[i]
            kind = t.type
            if kind == "heading_open":
                if _paragraph_read_as_heading(t, tokens[i + 1]):
                    self.on_paragraph(tokens[i + 1])
                else:
                    self.on_heading(t, tokens[i + 1])
                i += 3
                continue
            if kind == "paragraph_open":
                self.on_paragraph(tokens[i + 1])
                i += 3
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                self.on_list_open()
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
                if not self.lists:
                    self.lead_in = ""
            elif kind == "list_item_open" and self.lists:
                self.lists[-1].item_text, self.lists[-1].item_paragraphs = "", 0
            elif kind == "table_open":
                i = self.on_table(tokens, i)
                continue
            elif kind in ("fence", "code_block"):
                self.on_code(t)
            elif kind == "hr":
                self.lead_in = ""
            i += 1

    def on_heading(self, t: Token, inline: Token) -> None:
        heading = _joined(_render(inline))
        level = int(t.tag[1])
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        key = normalise_heading(heading)
        self.path.append((level, key))
        start, end = t.map or (0, 1)
        self.sections.append({"heading": heading, "key": key, "level": level, "line": self.first + start,
                              "path": tuple(k for _, k in self.path), "start": end, "top": start})
        self.cur = len(self.sections) - 1
        self.lead_in = ""

    def on_paragraph(self, inline: Token) -> None:
        rendered = _render(inline)
        if self.lists:
            frame = self.lists[-1]
            if frame.item_paragraphs == 0 and rendered.lines:
                rendered.lines[0] = _TASK_BOX.sub("", rendered.lines[0])
            chain = self.chain(within_item=frame.item_paragraphs > 0)
            _prose_snippets(self.b, rendered, self.first, self.cur, self.context(chain), frame.block, item=True,
                            heading=self.heading(), lead=" | ".join(chain), depth=frame.depth)
            if frame.item_paragraphs == 0:
                frame.item_text = _joined(rendered)
            frame.item_paragraphs += 1
            return
        _prose_snippets(self.b, rendered, self.first, self.cur, self.context_path(), self.b.next_block(),
                        item=False, heading=self.heading(), lead="", depth=0)
        text = _joined(rendered)
        self.lead_in = text if text.endswith(":") else ""

    def on_list_open(self) -> None:
        if self.lists:
            outer = self.lists[-1]
            self.lists.append(_List(outer.block, outer.chain + [outer.item_text], outer.depth + 1))
        else:
            self.lists.append(_List(self.b.next_block(), [self.lead_in] if self.lead_in else [], 1))

    def on_code(self, t: Token) -> None:
        start = (t.map[0] if t.map else 0) + (1 if t.type == "fence" else 0)
        block = self.b.next_block()
        for k, raw in enumerate(t.content.split("\n")):
            code = raw.strip()
            if code:
                self.b.add(text=code, source="code", line=self.first + start + k, section=self.cur,
                           context=self.context(self.chain()) if self.lists else self.context_path(),
                           heading=self.heading(),
                           template=self.b.is_template(raw, code), block=block, units=((0, len(code)),),
                           groups=((0, len(code)),), code=(code,))
        if not self.lists:
            self.lead_in = ""

    def on_table(self, tokens: list[Token], i: int) -> int:
        line = self.first + (tokens[i].map[0] if tokens[i].map else 0)
        header: list[_Inline] = []
        rows: list[tuple[int, list[_Inline]]] = []
        row: list[_Inline] | None = None
        row_line = 0
        while tokens[i].type != "table_close":
            t = tokens[i]
            if t.type == "tr_open":
                row, row_line = [], (t.map[0] if t.map else 0)
            elif t.type == "inline" and row is not None:
                row.append(_render(t))
            elif t.type == "tr_close" and row is not None:
                if not header:
                    header = row
                else:
                    rows.append((row_line, row))
                row = None
            i += 1
        self.tables.append(_table(self.b, self.lines, header, rows, line, self.first, self.cur,
                                  self.context(self.chain()), self.heading()))
        if not self.lists:
            self.lead_in = ""
        return i + 1

    # ------------------------------------------------------------------ sections

    def built_sections(self) -> tuple[Section, ...]:
        out = []
        secs = self.sections
        for k, s in enumerate(secs):
            end_own = secs[k + 1]["top"] if k + 1 < len(secs) else len(self.lines)
            end_all = next((secs[j]["top"] for j in range(k + 1, len(secs)) if secs[j]["level"] <= s["level"]),
                           len(self.lines))
            out.append(Section(heading=s["heading"], key=s["key"], level=s["level"], line=s["line"],
                               path=s["path"], body="\n".join(self.lines[s["start"] : end_own]).strip(),
                               text="\n".join(self.lines[s["start"] : end_all]).strip()))
        return tuple(out)


def parse_markdown(text: str, *, template: str | None = None) -> Document:
    """Parse ``text``; lines equal to a line of ``template`` count as template text.

    The metadata block must already be size-checked by the caller; an unreadable block
    leaves ``metadata`` empty and says why in ``metadata_error``.
    """
    yaml_text, body, first = split_front_matter(text)
    metadata, metadata_error = load_metadata(yaml_text)
    b = _Builder(template_lines(template))
    metadata_snippets(metadata, b)
    body = _strip_comments(body)
    walker = _Walker(b, body.split("\n"), first)
    body = _NUMBERED_SETEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}\\{m.group(3)}{m.group(4)}", body)
    walker.run(_MD.parse(body))
    return Document(metadata=metadata, sections=walker.built_sections(), tables=tuple(walker.tables),
                    snippets=tuple(b.snippets), metadata_error=metadata_error)


def _prose_snippets(b: _Builder, inline: _Inline, first: int, section: int | None, context: str, block: int,
                    *, item: bool, heading: str, lead: str, depth: int) -> None:
    """One snippet per sentence; its line is where it starts, and it is template text when it
    holds a placeholder or every line it spans was copied from the template."""
    cleaned = inline.lines
    starts = []
    pos = 0
    for c in cleaned:
        starts.append(pos)
        pos += len(c) + 1
    text = " ".join(cleaned)
    for a, z in split_sentences(text):
        spanned = [k for k, st in enumerate(starts) if st < z and st + len(cleaned[k]) > a] or [0]
        raws = [inline.raw[k] for k in spanned]
        sentence = text[a:z]
        template = has_placeholder(sentence) or all(_line_key(r) in b.template for r in raws) or \
            not re.search(r"[A-Za-z0-9]", strip_placeholders(sentence))
        if not template:
            sentence = re.sub(r"\s+", " ", strip_placeholders(sentence)).strip()
        code = tuple(c for k in spanned for c in inline.code[k])
        b.add(text=sentence, source="prose", line=first + inline.first + spanned[0], section=section,
              context=context, template=template, block=block, units=_spans(sentence, _UNIT_SPLIT),
              groups=_spans(sentence, _CLAUSE_SPLIT), code=code, item=item, heading=heading, lead=lead,
              depth=depth)


def _with_unit(value: str, label: str) -> str:
    """A bare number whose header or key names a unit gets that unit: ``15`` under "Deadline (days)"."""
    if not re.fullmatch(r"\s*[<>=~≤≥]*\s*\d+(?:\.\d+)?\s*", value):
        return value
    words = re.findall(r"[a-z]+", label.lower())
    units = [_UNIT_WORDS[w] for w in words if w in _UNIT_WORDS and w != "h"]
    return f"{value.strip()} {units[-1]}" if units else value


def _table(b: _Builder, lines: list[str], head: list[_Inline], body: list[tuple[int, list[_Inline]]], line: int,
           first: int, section: int | None, context: str, heading: str) -> Table:
    header = [_joined(c) for c in head]
    block = b.next_block()
    rows = []
    for row_line, cells_in in body:
        cells = [_joined(c) for c in cells_in]
        cells += [""] * (len(header) - len(cells))
        raw = lines[row_line] if row_line < len(lines) else " | ".join(cells)
        row: dict[str, str] = {}
        parts: list[str] = []
        units: list[tuple[int, int]] = []
        groups: list[tuple[int, int]] = []
        template = b.is_template(raw, " ".join(cells))
        pos = 0
        for h, c in zip(header, cells):
            name = h or f"column {len(row) + 1}"
            shown = _with_unit(strip_placeholders(c), name) if not template else c
            row[name] = shown
            prefix = f"{name}: "
            piece = prefix + shown
            groups.append((pos, pos + len(piece)))
            units.append((pos + len(prefix), pos + len(piece)))
            parts.append(piece)
            pos += len(piece) + 3
        rows.append(row)
        b.add(text=" | ".join(parts), source="table", line=first + row_line, section=section,
              context=context + " | " + " | ".join(header), template=template, block=block,
              units=tuple(u for u in units if u[1] > u[0]), groups=tuple(groups),
              code=tuple(c for cell in cells_in for codes in cell.code for c in codes), heading=heading,
              lead=" | ".join(header))
    return Table(header=tuple(header), rows=tuple(rows), line=line, section=section)
