"""WARC reader: HTTP 200 HTML responses, as raw payload bytes for the `extract` stage.

Only `response` records are documents. Redirects, other statuses and non-HTML content types
are normal crawl content: they are counted (`skipped:*`) and skipped. Broken input (a payload
that is empty, binary, contains NUL bytes, or is too large; a damaged or truncated record) is
counted as a bad record with its file and byte offset, and every good record around it still
comes through (see `warcfile.walk`).

Rows: `id` (from the record's byte offset, so stable across runs and block sizes), `url`
(warcio already strips wget's `<...>` around WARC-Target-URI), `source`, `host`, `fetch_date`
(WARC-Date), `content_type`, `warc_record_id`, and for extraction `html` (the payload bytes)
and `http_charset` (the charset named in the HTTP Content-Type, if any). `text` is null until
`extract` fills it.
"""

from __future__ import annotations

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.records import URL, conform, doc_ids
from corpusforge.stage import ReadUnit, SourceReader
from stages.ingest.warcfile import Record, WarcFileParams, byte_ranges, walk

HTML, HTTP_CHARSET = "html", "http_charset"

# Signatures of binary formats that servers mislabel as text/html (images, archives, PDF, ...).
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"\x7fELF", b"OggS", b"ID3", b"BM")
# WHATWG MIME sniffing's "binary data bytes" (C0 controls other than TAB, LF, FF, CR and ESC).
_BINARY_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_SNIFF_BYTES = 1024
# Share of binary data bytes in the first KB above which a payload is binary: random or
# compressed bytes have about 10.5% (27 of 256 values), HTML has none but the odd stray byte.
_BINARY_SHARE = 0.05
_HTML_HINTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class WarcParams(WarcFileParams):
    # Payloads above this are skipped as `payload_too_large`. Common Crawl truncates fetches at
    # 1 MiB, and trafilatura's cost grows with the DOM: a 50 MB page would stall a worker.
    max_payload_mb: float = 5.0
    # MIME types that are HTML documents; anything else is counted as `skipped:not_html`.
    content_types: tuple[str, ...] = ("text/html", "application/xhtml+xml")


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """('text/html', 'gbk') from 'text/html; charset="GBK"'."""
    if not content_type:
        return "", None
    media, *params = content_type.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    return media.strip().lower(), charset


def _looks_like_html(payload: bytes) -> bool:
    head = payload[:_SNIFF_BYTES].lower()
    return any(hint in head for hint in _HTML_HINTS)


def _payload_problem(payload: bytes) -> str | None:
    """Why a payload is not a usable page, or None."""
    if not payload.strip():
        return "empty_page"
    if payload.startswith(_UTF16_BOMS):
        return None  # UTF-16 text is full of NUL bytes; the charset step decodes it
    head = payload[:_SNIFF_BYTES]
    if payload.startswith(_MAGIC) or len(head) - len(head.translate(None, _BINARY_BYTES)) > _BINARY_SHARE * len(head):
        return "binary_payload"
    if b"\x00" in payload:
        return "nul_bytes"
    return None


def fetch_dates(values: list[str | None]) -> pa.Array:
    """WARC-Date strings (ISO 8601, WARC/1.1 may add fractions) as UTC timestamps; bad ones null."""
    strings = pa.array(values, pa.string())
    target = pa.timestamp("us", tz="UTC")
    try:
        return strings.cast(target)
    except pa.ArrowInvalid:
        parsed = []
        for value in values:
            try:
                parsed.append(pa.scalar(value, pa.string()).cast(target).value if value else None)
            except pa.ArrowInvalid:
                parsed.append(None)
        return pa.array(parsed, target)


def hosts(urls: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Lower-cased host of each URL (no user info or port), computed columnwise."""
    parts = pc.extract_regex(urls, r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(?P<host>\[[^\]]*\]|[^:/?#]*)")
    return pc.utf8_lower(pc.struct_field(parts, "host"))


class WarcReader(SourceReader):
    name = "warc"
    extensions = (".warc.gz", ".warc")
    Params = WarcParams

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int]]:
        return byte_ranges(fs, path, self.params.block_size_mb)

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        limit = int(self.params.max_payload_mb * 2**20)
        rows: dict[str, list] = {k: [] for k in ("offset", URL, "fetch_date", "content_type", "warc_record_id", HTML, HTTP_CHARSET)}
        for record in walk(fs, unit.path, unit.part):
            if record.record.rec_type != "response":
                continue
            page = self._page(record, unit.path, limit)
            if page is None:
                continue
            headers = record.record.rec_headers
            media, charset, payload = page
            rows["offset"].append(record.offset)
            rows[URL].append(headers.get_header("WARC-Target-URI"))
            rows["fetch_date"].append(headers.get_header("WARC-Date"))
            rows["warc_record_id"].append(headers.get_header("WARC-Record-ID"))
            rows["content_type"].append(media)
            rows[HTML].append(payload)
            rows[HTTP_CHARSET].append(charset)
        urls = pa.array(rows[URL], pa.string())
        table = pa.table(
            {
                "id": doc_ids(unit.key, np.asarray(rows["offset"], dtype=np.int64)),
                URL: urls,
                "host": hosts(urls),
                "fetch_date": fetch_dates(rows["fetch_date"]),
                "content_type": pa.array(rows["content_type"], pa.string()),
                "warc_record_id": pa.array(rows["warc_record_id"], pa.string()),
                HTTP_CHARSET: pa.array(rows[HTTP_CHARSET], pa.string()),
                HTML: pa.array(rows[HTML], pa.large_binary()),
            }
        )
        return conform(table, unit.source)

    def _page(self, record: Record, path: str, limit: int) -> tuple[str, str | None, bytes] | None:
        """(media type, HTTP charset, payload) of a 200 HTML response; None, counted, otherwise."""
        where = f"{path}@{record.offset}"
        http = record.record.http_headers
        if http is None:
            self.count("skipped:not_http")
            return None
        status = http.get_statuscode() or ""
        if not status.isdigit():
            self.bad_record("malformed_http", where, f"status line {http.statusline!r}"[:200])
            return None
        if status != "200":
            self.count("skipped:redirect" if status.startswith("3") else f"skipped:http_{status}")
            return None
        media, charset = _media_type(http.get_header("Content-Type"))
        if media and media not in self.params.content_types:
            self.count("skipped:not_html")
            return None
        if record.record.length is not None and record.record.length > limit + 65536:
            # Decided from the header, so a huge page is never read into memory (the 64 KB
            # margin covers the HTTP headers that the record length includes).
            self.bad_record("payload_too_large", where, f"{record.record.length} bytes")
            return None
        payload = record.payload(limit)
        if record.error is not None or not record.complete():
            return None  # `walk` counts it as malformed or truncated
        if payload is None:
            self.bad_record("payload_too_large", where, f"over {limit} bytes once decoded")
            return None
        problem = _payload_problem(payload)
        if problem is None and not media and not _looks_like_html(payload):
            self.count("skipped:not_html")
            return None
        if problem is not None:
            self.bad_record(problem, where)
            return None
        if record.record.rec_headers.get_header("WARC-Truncated"):
            # The crawler cut the payload (Common Crawl: at its size limit); most of the page is
            # still there, so it is kept and counted.
            self.count("warc_truncated")
        return media or "text/html", charset, payload
