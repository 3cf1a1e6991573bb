"""Parquet reader: one task per row group, so a large file spreads over all cores."""

from __future__ import annotations

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corpusforge.stage import ReadUnit, SourceReader
from stages.ingest.fields import FieldParams, to_core


class ParquetReader(SourceReader):
    name = "parquet"
    extensions = (".parquet",)
    Params = FieldParams

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int]]:
        """(row group, index of its first row in the file) for every row group."""
        with fs.open(path, "rb") as f:
            meta = pq.ParquetFile(f).metadata
        firsts = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
        return [(i, int(firsts[i])) for i in range(meta.num_row_groups)]

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        group, first_row = unit.part
        with fs.open(unit.path, "rb") as f:
            table = pq.ParquetFile(f).read_row_group(group)
        rows = np.arange(first_row, first_row + table.num_rows, dtype=np.int64)
        return to_core(table, self.params, unit.source, unit.key, rows)
