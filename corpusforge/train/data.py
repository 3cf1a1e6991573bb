"""Batches from packed shards (see the packed-shard contract): memory-mapped, deterministic,
sharded across DDP ranks, resumable at the exact next batch, blendable by weight.

A `PackedDataset` is one split of one pack directory. Its Arrow shards are memory-mapped and
their token buffers viewed as numpy arrays without a copy; a batch copies only its own rows.

A `BatchLoader` draws global batches of `batch_size * world_size` rows; rank r takes rows
[r * batch_size, (r + 1) * batch_size) of each. Each source is read in a per-epoch permutation
seeded by (seed, source, epoch); the slots of a global batch go to the sources by smooth weighted
round robin, so a blend follows its weights exactly over every few batches. The whole position
(per-source epoch and cursor, round-robin credits) is a few numbers: `state_dict()`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from corpusforge.io import read_json, read_shard, url_to_fs
from corpusforge.train.errors import DataError
from corpusforge.train.model import positions_from_doc_lens

FORMAT = "corpusforge.packed/1"
TOKEN_KINDS = ("pretrain", "sft")


class PackedDataset:
    def __init__(self, path: str, split: str = "train"):
        self.path = path.rstrip("/")
        fs, root = url_to_fs(self.path)
        index = read_json(fs, f"{root}/index.json")
        if index is None:
            raise DataError(f"{path}: no index.json (expected the output directory of a pack stage)")
        if index.get("format") != FORMAT:
            raise DataError(f"{path}/index.json: format {index.get('format')!r}, expected {FORMAT!r}")
        if index.get("kind") not in TOKEN_KINDS:
            raise DataError(f"{path}: kind {index.get('kind')!r} has no token rows (expected {' or '.join(TOKEN_KINDS)})")
        if split not in index.get("splits", {}):
            raise DataError(f"{path}: no split {split!r} (has: {', '.join(index.get('splits', {}))})")
        self.index = index
        self.split = split
        self.kind: str = index["kind"]
        self.seq_len: int = int(index["seq_len"])
        self.vocab_size: int = int(index["vocab_size"])
        self.special_tokens: dict[str, int] = dict(index.get("special_tokens", {}))
        self.tokenizer_file = f"{root}/{index['tokenizer']}" if index.get("tokenizer") else None

        columns = ["tokens", "doc_lens"] + (["loss_mask"] if self.kind == "sft" else [])
        self._tokens: list[np.ndarray] = []  # per record batch: (rows, seq_len + 1) views
        self._doc_lens: list[tuple[np.ndarray, np.ndarray]] = []  # per record batch: offsets, values
        self._loss_mask: list[np.ndarray] = []
        for name in index["splits"][split]["files"]:
            file = f"{root}/{name}"
            table = read_shard(fs, file, columns)
            self._check_schema(table.schema, file)
            for batch in table.to_batches():
                if batch.num_rows == 0:
                    continue
                self._tokens.append(self._fixed_rows(batch.column("tokens")))
                lens = batch.column("doc_lens")
                self._doc_lens.append((lens.offsets.to_numpy(), lens.values.to_numpy()))
                if self.kind == "sft":
                    self._loss_mask.append(self._fixed_rows(batch.column("loss_mask")))
        sizes = [len(t) for t in self._tokens]
        self._starts = np.cumsum([0] + sizes)
        if len(self) == 0:
            raise DataError(f"{path}: split {split!r} has no rows")

    def _check_schema(self, schema: pa.Schema, file: str) -> None:
        width = self.seq_len + 1
        for name in ["tokens"] + (["loss_mask"] if self.kind == "sft" else []):
            kind = schema.field(name).type
            if not pa.types.is_fixed_size_list(kind) or kind.list_size != width:
                raise DataError(f"{file}: column {name} is {kind}, expected fixed_size_list[{width}] (seq_len + 1)")

    @staticmethod
    def _fixed_rows(column: pa.FixedSizeListArray) -> np.ndarray:
        return column.flatten().to_numpy(zero_copy_only=True).reshape(len(column), column.type.list_size)

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def tokenizer_json(self) -> str | None:
        if self.tokenizer_file is None:
            return None
        fs, path = url_to_fs(self.tokenizer_file)
        with fs.open(path, "r", encoding="utf-8") as f:
            return f.read()

    def rows(self, indices: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None]:
        """tokens (n, seq_len + 1) int64, doc_lens per row, loss_mask (n, seq_len + 1) or None."""
        chunks = np.searchsorted(self._starts, indices, side="right") - 1
        tokens = np.empty((len(indices), self.seq_len + 1), dtype=np.int64)
        mask = np.empty_like(tokens, dtype=np.uint8) if self.kind == "sft" else None
        doc_lens = []
        for i, (chunk, index) in enumerate(zip(chunks, indices)):
            row = index - self._starts[chunk]
            tokens[i] = self._tokens[chunk][row]
            offsets, values = self._doc_lens[chunk]
            doc_lens.append(values[offsets[row] : offsets[row + 1]])
            if mask is not None:
                mask[i] = self._loss_mask[chunk][row]
        return tokens, doc_lens, mask


def check_compatible(datasets: list[PackedDataset]) -> None:
    """A blend must share vocabulary and row length."""
    first = datasets[0]
    for other in datasets[1:]:
        for field in ("vocab_size", "seq_len", "kind"):
            if getattr(other, field) != getattr(first, field):
                raise DataError(
                    f"data sources disagree on {field}: {first.path} has {getattr(first, field)}, "
                    f"{other.path} has {getattr(other, field)}"
                )


def make_batch(tokens: np.ndarray, doc_lens: list[np.ndarray], loss_mask: np.ndarray | None, document_mask: bool) -> dict[str, torch.Tensor]:
    """Model inputs from rows of seq_len + 1 tokens: inputs are tokens[:-1], targets tokens[1:]
    (-1, ignored, where an SFT row's loss_mask says the target is not to be predicted)."""
    tokens = torch.from_numpy(tokens)
    batch = {"input_ids": tokens[:, :-1].contiguous(), "targets": tokens[:, 1:].contiguous()}
    if loss_mask is not None:
        batch["targets"][torch.from_numpy(loss_mask[:, 1:] == 0)] = -1
    if document_mask:
        length = batch["input_ids"].size(1)
        # doc_lens cover seq_len + 1 tokens; the inputs drop the last one.
        trimmed = [np.concatenate([lens[:-1], [lens[-1] - 1]]) for lens in doc_lens]
        batch["position_ids"], batch["segment_ids"] = positions_from_doc_lens(trimmed, length)
    return batch


class BatchLoader:
    def __init__(
        self,
        datasets: list[PackedDataset],
        batch_size: int,
        seed: int = 0,
        weights: list[float] | None = None,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        document_mask: bool = True,
    ):
        check_compatible(datasets)
        self.datasets = datasets
        self.weights = np.asarray(weights if weights is not None else [1.0] * len(datasets), dtype=np.float64)
        if len(self.weights) != len(datasets) or (self.weights <= 0).any():
            raise ValueError("one positive weight per dataset")
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.document_mask = document_mask
        self.epochs = [0] * len(datasets)
        self.cursors = [0] * len(datasets)
        self.credits = np.zeros(len(datasets))
        self.batches = 0
        self._orders: dict[int, tuple[int, np.ndarray]] = {}

    def _order(self, source: int) -> np.ndarray:
        epoch = self.epochs[source]
        cached = self._orders.get(source)
        if cached is None or cached[0] != epoch:
            n = len(self.datasets[source])
            order = np.random.default_rng([self.seed, source, epoch]).permutation(n) if self.shuffle else np.arange(n)
            self._orders[source] = cached = (epoch, order)
        return cached[1]

    def _take(self, source: int, n: int) -> np.ndarray:
        """The next n row indices of a source, continuing into the next epoch when it runs out."""
        out = []
        while n > 0:
            order = self._order(source)
            piece = order[self.cursors[source] : self.cursors[source] + n]
            out.append(piece)
            n -= len(piece)
            self.cursors[source] += len(piece)
            if self.cursors[source] == len(order):
                self.epochs[source] += 1
                self.cursors[source] = 0
        return np.concatenate(out)

    def next_batch(self) -> dict[str, torch.Tensor]:
        global_size = self.batch_size * self.world_size
        slots = np.empty(global_size, dtype=np.int64)
        total = self.weights.sum()
        for i in range(global_size):  # smooth weighted round robin
            self.credits += self.weights
            slots[i] = int(np.argmax(self.credits))
            self.credits[slots[i]] -= total
        indices = np.empty(global_size, dtype=np.int64)
        for source in range(len(self.datasets)):
            where = np.flatnonzero(slots == source)
            indices[where] = self._take(source, len(where))
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        self.batches += 1
        parts = [
            (source, indices[mine][slots[mine] == source]) for source in range(len(self.datasets))
        ]
        rows = [self.datasets[s].rows(idx) for s, idx in parts if len(idx)]
        tokens = np.concatenate([r[0] for r in rows])
        doc_lens = [lens for r in rows for lens in r[1]]
        mask = np.concatenate([r[2] for r in rows]) if rows[0][2] is not None else None
        return make_batch(tokens, doc_lens, mask, self.document_mask)

    def state_dict(self) -> dict:
        return {
            "epochs": list(self.epochs),
            "cursors": list(self.cursors),
            "credits": [float(c) for c in self.credits],
            "batches": self.batches,
            "sizes": [len(d) for d in self.datasets],
        }

    def load_state_dict(self, state: dict) -> None:
        sizes = [len(d) for d in self.datasets]
        if state["sizes"] != sizes:
            raise DataError(f"the data changed since the checkpoint: rows per source {state['sizes']} then, {sizes} now")
        self.epochs = list(state["epochs"])
        self.cursors = list(state["cursors"])
        self.credits = np.asarray(state["credits"], dtype=np.float64)
        self.batches = int(state["batches"])
