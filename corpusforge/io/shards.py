"""Writing and reading shard files: Arrow IPC (memory-mappable, the default) or Parquet."""

from __future__ import annotations

import collections
import io
import math
import mmap
import os
import struct
from dataclasses import dataclass
from typing import Literal

import fsspec
import pyarrow as pa
import xxhash

from corpusforge.io.files import atomic_write, is_local, temporary_name
from corpusforge.io.manifest import ShardInfo

# Record batches of bounded size keep readers' peak memory bounded and make the bytes
# independent of how upstream code happened to chunk the table.
BATCH_ROWS = 65536


@dataclass(frozen=True)
class ShardFormat:
    format: Literal["arrow", "parquet"] = "arrow"
    compression: Literal["zstd", "lz4"] | None = None
    shard_size_bytes: int = 256 * 2**20

    @property
    def suffix(self) -> str:
        return ".arrow" if self.format == "arrow" else ".parquet"


def _footer_without_leading_magic(data: memoryview | bytes) -> tuple[int, bytes]:
    """Where the footer of an Arrow IPC file starts, and the footer re-addressed for a file
    whose 8-byte leading magic is removed (every block offset moves 8 bytes down).

    Arrow's file reader finds everything through the footer at the end, and its stream reader
    reads messages from byte 0. Dropping the leading magic gives a file both accept, so a shard
    opens with `pyarrow.ipc.open_file` (random access, memory-mapped) and with Hugging Face
    `datasets.Dataset.from_file`, which uses the stream reader.
    """
    footer_len = struct.unpack_from("<i", data, len(data) - 10)[0]
    start = len(data) - 10 - footer_len
    footer = bytearray(data[start : len(data) - 10])
    # The footer is a flatbuffer table: root offset, vtable, then the fields `dictionaries`
    # (field 2) and `recordBatches` (field 3), each a vector of 24-byte Block structs whose
    # first member is the block's int64 file offset.
    table = struct.unpack_from("<I", footer, 0)[0]
    vtable = table - struct.unpack_from("<i", footer, table)[0]
    vtable_size = struct.unpack_from("<H", footer, vtable)[0]
    for field in (2, 3):
        slot = 4 + 2 * field
        if slot >= vtable_size or not (offset := struct.unpack_from("<H", footer, vtable + slot)[0]):
            continue
        vector = table + offset + struct.unpack_from("<I", footer, table + offset)[0]
        for i in range(struct.unpack_from("<I", footer, vector)[0]):
            at = vector + 4 + 24 * i
            struct.pack_into("<q", footer, at, struct.unpack_from("<q", footer, at)[0] - 8)
    return start, bytes(footer)


class _SkipLeadingMagic(io.RawIOBase):
    """A sink that drops the first 8 bytes the IPC file writer emits (its leading magic), and
    hashes what it writes on the way, so the file need not be read back for its checksum."""

    def __init__(self, file):
        self.file = file
        self.to_skip = 8
        self.position = 0
        self.digest = xxhash.xxh3_64()
        # (offset, digest of everything before it) for the last few writes: the footer, which
        # is re-addressed once the writer is done, is one of them.
        self.recent: collections.deque = collections.deque(maxlen=4)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        skip = min(self.to_skip, len(view))
        self.to_skip -= skip
        body = view[skip:]
        if len(body):
            self.recent.append((self.position, self.digest.copy()))
            self.digest.update(body)
            self.position += len(body)
            self.file.write(body)
        return len(view)

    def digest_before(self, offset: int):
        """The digest of the bytes before `offset`, if a recent write started there."""
        for position, digest in self.recent:
            if position == offset:
                return digest.copy()
        return None


def _write_arrow_file(table: pa.Table, path: str, fmt: ShardFormat) -> str:
    """Stream a shard straight into `path` (no in-memory copy), re-address its footer, and
    return the file's checksum."""
    options = pa.ipc.IpcWriteOptions(compression=fmt.compression)
    with open(path, "w+b") as f:
        sink = _SkipLeadingMagic(f)
        with pa.ipc.new_file(pa.PythonFile(sink, mode="w"), table.schema, options=options) as writer:
            writer.write_table(table, max_chunksize=BATCH_ROWS)
        end = f.tell()
        f.seek(end - 10)
        footer_len = struct.unpack("<i", f.read(4))[0]
        tail_start = end - 10 - footer_len
        f.seek(tail_start)
        tail = f.read()
        # The footer's offsets were computed for a file that still had the magic (8 bytes more).
        _, footer = _footer_without_leading_magic(b"\0" * 8 + tail)
        f.seek(tail_start)
        f.write(footer)
    digest = sink.digest_before(tail_start)
    if digest is None:  # the footer did not arrive as one write: hash the file as written
        return _checksum(path)
    digest.update(footer)
    digest.update(tail[-10:])
    return digest.hexdigest()


def _checksum(path: str) -> str:
    # Read back through a memory map of the page cache the file was just written to: no copy.
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return xxhash.xxh3_64().hexdigest()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return xxhash.xxh3_64_hexdigest(data)


def serialize(table: pa.Table, fmt: ShardFormat) -> list[memoryview | bytes]:
    """The bytes of one shard file, as a few buffers to be written one after another."""
    sink = pa.BufferOutputStream()
    if fmt.format == "parquet":
        # Imported here: pyarrow.parquet (with the cloud filesystems it loads) costs every run
        # that writes Arrow a few tens of milliseconds of start-up.
        import pyarrow.parquet as pq

        pq.write_table(table, sink, compression=fmt.compression or "none", row_group_size=BATCH_ROWS)
        return [memoryview(sink.getvalue())]
    options = pa.ipc.IpcWriteOptions(compression=fmt.compression)
    if fmt.compression is None:
        # Size the buffer exactly first (a dry run copies nothing), so writing never reallocates.
        sizer = pa.MockOutputStream()
        with pa.ipc.new_file(sizer, table.schema, options=options) as writer:
            writer.write_table(table, max_chunksize=BATCH_ROWS)
        buffer = pa.allocate_buffer(sizer.size())
        sink = pa.FixedSizeBufferWriter(buffer)
    with pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=BATCH_ROWS)
    data = memoryview(buffer if fmt.compression is None else sink.getvalue())
    footer_start, footer = _footer_without_leading_magic(data)
    return [data[8:footer_start], footer, data[len(data) - 10 :]]


def write_shards(
    table: pa.Table, fs: fsspec.AbstractFileSystem, directory: str, stem: str, fmt: ShardFormat
) -> list[ShardInfo]:
    """Write `table` as `stem-000`, `stem-001`, ... so that each file is about the target size."""
    if table.num_rows == 0:
        return []
    pieces = max(1, math.ceil(table.nbytes / fmt.shard_size_bytes))
    rows_per_piece = math.ceil(table.num_rows / pieces)
    infos = []
    for k in range(pieces):
        piece = table.slice(k * rows_per_piece, rows_per_piece)
        if piece.num_rows == 0:
            break
        name = f"{stem}-{k:03d}{fmt.suffix}"
        if fmt.format == "arrow" and is_local(fs):
            path = f"{directory}/{name}"
            tmp = temporary_name(path)
            os.makedirs(directory, exist_ok=True)
            try:
                checksum = _write_arrow_file(piece, tmp, fmt)
            except BaseException:
                os.unlink(tmp)
                raise
            os.replace(tmp, path)
            size = os.path.getsize(path)
        else:
            parts = serialize(piece, fmt)
            atomic_write(fs, f"{directory}/{name}", parts)
            digest = xxhash.xxh3_64()
            for part in parts:
                digest.update(part)
            size, checksum = sum(len(part) for part in parts), digest.hexdigest()
        infos.append(ShardInfo(name=name, rows=piece.num_rows, bytes=size, checksum=checksum))
    return infos


def read_shard(fs: fsspec.AbstractFileSystem, path: str, columns: list[str] | None = None) -> pa.Table:
    """Read one shard; local Arrow files are memory-mapped, so nothing is copied until used."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        with fs.open(path, "rb") as f:
            return pq.read_table(f, columns=columns)
    if is_local(fs):
        source = pa.memory_map(path, "r")
    else:
        with fs.open(path, "rb") as f:
            source = pa.BufferReader(f.read())
    table = pa.ipc.open_file(source).read_all()
    return table.select(columns) if columns is not None else table


def list_shards(fs: fsspec.AbstractFileSystem, directory: str) -> list[str]:
    """Shard files of a directory in name order (for directories without a manifest)."""
    if not fs.exists(directory):
        return []
    names = [p for p in fs.ls(directory, detail=False) if p.endswith((".arrow", ".parquet"))]
    return sorted(n for n in names if not n.rsplit("/", 1)[-1].startswith("."))
