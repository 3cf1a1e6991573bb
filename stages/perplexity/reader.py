"""`text` source format: plain UTF-8 text (.txt, .txt.gz, .txt.zst), one record per non-blank line.

The shape of reference corpora (cc_net's Wikipedia openings, one paragraph per line). Ids come
from the file and the line number, so they are stable; lines are kept as written (a trailing
carriage return dropped), and a line that is not valid UTF-8 is a bad record, counted with its
line number.
"""

from __future__ import annotations

import gzip
import io

import fsspec
import numpy as np
import pyarrow as pa
import zstandard

from corpusforge.records import ID, TEXT, conform, doc_ids
from corpusforge.stage import Params, ReadUnit, SourceReader


def _decompressed(fs: fsspec.AbstractFileSystem, path: str) -> bytes:
    with fs.open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        return gzip.decompress(raw)
    if path.endswith(".zst"):
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    return raw


class TextReader(SourceReader):
    name = "text"
    extensions = (".txt", ".txt.gz", ".txt.zst")
    Params = Params

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        lines = _decompressed(fs, unit.path).split(b"\n")
        texts, numbers = [], []
        for number, raw in enumerate(lines, start=1):
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                self.bad_record("invalid_utf8", f"{unit.path}:{number}", str(e))
                continue
            numbers.append(number)
        table = pa.table({ID: doc_ids(unit.key, np.asarray(numbers, dtype=np.int64)), TEXT: pa.array(texts, pa.string())})
        return conform(table, unit.source)
