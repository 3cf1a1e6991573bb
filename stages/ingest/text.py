"""`text` source format: plain UTF-8 text (.txt, .txt.gz, .txt.zst), one record per non-blank line.

The shape of reference corpora (cc_net's Wikipedia openings, one paragraph per line). Ids come
from the file and the line's position, so they are stable; lines are kept as written (a trailing
carriage return dropped), and a line that is not valid UTF-8 is a bad record, counted with where
it is (byte offset of its range, line number in the range). Uncompressed files are split into
byte ranges, so one large reference file spreads over all cores.
"""

from __future__ import annotations


import fsspec
import numpy as np
import pyarrow as pa
from pydantic import Field

from corpusforge.records import ID, TEXT, conform, doc_ids
from corpusforge.stage import Params, ReadUnit, SourceReader
from stages.ingest.lines import byte_ranges, decompressed, line_bounds


class TextParams(Params):
    # Uncompressed files are read in byte ranges of about this size, one task each.
    block_size_mb: float = Field(64.0, gt=0)


class TextReader(SourceReader):
    name = "text"
    extensions = (".txt", ".txt.gz", ".txt.zst")
    Params = TextParams

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int] | None]:
        return byte_ranges(fs, path, self.params.block_size_mb)

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        if unit.part is None:
            first, data = 0, decompressed(fs, unit.path)
        else:
            first, stop = line_bounds(fs, unit.path, *unit.part)
            with fs.open(unit.path, "rb") as f:
                f.seek(first)
                data = f.read(stop - first)
        # Ids hash the range's first byte and the line's ordinal in it: stable, since the
        # ranges are fixed by block_size_mb, which is part of the source's fingerprint.
        key = unit.key if unit.part is None else f"{unit.key}@{first}"
        texts, numbers = [], []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                self.bad_record("invalid_utf8", f"{unit.path}@{first}:{number}", str(e))
                continue
            numbers.append(number)
        table = pa.table({ID: doc_ids(key, np.asarray(numbers, dtype=np.int64)), TEXT: pa.array(texts, pa.string())})
        return conform(table, unit.source)
