"""WET reader: the `conversion` records of a WET file (Common Crawl's text extracts), as text.

WET text is UTF-8 by definition. Invalid sequences are replaced and counted rather than
dropping the page. `warc_record_id` is the WARC-Refers-To of the conversion, i.e. the response
record it was made from, the same value the `warc` reader puts in that column.
"""

from __future__ import annotations

import fsspec
import numpy as np
import pyarrow as pa

from corpusforge.records import TEXT, URL, conform, doc_ids
from corpusforge.stage import ReadUnit, SourceReader
from stages.ingest.warc import fetch_dates, hosts
from stages.ingest.warcfile import WarcFileParams, byte_ranges, walk


class WetParams(WarcFileParams):
    # Conversion records longer than this are skipped as `payload_too_large`. Common Crawl's
    # WET text comes from payloads it truncates at 1 MiB, so real records stay far below.
    max_text_mb: float = 5.0


class WetReader(SourceReader):
    name = "wet"
    extensions = (".warc.wet.gz", ".wet.gz", ".wet")
    Params = WetParams

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[tuple[int, int]]:
        return byte_ranges(fs, path, self.params.block_size_mb)

    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        limit = int(self.params.max_text_mb * 2**20)
        offsets, urls, dates, refers, texts = [], [], [], [], []
        for record in walk(fs, unit.path, unit.part):
            if record.record.rec_type != "conversion":
                continue
            where = f"{unit.path}@{record.offset}"
            payload = record.payload(limit)
            if record.error is not None or not record.complete():
                continue  # `walk` counts it as malformed or truncated
            if payload is None:
                self.bad_record("payload_too_large", where, f"over {limit} bytes")
                continue
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                self.count("invalid_utf8_replaced")
                text = payload.decode("utf-8", errors="replace")
            if not text.strip():
                self.count("skipped:empty_text")
                continue
            headers = record.record.rec_headers
            offsets.append(record.offset)
            urls.append(headers.get_header("WARC-Target-URI"))
            dates.append(headers.get_header("WARC-Date"))
            refers.append(headers.get_header("WARC-Refers-To"))
            texts.append(text)
        url_array = pa.array(urls, pa.string())
        table = pa.table(
            {
                "id": doc_ids(unit.key, np.asarray(offsets, dtype=np.int64)),
                TEXT: pa.array(texts, pa.string()),
                URL: url_array,
                "host": hosts(url_array),
                "fetch_date": fetch_dates(dates),
                "warc_record_id": pa.array(refers, pa.string()),
            }
        )
        return conform(table, unit.source)
