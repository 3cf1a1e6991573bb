"""The packed-shard directory the trainer reads (format `corpusforge.packed/1`).

A packed directory holds `index.json`, a copy of the `tokenizer.json` used, and Arrow IPC files
under `train/` and `val/`. Kinds:
- pretrain / sft: one row per training sequence of seq_len + 1 tokens, `tokens`
  fixed_size_list<uint16|uint32>[L+1], `doc_lens` list<int32> (the row's consecutive document
  segments, summing to L+1) and `doc_ids` list<string> (each segment's document id, "" for
  padding); sft adds `loss_mask` fixed_size_list<uint8>[L+1], 1 where the token is a response
  token to predict;
- preference: one row per pair, `id`, `prompt`, `chosen`, `rejected` (token lists);
- prompt: one row per PPO prompt, `id`, `prompt`.
This module owns the schemas, the dtype rule, shard writing and the index; pack and the chat
formatters (stages/chat) all write through it.
"""

from __future__ import annotations

from typing import Any, Literal

import fsspec
import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer

from corpusforge.io import ShardFormat, atomic_write, write_json
from corpusforge.io.shards import serialize
from corpusforge.stage import GlobalContext, GlobalStage, InputUnit, Stage
from stages.tokenizer.load import TOKENIZER_FILE, load_tokenizer, special_ids

FORMAT = "corpusforge.packed/1"
INDEX_FILE = "index.json"
SPLITS = ("train", "val")
UINT16_MAX_VOCAB = 65536

Dtype = Literal["auto", "uint16", "uint32"]


def token_dtype(vocab_size: int, requested: Dtype, where: str) -> np.dtype:
    """uint16 when every id fits (vocab <= 65536), else uint32; a too small request is an error."""
    if requested == "uint16" and vocab_size > UINT16_MAX_VOCAB:
        raise ValueError(f"{where}: vocab size {vocab_size} does not fit uint16 (at most {UINT16_MAX_VOCAB}); use uint32 or auto")
    if requested == "auto":
        requested = "uint16" if vocab_size <= UINT16_MAX_VOCAB else "uint32"
    return np.dtype(requested)


def tokenizer_path(uses: dict[str, str], where: str) -> str:
    """The tokenizer.json of the stage named under `uses: {tokenizer: ...}`."""
    if "tokenizer" not in uses:
        raise ValueError(f"{where}.uses.tokenizer: name the tokenizer stage (uses: {{tokenizer: <stage id>}})")
    return f"{uses['tokenizer']}/{TOKENIZER_FILE}"


class PackedWriter(GlobalStage):
    """Base of the stages that write a packed directory through a tokenizer stage's output
    (`uses: {tokenizer: <tokenizer stage id>}`); their params have a `dtype`."""

    produces_artefact = True
    uses_stages = {"tokenizer": "tokenizer"}

    def check_uses(self, used: dict[str, Stage]) -> None:
        # A vocab too large for the requested dtype is a config error, found before any work.
        token_dtype(used["tokenizer"].max_vocab_size(), self.params.dtype, "params.dtype")

    def packing_inputs(self, ctx: GlobalContext) -> tuple[str, Tokenizer, np.dtype, list[InputUnit]]:
        """The tokenizer.json named under `uses`, the tokenizer, the dtype its ids fit, and the
        input units: what every packed-directory writer starts from."""
        where = f"stages[{ctx.output_dir.rsplit('/', 1)[-1]}]"
        tokenizer_file = tokenizer_path(self.uses, where)
        tokenizer = load_tokenizer(tokenizer_file)
        dtype = token_dtype(tokenizer.get_vocab_size(), self.params.dtype, f"{where}.params.dtype")
        return tokenizer_file, tokenizer, dtype, [unit for source in ctx.inputs for unit in source.units]


def shard_name(split: str, index: int) -> str:
    return f"{split}/part-{index:05d}.arrow"


def sequence_table(tokens: np.ndarray, seg_row: np.ndarray, seg_lens: np.ndarray, seg_ids: pa.Array, loss_mask: np.ndarray | None, seq_len: int) -> pa.Table:
    """Rows of `tokens` (rows x (L+1)) with their segments (row, length, id), in row order."""
    rows = tokens.shape[0]
    offsets = pa.array(np.concatenate(([0], np.cumsum(np.bincount(seg_row, minlength=rows)))).astype(np.int32))
    columns = {
        "tokens": pa.FixedSizeListArray.from_arrays(pa.array(tokens.reshape(-1)), seq_len + 1),
        "doc_lens": pa.ListArray.from_arrays(offsets, pa.array(seg_lens.astype(np.int32))),
        "doc_ids": pa.ListArray.from_arrays(offsets, seg_ids),
    }
    if loss_mask is not None:
        columns["loss_mask"] = pa.FixedSizeListArray.from_arrays(pa.array(loss_mask.reshape(-1).astype(np.uint8)), seq_len + 1)
    return pa.table(columns)


def write_shard(fs: fsspec.AbstractFileSystem, directory: str, name: str, table: pa.Table) -> None:
    """Write one shard atomically (uncompressed Arrow IPC file, memory-mappable)."""
    atomic_write(fs, f"{directory}/{name}", serialize(table, ShardFormat()))


def copy_tokenizer(fs: fsspec.AbstractFileSystem, source: str, directory: str) -> None:
    with fsspec.open(source, "rb") as f:
        atomic_write(fs, f"{directory}/{TOKENIZER_FILE}", f.read())


def write_index(fs: fsspec.AbstractFileSystem, directory: str, kind: str, seq_len: int | None, tokenizer_file: str, dtype: np.dtype, splits: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    tokenizer = load_tokenizer(tokenizer_file)
    index = {
        "format": FORMAT,
        "kind": kind,
        "seq_len": seq_len,
        "vocab_size": tokenizer.get_vocab_size(),
        "dtype": dtype.name,
        "tokenizer": TOKENIZER_FILE,
        "special_tokens": special_ids(tokenizer),
        "splits": splits,
        **extra,
    }
    write_json(fs, f"{directory}/{INDEX_FILE}", index)
    return index
