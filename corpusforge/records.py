"""Documents are rows of Arrow tables. This module owns the core columns and document ids."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash

ID, TEXT, URL, SOURCE = "id", "text", "url", "source"
CORE_COLUMNS = (ID, TEXT, URL, SOURCE)
REASON = "reason"
# The raw page of a crawl record (WARC payload bytes) until `extract` turns it into `text`.
HTML = "html"
# What "bytes in/out" counts in the accounting: a document's text, or its page before extraction.
CONTENT_COLUMNS = (TEXT, HTML)

CORE_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string(), nullable=False),
        pa.field(TEXT, pa.string()),
        pa.field(URL, pa.string()),
        pa.field(SOURCE, pa.string()),
    ]
)

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    # A bijective mixer: distinct (key, offset) inputs never collide before truncation.
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def doc_ids(key: str, locators: np.ndarray) -> pa.Array:
    """Stable ids for the records found at `locators` (byte offsets or record numbers) of `key`.

    `key` names where the records live (source name and file path relative to the source), so
    the same record gets the same id on every run, whatever the executor or worker count.
    The result is 16 lowercase hex digits, computed without a per-row Python loop.
    """
    seed = np.uint64(xxhash.xxh3_64_intdigest(key.encode("utf-8")))
    mixed = _splitmix64(np.asarray(locators, dtype=np.uint64) ^ seed)
    nibbles = mixed.astype(">u8").view(np.uint8).reshape(-1, 8)
    chars = np.empty((len(mixed), 16), dtype=np.uint8)
    chars[:, 0::2] = _HEX[nibbles >> 4]
    chars[:, 1::2] = _HEX[nibbles & 0x0F]
    offsets = np.arange(0, 16 * len(mixed) + 1, 16, dtype=np.int32)
    return pa.StringArray.from_buffers(len(mixed), pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def with_column(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    """`table` with column `name` set: replaced in place if present (a re-run), else appended."""
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, column)
    return table.append_column(name, column)


def repeated_string(value: str, n: int) -> pa.Array:
    """`value` n times, built from buffers: pa.repeat(pa.scalar(...)) would make pyarrow import
    pandas, a quarter of a second in every worker process."""
    data = value.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data * n))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n)).cast(pa.string())


def conform(table: pa.Table, source: str) -> pa.Table:
    """Give a reader's table the core columns, in core order, followed by its other columns."""
    n = table.num_rows
    columns, fields = [], []
    for field in CORE_SCHEMA:
        if field.name in table.column_names:
            column = table.column(field.name)
            if column.type != field.type:
                column = column.cast(field.type)
        elif field.name == SOURCE:
            column = repeated_string(source, n)
        else:
            column = pa.nulls(n, field.type)
        columns.append(column)
        fields.append(field)
    for name in table.column_names:
        if name not in CORE_COLUMNS:
            columns.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


_OFFSET_TYPES = {pa.string(): np.int32, pa.binary(): np.int32, pa.large_string(): np.int64, pa.large_binary(): np.int64}


def content_bytes(table: pa.Table) -> int:
    """Bytes of document content in a table (`CONTENT_COLUMNS`): what 'bytes in/out' means in
    the accounting, so a crawl counts its pages before extraction and its text after."""
    total = 0
    for name in CONTENT_COLUMNS:
        if name not in table.column_names or table.column(name).type not in _OFFSET_TYPES:
            continue
        for chunk in table.column(name).chunks:
            if len(chunk):
                offsets = np.frombuffer(chunk.buffers()[1], dtype=_OFFSET_TYPES[chunk.type])
                total += int(offsets[chunk.offset + len(chunk)] - offsets[chunk.offset])
    return total
