"""Plain text helpers for Markdown submissions: placeholders, template lines, inline markup,
headings, sentences and the front-matter split."""

from __future__ import annotations

import re

Span = tuple[int, int]

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
    line = re.sub(r"^\s*(?:(?:[-*+]|\d+[.)]|#{1,6})\s+|>\s*)+", "", line)
    return re.sub(r"[\s|*_`]+", " ", line).strip().lower()


def template_lines(template: str | None) -> frozenset[str]:
    """The body lines of a template (comments removed), keyed as :func:`_line_key` does."""
    if not template:
        return frozenset()
    _, body, _ = split_front_matter(template)
    keys = {_line_key(line) for line in _strip_comments(body).splitlines()}
    return frozenset(k for k in keys if len(k) >= 12 and not _TABLE_DELIM.match(k))


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


def plain(text: str) -> str:
    """Text already free of Markdown markup, with typographic dashes, quotes and spaces made plain.

    >>> plain("15\u201330 days <br> at \u2265 0.7")
    '15-30 days at >= 0.7'
    """
    text = text.translate(_DASHES)
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


_TABLE_DELIM = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


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


