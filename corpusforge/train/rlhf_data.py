"""The ragged shard kinds of alignment: `preference` pairs for the reward model and `prompt` rows
for PPO (see the packed-shard contract: index.json plus Arrow IPC files of list columns).

These sets are small (thousands of rows), so a split is read once, memory-mapped, into one numpy
array per row. Unusable rows are skipped with a count by reason, never silently.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from corpusforge.train.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class PackedIndex:
    """A formatted shard directory's index.json."""

    path: Path
    kind: str
    seq_len: int | None  # the formatting's row bound; ragged kinds may leave it out
    vocab_size: int
    special_tokens: dict[str, int]
    splits: dict[str, dict]
    tokenizer: Path | None

    @classmethod
    def open(cls, path: str | Path, kind: str) -> PackedIndex:
        root = Path(path)
        index_file = root / "index.json"
        if not index_file.is_file():
            raise DataError(f"data.path {root}: no index.json (expected a formatted `{kind}` shard directory)")
        body = json.loads(index_file.read_text(encoding="utf-8"))
        if body.get("kind") != kind:
            raise DataError(f"data.path {root}: holds kind {body.get('kind')!r} shards, this trainer needs {kind!r}")
        tokenizer = root / body["tokenizer"] if body.get("tokenizer") else None
        seq_len = int(body["seq_len"]) if body.get("seq_len") is not None else None
        return cls(root, kind, seq_len, int(body["vocab_size"]), dict(body["special_tokens"]), body["splits"], tokenizer)

    def read(self, split: str) -> pa.Table:
        files = self.splits.get(split, {}).get("files", [])
        tables = [pa.ipc.open_file(pa.memory_map(str(self.path / f))).read_all() for f in files]
        if not tables:
            raise DataError(f"data.path {self.path}: split {split!r} has no files")
        return pa.concat_tables(tables)

    def has_split(self, split: str) -> bool:
        return bool(self.splits.get(split, {}).get("files"))


def _rows(column: pa.ChunkedArray) -> list[np.ndarray]:
    """One int64 array per row of a list<uint> column, cut from the flat values by the offsets."""
    rows = []
    for chunk in column.chunks:
        offsets = chunk.offsets.to_numpy()
        values = chunk.values.to_numpy(zero_copy_only=False).astype(np.int64)
        rows.extend(values[offsets[i] : offsets[i + 1]] for i in range(len(chunk)))
    return rows


@dataclass
class PreferencePairs:
    ids: list[str]
    prompts: list[np.ndarray]
    chosen: list[np.ndarray]
    rejected: list[np.ndarray]
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.ids)


def load_pairs(index: PackedIndex, split: str, max_len: int) -> PreferencePairs:
    """Pairs whose prompt + longer response fit in max_len tokens; the rest are counted by reason."""
    table = index.read(split)
    eos = index.special_tokens["eos"]
    pairs = PreferencePairs([], [], [], [])
    for row_id, prompt, chosen, rejected in zip(
        table.column("id").to_pylist(), _rows(table.column("prompt")), _rows(table.column("chosen")), _rows(table.column("rejected"))
    ):
        if _is_empty(chosen, eos) or _is_empty(rejected, eos):
            pairs.skipped["empty_response"] += 1
        elif np.array_equal(chosen, rejected):
            pairs.skipped["identical_pair"] += 1
        elif len(prompt) + max(len(chosen), len(rejected)) > max_len:
            pairs.skipped["too_long"] += 1
        else:
            pairs.ids.append(row_id)
            pairs.prompts.append(prompt)
            pairs.chosen.append(chosen)
            pairs.rejected.append(rejected)
    _log_skips(index, split, pairs.skipped)
    return pairs


def load_prompts(index: PackedIndex, split: str, max_prompt_len: int) -> tuple[list[str], list[np.ndarray], Counter]:
    table = index.read(split)
    ids, prompts, skipped = [], [], Counter()
    for row_id, prompt in zip(table.column("id").to_pylist(), _rows(table.column("prompt"))):
        if len(prompt) == 0:
            skipped["empty_prompt"] += 1
        elif len(prompt) > max_prompt_len:
            skipped["too_long"] += 1
        else:
            ids.append(row_id)
            prompts.append(prompt)
    _log_skips(index, split, skipped)
    return ids, prompts, skipped


def _is_empty(response: np.ndarray, eos: int) -> bool:
    return len(response) == 0 or (len(response) == 1 and response[0] == eos)


def _log_skips(index: PackedIndex, split: str, skipped: Counter) -> None:
    if skipped:
        log.warning("%s/%s: skipped %s", index.path, split, ", ".join(f"{n} {why}" for why, n in sorted(skipped.items())))


def right_pad(seqs: list[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, max_len) token tensor padded on the right, and the lengths."""
    lengths = torch.tensor([len(s) for s in seqs])
    out = torch.full((len(seqs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.from_numpy(s)
    return out, lengths


class EpochSampler:
    """Batches of row indices, reshuffled every epoch from (seed, epoch); the last partial batch
    of an epoch is dropped so every step sees the same batch size. state_dict() resumes at the
    exact next batch."""

    def __init__(self, n_rows: int, batch_size: int, seed: int):
        if n_rows < batch_size:
            raise DataError(f"batch size {batch_size} is larger than the {n_rows} usable rows")
        self.n_rows, self.batch_size, self.seed = n_rows, batch_size, seed
        self.epoch, self.cursor = 0, 0

    def _order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n_rows)

    def next_batch(self) -> np.ndarray:
        if self.cursor + self.batch_size > self.n_rows:
            self.epoch, self.cursor = self.epoch + 1, 0
        batch = self._order()[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.cursor, self.seed = int(state["epoch"]), int(state["cursor"]), int(state["seed"])
