"""Reading chat records: required fields, the reasons a record is skipped, and encoding.

A record is skipped, counted under `skipped:<reason>` and logged with its file and ids, when a
required field is missing (`missing_<field>`), a prompt or response is empty or blank
(`empty_prompt`, `empty_response`, `empty_rejected`), chosen equals rejected
(`identical_pair`), a field contains a special-token string (`contains_special_token`), or it
is too long for the configured limits and `on_long: skip` (`prompt_too_long`,
`sample_too_long`); `on_long: truncate` cuts it to fit instead (counted as `truncated:<what>`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.records import ID
from corpusforge.stage import InputUnit
from corpusforge.stats import bad_record, count
from stages.tokenizer.params import ROLES

# Ids named in a bad-record log line, per reason and unit (the count is always complete).
LOGGED_IDS = 5


def field(table: pa.Table, name: str | None) -> pa.ChunkedArray:
    """Column `name`, or all nulls when the records do not have that field."""
    if name is not None and name in table.column_names:
        column = table.column(name)
        return column if column.type == pa.string() else column.cast(pa.string())
    return pa.chunked_array([pa.nulls(table.num_rows, pa.string())])


class Verdicts:
    """The first reason each record of a unit is skipped for (None: kept)."""

    def __init__(self, table: pa.Table, unit: InputUnit):
        self.ids = table.column(ID).to_pylist()
        self.reasons: list[str | None] = [None] * table.num_rows
        self.where = unit.unit.path if unit.unit is not None else (unit.shard or "")

    def flag(self, mask: np.ndarray | pa.ChunkedArray, reason: str) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)).tolist():
            if self.reasons[i] is None:
                self.reasons[i] = reason

    def require(self, column: pa.ChunkedArray, name: str, empty_reason: str) -> None:
        self.flag(pc.is_null(column), f"missing_{name}")
        self.flag(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), False), empty_reason)

    def no_markers(self, *columns: pa.ChunkedArray) -> None:
        for column in columns:
            for marker in ROLES.values():
                self.flag(pc.fill_null(pc.match_substring(column, marker), False), "contains_special_token")

    @property
    def kept(self) -> np.ndarray:
        return np.array([r is None for r in self.reasons], dtype=bool)

    def report(self) -> None:
        """Count and log the skipped records of this unit, by reason."""
        by_reason: dict[str, list[str]] = {}
        for record_id, reason in zip(self.ids, self.reasons):
            if reason is not None:
                by_reason.setdefault(reason, []).append(record_id)
        for reason, ids in sorted(by_reason.items()):
            count(f"skipped:{reason}", len(ids))
            bad_record(reason, self.where, "ids " + ", ".join(ids[:LOGGED_IDS]) + (" ..." if len(ids) > LOGGED_IDS else ""), n=len(ids))


def cut(tokens: list[list[int]], limit: int, what: str, keep: str = "head") -> list[list[int]]:
    """Each list cut to `limit` tokens (from the end, or from the start with keep='tail')."""
    counts: Counter = Counter()
    out = []
    for t in tokens:
        if len(t) > limit:
            counts[what] += 1
            t = t[:limit] if keep == "head" else t[len(t) - limit :]
        out.append(t)
    for key, n in counts.items():
        count(f"truncated:{key}", n)
    return out


def token_lists(lists: list[list[int]], dtype: np.dtype) -> pa.Array:
    """A list<uint16|uint32> array of `lists`, without a per-token Python conversion."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    flat = np.fromiter((t for ids in lists for t in ids), dtype=dtype, count=int(lengths.sum()))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
