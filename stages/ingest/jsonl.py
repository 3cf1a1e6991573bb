"""JSONL reader (plain, .gz, .zst).

Blocks are parsed by pyarrow's multi-threaded JSON reader, which streams the input itself: a
whole local file natively, a byte range through a bounded reader, block by block, so a range is
never held as one Python bytes object. Only a block that pyarrow rejects (a malformed line,
invalid UTF-8) is re-read line by line, so that each bad line is counted and logged with its
file and line number while every good line around it still comes through. Uncompressed files
are split into byte ranges so one large file still spreads over all cores.
"""

from __future__ import annotations

import json

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from corpusforge.io.files import is_local
from corpusforge.stage import ReadUnit, SourceReader
from stages.ingest.fields import FieldParams, to_core
from stages.ingest.lines import byte_ranges, decompressed, line_bounds


class JsonlParams(FieldParams):
    # Byte ranges of about this size become separate tasks (uncompressed files only).
    block_size_mb: float = 64.0


class _Bounded:
    """A file object that reads `size` bytes from `offset` of `f`, then reports the end."""

    def __init__(self, f, offset: int, size: int):
        self.f, self.left = f, size
        f.seek(offset)

    @property
    def closed(self) -> bool:
        return self.f.closed

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return self.f.read(n)

    def close(self) -> None:
        self.f.close()


def _open_range(fs: fsspec.AbstractFileSystem, path: str, first: int, stop: int):
    """What pyarrow reads [first, stop) of `path` from, without the bytes passing through Python
    when it can: a whole local file natively, a range through a bounded reader."""
    if is_local(fs):
        if first == 0 and stop == fs.size(path):
            return pa.OSFile(path)
        return pa.PythonFile(_Bounded(open(path, "rb", buffering=0), first, stop - first), mode="r")
    return pa.PythonFile(_Bounded(fs.open(path, "rb"), first, stop - first), mode="r")


def _read_bytes(fs: fsspec.AbstractFileSystem, path: str, first: int, stop: int) -> bytes:
    with fs.open(path, "rb") as f:
        f.seek(first)
        return f.read(stop - first)


def _line_starts(data: bytes) -> np.ndarray:
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    return starts[ends > starts]


def _read_checked(source) -> pa.Table:
    """Parse a block with pyarrow and check its UTF-8, which pyarrow's parser passes through.

    The streaming reader hands over one ~1 MB batch at a time, so each is checked while it is
    still in cache rather than in a second pass over the whole table; in the engine benchmark
    that took about a fifth off the CPU seconds of a 64 MB block. It fixes the schema from the
    first batch, so a block whose fields appear later or change type is parsed again whole by
    `read_json`, which unifies them.
    """
    parse = pj.ParseOptions(newlines_in_values=False)
    try:
        reader = pj.open_json(source(), read_options=pj.ReadOptions(use_threads=pa.cpu_count() > 1), parse_options=parse)
        batches = []
        for batch in reader:
            batch.validate(full=True)
            batches.append(batch)
        return pa.Table.from_batches(batches, schema=reader.schema)
    except pa.ArrowInvalid:
        table = pj.read_json(source(), parse_options=parse)
        table.validate(full=True)
        return table


class JsonlReader(SourceReader):
    name = "jsonl"
    # 2: blocks of equal size (ids of documents in split files changed).
    version = "2"
    extensions = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".ndjson")
    Params = JsonlParams

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int] | None]:
        return byte_ranges(fs, path, self.params.block_size_mb)

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        if unit.part is None:
            first, data = 0, decompressed(fs, unit.path)
            table, ordinals = self._parse(lambda: pa.BufferReader(data), lambda: data, unit, first)
        else:
            first, stop = line_bounds(fs, unit.path, *unit.part)
            table, ordinals = self._parse(
                lambda: _open_range(fs, unit.path, first, stop), lambda: _read_bytes(fs, unit.path, first, stop), unit, first
            )
        return to_core(table, self.params, unit.source, f"{unit.key}@{first}", ordinals)

    def _parse(self, source, data, unit: ReadUnit, base: int) -> tuple[pa.Table, np.ndarray]:
        """The records of a block, and each one's ordinal among the block's non-blank lines.

        `source()` gives pyarrow the block; `data()` gives its bytes, read only if pyarrow
        rejects the block. Ids hash (file, start of the block, ordinal): stable for a given
        config, since the blocks' boundaries are fixed by `block_size_mb`, which is part of the
        source's fingerprint.
        """
        try:
            table = _read_checked(source)
            return table, np.arange(table.num_rows, dtype=np.int64)
        except pa.ArrowInvalid:
            raw = data()
            if not raw.strip():  # pyarrow rejects an empty block; it simply has no records
                return pa.table({}), np.zeros(0, dtype=np.int64)
            return self._parse_lines(raw, unit, base)

    def _parse_lines(self, data: bytes, unit: ReadUnit, base: int) -> tuple[pa.Table, np.ndarray]:
        first_line = self._line_number(unit, base)
        rows, kept = [], []
        line_of = np.cumsum(np.frombuffer(data, dtype=np.uint8) == 0x0A)
        ordinal = -1
        for start in _line_starts(data).tolist():
            end = data.find(b"\n", start)
            line = data[start : end if end >= 0 else len(data)]
            if not line.strip():
                continue
            ordinal += 1
            where = f"{unit.path}:{first_line + (int(line_of[start - 1]) if start else 0)}"
            try:
                record = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as e:
                self.bad_record("undecodable_line", where, str(e))
                continue
            except json.JSONDecodeError as e:
                self.bad_record("malformed_json", where, str(e))
                continue
            if not isinstance(record, dict):
                self.bad_record("not_an_object", where, type(record).__name__)
                continue
            rows.append(record)
            kept.append(ordinal)
        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Fields whose type changes from line to line are kept as their JSON text.
            table = pa.Table.from_pylist([{k: v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False) for k, v in r.items()} for r in rows])
        return table, np.asarray(kept, dtype=np.int64)

    @staticmethod
    def _line_number(unit: ReadUnit, base: int) -> int:
        """1-based line number of the byte at `base` (computed only when a block has errors)."""
        if base == 0:
            return 1
        with fsspec.open(unit.path, "rb") as f:
            return f.read(base).count(b"\n") + 1
