"""JSONL reader (plain, .gz, .zst).

Blocks are parsed by pyarrow's multi-threaded JSON reader. Only a block that pyarrow rejects
(a malformed line, invalid UTF-8) is re-read line by line, so that each bad line is counted and
logged with its file and line number while every good line around it still comes through.
Uncompressed files are split into byte ranges so one large file still spreads over all cores.
"""

from __future__ import annotations

import gzip
import io
import json

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.json as pj
import zstandard

from corpusforge.stage import ReadUnit, SourceReader
from stages.ingest.fields import FieldParams, to_core


class JsonlParams(FieldParams):
    # Byte ranges of about this size become separate tasks (uncompressed files only).
    block_size_mb: float = 64.0


def _decompressed(fs: fsspec.AbstractFileSystem, path: str) -> bytes:
    with fs.open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        return gzip.decompress(raw)
    if path.endswith(".zst"):
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    return raw


def _read_range(fs: fsspec.AbstractFileSystem, path: str, start: int, end: int) -> tuple[int, bytes]:
    """The whole lines that start inside [start, end), and the offset of the first one."""
    with fs.open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            if f.read(1) != b"\n":
                f.readline()  # the line in progress belongs to the previous range
        first = f.tell()
        if first >= end:
            return first, b""
        # The last line that starts before `end` is ours up to its newline: find where it ends,
        # then read the whole range at once (appending to a 64 MB bytes object would copy it).
        f.seek(end - 1)
        if f.read(1) != b"\n":
            f.readline()
        stop = f.tell()
        f.seek(first)
        return first, f.read(stop - first)


def _line_starts(data: bytes) -> np.ndarray:
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    return starts[ends > starts]


class JsonlReader(SourceReader):
    name = "jsonl"
    extensions = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".ndjson")
    Params = JsonlParams

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int] | None]:
        if path.endswith((".gz", ".zst")):
            return [None]
        size = fs.size(path)
        block = max(int(self.params.block_size_mb * 2**20), 1)
        return [(start, min(start + block, size)) for start in range(0, max(size, 1), block)]

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        if unit.part is None:
            base, data = 0, _decompressed(fs, unit.path)
        else:
            base, data = _read_range(fs, unit.path, *unit.part)
        table, ordinals = self._parse(data, unit, base)
        return to_core(table, self.params, unit.source, f"{unit.key}@{base}", ordinals)

    def _parse(self, data: bytes, unit: ReadUnit, base: int) -> tuple[pa.Table, np.ndarray]:
        """The records of `data`, and each one's ordinal among the non-blank lines of `data`.

        Ids hash (file, start of the part, ordinal): stable for a given config, since the parts'
        boundaries are fixed by `block_size_mb`, which is part of the source's fingerprint.
        """
        try:
            table = pj.read_json(pa.BufferReader(data), parse_options=pj.ParseOptions(newlines_in_values=False))
            table.validate(full=True)  # pyarrow passes invalid UTF-8 through; catch it here
            return table, np.arange(table.num_rows, dtype=np.int64)
        except pa.ArrowInvalid:
            if not data.strip():  # pyarrow rejects an empty block; it simply has no records
                return pa.table({}), np.zeros(0, dtype=np.int64)
            return self._parse_lines(data, unit, base)

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
