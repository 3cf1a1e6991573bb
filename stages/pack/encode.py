"""Phase `encode` of `pack`: one input unit's documents to token ids, EOS appended, per split.

Each unit writes, per split, its documents' ids and token counts (`docs-<split>-<unit>`) and
their tokens as one flat column (`tokens-<split>-<unit>`), in the output dtype. A document's
split is drawn from its id, so copies of one document (a mixture's repetitions) share a split.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.io import ShardFormat, atomic_write, read_shard, url_to_fs
from corpusforge.io.shards import serialize
from corpusforge.records import ID, SOURCE
from corpusforge.stage import InputUnit
from stages.draws import uniform
from stages.pack.contract import SPLITS
from stages.tokenizer.load import load_tokenizer, special_ids


def encode_texts(tokenizer, texts: list[str], eos: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Flat token ids of `texts`, each followed by `eos`, and each document's token count."""
    encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    ids = [e.ids for e in encodings]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)) + 1
    flat = np.fromiter(itertools.chain.from_iterable(itertools.chain(i, (eos,)) for i in ids), dtype=dtype, count=int(lengths.sum()))
    return flat, lengths


@dataclass(frozen=True)
class Encode:
    tokenizer_file: str
    text_column: str
    dtype: str
    val_fraction: float
    seed: int
    batch_docs: int
    work_dir: str

    def path(self, kind: str, split: str, index: int) -> str:
        return f"{self.work_dir}/encoded/{kind}-{split}-{index:06d}.arrow"

    def __call__(self, item: tuple[int, InputUnit]) -> dict:
        index, unit = item
        if multiprocessing.parent_process() is not None:
            # In a pool worker, the executor already runs a worker per core over the units; the
            # library's own threads on top oversubscribe the cores (measured on 2 cores, 20 MB:
            # encode 7.1-8.2 s with one thread per worker, 11.0-12.7 s with the library's pool).
            # In the driver (one worker, or a single unit) its threads are the only parallelism.
            # A user's explicit setting wins.
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        tokenizer = load_tokenizer(self.tokenizer_file)
        eos = special_ids(tokenizer)["eos"]
        dtype = np.dtype(self.dtype)
        table = unit.read()
        texts = pc.fill_null(table.column(self.text_column), "").to_pylist()
        flats, lengths = [], []
        for start in range(0, len(texts), self.batch_docs):
            flat, length = encode_texts(tokenizer, texts[start : start + self.batch_docs], eos, dtype)
            flats.append(flat)
            lengths.append(length)
        flat = np.concatenate(flats) if flats else np.zeros(0, dtype)
        length = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        in_val = uniform(table.column(ID), self.seed, "pack-split") < self.val_fraction
        doc_of = np.repeat(np.arange(len(length)), length)
        fs, _ = url_to_fs(self.work_dir)
        summary = {}
        for split, chosen in zip(SPLITS, (~in_val, in_val)):
            at = np.flatnonzero(chosen)
            # The tokens of the chosen documents, in input order, without a per-document loop.
            tokens = flat[chosen[doc_of]] if len(flat) else flat
            docs = pa.table({"id": table.column(ID).take(pa.array(at)), "length": pa.array(length[at])})
            atomic_write(fs, self.path("docs", split, index), serialize(docs, ShardFormat()))
            atomic_write(fs, self.path("tokens", split, index), serialize(pa.table({"t": tokens}), ShardFormat()))
            summary[split] = {"documents": len(at), "tokens": int(length[at].sum())}
        sources = table.column(SOURCE) if SOURCE in table.column_names else pa.nulls(table.num_rows, pa.string())
        by_source = {}
        for name in pc.unique(sources).to_pylist():
            mask = np.asarray(pc.fill_null(pc.equal(sources, name), False)) if name is not None else np.asarray(pc.is_null(sources))
            by_source[name or ""] = int(length[mask].sum())
        summary["tokens_by_source"] = by_source
        return summary

    def read(self, kind: str, split: str, index: int) -> pa.Table:
        fs, _ = url_to_fs(self.work_dir)
        return read_shard(fs, self.path(kind, split, index))
