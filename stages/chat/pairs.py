"""Writing one-row-per-record chat shards (preference pairs, PPO prompts) and their index."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from corpusforge.io import url_to_fs
from corpusforge.stage import GlobalContext
from stages.draws import uniform
from stages.pack.contract import SPLITS, copy_tokenizer, shard_name, write_index, write_shard


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
