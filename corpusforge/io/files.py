"""Atomic file writes on fsspec filesystems: a reader never sees a half-written file."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Sequence

import fsspec
from fsspec.implementations.local import LocalFileSystem


def url_to_fs(path: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = fsspec.core.url_to_fs(str(path))
    return fs, root


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def temporary_name(path: str) -> str:
    """A hidden name beside `path`: shard listings skip it, and it never collides."""
    parent, _, name = path.rpartition("/")
    return f"{parent}/.tmp-{uuid.uuid4().hex}-{name}"


def atomic_write(fs: fsspec.AbstractFileSystem, path: str, data: bytes | memoryview | Sequence[bytes | memoryview]) -> None:
    """Write `data` (one buffer or several, concatenated) to a temporary name, then rename it into place."""
    parts = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    parent = path.rsplit("/", 1)[0]
    tmp = temporary_name(path)
    if is_local(fs):
        os.makedirs(parent, exist_ok=True)
        # The rename makes a file appear whole or not at all to every reader and to a resumed run
        # after a killed process. No fsync: surviving power loss is the filesystem's job, and an
        # fsync per shard would cost more than the engine's whole overhead budget.
        try:
            with open(tmp, "wb") as f:
                for part in parts:
                    f.write(part)
        except BaseException:
            os.unlink(tmp)
            raise
        os.replace(tmp, path)
        return
    fs.makedirs(parent, exist_ok=True)
    with fs.open(tmp, "wb") as f:
        for part in parts:
            f.write(bytes(part))
    fs.mv(tmp, path)


def write_json(fs: fsspec.AbstractFileSystem, path: str, obj: Any) -> None:
    atomic_write(fs, path, json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8"))


def read_json(fs: fsspec.AbstractFileSystem, path: str) -> Any | None:
    """The parsed file, or None if it does not exist."""
    try:
        with fs.open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None
