"""Markdown submissions read the way a grader needs them: metadata, sections, tables, prose.

:func:`parse_markdown` turns a document into a :class:`Document`:

* ``metadata``: the YAML block between leading ``---`` lines (safe loader, no aliases);
* ``sections``: every heading with its own body and its whole subtree, headings
  normalised (numbering, case, punctuation) so synonyms can be matched;
* ``snippets``: the units a fact must sit in to count: one per prose sentence, list
  item sentence, table row, code line and metadata leaf. Each snippet knows its
  context (heading path, a list's lead-in, a table's header, a metadata key path) and
  whether it is template text (a placeholder such as ``[More Information Needed]``,
  ``TODO``, ``{{ ... }}``, ``<fill in>``, or a line copied unchanged from our template).

Facts are found by :func:`label_numbers`: every number (or quantity such as
"15 days") is labelled, per dimension, by the *nearest* mention of a label, looking
first in its own clause, then the enclosing clause, the sentence and finally the
snippet's context. A table cell's clause is ``header: cell``; a metadata leaf's is
``key: value``. So "15 days" counts for "serious incident" only when the two are
stated together (same sentence, row or key), never because both words occur
somewhere in the file.

>>> doc = parse_markdown('''---
... deadlines: {serious_incident_days: 15}
... ---
... # Reporting
... | Case | Deadline |
... |---|---|
... | Death of a person | 10 days |
...
... Widespread infringements are reported within 2 days.
... ''')
>>> labels = {"case": {"general": Pattern(r"serious incident", strong=False),
...                    "death": Pattern(r"death"), "widespread": Pattern(r"widespread")}}
>>> sorted((n.labels["case"], n.number.value, n.snippet.source)
...        for n in label_numbers(doc, labels, quantities=True))
[('death', 10.0, 'table'), ('general', 15.0, 'metadata'), ('widespread', 2.0, 'prose')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

Source = Literal["metadata", "table", "prose", "code"]
Span = tuple[int, int]

# --------------------------------------------------------------------------- placeholders

#: Markers that make a whole line template text.
_HARD_PLACEHOLDER = re.compile(
    r"\[\s*more information needed\s*\]|\{\{.*?\}\}|<\s*fill[\s_-]*in\b[^>]*>|\[\s*fill[\s_-]*in\b[^\]]*\]"
    r"|\blorem ipsum\b",
    re.I,
)
_CAPS_PLACEHOLDER = re.compile(r"(?<![A-Za-z])(?:TODO|TBD|FIXME)(?![A-Za-z])")
#: ``<days>``, ``<model name>``: removed, the rest of the line is kept.
_ANGLE_PLACEHOLDER = re.compile(r"<(?!\s*(?:https?://|mailto:))[A-Za-z][^<>\n@|]{0,60}>")


def has_placeholder(text: str) -> bool:
    """True when ``text`` contains a fill-in marker (not counting ``<name>`` slots).

    >>> has_placeholder("Intended use: [More Information Needed]"), has_placeholder("TBD"), has_placeholder("ok")
    (True, True, False)
    """
    return bool(_HARD_PLACEHOLDER.search(text) or _CAPS_PLACEHOLDER.search(text))


def strip_placeholders(text: str) -> str:
    """``text`` without placeholders of any kind.

    >>> strip_placeholders("Report within <days> days {{ note }}")
    'Report within  days '
    """
    text = _HARD_PLACEHOLDER.sub("", text)
    text = _CAPS_PLACEHOLDER.sub("", text)
    return _ANGLE_PLACEHOLDER.sub("", text)


def _line_key(line: str) -> str:
    """How a line is compared with a template's lines: markup and spacing ignored."""
    line = re.sub(r"^\s*(?:[-*+]|\d+[.)]|#{1,6}|>)\s+", "", line)
    return re.sub(r"[\s|*_`]+", " ", line).strip().lower()


def template_lines(template: str | None) -> frozenset[str]:
    """The body lines of a template (comments removed), keyed as :func:`_line_key` does."""
    if not template:
        return frozenset()
    _, body, _ = split_front_matter(template)
    keys = {_line_key(line) for line in _strip_comments(body).splitlines()}
    return frozenset(k for k in keys if len(k) >= 12 and not _TABLE_DELIM.match(k))


FUNCTION_WORDS = frozenset(
    "a an the of to in on for with by at from into about after before within under than as is are was were be "
    "been being it its we our us they their them this that these those which who whom when where if then so "
    "not no can may must should will would shall has have had do does did each every any all".split()
)


def is_keyword_list(text: str) -> bool:
    """True for a comma-separated string of terms rather than a statement.

    A terse list of facts is not keywords when every number in it sits with its own
    label ("ROC AUC 0.78, accuracy 0.73, ..."); "death, 10 days, widespread, 2 days" is.

    >>> is_keyword_list("Serious incident, market surveillance authority, death, logs, AI literacy.")
    True
    >>> is_keyword_list("Serious incident, 15 days, death, 10 days, widespread, 2 days.")
    True
    >>> is_keyword_list("ROC AUC 0.781, accuracy 0.734, selection rate 0.283, TPR 0.534.")
    False
    >>> is_keyword_list("Report to the market surveillance authority, within 15 days, and keep the logs.")
    False
    """
    parts = [p for p in re.split(r"[,;]", text) if p.strip()]
    if len(parts) < 4:
        return False
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    function = sum(1 for w in words if w.lower() in FUNCTION_WORDS)
    mean = len(words) / len(parts)
    if not (function <= 0.1 * len(words) or (len(parts) >= 8 and mean <= 2.5)):
        return False
    numbered = [p for p in parts if re.search(r"\d", _mask(p))]  # article numbers and dates are not values
    paired = all(
        any(w.lower() not in _UNIT_WORDS and w.lower() not in FUNCTION_WORDS and len(w) > 1
            for w in re.findall(r"[A-Za-z][A-Za-z'-]*", p))
        for p in numbered
    )
    return not (numbered and paired)


# --------------------------------------------------------------------------- text helpers

_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": " - ",
                         "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                         "\u00a0": " ", "\u2264": "<=", "\u2265": ">="})
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")


def clean_inline(text: str) -> str:
    """Inline Markdown as plain text: links become ``text (url)``, emphasis and code marks go.

    >>> clean_inline("See **[the plan](post_market_monitoring.md)** and `lab rollback`.")
    'See the plan (post_market_monitoring.md) and lab rollback.'
    """
    text = text.translate(_DASHES)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(2) else m.group(1), text)
    text = _EMPHASIS.sub("", text)
    text = re.sub(r"<br\s*/?>", " ", text, flags=re.I)
    return re.sub(r"[ \t]+", " ", text).strip()


def normalise_heading(heading: str) -> str:
    """A heading reduced for matching: no numbering, case, punctuation or ``[optional]``.

    >>> normalise_heading("3.2 Out-of-Scope Use [optional]")
    'out of scope use'
    >>> normalise_heading("Testing Data, Factors & Metrics")
    'testing data factors and metrics'
    """
    h = clean_inline(heading).lower()
    h = re.sub(r"\[optional\]|\(optional\)", " ", h)
    h = re.sub(r"^\s*(?:\d+(?:\.\d+)*|[ivx]+|[a-z])[.)]\s+|^\s*\d+(?:\.\d+)+\s+|^\s*\d+\s+", "", h)
    h = h.replace("&", " and ")
    h = re.sub(r"[^a-z0-9+]+", " ", h)
    return re.sub(r"\s+", " ", h).strip()


def phrase(pattern: str) -> re.Pattern[str]:
    """A case-insensitive pattern that must start at a word start (stems may continue).

    >>> bool(phrase("infring").search("an infringement")), bool(phrase("male").search("female"))
    (True, False)
    """
    return re.compile(rf"(?<![a-z0-9])(?:{pattern})", re.I)


# --------------------------------------------------------------------------- the document


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
    context: str  # heading path, a list's lead-in, a table's header or a metadata key path
    template: bool
    block: int  # paragraph, list, table, code block or metadata: snippets of one block share it
    units: tuple[Span, ...] = ()  # smallest clauses (a table cell, a metadata value)
    groups: tuple[Span, ...] = ()  # enclosing clauses (``header: cell``, ``key: value``)
    code: tuple[str, ...] = ()  # inline code spans and code lines, as written
    item: bool = False  # a list item (or a sentence of one)
    heading: str = ""  # the innermost heading above it
    lead: str = ""  # a list's lead-in, a table's header row, a metadata key path
    keywords: bool = False  # a list of keywords rather than a statement (see is_keyword_list)


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


# --------------------------------------------------------------------------- parsing

_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")
_TABLE_DELIM = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_UNIT_WORDS = {"day": "days", "days": "days", "hour": "hours", "hours": "hours", "hrs": "hours", "h": "hours",
               "week": "weeks", "weeks": "weeks", "month": "months", "months": "months",
               "year": "years", "years": "years", "yrs": "years"}


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """``(yaml_text, body, body_first_line)``; yaml_text is None when there is no metadata block.

    >>> split_front_matter("---\\nlicense: mit\\n---\\n# Card\\n")
    ('license: mit', '# Card\\n', 4)
    """
    text = text.lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    return None, text, 1


def _strip_comments(text: str) -> str:
    return _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _load_metadata(yaml_text: str | None) -> tuple[dict[str, Any], str | None]:
    if yaml_text is None or not yaml_text.strip():
        return {}, None
    try:
        for event in yaml.parse(yaml_text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                return {}, "the metadata block uses YAML anchors or aliases, which are not read"
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        return {}, f"the metadata block is not valid YAML: {str(exc).splitlines()[0]}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, "the metadata block is not a mapping of keys to values"
    return data, None


class _Builder:
    def __init__(self, template: frozenset[str]) -> None:
        self.template = template
        self.snippets: list[Snippet] = []
        self.block = 0

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
            kw["keywords"] = is_keyword_list(kw["text"])
        self.snippets.append(Snippet(**kw))


def parse_markdown(text: str, *, template: str | None = None) -> Document:
    """Parse ``text``; lines equal to a line of ``template`` count as template text.

    The metadata block must already be size-checked by the caller; an unreadable block
    leaves ``metadata`` empty and says why in ``metadata_error``.
    """
    tmpl = template_lines(template)
    yaml_text, body, first = split_front_matter(text)
    metadata, metadata_error = _load_metadata(yaml_text)
    b = _Builder(tmpl)
    _metadata_snippets(metadata, b)

    lines = _strip_comments(body).split("\n")
    sections: list[dict[str, Any]] = []
    tables: list[Table] = []
    stack: list[tuple[int, str]] = []  # (level, key)
    cur: int | None = None
    para: list[tuple[int, str]] = []  # (line number, raw line)
    lead_in = ""
    list_block: int | None = None
    i = 0

    def current_heading() -> str:
        return sections[cur]["heading"] if cur is not None else ""

    def context_path() -> str:
        if cur is None:
            return ""
        names = []
        level = 99
        for j in range(cur, -1, -1):
            if sections[j]["level"] < level:
                names.append(sections[j]["heading"])
                level = sections[j]["level"]
        return " > ".join(reversed(names))

    def flush_para() -> None:
        nonlocal para, lead_in, list_block
        if not para:
            return
        raw = " ".join(r.strip() for _, r in para)
        items = _list_items(para)
        if items is None:
            block = b.next_block()
            _prose_snippets(b, para, cur, context_path(), block, item=False, heading=current_heading(), lead="")
            lead_in = clean_inline(raw) if raw.rstrip().endswith(":") else ""
            list_block = None
        else:
            block = list_block if list_block is not None else b.next_block()
            ctx = context_path() + (" | " + lead_in if lead_in else "")
            for item_lines in items:
                _prose_snippets(b, item_lines, cur, ctx, block, item=True, heading=current_heading(), lead=lead_in)
            list_block = block
        para = []

    while i < len(lines):
        raw = lines[i]
        line_no = first + i
        fence = _FENCE.match(raw)
        if fence:
            flush_para()
            lead_in, list_block = "", None
            marker = fence.group(1)
            block = b.next_block()
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker[:3]):
                code = lines[i].strip()
                if code:
                    b.add(text=code, source="code", line=first + i, section=cur, context=context_path(),
                          heading=current_heading(), template=b.is_template(lines[i], code), block=block,
                          units=((0, len(code)),), groups=((0, len(code)),), code=(code,))
                i += 1
            i += 1
            continue
        m = _HEADING.match(raw)
        if m:
            flush_para()
            lead_in, list_block = "", None
            level, heading = len(m.group(1)), clean_inline(m.group(2))
            while stack and stack[-1][0] >= level:
                stack.pop()
            key = normalise_heading(heading)
            stack.append((level, key))
            sections.append({"heading": heading, "key": key, "level": level, "line": line_no,
                             "path": tuple(k for _, k in stack), "start": i + 1})
            cur = len(sections) - 1
            i += 1
            continue
        if "|" in raw and i + 1 < len(lines) and _TABLE_DELIM.match(lines[i + 1]) and "-" in lines[i + 1]:
            flush_para()
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                j += 1
            tables.append(_table(b, lines[i:j], line_no, cur, context_path() + (" | " + lead_in if lead_in else ""),
                                 current_heading()))
            lead_in, list_block = "", None
            i = j
            continue
        if not raw.strip():
            flush_para()
            i += 1
            continue
        if para and _LIST_ITEM.match(raw) and _list_items(para) is None:
            flush_para()
        para.append((line_no, raw))
        i += 1
    flush_para()

    built: list[Section] = []
    for k, s in enumerate(sections):
        end_own = sections[k + 1]["start"] - 1 if k + 1 < len(sections) else len(lines)
        end_all = len(lines)
        for j in range(k + 1, len(sections)):
            if sections[j]["level"] <= s["level"]:
                end_all = sections[j]["start"] - 1
                break
        body_text = "\n".join(lines[s["start"] : end_own]).strip()
        all_text = "\n".join(lines[s["start"] : end_all]).strip()
        built.append(Section(heading=s["heading"], key=s["key"], level=s["level"], line=s["line"],
                             path=s["path"], body=body_text, text=all_text))
    return Document(metadata=metadata, sections=tuple(built), tables=tuple(tables),
                    snippets=tuple(b.snippets), metadata_error=metadata_error)


def _list_items(para: list[tuple[int, str]]) -> list[list[tuple[int, str]]] | None:
    """The items of a paragraph that is a list (each with its continuation lines), else None."""
    if not _LIST_ITEM.match(para[0][1]):
        return None
    items: list[list[tuple[int, str]]] = []
    for line_no, raw in para:
        m = _LIST_ITEM.match(raw)
        if m:
            items.append([(line_no, m.group(2))])
        else:
            items[-1].append((line_no, raw.strip()))
    return items


_ABBREVIATIONS = {"art", "arts", "e.g", "i.e", "no", "nr", "para", "paras", "cf", "vs", "fig", "ref", "approx",
                  "incl", "min", "max", "dr", "mr", "ms", "st", "pt", "sec", "reg", "ca", "p", "pp", "viz", "resp"}


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans; periods after abbreviations such as "Art." or "e.g." do not end one.

    >>> t = "Report under Art. 73(2) within 15 days. Then e.g. inform deployers."
    >>> [t[a:b] for a, b in split_sentences(t)]
    ['Report under Art. 73(2) within 15 days.', 'Then e.g. inform deployers.']
    """
    spans = []
    start = 0
    for m in re.finditer(r"[.!?]+[\"')\]]*\s+", text):
        word = re.search(r"([A-Za-z.]+)[.!?]+[\"')\]]*\s+$", text[start : m.end()])
        if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS and text[m.end() - 1 : m.end()].isspace():
            continue
        if m.end() < len(text) and text[m.end()].islower():
            continue
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


_CLAUSE_SPLIT = re.compile(r";|\(|\)|\s-\s|\s--\s")
_UNIT_SPLIT = re.compile(r",(?!\d)|;|\(|\)|\s-\s|\s--\s|\b(?:and|or|but|while|whereas|whilst)\b", re.I)


def _spans(text: str, splitter: re.Pattern[str]) -> tuple[Span, ...]:
    out = []
    start = 0
    for m in splitter.finditer(text):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return tuple((a, b) for a, b in out if text[a:b].strip())


def _prose_snippets(b: _Builder, lines: list[tuple[int, str]], section: int | None, context: str, block: int,
                    *, item: bool, heading: str, lead: str) -> None:
    """One snippet per sentence; its line is where it starts, and it is template text when it
    holds a placeholder or every line it spans was copied from the template."""
    cleaned = [clean_inline(raw) for _, raw in lines]
    starts = []
    pos = 0
    for c in cleaned:
        starts.append(pos)
        pos += len(c) + 1
    text = " ".join(cleaned)
    for a, z in split_sentences(text):
        spanned = [k for k, st in enumerate(starts) if st < z and st + len(cleaned[k]) > a] or [0]
        raws = [lines[k][1] for k in spanned]
        sentence = text[a:z]
        template = has_placeholder(sentence) or all(_line_key(r) in b.template for r in raws) or \
            not re.search(r"[A-Za-z0-9]", strip_placeholders(sentence))
        if not template:
            sentence = re.sub(r"\s+", " ", strip_placeholders(sentence)).strip()
        code = tuple(c for r in raws for c in _INLINE_CODE.findall(r))
        b.add(text=sentence, source="prose", line=lines[spanned[0]][0], section=section, context=context,
              template=template, block=block, units=_spans(sentence, _UNIT_SPLIT),
              groups=_spans(sentence, _CLAUSE_SPLIT), code=code, item=item, heading=heading, lead=lead)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", line)]


def _with_unit(value: str, label: str) -> str:
    """A bare number whose header or key names a unit gets that unit: ``15`` under "Deadline (days)"."""
    if not re.fullmatch(r"\s*[<>=~≤≥]*\s*\d+(?:\.\d+)?\s*", value):
        return value
    words = re.findall(r"[a-z]+", label.lower())
    units = [_UNIT_WORDS[w] for w in words if w in _UNIT_WORDS and w != "h"]
    return f"{value.strip()} {units[-1]}" if units else value


def _table(b: _Builder, lines: list[str], line: int, section: int | None, context: str, heading: str) -> Table:
    header = [clean_inline(c) for c in _cells(lines[0])]
    block = b.next_block()
    rows = []
    for k, raw in enumerate(lines[2:]):
        cells = [clean_inline(c) for c in _cells(raw)]
        cells += [""] * (len(header) - len(cells))
        row = {}
        parts: list[str] = []
        units: list[Span] = []
        groups: list[Span] = []
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
        text = " | ".join(parts)
        b.add(text=text, source="table", line=line + 2 + k, section=section,
              context=context + " | " + " | ".join(header), template=template, block=block,
              units=tuple(u for u in units if u[1] > u[0]), groups=tuple(groups),
              code=tuple(_INLINE_CODE.findall(raw)), heading=heading, lead=" | ".join(header))
    return Table(header=tuple(header), rows=tuple(rows), line=line, section=section)


def _key_words(key: Any) -> str:
    return re.sub(r"[_\-]+", " ", str(key)).strip()


def _metadata_snippets(data: Any, b: _Builder, path: tuple[str, ...] = ()) -> None:
    if not path:
        if not data:
            return
        b.next_block()
    if isinstance(data, dict):
        scalar_keys = {k for k, v in data.items() if not isinstance(v, (dict, list))}
        if {"value"} <= scalar_keys and scalar_keys & {"type", "name"}:  # model-index style {type, value}
            label = " ".join(_key_words(data[k]) for k in ("type", "name") if k in data)
            _metadata_leaf(b, path + (label,), data["value"])
            for k, v in data.items():
                if k not in ("type", "name", "value"):
                    _metadata_snippets(v, b, path + (_key_words(k),))
            return
        for k, v in data.items():
            _metadata_snippets(v, b, path + (_key_words(k),))
    elif isinstance(data, list):
        for v in data:
            _metadata_snippets(v, b, path)
    else:
        _metadata_leaf(b, path, data)


def _metadata_leaf(b: _Builder, path: tuple[str, ...], value: Any) -> None:
    if value is None or isinstance(value, bool):
        shown = "" if value is None else str(value).lower()
    else:
        shown = clean_inline(str(value))
    keys = list(path)
    if keys and re.fullmatch(r"-?\d+(?:\.\d+)?", shown):
        words = keys[-1].split()
        unit_words = [w for w in words if w.lower() in _UNIT_WORDS and w.lower() != "h"]
        if unit_words:
            shown = f"{shown} {_UNIT_WORDS[unit_words[-1].lower()]}"
            rest = " ".join(w for w in words if w not in unit_words)
            keys[-1] = rest or keys[-1]
    last = keys[-1] if keys else ""
    outer = " ".join(keys[:-1])
    prefix = f"{outer} " if outer else ""
    text = f"{prefix}{last}: {shown}"
    value_start = len(text) - len(shown)
    template = has_placeholder(str(value)) or not re.search(r"[A-Za-z0-9]", strip_placeholders(shown))
    b.add(text=text, source="metadata", line=1, section=None, context=" ".join(path), template=template,
          block=b.block, units=((value_start, len(text)),), groups=((len(prefix), len(text)),), code=(),
          lead=" ".join(path))


# --------------------------------------------------------------------------- numbers and quantities


@dataclass(frozen=True)
class Number:
    """A number as written; ``value`` is in ``unit`` ("days", "months", ..., "%") or unitless."""

    value: float
    raw: str
    start: int
    end: int
    unit: str | None = None

    def days(self) -> float | None:
        return _in_days(self.value, self.unit)

    def months(self) -> float | None:
        d = self.days()
        return None if d is None else d / (365.0 / 12.0)

    def fraction(self) -> float:
        """Percentages as fractions (``73%`` -> 0.73), other numbers unchanged."""
        return self.value / 100.0 if self.unit == "%" else self.value


def _in_days(value: float, unit: str | None) -> float | None:
    factor = {"hours": 1 / 24, "days": 1.0, "weeks": 7.0, "months": 365.0 / 12.0, "years": 365.0}.get(unit or "")
    return None if factor is None else value * factor


_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-four": 24, "thirty": 30,
    "forty-eight": 48, "sixty": 60, "seventy-two": 72, "ninety": 90,
}
_WORDS_RX = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_QUANTITY = re.compile(
    rf"(?<![\w.])(?P<num>\d+(?:\.\d+)?|{_WORDS_RX})(?:\s*\(\s*\d+\s*\))?(?:\s+|-)"
    r"(?:(?:calendar|working|business|full)\s+)?(?P<unit>days?|hours?|hrs?|h|weeks?|months?|years?|yrs?)(?![a-z])",
    re.I,
)
_FREQUENCY = re.compile(r"(?:every|each|per|last|past|previous|rolling|trailing|recent)\s+$", re.I)
_NUMBER = re.compile(
    r"(?<![\w.\-/])(?P<sign>[-\u2212])?(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)(?P<pct>\s*%)?(?![\w/]|\.\d)"
)
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_MASKS = re.compile(
    "|".join(
        [
            r"\bArt(?:icle)?s?\.?\s*\d+[a-z]?(?:\s*\(\s*\w{1,4}\s*\))*"
            r"(?:\s*(?:,|/|and|-|to)\s*\d+[a-z]?(?:\s*\(\s*\w{1,4}\s*\))*)*",
            r"\bAnnex(?:es)?\s+[IVX]+(?:[,\s]*(?:point\s*)?\d+\s*(?:\(\s*[a-z]\s*\)|[a-z]\b)?)?",
            r"\bpoint\s+\d+\s*(?:\(\s*[a-z]\s*\))?",
            r"\b\d+\s*\(\s*\d+\s*\)(?:\s*\(\s*[a-z]\s*\))*",
            r"\b\d+\s*\(\s*[a-z]\s*\)",
            r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b",
            rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS},?\s+(?:19|20)\d{{2}}\b",
            rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b",
            rf"\b{_MONTHS}\s+(?:19|20)\d{{2}}\b",
            r"\b(?:19|20)\d{2}/\d+\b",
            r"\b(?:19|20)\d{2}\b",
            r"\bv\d+(?:\.\d+)*\b",
            r"\bversions?\s*:?\s*(?:#|no\.?|number)?\s*\d+(?:\s*(?:,|and|or|/)\s*\d+)*\b",
            r"\bmodels:/\S+",
            r"\b[0-9a-f]{32}\b",
            r"\b\d{1,2}:\d{2}\b",
            r"\b(?:step|phase|tier|section|chapter|level|stage|point|item)\s+\d+\b",
            r"\b(?:ISO|IEC)[/ ]?(?:IEC\s*)?\d+(?::\d+)?",
            r"#\d+",
        ]
    ),
    re.I,
)


def _mask(text: str, extra: Sequence[Span] = ()) -> str:
    chars = list(text)
    for m in _MASKS.finditer(text):
        for k in range(m.start(), m.end()):
            chars[k] = " "
    for a, z in extra:
        for k in range(a, z):
            chars[k] = " "
    return "".join(chars)


def find_quantities(text: str, skip: Sequence[Span] = ()) -> list[Number]:
    """Durations in ``text`` ("15 days", "six months", "48-hour", "2 working days").

    Frequencies ("every 7 days", "the last 30 days") and article numbers are not durations.

    >>> text = "Art. 73(2): fifteen days; logs: 6-month minimum; check every 7 days"
    >>> [(q.value, q.unit) for q in find_quantities(text)]
    [(15.0, 'days'), (6.0, 'months')]
    """
    masked = _mask(text, skip)
    out = []
    for m in _QUANTITY.finditer(masked):
        if _FREQUENCY.search(masked[max(0, m.start() - 20) : m.start()]):
            continue
        raw = m.group("num").lower()
        value = float(_NUMBER_WORDS.get(raw, raw) if raw in _NUMBER_WORDS else raw)
        unit = _UNIT_WORDS[m.group("unit").lower()]
        out.append(Number(value=value, raw=text[m.start() : m.end()], start=m.start(), end=m.end(), unit=unit))
    return out


def find_numbers(text: str, skip: Sequence[Span] = ()) -> list[Number]:
    """Plain numbers (and percentages) that are not part of a reference, date, version or id.

    >>> [(n.value, n.unit) for n in find_numbers("Under Art. 15, v2 scored 0.78 (73%) on 2 August 2026")]
    [(0.78, None), (73.0, '%')]
    """
    masked = _mask(text, skip)
    out = []
    for m in _NUMBER.finditer(masked):
        value = float(m.group("num").replace(",", ""))
        if m.group("sign"):
            value = -value
        out.append(Number(value=value, raw=text[m.start() : m.end()].strip(), start=m.start(), end=m.end(),
                          unit="%" if m.group("pct") else None))
    return out


# --------------------------------------------------------------------------- labelling numbers


@dataclass(frozen=True)
class Pattern:
    """A label's pattern; ``strong=False`` marks a generic label that yields to specific ones."""

    regex: str
    strong: bool = True


@dataclass(frozen=True)
class Mention:
    label: str
    start: int
    end: int
    strong: bool


@dataclass(frozen=True)
class Labelled:
    """A number, the snippet it was found in and, per dimension, the label it belongs to."""

    number: Number
    snippet: Snippet
    labels: dict[str, str | None] = field(default_factory=dict)

    def quote(self) -> str:
        where = {"metadata": "metadata", "table": "table row", "prose": "text", "code": "code"}[self.snippet.source]
        text = self.snippet.text if len(self.snippet.text) <= 160 else self.snippet.text[:157] + "..."
        return f'{where}, line {self.snippet.line}: "{text}"'


Labels = Mapping[str, Mapping[str, Pattern | str]]


def _compile(labels: Labels) -> dict[str, list[tuple[str, re.Pattern[str], bool]]]:
    out: dict[str, list[tuple[str, re.Pattern[str], bool]]] = {}
    for dim, table in labels.items():
        out[dim] = []
        for label, pat in table.items():
            p = pat if isinstance(pat, Pattern) else Pattern(pat)
            out[dim].append((label, phrase(p.regex), p.strong))
    return out


def find_mentions(text: str, patterns: Sequence[tuple[str, re.Pattern[str], bool]]) -> list[Mention]:
    """Every label mention in ``text``; where two overlap, the longer wins."""
    found = []
    for label, rx, strong in patterns:
        for m in rx.finditer(text):
            if m.end() > m.start():
                found.append(Mention(label, m.start(), m.end(), strong))
    found.sort(key=lambda m: (-(m.end - m.start), m.start))
    kept: list[Mention] = []
    for m in found:
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)


def _containing(spans: Sequence[Span], a: int, b: int) -> Span | None:
    for s in spans:
        if s[0] <= a and b <= s[1]:
            return s
    return None


def _inside(m: Mention, span: Span) -> bool:
    return span[0] <= m.start and m.end <= span[1]


def _nearest(mentions: Sequence[Mention], a: int, b: int) -> Mention:
    def dist(m: Mention) -> tuple[int, int]:
        d = a - m.end if m.end <= a else m.start - b if m.start >= b else 0
        return (max(d, 0), 0 if m.strong else 1)

    return min(mentions, key=dist)


def assign(snippet: Snippet, number: Number, mentions: Sequence[Mention], owned: Callable[[Mention], bool],
           context_mentions: Sequence[Mention], *, may_inherit: bool = True) -> Mention | None:
    """The mention ``number`` belongs to: nearest in its clause, then wider, then the context.

    Specific (strong) mentions win over generic (weak) ones at the same level. A clause
    holding only a generic mention yields to a specific mention in a sibling clause that
    has no number of its own ("If the infringement is widespread, the serious-incident
    report is due within 2 days" belongs to "widespread"). In a table, a cell never
    takes its label from another cell that holds a number of its own (each column is
    its own measure); in prose, a clause that names something else inherits
    (``may_inherit``: "0.26 for women and 0.30 for men" are both selection rates when
    the sentence names one), while a bare number does not take a label that another
    number already holds ("AUC 0.78 and accuracy 0.73; it advances 28%" leaves 28%
    unlabelled).
    """
    a, b = number.start, number.end
    unit = _containing(snippet.units, a, b)
    group = _containing(snippet.groups, a, b)
    levels: list[Span] = [s for s in (unit, group) if s is not None] + [(0, len(snippet.text))]
    for depth, span in enumerate(levels):
        here = [m for m in mentions if _inside(m, span)]
        if not here:
            continue
        strong = [m for m in here if m.strong]
        if depth == 0 and unit is not None:
            if strong:
                return _nearest(strong, a, b)
            wider = group if group is not None and group != unit else (0, len(snippet.text))
            siblings = [m for m in mentions if m.strong and _inside(m, wider) and not _inside(m, unit) and not owned(m)]
            return _nearest(siblings, a, b) if siblings else _nearest(here, a, b)
        if snippet.source == "table" or not may_inherit:  # a column with its own number is its own measure
            free = [m for m in here if not owned(m) or (unit is not None and _inside(m, unit))]
            if not free:
                return None
            strong = [m for m in free if m.strong]
            return _nearest(strong or free, a, b)
        if strong:
            free = [m for m in strong if not owned(m) or (unit is not None and _inside(m, unit))]
            return _nearest(free or strong, a, b)
        return _nearest(here, a, b)
    if context_mentions:
        strong = [m for m in context_mentions if m.strong]
        return (strong or list(context_mentions))[-1]
    return None


def label_numbers(doc: Document, labels: Labels, *, quantities: bool = False,
                  snippets: Iterable[Snippet] | None = None, include_template: bool = False) -> list[Labelled]:
    """Every number (or, with ``quantities``, every duration) in the document, labelled per dimension.

    ``labels`` maps a dimension (e.g. "metric", "group") to ``{label: Pattern or regex}``.
    A number whose dimension has no mention anywhere in reach gets ``None`` for it.
    Numbers inside a mention (the "18-29" of an age band) are not values.
    """
    compiled = _compile(labels)
    pool = snippets if snippets is not None else (doc.snippets if include_template else doc.content)
    out: list[Labelled] = []
    for snip in pool:
        per_dim = {dim: find_mentions(snip.text, pats) for dim, pats in compiled.items()}
        ctx_dim = {dim: find_mentions(snip.context, pats) for dim, pats in compiled.items()}
        skip = [(m.start, m.end) for ms in per_dim.values() for m in ms]
        nums = find_quantities(snip.text, skip) if quantities else find_numbers(snip.text, skip)
        if not nums:
            continue
        units_with_numbers = {_containing(snip.units, n.start, n.end) for n in nums}

        def owned(m: Mention) -> bool:
            return _containing(snip.units, m.start, m.end) in units_with_numbers

        for n in nums:
            unit = _containing(snip.units, n.start, n.end)
            named = unit is not None and any(_inside(m, unit) for ms in per_dim.values() for m in ms)
            found = {dim: assign(snip, n, per_dim[dim], owned, ctx_dim[dim], may_inherit=named) for dim in compiled}
            out.append(Labelled(number=n, snippet=snip, labels={d: (m.label if m else None) for d, m in found.items()}))
    return out


def clause_of(labelled: Labelled) -> str:
    """The enclosing clause of a labelled number (``header: cell`` for a table cell)."""
    s = labelled.snippet
    span = _containing(s.groups, labelled.number.start, labelled.number.end) or (0, len(s.text))
    return s.text[span[0] : span[1]]


def unit_of(labelled: Labelled) -> str:
    """The smallest clause holding a labelled number (a table cell, a metadata value)."""
    s = labelled.snippet
    span = _containing(s.units, labelled.number.start, labelled.number.end) or (0, len(s.text))
    return s.text[span[0] : span[1]]



def find_values(doc: Document, names: Mapping[str, str], *, quantities: bool = False,
                cues: str | None = None) -> dict[str, list[Labelled]]:
    """The values stated for each named thing, wherever they are written.

    ``names`` maps a key to its pattern (see :func:`phrase`). With ``cues``, a value counts
    only when its clause (a table cell's header, a metadata key path) also matches
    ``cues``, e.g. "threshold|below|above", so that a launch value is not read as a limit.

    >>> doc = parse_markdown('''---
    ... thresholds: {roc_auc: 0.72}
    ... ---
    ... | Column | Alert threshold |
    ... |---|---|
    ... | years_experience | 0.01 |
    ...
    ... Page when prediction drift (PSI) goes above 0.1; at launch it was 0.03.
    ... ''')
    >>> found = find_values(doc, {"roc_auc": "roc[ _]auc", "years_experience": "years[ _]experience",
    ...                           "prediction": "prediction"}, cues="threshold|above|below")
    >>> {k: [(v.number.value, v.snippet.source) for v in vs] for k, vs in found.items()}
    {'roc_auc': [(0.72, 'metadata')], 'years_experience': [(0.01, 'table')], 'prediction': [(0.1, 'prose')]}
    """
    cue = phrase(cues) if cues else None
    out: dict[str, list[Labelled]] = {k: [] for k in names}
    for n in label_numbers(doc, {"name": dict(names)}, quantities=quantities):
        key = n.labels["name"]
        if key is None:
            continue
        if cue is not None:
            where = n.snippet.text if n.snippet.source == "metadata" else clause_of(n)
            if not cue.search(where):
                continue
        out[key].append(n)
    return {k: v for k, v in out.items() if v}
