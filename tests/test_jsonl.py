"""The JSONL and Parquet readers: compression, byte-range splitting, bad lines."""

import gzip
import json

import pyarrow as pa
import pytest
import pyarrow.parquet as pq
import zstandard

from conftest import run_config


def _read_all(directory):
    return pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted(directory.glob("*.arrow")))


def _lines(n):
    return [json.dumps({"text": f"第{i}行文本", "url": f"https://a.test/{i}"}, ensure_ascii=False) for i in range(n)]


def test_bad_lines_are_counted_with_file_and_line(tmp_path):
    lines = _lines(10)
    lines[3] = '{"text": "broken'
    lines[7] = "[1, 2]"
    raw_bad = b"\n".join(l.encode() for l in lines[:5]) + b'\n{"text": "\xff\xfe"}\n' + b"\n".join(l.encode() for l in lines[5:]) + b"\n"
    path = tmp_path / "in.jsonl"
    path.write_bytes(raw_bad)
    out = tmp_path / "out"
    result = run_config({"sources": {"d": {"paths": str(path)}}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["d"]}]}, out)
    stats = result.stats["w"]
    assert stats.errors == {"malformed_json": 1, "undecodable_line": 1, "not_an_object": 1}
    locations = {s["reason"]: s["location"] for s in stats.error_samples}
    assert locations["malformed_json"].endswith("in.jsonl:4")
    assert locations["undecodable_line"].endswith("in.jsonl:6")
    assert locations["not_an_object"].endswith("in.jsonl:9")
    assert _read_all(out / "w").num_rows == 8  # every good line before and after came through


def test_fields_that_appear_or_change_type_after_the_first_megabyte_are_kept(tmp_path):
    # pyarrow's streaming JSON reader fixes the schema from its first ~1 MB batch; a later new
    # field or a number that becomes a float must still come through, as read_json types them.
    rows = [{"text": "字" * 200, "url": f"https://a.test/{i}", "score": i} for i in range(6000)]
    rows.append({"text": "late", "url": "https://a.test/late", "score": 0.5, "lang": "zh"})
    path = tmp_path / "drift.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert path.stat().st_size > 3 * 2**20
    out = tmp_path / "out"
    result = run_config({"sources": {"d": {"paths": str(path)}}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["d"]}]}, out)
    assert result.stats["w"].errors == {}
    table = _read_all(out / "w")
    assert table.num_rows == 6001
    assert table.schema.field("score").type == pa.float64()
    assert table.column("lang").to_pylist()[-2:] == [None, "zh"]
    assert table.column("score").to_pylist()[-1] == 0.5


@pytest.mark.parametrize("validator", ["simdjson", "arrow"])
def test_invalid_utf8_deep_inside_a_large_block_is_one_bad_line(tmp_path, monkeypatch, validator):
    from corpusforge.io import utf8

    if validator == "arrow":
        monkeypatch.setattr(utf8, "_simdjson_validator", lambda: None)
    elif utf8.validator() != "simdjson":
        pytest.skip("libsimdjson is not installed here (scripts/install installs it)")
    good = [json.dumps({"text": "字" * 200, "url": f"https://a.test/{i}"}, ensure_ascii=False).encode() for i in range(6000)]
    good[5000] = b'{"text": "\xe5\xad", "url": "https://a.test/bad"}'
    path = tmp_path / "late-bad.jsonl"
    path.write_bytes(b"\n".join(good) + b"\n")
    out = tmp_path / "out"
    result = run_config({"sources": {"d": {"paths": str(path)}}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["d"]}]}, out)
    assert result.stats["w"].errors == {"undecodable_line": 1}
    assert result.stats["w"].error_samples[0]["location"].endswith("late-bad.jsonl:5001")
    assert _read_all(out / "w").num_rows == 5999


def test_compressed_and_split_files_give_the_same_documents(tmp_path):
    body = ("\n".join(_lines(300)) + "\n").encode()
    (tmp_path / "plain.jsonl").write_bytes(body)
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "plain.jsonl.gz").write_bytes(gzip.compress(body))
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "plain.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
    texts = {}
    for name, path, extra in [
        ("split", tmp_path / "plain.jsonl", {"block_size_mb": 0.001}),
        ("gz", tmp_path / "g" / "plain.jsonl.gz", {}),
        ("zst", tmp_path / "z" / "plain.jsonl.zst", {}),
    ]:
        out = tmp_path / f"out-{name}"
        run_config({"sources": {"d": {"paths": str(path), **extra}}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["d"]}]}, out)
        table = _read_all(out / "w")
        texts[name] = table.column("text").to_pylist()
        assert len(set(table.column("id").to_pylist())) == 300
    assert len(list((tmp_path / "out-split" / "w").glob("*.arrow"))) > 5
    assert texts["split"] == texts["gz"] == texts["zst"] == [f"第{i}行文本" for i in range(300)]


def test_parquet_reader_maps_fields(tmp_path):
    pq.write_table(pa.table({"content": ["甲", "乙", "丙"], "link": ["u1", "u2", "u3"]}), tmp_path / "in.parquet", row_group_size=2)
    out = tmp_path / "out"
    raw = {"sources": {"d": {"paths": str(tmp_path / "in.parquet"), "text_field": "content", "url_field": "link"}},
           "stages": [{"id": "w", "stage": "passthrough", "inputs": ["d"]}]}
    run_config(raw, out)
    table = _read_all(out / "w")
    assert table.column("text").to_pylist() == ["甲", "乙", "丙"]
    assert table.column("url").to_pylist() == ["u1", "u2", "u3"]
