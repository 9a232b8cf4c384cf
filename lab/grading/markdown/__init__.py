"""Markdown submissions read the way a grader needs them: metadata, sections, tables, prose.

:func:`parse_markdown` turns a document into a :class:`Document`:

* ``metadata``: the YAML block between leading ``---`` lines (safe loader, no aliases);
* ``sections``: every heading with its own body and its whole subtree, headings
  normalised (numbering, case, punctuation) so synonyms can be matched;
* ``snippets``: the units a fact must sit in to count: one per prose sentence, list
  item sentence, table row, code line and metadata leaf. Each snippet knows its
  context (heading path, a list's lead-in and parent items, a table's header, a metadata
  key path) and
  whether it is template text (a placeholder such as ``[More Information Needed]``,
  ``TODO``, ``{{ ... }}``, ``<fill in>``, or a line copied unchanged from our template).

Markdown is read by markdown-it-py (CommonMark plus tables): setext headings, blockquotes,
nested lists and tables inside lists are read as a Markdown renderer shows them. Base words
in label patterns match their word family ("tell" matches "told"; see :func:`phrase`).

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

The modules, in the order they build on each other: ``text`` (placeholders, template
lines, headings, sentences), ``words`` (function words, word families, :func:`phrase`),
``numbers`` (numbers, durations, thresholds), ``keywords`` (keyword stuffing versus
statements), ``document`` (the data classes), ``metadata`` (front matter), ``parse``
(markdown-it tokens to a :class:`Document`) and ``labels`` (numbers bound to labels).
"""

from lab.grading.markdown.document import Document, Section, Snippet, Source, Table
from lab.grading.markdown.keywords import is_keyword_list, is_statement, listed_items
from lab.grading.markdown.labels import (
    Labelled,
    Labels,
    Mention,
    Pattern,
    Scope,
    assign,
    assign_scoped,
    clause_of,
    find_mentions,
    find_values,
    label_numbers,
    unit_of,
)
from lab.grading.markdown.metadata import load_metadata
from lab.grading.markdown.numbers import Number, Role, find_numbers, find_quantities
from lab.grading.markdown.parse import parse_markdown
from lab.grading.markdown.text import (
    Span,
    clean_inline,
    has_placeholder,
    normalise_heading,
    plain,
    split_front_matter,
    split_sentences,
    strip_placeholders,
    template_lines,
)
from lab.grading.markdown.words import FUNCTION_WORDS, inflect, lemma, phrase, word_family

__all__ = [
    "FUNCTION_WORDS", "Document", "Labelled", "Labels", "Mention", "Number", "Pattern", "Role", "Scope", "Section",
    "Snippet", "Source", "Span", "Table", "assign", "assign_scoped", "clause_of", "clean_inline", "find_mentions", "find_numbers",
    "find_quantities", "find_values", "has_placeholder", "inflect", "is_keyword_list", "is_statement",
    "label_numbers", "lemma", "listed_items", "load_metadata", "normalise_heading", "parse_markdown", "phrase", "plain",
    "split_front_matter", "split_sentences", "strip_placeholders", "template_lines", "unit_of", "word_family",
]
