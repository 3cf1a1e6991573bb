"""Partitioned scratch files of global-stage phases (Arrow IPC, any fsspec filesystem).

A partitioned file holds one record batch per partition, empty ones included, so the task of
partition p reads batch p of each file and nothing else, locally or on object storage. Dedup
shuffles band keys this way and mix shuffles documents.
"""

from __future__ import annotations

import fsspec
import numpy as np
import pyarrow as pa

from corpusforge.io.files import atomic_write


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
