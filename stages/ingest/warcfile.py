"""Walking the records of a WARC file with warcio: byte-range parts, and recovery from damage.

A damaged record must not cost the records after it. warcio's ArchiveIterator stops at the
first record it cannot parse, so after a failure the walk restarts at the next record start:
the next gzip member (WARCs are gzipped record by record, as wget and Common Crawl write them)
or, in an uncompressed file, the next `WARC/1.x` line. The same resynchronisation splits a large
file into byte ranges: a part owns the records that *start* inside its range, so one Common
Crawl file (about 1 GB) spreads over many tasks without any task holding all of its HTML.

Truncation does not raise in warcio: a cut-off record just comes out short. A record whose
block is shorter than its Content-Length, and bytes after the last complete record, are
reported as truncated.
"""

from __future__ import annotations

import zlib
from typing import Any, Iterator

import fsspec
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from corpusforge.stage import Params
from corpusforge.stats import bad_record

_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_LINE = b"WARC/1."
_SCAN_CHUNK = 1 << 20


class WarcFileParams(Params):
    # Compressed bytes per task (a part holds the records that start inside it). Payloads are
    # 1.8x the compressed size on the dev crawl and typically 4-5x on Common Crawl's HTML, so a
    # task holds 60-160 MB of HTML, and a 1 GB Common Crawl file becomes ~30 tasks.
    block_size_mb: float = 32.0


class Record:
    """One WARC record and where it starts in the file (the stable locator for its id).

    Reading it never raises: a failure is kept in `error`, and `walk` then treats the record
    as damaged and resynchronises after it.
    """

    def __init__(self, offset: int, record: ArcWarcRecord):
        self.offset = offset
        self.record = record
        self.error: Exception | None = None
        self._complete: bool | None = None

    def payload(self, limit: int) -> bytes | None:
        """The HTTP payload (de-chunked, content-decoded); None if longer than `limit` or unreadable."""
        try:
            payload = self.record.content_stream().read(limit + 1)
        except Exception as e:  # chunked or content encodings that do not decode
            self.error = e
            return None
        return payload if len(payload) <= limit else None

    def complete(self) -> bool:
        """Read what is left of the record; False if the file ended before its Content-Length."""
        if self._complete is None:
            stream = self.record.raw_stream
            try:
                while stream.read(1 << 16):
                    pass
            except Exception as e:  # a corrupt gzip member
                self.error = e
            self._complete = self.error is None and getattr(stream, "limit", 0) == 0
        return self._complete


def _is_gzip(path: str) -> bool:
    return path.endswith(".gz")


def _looks_like_member(data: bytes) -> bool:
    """Whether `data` starts a gzip member whose content begins like a WARC record."""
    try:
        head = zlib.decompressobj(wbits=31).decompress(data, 16)
    except zlib.error:
        return False
    return head.startswith(_WARC_LINE[:5])


def next_record_start(f: Any, position: int, gzipped: bool, size: int) -> int | None:
    """The first record start at or after `position`, or None before the end of the file."""
    marker = _GZIP_MAGIC if gzipped else _WARC_LINE
    while position < size:
        f.seek(position)
        # Overlap the chunks so a marker and the bytes needed to check it are never split.
        chunk = f.read(_SCAN_CHUNK + 4096)
        if not chunk:
            return None
        at = chunk.find(marker)
        while 0 <= at < _SCAN_CHUNK:
            found = position + at
            if gzipped:
                if _looks_like_member(chunk[at : at + 4096]):
                    return found
            elif found == 0 or (chunk[at - 1 : at] == b"\n" if at else _preceded_by_newline(f, found)):
                return found
            at = chunk.find(marker, at + 1)
        position += _SCAN_CHUNK
    return None


def _preceded_by_newline(f: Any, position: int) -> bool:
    f.seek(position - 1)
    return f.read(1) == b"\n"


def _member_damage(f: Any, start: int, size: int) -> str | None:
    """`truncated_gzip` if the gzip member at `start` stops before its end (the next member, or
    the end of the file, comes first), `corrupt_gzip` if its deflate data is broken, else None
    (also when no member starts there: stray bytes are a malformed record)."""
    f.seek(start)
    if f.read(len(_GZIP_MAGIC)) != _GZIP_MAGIC:
        return None
    end = next_record_start(f, start + 1, True, size) or size
    f.seek(start)
    decompressor = zlib.decompressobj(wbits=31)
    try:
        decompressor.decompress(f.read(end - start))
    except zlib.error:
        return "corrupt_gzip"
    return None if decompressor.eof else "truncated_gzip"


def byte_ranges(fs: fsspec.AbstractFileSystem, path: str, block_size_mb: float) -> list[tuple[int, int]]:
    """Split a file into [start, end) ranges of about `block_size_mb` each."""
    size = fs.size(path)
    block = max(int(block_size_mb * 2**20), 1)
    return [(start, min(start + block, size)) for start in range(0, max(size, 1), block)]


def walk(fs: fsspec.AbstractFileSystem, path: str, part: tuple[int, int] | None) -> Iterator[Record]:
    """The records that start inside `part` (the whole file if None), skipping damage.

    Every damaged stretch is counted once as a bad record with the file and byte offset where
    it starts, and the walk goes on at the next record start.
    """
    size = fs.size(path)
    start, end = part if part is not None else (0, size)
    gzipped = _is_gzip(path)
    truncated = "truncated_gzip" if gzipped else "truncated_warc"
    with fs.open(path, "rb") as f:
        position = start if start == 0 else next_record_start(f, start, gzipped, size)
        last_end = position
        while position is not None and position < end:
            f.seek(position)
            iterator = ArchiveIterator(f)
            failed_at = None
            try:
                for record in iterator:
                    offset = iterator.offset
                    if offset >= end:
                        return
                    item = Record(offset, record)
                    yield item
                    complete = item.complete()
                    if item.error is not None:
                        raise item.error
                    if not complete:
                        bad_record(truncated, f"{path}@{offset}", "the file ends inside this record")
                    iterator.read_to_end()
                    last_end = offset + iterator.get_record_length()
            except Exception as e:  # warcio raises many types on damaged input
                failed_at = iterator.offset
                # The damage starts where the last good record ended (warcio's offset can point
                # a few bytes into the damaged member).
                where = last_end if last_end is not None and last_end <= failed_at else failed_at
                kind = "corrupt_gzip" if isinstance(e, zlib.error) else "malformed_record"
                if gzipped and kind == "malformed_record":
                    kind = _member_damage(f, where, size) or kind
                bad_record(kind, f"{path}@{where}", f"{type(e).__name__}: {ascii(str(e)[:120])}")
            if failed_at is None:
                break
            position = next_record_start(f, failed_at + 1, gzipped, size)
            last_end = position if position is not None else size
        if end >= size and last_end is not None and last_end < size:
            f.seek(last_end)
            if f.read(4096).strip():
                bad_record(truncated, f"{path}@{last_end}", "the file ends inside a record")
