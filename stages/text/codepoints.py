"""A text column as code points: one numpy array for the whole shard, no Python string per document."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def decode_utf8(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Code points of all texts concatenated, and each text's start in them (length n + 1).

    The UTF-8 bytes of the whole column are decoded and re-encoded as UTF-32 in two C calls,
    without a Python object per document.
    """
    text = pc.fill_null(text, "") if text.null_count else text
    wide = pa.types.is_large_string(text.type)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64 if wide else np.int32)[text.offset : text.offset + len(text) + 1]
    data = text.buffers()[2]
    raw = str(memoryview(data)[int(offsets[0]) : int(offsets[-1])], "utf-8") if data is not None else ""
    cp = np.frombuffer(raw.encode("utf-32-le"), dtype=np.uint32)
    lengths = np.asarray(pc.utf8_length(text), dtype=np.int64)
    return cp, np.concatenate(([0], np.cumsum(lengths)))
