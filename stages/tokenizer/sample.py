"""The deterministic training and evaluation samples of the `tokenizer` stage.

Phase `measure` counts each input unit's characters; the driver turns the budgets into id-hash
thresholds; phase `sample` writes, per unit, the texts whose draw falls under the training
threshold (and the next slice of draws, for evaluation). The sample is the same for any shard
layout or worker count, and the driver reads it back in input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.io import ShardFormat, atomic_write, read_shard, url_to_fs
from corpusforge.io.shards import serialize
from corpusforge.records import ID
from corpusforge.stage import InputUnit
from corpusforge.stats import StageStats, collecting
from stages.draws import uniform

TRAIN, EVAL = "train", "eval"


def _chars(texts: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.utf8_length(texts), 0), dtype=np.int64)


@dataclass(frozen=True)
class Measure:
    text_column: str

    def __call__(self, unit: InputUnit) -> int:
        return int(_chars(unit.read().column(self.text_column)).sum())


@dataclass(frozen=True)
class Sample:
    text_column: str
    seed: int
    train_below: float  # draws in [0, train_below) train
    eval_below: float  # draws in [train_below, eval_below) evaluate
    work_dir: str

    def path(self, split: str, index: int) -> str:
        return f"{self.work_dir}/sample/{split}-{index:06d}.arrow"

    def __call__(self, item: tuple[int, InputUnit]) -> dict[str, int]:
        index, unit = item
        with collecting(StageStats(), log_bad_records=False):  # `measure` already counted and logged this unit's bad records
            table = unit.read()
        texts = pc.fill_null(table.column(self.text_column), "")
        draws = uniform(table.column(ID), self.seed, "tokenizer")
        fs, _ = url_to_fs(self.work_dir)
        sizes = {}
        for split, low, high in ((TRAIN, 0.0, self.train_below), (EVAL, self.train_below, self.eval_below)):
            chosen = texts.filter(pa.array((draws >= low) & (draws < high)))
            atomic_write(fs, self.path(split, index), serialize(pa.table({"text": chosen}), ShardFormat()))
            sizes[split] = len(chosen)
        return sizes

    def texts(self, split: str, units: int, batch_rows: int = 1024) -> Iterator[list[str]]:
        """The sampled texts of `split`, in input order, in batches."""
        fs, _ = url_to_fs(self.work_dir)
        for index in range(units):
            for batch in read_shard(fs, self.path(split, index)).to_batches(batch_rows):
                yield batch.column(0).to_pylist()


def thresholds(total_chars: int, sample_chars: int, eval_chars: int) -> tuple[float, float]:
    """Draw thresholds giving about the requested characters for training, then evaluation."""
    if total_chars <= 0:
        return 1.0, 1.0
    train = min(1.0, sample_chars / total_chars)
    return train, min(1.0, train + eval_chars / total_chars)
