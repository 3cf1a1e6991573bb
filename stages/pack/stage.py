"""`pack`: tokenize documents and pack them into the trainer's fixed-length rows.

Phases: `encode` (per input unit, shard-parallel: encode_batch, EOS appended, split drawn per
document id), then `write` (per output shard: rows of seq_len + 1 tokens with their document
segments and ids), then the index on the driver. Every position in the output follows from the
input order and the per-split token counts, so the bytes do not depend on the worker count.

Tokens in == tokens out: index.json's `tokens_in` equals the rows' document tokens plus
`truncated_tokens`, the tail of each split after its last whole row (remainder=drop), which is
fewer than seq_len + 1 tokens per split; remainder=pad pads that row with <|pad|> instead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from corpusforge.stage import GlobalContext, Params
from stages.pack.contract import SPLITS, Dtype, PackedWriter, copy_tokenizer, shard_name, write_index
from stages.pack.encode import Encode
from stages.pack.rows import WriteRows
from stages.tokenizer.load import special_ids

SHARD_BYTES = 256 * 2**20


class PackParams(Params):
    seq_len: int = Field(2048, ge=1)  # the model's context; rows hold seq_len + 1 tokens
    dtype: Dtype = "auto"  # auto: uint16 when the vocab fits, else uint32
    val_fraction: float = Field(0.01, ge=0.0, lt=1.0)  # documents drawn into val by id hash
    seed: int = 0
    text_column: str = "text"
    batch_docs: int = Field(1024, ge=1)  # documents per encode_batch call
    rows_per_shard: int | None = Field(None, ge=1)  # default: about 256 MB per shard
    # The tail after a split's last whole row: dropped (counted as truncated_tokens) or padded.
    remainder: Literal["drop", "pad"] = "drop"


class Pack(PackedWriter):
    name = "pack"
    Params = PackParams
    version = "1"

    def run(self, ctx: GlobalContext) -> None:
        p = self.params
        tokenizer_file, tokenizer, dtype, units = self.packing_inputs(ctx)
        specials = special_ids(tokenizer)
        encode = Encode(tokenizer_file, p.text_column, dtype.name, p.val_fraction, p.seed, p.batch_docs, ctx.work_dir)
        encoded = ctx.map("encode", encode, list(enumerate(units)))

        width = p.seq_len + 1
        rows_per_shard = p.rows_per_shard or max(1, SHARD_BYTES // (width * dtype.itemsize))
        unit_tokens = {s: [e[s]["tokens"] for e in encoded] for s in SPLITS}
        stream = {s: sum(unit_tokens[s]) for s in SPLITS}
        rows = {s: (-(-stream[s] // width) if p.remainder == "pad" else stream[s] // width) for s in SPLITS}
        items = [
            (s, k, start, min(start + rows_per_shard, rows[s]))
            for s in SPLITS
            for k, start in enumerate(range(0, rows[s], rows_per_shard))
        ]
        writer = WriteRows(encode, ctx.output_dir, p.seq_len, specials["pad"], unit_tokens, stream)
        written = ctx.map("write", writer, items)

        splits = {}
        for s in SPLITS:
            kept = min(rows[s] * width, stream[s])
            pad = sum(w["pad_tokens"] for (split, *_), w in zip(items, written) if split == s)
            splits[s] = {
                "files": [shard_name(split, k) for split, k, *_ in items if split == s],
                "rows": rows[s],
                "tokens": rows[s] * width,
                "documents": _documents_in(encode, s, len(units), kept),
                "pad_tokens": pad,
                "truncated_tokens": stream[s] - kept,
            }
        tokens_in = sum(stream.values())
        truncated = sum(splits[s]["truncated_tokens"] for s in SPLITS)
        by_source: dict[str, int] = {}
        for e in encoded:
            for name, n in e["tokens_by_source"].items():
                by_source[name] = by_source.get(name, 0) + n
        copy_tokenizer(ctx.fs, tokenizer_file, ctx.output_dir)
        write_index(
            ctx.fs, ctx.output_dir, "pretrain", p.seq_len, tokenizer_file, dtype, splits,
            tokens_in=tokens_in, truncated_tokens=truncated, documents_in=sum(e[s]["documents"] for e in encoded for s in SPLITS),
            val_fraction=p.val_fraction, seed=p.seed, remainder=p.remainder, tokens_by_source=dict(sorted(by_source.items())),
        )
        self.count("tokens_in", tokens_in)
        self.count("truncated_tokens", truncated)
        for s in SPLITS:
            self.count(f"{s}_rows", rows[s])
            self.count(f"{s}_tokens", splits[s]["tokens"])
        for name, n in by_source.items():
            self.count(f"tokens:{name}", n)


def _documents_in(encode: Encode, split: str, units: int, kept_tokens: int) -> int:
    """How many of the split's documents have at least one token in the rows written."""
    seen = 0
    documents = 0
    for unit in range(units):
        lengths = encode.read("docs", split, unit).column("length").to_numpy()
        if seen >= kept_tokens:
            break
        starts = seen + lengths.cumsum() - lengths
        documents += int((starts < kept_tokens).sum())
        seen += int(lengths.sum())
    return documents
