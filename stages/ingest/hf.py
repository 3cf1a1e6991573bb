"""Hugging Face `datasets` reader: datasets saved with `save_to_disk`, or a `load_dataset` spec.

- Without `dataset`, each path of the source names a `save_to_disk` directory: the directory
  itself, a glob of such directories, or any file inside one (`my_ds/state.json`, or for a
  DatasetDict `my_ds/dataset_dict.json`); `split` picks the split of a DatasetDict.
- With `dataset`, the source is `load_dataset(dataset, name, split=split, data_files=...,
  revision=...)`: a Hub id, a packaged builder such as `json` or `parquet`, or a local
  directory. The source then has no `paths`; the spec itself names its one input.

Rows come out of the memory-mapped Arrow table in ranges of `rows_per_part`, one task each,
without a per-row Python step; fields map onto the core columns as for JSONL. A source's
fingerprint follows the datasets' own fingerprints, so changed data re-runs what reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import xxhash

from corpusforge.io.files import expand_paths
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


def _saved_state(directory: Path) -> str:
    """A digest of a saved dataset's state files, which hold each split's fingerprint."""
    markers = sorted(p for p in [*directory.iterdir(), *directory.glob("*/state.json")] if p.name in _SAVED_MARKERS)
    return xxhash.xxh3_64_hexdigest(b"".join(m.read_bytes() for m in markers))


class HfReader(SourceReader):
    name = "hf"
    Params = HfParams

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Any] = {}

    def spec_input(self) -> str:
        """The one input of a `load_dataset` source: the spec, as a name without slashes."""
        p = self.params
        return "@".join([p.dataset.replace("/", "--"), p.name or "default", p.split])

    def find_files(self, patterns: list[str]) -> list[str]:
        if self.params.dataset is not None:
            if patterns:
                raise ValueError("a source with `dataset` reads load_dataset(...); name its files with `data_files`")
            return [self.spec_input()]
        directories: list[str] = []
        for pattern in patterns:
            try:
                found = [str(saved_dataset_dir(p)) for p in expand_paths([pattern], directories=True)]
            except FileNotFoundError:
                raise FileNotFoundError(pattern) from None
            directories.extend(d for d in found if d not in directories)
        return directories

    def stamp(self, fs: fsspec.AbstractFileSystem, path: str) -> Any:
        if self.params.dataset is not None:
            return self._dataset(path)._fingerprint
        return _saved_state(saved_dataset_dir(path))

    def _dataset(self, path: str) -> Any:
        import datasets

        p = self.params
        if p.dataset is not None:
            # Not cached here: datasets' own cache makes a repeat load cheap, and a load always
            # sees the current data files.
            return datasets.load_dataset(
                p.dataset, p.name, split=p.split, data_files=p.data_files, revision=p.revision, cache_dir=p.cache_dir
            )
        directory = saved_dataset_dir(path)
        key = (str(directory), _saved_state(directory))  # a directory saved again is new data
        if key not in self._loaded:
            loaded = datasets.load_from_disk(str(directory))
            self._loaded[key] = loaded[p.split] if isinstance(loaded, datasets.DatasetDict) else loaded
        return self._loaded[key]

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int]]:
        rows = self._dataset(path).num_rows
        step = max(self.params.rows_per_part, 1)
        return [(start, min(start + step, rows)) for start in range(0, rows, step)]

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        start, end = unit.part
        table = self._dataset(unit.path).with_format("arrow")[start:end]
        return to_core(table, self.params, unit.source, unit.key, np.arange(start, end, dtype=np.int64))
