"""Scratch files of the dedup phases under the stage's work directory (Arrow IPC, any fsspec fs).

A partitioned file holds one record batch per partition (empty ones included), so the task of
partition p reads batch p of each file and nothing else, locally or on object storage.
"""

from __future__ import annotations

from dataclasses import dataclass

import fsspec
import numpy as np
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


def write_partitioned(fs: fsspec.AbstractFileSystem, path: str, table: pa.Table, partition: np.ndarray, partitions: int) -> None:
    """Write `table` with row i in record batch `partition[i]` (rows keep their order within a batch)."""
    order = np.argsort(partition, kind="stable")
    table = table.take(pa.array(order))
    bounds = np.searchsorted(partition[order], np.arange(partitions + 1))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        for p in range(partitions):
            piece = table.slice(bounds[p], bounds[p + 1] - bounds[p]).combine_chunks()
            writer.write_batch(piece.to_batches()[0] if piece.num_rows else pa.RecordBatch.from_pylist([], schema=table.schema))
    atomic_write(fs, path, memoryview(sink.getvalue()))


def read_partition(fs: fsspec.AbstractFileSystem, path: str, partition: int) -> pa.Table:
    """Record batch `partition` of a file written by `write_partitioned`."""
    with fs.open(path, "rb") as f:
        return pa.Table.from_batches([pa.ipc.open_file(f).get_batch(partition)])
