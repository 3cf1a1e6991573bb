"""JSONL reader (plain, .gz, .zst).

A block (a whole compressed file, or a byte range of an uncompressed one) is read into one Arrow
buffer, natively for local files, and checked for UTF-8 in one pass (`corpusforge.io.utf8`):
pyarrow's JSON parser passes invalid bytes through into string columns. Checking the raw block is
exact, since JSON's structure is ASCII (a string's bytes always end at an ASCII quote) and pyarrow
rejects escapes that would decode to a lone surrogate. The buffer is then parsed by pyarrow's
streaming JSON reader. Only a block that fails either check (a malformed line, invalid UTF-8) is
read line by line, so that each bad line is counted and logged with its file and line number while
every good line around it still comes through. Uncompressed files are split into byte ranges so
one large file still spreads over all cores.
"""

from __future__ import annotations

import json

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from corpusforge.io.files import is_local
from corpusforge.io.utf8 import is_valid_utf8
from corpusforge.stage import ReadUnit, SourceReader
from stages.ingest.fields import FieldParams, to_core
from stages.ingest.lines import byte_ranges, decompressed, line_bounds

PARSE_OPTIONS = pj.ParseOptions(newlines_in_values=False)


class JsonlParams(FieldParams):
    # Byte ranges of about this size become separate tasks (uncompressed files only).
    block_size_mb: float = 64.0


def _read_range(fs: fsspec.AbstractFileSystem, path: str, first: int, stop: int) -> pa.Buffer:
    """Bytes [first, stop) of `path`; for a local file read straight into Arrow memory."""
    if is_local(fs):
        with pa.OSFile(path) as f:
            f.seek(first)
            return f.read_buffer(stop - first)
    with fs.open(path, "rb") as f:
        f.seek(first)
        return pa.py_buffer(f.read(stop - first))


def _parse_block(data: pa.Buffer) -> pa.Table:
    """The records of a block whose UTF-8 is known to be valid (ArrowInvalid if a line is not
    JSON). The streaming reader fixes the schema from its first ~1 MB batch, so a block whose
    fields appear later or change type is parsed again whole by `read_json`, which unifies them."""
    try:
        return pj.open_json(pa.BufferReader(data), read_options=pj.ReadOptions(use_threads=pa.cpu_count() > 1), parse_options=PARSE_OPTIONS).read_all()
    except pa.ArrowInvalid:
        return pj.read_json(pa.BufferReader(data), parse_options=PARSE_OPTIONS)


def _line_starts(data: bytes) -> np.ndarray:
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    return starts[ends > starts]


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
            first, data = 0, pa.py_buffer(decompressed(fs, unit.path))
        else:
            first, stop = line_bounds(fs, unit.path, *unit.part)
            data = _read_range(fs, unit.path, first, stop)
        table, ordinals = self._parse(data, unit, first)
        return to_core(table, self.params, unit.source, f"{unit.key}@{first}", ordinals)

    def _parse(self, data: pa.Buffer, unit: ReadUnit, base: int) -> tuple[pa.Table, np.ndarray]:
        """The records of a block, and each one's ordinal among the block's non-blank lines.

        Ids hash (file, start of the block, ordinal): stable for a given config, since the
        blocks' boundaries are fixed by `block_size_mb`, which is part of the source's
        fingerprint.
        """
        if is_valid_utf8(data):
            try:
                table = _parse_block(data)
                return table, np.arange(table.num_rows, dtype=np.int64)
            except pa.ArrowInvalid:
                pass
        raw = data.to_pybytes()
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
