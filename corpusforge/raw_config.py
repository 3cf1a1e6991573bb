"""Raw YAML configs, shared by the pipeline and the trainer: reading a file and applying
`--set dotted.key=value` overrides, before pydantic validates the result.

It sits on the lowest floor so that corpusforge/train/ (which never imports the pipeline) and
corpusforge/pipeline/ read configs alike and take the same override syntax: the value is YAML
(`3`, `true`, `[a, b]`), list items are addressed by index or, for lists of mappings with an
`id` (stages), by id. Errors are raised as the caller's own error class.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


def load_raw(path: str | Path, error: type[Exception]) -> dict[str, Any]:
    """The top-level mapping of a YAML file; an unreadable file or invalid YAML raises `error`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"cannot read config {path}: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{path}: invalid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping at the top level")
    return raw


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
