"""The `text` reader: one record per non-blank line, byte ranges that cover every line once."""

import gzip

import fsspec

from corpusforge.stage import ReadUnit
from corpusforge.stats import StageStats, collecting
from stages.ingest.text import TextParams, TextReader


def _read_all(reader: TextReader, path: str) -> tuple[list[str], StageStats]:
    fs = fsspec.filesystem("file")
    stats = StageStats()
    texts: list[str] = []
    with collecting(stats):
        for part in reader.parts(fs, path):
            texts += reader.read(fs, ReadUnit("ref", path, "ref/lines", part)).column("text").to_pylist()
    return texts, stats


def test_byte_ranges_cover_every_line_once_and_bad_lines_are_counted(tmp_path):
    lines = [f"第{i}段。" + "字" * (i % 50) for i in range(3000)]
    body = "\n".join(lines[:1500]).encode() + b"\n\xff\xfe broken\n\n" + "\n".join(lines[1500:]).encode() + b"\n"
    plain = tmp_path / "ref.txt"
    plain.write_bytes(body)
    reader = TextReader(TextParams(block_size_mb=0.02))
    assert len(reader.parts(fsspec.filesystem("file"), str(plain))) > 5
    texts, stats = _read_all(reader, str(plain))
    assert texts == lines
    assert stats.errors == {"invalid_utf8": 1}

    packed = tmp_path / "ref.txt.gz"
    packed.write_bytes(gzip.compress(body))
    assert reader.parts(fsspec.filesystem("file"), str(packed)) == [None]
    assert _read_all(reader, str(packed))[0] == lines
