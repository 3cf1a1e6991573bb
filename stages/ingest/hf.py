"""Hugging Face `datasets` reader: a dataset saved with `save_to_disk`, or a `load_dataset` spec.

- Without `dataset`, each path of the source locates a `save_to_disk` directory: the directory
  itself, or any file in it (the engine lists files, so `my_ds/state.json` or, for a
  DatasetDict, `my_ds/dataset_dict.json` names it; `split` then picks the split).
- With `dataset`, the source is `load_dataset(dataset, name, split=split, data_files=...,
  revision=...)`: a Hub id, a packaged builder such as `json` or `parquet`, or a local
  directory. The path only names the source (it keys the document ids).

Rows come out of the memory-mapped Arrow table in ranges of `rows_per_part`, one task each,
without a per-row Python step; fields map onto the core columns as for JSONL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa

from corpusforge.stage import ReadUnit, SourceReader
from stages.ingest.fields import FieldParams, to_core

_SAVED_MARKERS = ("state.json", "dataset_dict.json")


class HfParams(FieldParams):
    dataset: str | None = None
    name: str | None = None
    split: str = "train"
    data_files: str | list[str] | dict[str, str | list[str]] | None = None
    revision: str | None = None
    cache_dir: str | None = None
    # Rows per task: about 100 MB of web text at FineWeb's ~1 KB median document.
    rows_per_part: int = 100_000


def saved_dataset_dir(path: str) -> Path:
    """The `save_to_disk` directory that `path` is, or lies in."""
    here = Path(path)
    for directory in [here, *here.parents] if here.is_dir() else list(here.parents):
        if any((directory / marker).is_file() for marker in _SAVED_MARKERS):
            return directory
    raise FileNotFoundError(f"{path}: not inside a directory written by save_to_disk")


class HfReader(SourceReader):
    name = "hf"
    Params = HfParams

    def _dataset(self, path: str) -> Any:
        import datasets

        p = self.params
        if p.dataset is not None:
            return datasets.load_dataset(
                p.dataset, p.name, split=p.split, data_files=p.data_files, revision=p.revision, cache_dir=p.cache_dir
            )
        loaded = datasets.load_from_disk(str(saved_dataset_dir(path)))
        return loaded[p.split] if isinstance(loaded, datasets.DatasetDict) else loaded

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int]]:
        rows = self._dataset(path).num_rows
        step = max(self.params.rows_per_part, 1)
        return [(start, min(start + step, rows)) for start in range(0, rows, step)]

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        start, end = unit.part
        table = self._dataset(unit.path).with_format("arrow")[start:end]
        return to_core(table, self.params, unit.source, unit.key, np.arange(start, end, dtype=np.int64))
