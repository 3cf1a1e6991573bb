"""One-row-per-record chat stages (preference pairs, PPO prompts): their shape, shards and index."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from corpusforge.io import url_to_fs
from corpusforge.stage import GlobalContext, InputUnit
from stages.chat.params import ChatParams
from stages.draws import uniform
from stages.pack.contract import SPLITS, PackedWriter, copy_tokenizer, shard_name, write_index, write_shard


@dataclass(frozen=True)
class UnitFormatter(abc.ABC):
    """Formats one input unit's records into this stage's rows, written by `write_splits`."""

    params: ChatParams
    tokenizer_file: str
    dtype: str
    output_dir: str

    @abc.abstractmethod
    def __call__(self, item: tuple[int, InputUnit]) -> dict[str, dict[str, int]]:
        """The unit's split summary (`write_splits`)."""


class RowsFormat(PackedWriter):
    """A chat stage writing one row per good record: a `format` phase over the input units,
    then the index. Subclasses name their index `kind` and their `formatter`."""

    kind: ClassVar[str]
    formatter: ClassVar[type[UnitFormatter]]

    def run(self, ctx: GlobalContext) -> None:
        p = self.params
        tokenizer_file, _, dtype, units = self.packing_inputs(ctx)
        summaries = ctx.map("format", self.formatter(p, tokenizer_file, dtype.name, ctx.output_dir), list(enumerate(units)))
        finish(ctx, self, self.kind, tokenizer_file, dtype, summaries, val_fraction=p.val_fraction, seed=p.seed)


def write_splits(output_dir: str, index: int, columns: dict[str, pa.Array], ids: pa.Array, val_fraction: float, seed: int) -> dict[str, dict[str, int]]:
    """Write unit `index`'s rows as train/val shard `index` (none for an empty split)."""
    in_val = uniform(ids, seed, "chat-split") < val_fraction
    fs, _ = url_to_fs(output_dir)
    summary = {}
    for split, chosen in zip(SPLITS, (~in_val, in_val)):
        keep = pa.array(chosen)
        table = pa.table({"id": ids.filter(keep), **{k: v.filter(keep) for k, v in columns.items()}})
        tokens = sum(int(np.asarray(table.column(k).combine_chunks().values).size) for k in columns)
        if table.num_rows:
            write_shard(fs, output_dir, shard_name(split, index), table)
        summary[split] = {"rows": table.num_rows, "tokens": tokens}
    return summary


def finish(ctx: GlobalContext, stage, kind: str, tokenizer_file: str, dtype: np.dtype, summaries: list[dict], **extra) -> None:
    """The index (shards listed in input order) and the tokenizer copy; counts per split."""
    splits = {}
    for split in SPLITS:
        rows = sum(s[split]["rows"] for s in summaries)
        splits[split] = {
            "files": [shard_name(split, i) for i, s in enumerate(summaries) if s[split]["rows"]],
            "rows": rows,
            "tokens": sum(s[split]["tokens"] for s in summaries),
            "documents": rows,
        }
        stage.count(f"{split}_rows", rows)
    copy_tokenizer(ctx.fs, tokenizer_file, ctx.output_dir)
    write_index(ctx.fs, ctx.output_dir, kind, None, tokenizer_file, dtype, splits, **extra)
