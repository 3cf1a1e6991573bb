"""`sft_format`: instruction/input/output records -> packed SFT rows with a loss mask.

Phases: `encode` (per unit: check, render with the chat template, draw the split), the driver's
packing (samples in input order, next-fit into rows of seq_len + 1 tokens: a sample never
splits, the tail of a row is one <|pad|> segment with doc_id ""), then `write` (per shard).
loss_mask[t] = 1 iff tokens[t] is a response token, its closing <|endoftext|> included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from corpusforge.io import ShardFormat, atomic_write, read_shard, url_to_fs
from corpusforge.io.shards import serialize
from corpusforge.records import ID
from corpusforge.stage import GlobalContext, InputUnit
from corpusforge.stats import count
from stages.chat.params import ChatParams
from stages.chat.records import Verdicts, cut, field, token_lists
from stages.chat.template import ChatTemplate
from stages.draws import uniform
from stages.pack.contract import SPLITS, PackedWriter, copy_tokenizer, sequence_table, shard_name, write_index, write_shard
from stages.tokenizer.load import load_tokenizer, special_ids


class SftParams(ChatParams):
    seq_len: int = Field(1024, ge=2)  # rows hold seq_len + 1 tokens; a longer sample is too long
    instruction_field: str = "instruction"
    input_field: str | None = "input"
    # The response field. The JSONL reader names its `text_field` `text`: a source with
    # `text_field: output` (records without an output are then counted by the reader).
    response_field: str = "text"
    rows_per_shard: int = Field(8192, ge=1)


@dataclass(frozen=True)
class EncodeSamples:
    params: SftParams
    tokenizer_file: str
    dtype: str
    work_dir: str

    def path(self, split: str, index: int) -> str:
        return f"{self.work_dir}/samples/{split}-{index:06d}.arrow"

    def __call__(self, item: tuple[int, InputUnit]) -> dict[str, int]:
        index, unit = item
        p = self.params
        chat = ChatTemplate(load_tokenizer(self.tokenizer_file))
        table = unit.read()
        instruction, extra = field(table, p.instruction_field), field(table, p.input_field)
        response, system = field(table, p.response_field), field(table, p.system_field)
        verdicts = Verdicts(table, unit)
        verdicts.require(instruction, "instruction", "empty_prompt")
        verdicts.require(response, "response", "empty_response")
        verdicts.no_markers(instruction, extra, response, system)
        kept = np.flatnonzero(verdicts.kept)
        take = pa.array(kept)
        contents = chat.encode_users(instruction.take(take).to_pylist(), extra.take(take).to_pylist())
        system_ids = chat.encode_systems(system.take(take).to_pylist())
        responses = [chat.response(r) for r in chat.encode(response.take(take).to_pylist())]
        width = p.seq_len + 1
        prompts = []
        for row, content, sys_ids in zip(kept.tolist(), contents, system_ids):
            if len(content) > p.max_prompt_tokens and p.on_long == "skip":
                verdicts.reasons[row] = "prompt_too_long"
            prompts.append(chat.prompt(content[: p.max_prompt_tokens], sys_ids))
        if p.on_long == "truncate":
            count("truncated:prompt", sum(len(c) > p.max_prompt_tokens for c in contents))
        for n, row in enumerate(kept.tolist()):
            room = width - len(prompts[n])
            if verdicts.reasons[row] is None and len(responses[n]) > room:
                if p.on_long == "skip" or room <= 0:
                    verdicts.reasons[row] = "sample_too_long"
                else:
                    responses[n] = cut([responses[n]], room, "response")[0]
        verdicts.report()
        ok = np.array([verdicts.reasons[row] is None for row in kept.tolist()], dtype=bool)
        ids = table.column(ID).take(take).filter(pa.array(ok)) if len(kept) else pa.chunked_array([], pa.string())
        prompts = [t for t, good in zip(prompts, ok) if good]
        responses = [t for t, good in zip(responses, ok) if good]
        in_val = uniform(ids, p.seed, "chat-split") < p.val_fraction
        fs, _ = url_to_fs(self.work_dir)
        dtype = np.dtype(self.dtype)
        summary = {}
        for split, chosen in zip(SPLITS, (~in_val, in_val)):
            at = np.flatnonzero(chosen).tolist()
            samples = pa.table({
                "id": ids.take(pa.array(at, pa.int64())),
                "prompt": token_lists([prompts[i] for i in at], dtype),
                "response": token_lists([responses[i] for i in at], dtype),
            })
            atomic_write(fs, self.path(split, index), serialize(samples, ShardFormat()))
            summary[split] = len(at)
        return summary

    def read(self, split: str, index: int) -> pa.Table:
        return read_shard(url_to_fs(self.work_dir)[0], self.path(split, index))


def next_fit(lengths: np.ndarray, width: int) -> np.ndarray:
    """The row of each sample, in order: a sample starts a new row when it does not fit."""
    rows = np.empty(len(lengths), dtype=np.int64)
    row, used = 0, 0
    for i, n in enumerate(lengths.tolist()):
        if used + n > width:
            row, used = row + 1, 0
        rows[i] = row
        used += n
    return rows


@dataclass(frozen=True)
class WriteSftRows:
    encode: EncodeSamples
    output_dir: str
    pad_id: int

    def __call__(self, item: tuple[str, int, list[tuple[int, int, int]]]) -> dict[str, int]:
        """Rows of one shard; `item` lists (unit, sample, row) for each sample placed in it."""
        split, shard, placed = item
        width = self.encode.params.seq_len + 1
        first_row = placed[0][2]
        rows = placed[-1][2] - first_row + 1
        tables = {unit: self.encode.read(split, unit) for unit in sorted({u for u, _, _ in placed})}
        tokens = np.full((rows, width), self.pad_id, dtype=np.dtype(self.encode.dtype))
        mask = np.zeros((rows, width), dtype=np.uint8)
        used = np.zeros(rows, dtype=np.int64)
        seg_row, seg_len, seg_id = [], [], []
        for unit, sample, row in placed:
            table, r = tables[unit], row - first_row
            prompt = table.column("prompt")[sample].values.to_numpy()
            response = table.column("response")[sample].values.to_numpy()
            at = used[r]
            tokens[r, at : at + len(prompt)] = prompt
            tokens[r, at + len(prompt) : at + len(prompt) + len(response)] = response
            mask[r, at + len(prompt) : at + len(prompt) + len(response)] = 1
            used[r] += len(prompt) + len(response)
            seg_row.append(r)
            seg_len.append(len(prompt) + len(response))
            seg_id.append(table.column("id")[sample].as_py())
        for r in np.flatnonzero(used < width).tolist():
            seg_row.append(r)
            seg_len.append(width - used[r])
            seg_id.append("")
        order = np.argsort(np.asarray(seg_row), kind="stable")
        table = sequence_table(
            tokens, np.asarray(seg_row)[order], np.asarray(seg_len)[order], pa.array(np.asarray(seg_id, dtype=object)[order], pa.string()),
            mask, self.encode.params.seq_len,
        )
        write_shard(url_to_fs(self.output_dir)[0], self.output_dir, shard_name(split, shard), table)
        return {"rows": rows, "pad_tokens": int((width - used).sum()), "response_tokens": int(mask.sum())}


class SftFormat(PackedWriter):
    name = "sft_format"
    Params = SftParams
    version = "1"

    def run(self, ctx: GlobalContext) -> None:
        p = self.params
        tokenizer_file, tokenizer, dtype, units = self.packing_inputs(ctx)
        encode = EncodeSamples(p, tokenizer_file, dtype.name, ctx.work_dir)
        ctx.map("encode", encode, list(enumerate(units)))

        width = p.seq_len + 1
        items, totals = [], {}
        for split in SPLITS:
            unit_of, sample_of, lengths = [], [], []
            for unit in range(len(units)):
                table = encode.read(split, unit)
                n = table.num_rows
                unit_of.append(np.full(n, unit))
                sample_of.append(np.arange(n))
                lengths.append(np.asarray(pc.list_value_length(table.column("prompt"))) + np.asarray(pc.list_value_length(table.column("response"))))
            unit_of, sample_of, lengths = (np.concatenate(a) if a else np.zeros(0, np.int64) for a in (unit_of, sample_of, lengths))
            rows = next_fit(lengths, width)
            n_rows = int(rows[-1]) + 1 if len(rows) else 0
            for k, start in enumerate(range(0, n_rows, p.rows_per_shard)):
                at = np.flatnonzero((rows >= start) & (rows < start + p.rows_per_shard))
                items.append((split, k, list(zip(unit_of[at].tolist(), sample_of[at].tolist(), rows[at].tolist()))))
            totals[split] = {"rows": n_rows, "documents": len(lengths), "sample_tokens": int(lengths.sum())}
        written = ctx.map("write", WriteSftRows(encode, ctx.output_dir, special_ids(tokenizer)["pad"]), items)

        splits = {}
        for split in SPLITS:
            mine = [(item, w) for item, w in zip(items, written) if item[0] == split]
            splits[split] = {
                "files": [shard_name(split, item[1]) for item, _ in mine],
                "rows": totals[split]["rows"],
                "tokens": totals[split]["rows"] * width,
                "documents": totals[split]["documents"],
                "sample_tokens": totals[split]["sample_tokens"],
                "response_tokens": sum(w["response_tokens"] for _, w in mine),
                "pad_tokens": sum(w["pad_tokens"] for _, w in mine),
            }
            self.count(f"{split}_samples", totals[split]["documents"])
            self.count(f"{split}_rows", totals[split]["rows"])
        copy_tokenizer(ctx.fs, tokenizer_file, ctx.output_dir)
        write_index(ctx.fs, ctx.output_dir, "sft", p.seq_len, tokenizer_file, dtype, splits,
                    val_fraction=p.val_fraction, seed=p.seed, packing="next_fit")
