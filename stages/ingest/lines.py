"""Line-oriented input files (JSONL, plain text): whole-file decompression and byte ranges.

An uncompressed file is cut into equal byte ranges, one task each; a range owns the whole lines
that start inside it, so the ranges cover every line exactly once. Compressed files are read
whole (a gzip or zstd stream cannot be entered in the middle).
"""

from __future__ import annotations

import gzip
import io

import fsspec

COMPRESSED = (".gz", ".zst")


def decompressed(fs: fsspec.AbstractFileSystem, path: str) -> bytes:
    """The whole file, decompressed by its ending (.gz, .zst)."""
    with fs.open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        return gzip.decompress(raw)
    if path.endswith(".zst"):
        import zstandard  # here: a run without .zst input is spared its import

        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    return raw


def byte_ranges(fs: fsspec.AbstractFileSystem, path: str, block_size_mb: float) -> list[tuple[int, int] | None]:
    """Equal ranges of about `block_size_mb` ([None] for a compressed file): a file a little over
    one block stays one range rather than leaving a sliver of a task behind it."""
    if path.endswith(COMPRESSED):
        return [None]
    size = fs.size(path)
    pieces = max(1, round(size / max(block_size_mb * 2**20, 1)))
    bounds = [size * i // pieces for i in range(pieces + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def line_bounds(fs: fsspec.AbstractFileSystem, path: str, start: int, end: int) -> tuple[int, int]:
    """[first, stop): the bytes of the whole lines that start inside [start, end)."""
    with fs.open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            if f.read(1) != b"\n":
                f.readline()  # the line in progress belongs to the previous range
        first = f.tell()
        if first >= end:
            return first, first
        # The last line that starts before `end` is ours up to its newline.
        f.seek(end - 1)
        if f.read(1) != b"\n":
            f.readline()
        return first, f.tell()
