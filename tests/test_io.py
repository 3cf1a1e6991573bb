"""Atomic writes and the shard format."""

import fsspec
import pyarrow as pa
import pytest

from corpusforge.io import ShardFormat, atomic_write, list_shards, read_shard, write_shards


def test_failed_write_leaves_no_file_under_the_final_name(tmp_path):
    fs = fsspec.filesystem("file")
    target = tmp_path / "shard.arrow"
    # The second part is not a buffer, so the write breaks half-way, as a full disk would.
    with pytest.raises(TypeError):
        atomic_write(fs, str(target), [b"first half", None])
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [], "the temporary file is removed too"
    assert list_shards(fs, str(tmp_path)) == []


def test_overwrite_is_all_or_nothing(tmp_path):
    fs = fsspec.filesystem("file")
    target = tmp_path / "f.bin"
    atomic_write(fs, str(target), b"old")
    atomic_write(fs, str(target), [b"new ", memoryview(b"contents")])
    assert target.read_bytes() == b"new contents"


def test_shards_split_to_target_size_and_round_trip(tmp_path):
    fs = fsspec.filesystem("file")
    table = pa.table({"id": [str(i) for i in range(5000)], "text": ["汉字" * 50] * 5000})
    target = table.nbytes // 4 + 1
    infos = write_shards(table, fs, str(tmp_path), "part-000000", ShardFormat(shard_size_bytes=target))
    assert len(infos) == 4
    assert all(info.bytes < target * 1.1 for info in infos)
    back = pa.concat_tables(read_shard(fs, str(tmp_path / info.name)) for info in infos)
    assert back.equals(table)
    # Both Arrow readers accept the file: random access (footer) and streaming.
    first = str(tmp_path / infos[0].name)
    assert pa.ipc.open_file(first).num_record_batches >= 1
    assert pa.ipc.open_stream(first).read_all().num_rows == infos[0].rows


def test_compressed_arrow_round_trip(tmp_path):
    fs = fsspec.filesystem("file")
    table = pa.table({"text": ["重复的文本"] * 1000})
    infos = write_shards(table, fs, str(tmp_path), "p", ShardFormat(compression="zstd"))
    assert read_shard(fs, str(tmp_path / infos[0].name)).equals(table)


@pytest.mark.parametrize("compression", [None, "zstd"])
@pytest.mark.parametrize("hashed_while_writing", [True, False])
def test_manifest_checksum_is_the_hash_of_the_file_bytes(tmp_path, monkeypatch, compression, hashed_while_writing):
    import xxhash

    from corpusforge.io import shards

    if not hashed_while_writing:  # the fallback: the file is read back and hashed
        monkeypatch.setattr(shards._SkipLeadingMagic, "digest_before", lambda self, offset: None)
    fs = fsspec.filesystem("file")
    chunks = [pa.table({"id": [f"{c}-{i}" for i in range(900)], "text": ["汉字" * (i % 7) for i in range(900)]}) for c in range(3)]
    table = pa.concat_tables(chunks)  # three chunks, so several record batches
    infos = write_shards(table, fs, str(tmp_path), "part-000000", ShardFormat(compression=compression))
    for info in infos:
        data = (tmp_path / info.name).read_bytes()
        assert info.checksum == xxhash.xxh3_64_hexdigest(data)
        assert info.bytes == len(data)
    assert pa.concat_tables(read_shard(fs, str(tmp_path / info.name)) for info in infos).equals(table)
