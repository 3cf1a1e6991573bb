"""`--set dotted.key=value` overrides of a raw YAML config, shared by the pipeline and the trainer.

It sits on the lowest floor so that corpusforge/train/ (which never imports the pipeline) and
corpusforge/pipeline/ apply the same syntax: the value is YAML (`3`, `true`, `[a, b]`), list
items are addressed by index or, for lists of mappings with an `id` (stages), by id.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


def apply_override(raw: dict[str, Any], assignment: str, error: type[Exception]) -> None:
    """Apply one `dotted.key=value` to `raw` in place; a bad one raises `error` naming the key."""
    key, sep, value_text = assignment.partition("=")
    if not sep or not key:
        raise error(f"--set {assignment!r}: expected dotted.key=value")
    value = yaml.safe_load(value_text) if value_text.strip() else ""
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            index = _list_index(node, part, where, error)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise error(f"--set {key}: {'.'.join(parts[:i])} is not a mapping or list")


def _list_index(node: list, part: str, where: str, error: type[Exception]) -> int:
    if re.fullmatch(r"-?\d+", part):
        index = int(part)
        if -len(node) <= index < len(node):
            return index
        raise error(f"--set {where}: index out of range")
    for index, item in enumerate(node):
        if isinstance(item, dict) and item.get("id") == part:
            return index
    raise error(f"--set {where}: no list item with id {part!r}")
