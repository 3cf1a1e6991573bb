"""Atomic file writes on fsspec filesystems: a reader never sees a half-written file."""

from __future__ import annotations

import glob
import json
import os
import uuid
from pathlib import Path
from typing import Any, Sequence

import fsspec
from fsspec.implementations.local import LocalFileSystem


def url_to_fs(path: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = fsspec.core.url_to_fs(str(path))
    return fs, root


def file_stamp(fs: fsspec.AbstractFileSystem, path: str) -> list[Any]:
    """What changes when the file changes (size and modification time or ETag), for fingerprints."""
    info = fs.info(path)
    return [info.get("size"), info.get("mtime") or info.get("LastModified") or info.get("ETag")]


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


def expand_paths(patterns: list[str], directories: bool = False) -> list[str]:
    """Files (and, if asked, directories) named by `patterns`: globs allowed, fsspec URLs too,
    in a deterministic order, duplicates removed. A pattern that names nothing raises
    FileNotFoundError with that pattern."""
    found_all: dict[str, None] = {}  # ordered, and duplicates found in constant time
    for pattern in patterns:
        if "://" in pattern:
            fs, root = fsspec.core.url_to_fs(pattern)
            found = sorted(fs.glob(root)) if glob.has_magic(root) else ([root] if fs.exists(root) else [])
            protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            found = [f"{protocol}://{f}" for f in found]
        else:
            found = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
            found = [str(Path(f).resolve()) for f in found if Path(f).is_file() or (directories and Path(f).is_dir())]
        if not found:
            raise FileNotFoundError(pattern)
        found_all.update(dict.fromkeys(found))
    return list(found_all)
