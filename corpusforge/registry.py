"""Stages and readers by name: built-ins from `stages/`, plug-ins from entry points.

A third-party package adds a stage by declaring it in the `corpusforge.stages` entry-point
group (a source format in `corpusforge.readers`); `module:Class` also works as a name.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corpusforge.stage import SourceReader, Stage

STAGE_GROUP = "corpusforge.stages"
READER_GROUP = "corpusforge.readers"

_stages: dict[str, type[Stage]] = {}
_readers: dict[str, type[SourceReader]] = {}


def register_stage(cls: type[Stage]) -> None:
    from corpusforge.stage import SourceReader

    table = _readers if issubclass(cls, SourceReader) else _stages
    table[cls.name] = cls


def _builtin_catalogue(table: dict) -> dict[str, str]:
    """Built-in names and the modules defining them (see stages/__init__.py)."""
    import stages

    return stages.READERS if table is _readers else stages.STAGES


def _lookup(name: str, table: dict, group: str, what: str):
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise KeyError(f"cannot import {what} {name!r}: {e}") from None
    catalogue = _builtin_catalogue(table)
    if name not in table and name in catalogue:
        importlib.import_module(catalogue[name])  # the class registers itself on import
    if name not in table:
        for ep in entry_points(group=group, name=name):
            cls = ep.load()
            table[name] = cls
    if name not in table:
        known = ", ".join(sorted(set(table) | set(catalogue) | {ep.name for ep in entry_points(group=group)}))
        raise KeyError(f"unknown {what} {name!r} (known: {known})")
    return table[name]


def stage_class(name: str) -> type[Stage]:
    return _lookup(name, _stages, STAGE_GROUP, "stage")


def reader_class(name: str) -> type[SourceReader]:
    return _lookup(name, _readers, READER_GROUP, "source format")


def reader_for_path(path: str) -> str | None:
    """The reader whose extensions match `path`, longest extension first."""
    import stages

    claims = dict(stages.READER_EXTENSIONS)
    for name, module in stages.READERS.items():
        if name not in claims:
            importlib.import_module(module)
    for ep in entry_points(group=READER_GROUP):
        if ep.name not in _readers:
            _readers[ep.name] = ep.load()
    claims.update((name, cls.extensions) for name, cls in _readers.items() if name not in claims)
    matches = [(len(ext), name) for name, extensions in claims.items() for ext in extensions if path.endswith(ext)]
    return max(matches)[1] if matches else None
