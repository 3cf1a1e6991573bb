"""Scratch files of the dedup phases under the stage's work directory (Arrow IPC, any fsspec fs).

Partitioned files (one record batch per partition) are written and read by
corpusforge/io/partitions.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import fsspec
import pyarrow as pa

from corpusforge.io import ShardFormat, atomic_write, read_shard
from corpusforge.io.shards import serialize


@dataclass(frozen=True)
class Workspace:
    """Where each phase of one dedup run keeps its files."""

    root: str

    def path(self, kind: str, index: int) -> str:
        return f"{self.root}/{kind}/{index:06d}.arrow"


def write_table(fs: fsspec.AbstractFileSystem, path: str, table: pa.Table) -> None:
    atomic_write(fs, path, serialize(table, ShardFormat()))


def read_table(fs: fsspec.AbstractFileSystem, path: str) -> pa.Table:
    return read_shard(fs, path)
