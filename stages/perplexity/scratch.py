"""Phase files of `train_lm` and `perplexity` under the stage's work directory (Arrow IPC, any fsspec fs)."""

from __future__ import annotations

from dataclasses import dataclass

import fsspec
import pyarrow as pa

from corpusforge.io import ShardFormat, atomic_write, read_shard, url_to_fs
from corpusforge.io.shards import serialize


@dataclass(frozen=True)
class Workspace:
    root: str

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return url_to_fs(self.root)[0]

    def path(self, kind: str, index: int, ext: str = "arrow") -> str:
        return f"{self.root}/{kind}/{index:06d}.{ext}"

    def write(self, kind: str, index: int, table: pa.Table) -> None:
        atomic_write(self.fs, self.path(kind, index), serialize(table, ShardFormat()))

    def read(self, kind: str, index: int) -> pa.Table:
        return read_shard(self.fs, self.path(kind, index))
