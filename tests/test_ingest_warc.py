"""Crawl readers (warc, wet, hf), their handling of broken input, and the bundled sample crawl."""

import gzip
import hashlib
import io
import json
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest
from conftest import run_config
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import stages  # noqa: F401  (registers the readers)
from corpusforge.io import Manifest, read_shard
from corpusforge.samples import write_sample_crawl
from corpusforge.stage import ReadUnit
from corpusforge.stats import StageStats, collecting
from stages.ingest.hf import HfParams, HfReader
from stages.ingest.warc import WarcParams, WarcReader
from stages.ingest.wet import WetReader

FS = fsspec.filesystem("file")


def page(n: int) -> bytes:
    return f"<html><head><title>第{n}页</title></head><body><h1>标题{n}</h1><p>这是第{n}篇测试文章的正文内容。</p></body></html>".encode()


def response(url: str, body: bytes, status: str = "200 OK", content_type: str | None = "text/html; charset=utf-8", extra=()):
    headers = ([("Content-Type", content_type)] if content_type else []) + list(extra)
    return ("response", url, body, StatusAndHeaders(status, headers, protocol="HTTP/1.1"))


def warc_bytes(records, gzipped: bool = True) -> bytes:
    """A WARC of `records`: (type, url, payload, http headers) tuples, or raw bytes spliced in."""
    out = io.BytesIO()
    for record in records:
        if isinstance(record, bytes):
            out.write(record)
            continue
        kind, url, payload, http = record
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=gzipped)
        writer.write_record(writer.create_warc_record(url, kind, payload=io.BytesIO(payload), http_headers=http))
        out.write(buf.getvalue())
    return out.getvalue()


def read(reader, path: Path, part=None) -> tuple[pa.Table, StageStats]:
    stats = StageStats()
    with collecting(stats):
        table = reader.read(FS, ReadUnit("crawl", str(path), f"crawl/{path.name}", part))
    return table, stats


def urls(table: pa.Table) -> list[str]:
    return table.column("url").to_pylist()


def test_warc_reads_responses_with_metadata_and_skips_non_documents(tmp_path):
    path = tmp_path / "c.warc.gz"
    request = ("request", "http://a.test/1", b"", StatusAndHeaders("GET /1 HTTP/1.1", [("Host", "a.test")], is_http_request=True))
    path.write_bytes(
        warc_bytes(
            [
                request,
                response("http://A.test:8080/1", page(1), content_type='text/html; charset="GBK"'),
                response("http://a.test/old", b"", status="301 Moved Permanently", extra=[("Location", "http://a.test/1")]),
                response("http://a.test/gone", page(9), status="404 Not Found"),
                response("http://a.test/err", page(9), status="503 Service Unavailable"),
                response("http://a.test/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png"),
                response("http://a.test/2", page(2), content_type=None),  # no Content-Type: sniffed as HTML
                response("http://a.test/3.xhtml", page(3), content_type="application/xhtml+xml"),
            ]
        )
    )
    table, stats = read(WarcReader(), path)
    assert urls(table) == ["http://A.test:8080/1", "http://a.test/2", "http://a.test/3.xhtml"]
    assert table.column("host").to_pylist() == ["a.test", "a.test", "a.test"]
    assert table.column("http_charset").to_pylist() == ["gbk", None, None]
    assert table.column("content_type").to_pylist() == ["text/html", "text/html", "application/xhtml+xml"]
    assert table.column("html").to_pylist()[0] == page(1)
    assert table.column("text").null_count == 3 and set(table.column("source").to_pylist()) == {"crawl"}
    assert table.schema.field("fetch_date").type == pa.timestamp("us", tz="UTC")
    assert all(table.column("fetch_date").is_valid().to_pylist())
    assert all(rid.startswith("<urn:uuid:") for rid in table.column("warc_record_id").to_pylist())
    assert stats.counters == {"skipped:redirect": 1, "skipped:http_404": 1, "skipped:http_503": 1, "skipped:not_html": 1}
    assert not stats.errors
    again, _ = read(WarcReader(), path)
    assert again.column("id").to_pylist() == table.column("id").to_pylist()
    assert len(set(table.column("id").to_pylist())) == 3


def test_warc_strips_wget_angle_brackets_from_target_uri(tmp_path):
    # wget 1.19+ writes WARC-Target-URI: <http://...>; warcio unwraps it.
    body = page(1)
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
    record = (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: <http://w.test/page>\r\nWARC-Date: 2024-01-02T03:04:05Z\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        b"Content-Type: application/http;msgtype=response\r\nContent-Length: " + str(len(http)).encode() + b"\r\n\r\n" + http + b"\r\n\r\n"
    )
    path = tmp_path / "wget.warc.gz"
    path.write_bytes(gzip.compress(record))
    table, _ = read(WarcReader(), path)
    assert urls(table) == ["http://w.test/page"]
    assert table.column("fetch_date")[0].as_py().isoformat() == "2024-01-02T03:04:05+00:00"


def _good(n):
    return response(f"http://good.test/{n}", page(n))


@pytest.mark.parametrize(
    "bad, reason",
    [
        (response("http://bad.test/bin", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4), "binary_payload"),
        (response("http://bad.test/bin2", bytes(range(256)) * 8), "binary_payload"),
        (response("http://bad.test/empty", b""), "empty_page"),
        (response("http://bad.test/blank", b" \r\n\t "), "empty_page"),
        (response("http://bad.test/nul", page(7).replace(b"<p>", b"<p>\x00\x00")), "nul_bytes"),
        (gzip.compress(b"NOT A WARC RECORD\r\nfoo: bar\r\n\r\n"), "malformed_record"),
        (b"\x00\x01 stray bytes between members \x02", "malformed_record"),
        (response("http://bad.test/status", page(7), status="OK fine"), "malformed_http"),
    ],
)
def test_warc_bad_record_is_counted_and_neighbours_survive(tmp_path, bad, reason):
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(warc_bytes([_good(1), _good(2), bad, _good(3), _good(4)]))
    table, stats = read(WarcReader(), path)
    assert urls(table) == [f"http://good.test/{n}" for n in (1, 2, 3, 4)]
    assert dict(stats.errors) == {reason: 1}
    assert stats.error_samples[0]["location"].startswith(f"{path}@")


def test_warc_50mb_page_is_skipped_without_reading_it(tmp_path):
    path = tmp_path / "big.warc.gz"
    huge = b"<html><body><p>" + b"x" * (50 * 2**20) + b"</p></body></html>"
    path.write_bytes(warc_bytes([_good(1), response("http://bad.test/huge", huge), _good(2)]))
    table, stats = read(WarcReader(), path)
    assert urls(table) == ["http://good.test/1", "http://good.test/2"]
    assert dict(stats.errors) == {"payload_too_large": 1}


def test_warc_payload_cap_applies_after_content_decoding(tmp_path):
    # 2 MB of HTML sent gzip-compressed: small on the wire, over the cap once decoded.
    body = gzip.compress(b"<html><body>" + b"<p>abc</p>" * 200_000 + b"</body></html>")
    path = tmp_path / "enc.warc.gz"
    path.write_bytes(warc_bytes([_good(1), response("http://bad.test/gz", body, extra=[("Content-Encoding", "gzip")]), _good(2)]))
    table, stats = read(WarcReader(WarcParams(max_payload_mb=1)), path)
    assert urls(table) == ["http://good.test/1", "http://good.test/2"]
    assert dict(stats.errors) == {"payload_too_large": 1}


def test_warc_truncated_gzip_keeps_records_before_the_cut(tmp_path):
    data = warc_bytes([_good(n) for n in range(1, 5)])
    offsets = [it_offset for it_offset in _record_offsets(data)]
    path = tmp_path / "trunc.warc.gz"
    path.write_bytes(data[: offsets[3] + 60])  # cut inside the fourth record
    table, stats = read(WarcReader(), path)
    assert urls(table) == [f"http://good.test/{n}" for n in (1, 2, 3)]
    assert dict(stats.errors) == {"truncated_gzip": 1}
    assert stats.error_samples[0]["location"] == f"{path}@{offsets[3]}"


def test_warc_truncated_gzip_member_inside_the_file_keeps_records_on_both_sides(tmp_path):
    # A member cut short and followed by the next one, as when partial downloads are concatenated.
    data = warc_bytes([_good(n) for n in range(1, 6)])
    offsets = _record_offsets(data)
    path = tmp_path / "mid.warc.gz"
    path.write_bytes(data[: offsets[2]] + data[offsets[2] : offsets[2] + 70] + data[offsets[3] :])
    table, stats = read(WarcReader(), path)
    assert urls(table) == [f"http://good.test/{n}" for n in (1, 2, 4, 5)]
    assert dict(stats.errors) == {"truncated_gzip": 1}
    assert stats.error_samples[0]["location"] == f"{path}@{offsets[2]}"


def test_warc_corrupt_gzip_member_is_skipped(tmp_path):
    data = bytearray(warc_bytes([_good(n) for n in range(1, 5)]))
    offsets = _record_offsets(bytes(data))
    data[offsets[1] + 30 : offsets[1] + 50] = b"\xff" * 20  # damage the deflate stream of record 2
    path = tmp_path / "corrupt.warc.gz"
    path.write_bytes(bytes(data))
    table, stats = read(WarcReader(), path)
    assert urls(table) == [f"http://good.test/{n}" for n in (1, 3, 4)]
    assert sum(stats.errors.values()) == 1


def test_uncompressed_warc_resynchronises_after_a_malformed_record(tmp_path):
    path = tmp_path / "plain.warc"
    garbage = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999\r\n\r\nshort body\r\n\r\n"
    path.write_bytes(warc_bytes([_good(1), garbage, _good(2), _good(3)], gzipped=False))
    table, stats = read(WarcReader(), path)
    assert urls(table) == ["http://good.test/1", "http://good.test/2", "http://good.test/3"]
    assert sum(stats.errors.values()) == 1


def _record_offsets(data: bytes) -> list[int]:
    iterator = ArchiveIterator(io.BytesIO(data))
    offsets = []
    for _ in iterator:
        offsets.append(iterator.offset)
    return offsets


def test_warc_byte_range_parts_cover_every_record_once_with_the_same_ids(tmp_path):
    path = tmp_path / "many.warc.gz"
    path.write_bytes(warc_bytes([_good(n) for n in range(60)]))
    whole, _ = read(WarcReader(), path)
    reader = WarcReader(WarcParams(block_size_mb=2000 / 2**20))  # ~2 KB parts
    parts = reader.parts(FS, str(path))
    assert len(parts) > 5
    ids = [i for part in parts for i in read(reader, path, part)[0].column("id").to_pylist()]
    assert ids == whole.column("id").to_pylist()


def test_wet_reader(tmp_path):
    def conversion(url, text: bytes, refers):
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        headers = {"WARC-Refers-To": refers, "Content-Type": "text/plain"}
        writer.write_record(writer.create_warc_record(url, "conversion", payload=io.BytesIO(text), warc_headers_dict=headers))
        return buf.getvalue()

    path = tmp_path / "x.warc.wet.gz"
    path.write_bytes(
        conversion("http://a.test/1", "标题\n第一段。\n第二段。".encode(), "<urn:uuid:1>")
        + conversion("http://a.test/2", b"", "<urn:uuid:2>")
        + conversion("http://b.test/3", "坏字节".encode() + b"\xff", "<urn:uuid:3>")
    )
    table, stats = read(WetReader(), path)
    assert table.column("text").to_pylist() == ["标题\n第一段。\n第二段。", "坏字节\ufffd"]
    assert table.column("warc_record_id").to_pylist() == ["<urn:uuid:1>", "<urn:uuid:3>"]
    assert table.column("host").to_pylist() == ["a.test", "b.test"]
    assert stats.counters == {"skipped:empty_text": 1, "invalid_utf8_replaced": 1}


def test_hf_reader_save_to_disk_and_load_dataset_spec(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {"content": [f"第{i}篇" for i in range(7)], "link": [f"http://h.test/{i}" for i in range(7)]}
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows), "test": datasets.Dataset.from_dict({k: v[:2] for k, v in rows.items()})}).save_to_disk(str(saved))
    params = dict(text_field="content", url_field="link", rows_per_part=3)
    reader = HfReader(HfParams(**params))
    marker = saved / "dataset_dict.json"
    parts = reader.parts(FS, str(marker))
    assert parts == [(0, 3), (3, 6), (6, 7)]
    tables = [read(reader, marker, part)[0] for part in parts]
    assert [t for table in tables for t in table.column("text").to_pylist()] == rows["content"]
    assert tables[0].column("url").to_pylist()[0] == "http://h.test/0"
    test_split = HfReader(HfParams(**params, split="test"))
    assert read(test_split, marker, (0, 2))[0].column("text").to_pylist() == rows["content"][:2]

    data_file = tmp_path / "rows.jsonl"
    data_file.write_text("".join(json.dumps({"text": t, "id": f"doc-{i}"}, ensure_ascii=False) + "\n" for i, t in enumerate(rows["content"])))
    spec = HfReader(HfParams(dataset="json", data_files=str(data_file), cache_dir=str(tmp_path / "cache")))
    assert spec.parts(FS, str(data_file)) == [(0, 7)]
    table, _ = read(spec, data_file, (0, 7))
    assert table.column("id").to_pylist() == [f"doc-{i}" for i in range(7)]
    assert table.column("text").to_pylist() == rows["content"]


def test_sample_crawl_generator_matches_the_bundled_copy(tmp_path):
    bundled = Path(__file__).parents[1] / "data" / "sample" / "sample-crawl.warc.gz"
    fresh = write_sample_crawl(tmp_path)

    def payloads(path):
        with open(path, "rb") as f:
            return [(r.rec_headers.get_header("WARC-Target-URI"), hashlib.sha1(r.content_stream().read()).hexdigest()) for r in ArchiveIterator(f) if r.rec_type == "response"]

    assert payloads(fresh) == payloads(bundled)
    assert bundled.stat().st_size < 300_000
    table, stats = read(WarcReader(), bundled)
    assert table.num_rows == 42
    assert stats.counters == {"skipped:redirect": 1, "skipped:http_404": 1, "skipped:not_html": 1}


def test_warc_source_through_the_engine_counts_every_skip(tmp_path):
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    (crawl / "a.warc.gz").write_bytes(
        warc_bytes(
            [
                _good(1),
                response("http://a.test/old", b"", status="301 Moved Permanently"),
                response("http://bad.test/empty", b""),
                _good(2),
                response("http://a.test/nothing", b"<html><body><script>var x = 1;</script></body></html>"),
                gzip.compress(b"garbage\r\n\r\n"),
                _good(3),
            ]
        )
    )
    (crawl / "b.warc.gz").write_bytes(warc_bytes([_good(4), _good(5)])[:-40])
    raw = {
        "sources": {"crawl": {"paths": [str(crawl / "*.warc.gz")], "format": "warc"}},
        "stages": [{"id": "ingest", "stage": "extract", "inputs": ["crawl"], "save": True}],
    }
    result = run_config(raw, tmp_path / "out")
    stats = Manifest.read(FS, str(tmp_path / "out" / "ingest")).stats
    assert stats["docs_in"] == 5 and stats["docs_out"] == 4
    assert stats["dropped"] == {"empty_extraction": 1}
    assert stats["errors"] == {"empty_page": 1, "malformed_record": 1, "truncated_gzip": 1}
    assert stats["counters"]["skipped:redirect"] == 1
    assert stats["counters"]["charset_from:utf8"] == 4 and stats["counters"]["charset_from:ascii"] == 1
    assert result.stats["ingest"].docs_out == 4
    shards = sorted((tmp_path / "out" / "ingest").glob("*.arrow"))
    texts = [t for s in shards for t in read_shard(FS, str(s)).column("text").to_pylist()]
    assert sorted(texts) == sorted(f"标题{n}\n这是第{n}篇测试文章的正文内容。" for n in (1, 2, 3, 4))


def test_format_auto_picks_the_crawl_readers():
    from corpusforge.registry import reader_for_path

    assert reader_for_path("/c/CC-MAIN-1.warc.gz") == "warc"
    assert reader_for_path("/c/plain.warc") == "warc"
    assert reader_for_path("/c/CC-MAIN-1.warc.wet.gz") == "wet"
