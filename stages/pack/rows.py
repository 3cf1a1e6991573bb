"""Phase `write` of `pack`: cut a split's token stream into rows of seq_len + 1 tokens.

A split's stream is its units' encoded documents, concatenated in input order. Row r holds
stream tokens [r (L+1), (r+1) (L+1)); nothing overlaps and nothing is skipped, so every token
written is a token read. A row's segments are cut at its own start and at every document start
inside it: the first segment may continue the previous row's document, the last may be cut.
Only the tail after the last whole row is left out (or padded, with remainder=pad).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpusforge.io import url_to_fs
from stages.pack.contract import sequence_table, shard_name, write_shard
from stages.pack.encode import Encode


@dataclass(frozen=True)
class WriteRows:
    encode: Encode
    output_dir: str
    seq_len: int
    pad_id: int
    unit_tokens: dict[str, list[int]]  # per split, each unit's token count
    stream_tokens: dict[str, int]  # per split, the tokens of the stream (before padding)

    def __call__(self, item: tuple[str, int, int, int]) -> dict[str, int]:
        split, shard, first_row, end_row = item
        width = self.seq_len + 1
        start, stop = first_row * width, end_row * width
        real_stop = min(stop, self.stream_tokens[split])
        tokens, doc_starts, doc_ids = self._stream(split, start, real_stop)
        pad = stop - real_stop
        if pad:
            tokens = np.concatenate((tokens, np.full(pad, self.pad_id, tokens.dtype)))
        row_starts = np.arange(start, stop, width, dtype=np.int64)
        inside = doc_starts[(doc_starts > start) & (doc_starts < real_stop)]
        cuts = np.union1d(row_starts, inside)
        if pad:
            cuts = np.union1d(cuts, [real_stop])
        ends = np.concatenate((cuts[1:], [stop]))
        lengths = ends - cuts
        seg_row = (cuts - start) // width
        # A segment's document: the last one starting at or before it; padding has none.
        owner = np.searchsorted(doc_starts, cuts, side="right") - 1
        ids = doc_ids.take(pa.array(np.maximum(owner, 0))).to_numpy(zero_copy_only=False).astype(object)
        ids[cuts >= real_stop] = ""
        table = sequence_table(tokens.reshape(-1, width), seg_row, lengths, pa.array(ids, pa.string()), None, self.seq_len)
        fs, _ = url_to_fs(self.output_dir)
        write_shard(fs, self.output_dir, shard_name(split, shard), table)
        return {"rows": table.num_rows, "pad_tokens": int(pad)}

    def _stream(self, split: str, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """Tokens [start, stop) of the split's stream, and the start and id of each document there."""
        counts = np.asarray(self.unit_tokens[split], dtype=np.int64)
        unit_start = np.concatenate(([0], np.cumsum(counts)))
        pieces, starts, ids = [], [], []
        first = max(int(np.searchsorted(unit_start, start, side="right")) - 1, 0)
        for unit in range(first, len(counts)):
            if unit_start[unit] >= stop:
                break
            if counts[unit] == 0:
                continue
            offset = unit_start[unit]
            flat = self.encode.read("tokens", split, unit).column("t").to_numpy()
            lo, hi = max(start - offset, 0), min(stop - offset, counts[unit])
            pieces.append(flat[lo:hi])
            docs = self.encode.read("docs", split, unit)
            lengths = docs.column("length").to_numpy()
            begin = offset + np.concatenate(([0], np.cumsum(lengths)[:-1]))
            # Documents overlapping [start, stop): the one in progress at `start` included.
            keep = (begin < stop) & (begin + lengths > start)
            starts.append(begin[keep])
            ids.append(docs.column("id").combine_chunks().filter(pa.array(keep)))
        if not pieces:
            return np.zeros(0, np.dtype(self.encode.dtype)), np.zeros(0, np.int64), pa.array([], pa.string())
        return np.concatenate(pieces), np.concatenate(starts), pa.concat_arrays(ids)
