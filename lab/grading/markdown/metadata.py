"""The YAML front matter of a submission: read safely and turned into ``key: value`` snippets."""

from __future__ import annotations

import re
from typing import Any

import yaml

from lab.core import safe_yaml
from lab.grading.markdown.document import _Builder
from lab.grading.markdown.numbers import _UNIT_WORDS
from lab.grading.markdown.text import clean_inline, has_placeholder, strip_placeholders


def load_metadata(yaml_text: str | None) -> tuple[dict[str, Any], str | None]:
    """``(metadata, error)``: the front matter as a mapping (safe loader behind lab.core.safe_yaml's
    guard: no anchors or aliases, bounded size and depth), or ``{}`` and why it could not be read.

    >>> load_metadata("license: mit"), load_metadata("a: &x 1")[1]
    (({'license': 'mit'}, None), 'the metadata block uses YAML anchors or aliases, which are not read')
    """
    if yaml_text is None or not yaml_text.strip():
        return {}, None
    try:
        safe_yaml.check_guard(yaml_text)
        data = yaml.safe_load(yaml_text)
    except safe_yaml.YamlProblem as exc:
        if exc.kind == "alias":
            return {}, "the metadata block uses YAML anchors or aliases, which are not read"
        return {}, f"the metadata block is not read: {exc.message}"
    except yaml.YAMLError as exc:
        return {}, f"the metadata block is not valid YAML: {str(exc).splitlines()[0]}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, "the metadata block is not a mapping of keys to values"
    return data, None


def _key_words(key: Any) -> str:
    return re.sub(r"[_\-]+", " ", str(key)).strip()


def metadata_snippets(data: Any, b: _Builder, path: tuple[str, ...] = ()) -> None:
    """One snippet per leaf, ``key path: value``; a model-index ``{type, value}`` entry is named by its type."""
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
                    metadata_snippets(v, b, path + (_key_words(k),))
            return
        for k, v in data.items():
            metadata_snippets(v, b, path + (_key_words(k),))
    elif isinstance(data, list):
        for v in data:
            metadata_snippets(v, b, path)
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
