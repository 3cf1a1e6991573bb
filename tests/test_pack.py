"""`tokenizer` + `pack` through the engine: tokens in == tokens out, lineage, determinism, dtype."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import run_config
from packed import digests, index, split_table
from tokenizers import Tokenizer, models, pre_tokenizers

from corpusforge.pipeline.config import ConfigError
from stages.draws import uniform

SEQ_LEN = 31


def config(docs_dir: Path, uses_dir: str = "tokenizer", **pack) -> dict:
    stages = [
        {"id": "tokenizer", "stage": "tokenizer", "inputs": ["docs"], "params": {"vocab_size": 400}},
        {"id": "pack", "stage": "pack", "inputs": ["docs"], "uses": {"tokenizer": uses_dir},
         "params": {"seq_len": SEQ_LEN, "val_fraction": 0.2, "rows_per_shard": 16, **pack}},
    ]
    return {"sources": {"docs": {"paths": str(docs_dir / "*.jsonl")}}, "stages": stages}


def input_docs(docs_dir: Path) -> list[dict]:
    """The documents in input order, with the ids the reader gives them."""
    from corpusforge.stage import InputUnit, ReadUnit

    rows = []
    for path in sorted(docs_dir.glob("*.jsonl")):
        unit = InputUnit(reader=("jsonl", {}), unit=ReadUnit("docs", str(path), f"docs/{path.name}", (0, path.stat().st_size)))
        rows.extend(unit.read().select(["id", "text"]).to_pylist())
    return rows


@pytest.fixture(scope="module")
def packed_run(tmp_path_factory):
    from conftest import write_jsonl

    root = tmp_path_factory.mktemp("pack")
    docs = root / "docs"
    docs.mkdir()
    for f in range(3):
        write_jsonl(docs / f"part{f}.jsonl", [
            {"text": f"文件{f}第{i}篇，编号{i * 37}。" + "天气很好，我们去公园散步。" * ((i * 7 + f) % 9), "url": f"https://s{f}.test/{i}"}
            for i in range(40)
        ])
    run_config(config(docs), root / "out", workers=2)
    return docs, root / "out"


def test_tokens_in_equal_tokens_out_with_lineage(packed_run):
    docs_dir, out = packed_run
    pack = out / "pack"
    meta = index(pack)
    tokenizer = Tokenizer.from_file(str(pack / "tokenizer.json"))
    eos = meta["special_tokens"]["eos"]
    assert meta["format"] == "corpusforge.packed/1" and meta["kind"] == "pretrain" and meta["dtype"] == "uint16"
    assert meta["vocab_size"] == tokenizer.get_vocab_size() and meta["seq_len"] == SEQ_LEN
    docs = input_docs(docs_dir)
    val = uniform([d["id"] for d in docs], 0, "pack-split") < 0.2
    width = SEQ_LEN + 1
    written = 0
    for split, in_split in (("train", ~val), ("val", val)):
        chosen = [d for d, keep in zip(docs, in_split) if keep]
        expected = [t for d in chosen for t in tokenizer.encode(d["text"], add_special_tokens=False).ids + [eos]]
        owners = [d["id"] for d in chosen for _ in range(len(tokenizer.encode(d["text"], add_special_tokens=False).ids) + 1)]
        table = split_table(pack, split)
        tokens = np.asarray(table.column("tokens").combine_chunks().values)
        info = meta["splits"][split]
        assert table.schema.field("tokens").type == pa.list_(pa.uint16(), width)
        assert info["rows"] == table.num_rows == len(expected) // width
        assert tokens.tolist() == expected[: info["rows"] * width]
        assert info["truncated_tokens"] == len(expected) - info["rows"] * width < width
        # Segments: consecutive, summing to the row width, each labelled with its document.
        flat_owner = []
        for lens, ids in zip(table.column("doc_lens").to_pylist(), table.column("doc_ids").to_pylist()):
            assert sum(lens) == width and len(lens) == len(ids) and all(n > 0 for n in lens)
            flat_owner.extend(i for n, i in zip(lens, ids) for _ in range(n))
        assert flat_owner == owners[: len(flat_owner)]
        assert info["documents"] == len(set(flat_owner))
        written += info["tokens"]
    assert meta["tokens_in"] == written + meta["truncated_tokens"]
    assert meta["tokens_by_source"] == {"docs": meta["tokens_in"]}


def test_same_bytes_whatever_the_worker_count(packed_run, tmp_path):
    docs_dir, out = packed_run
    run_config(config(docs_dir), tmp_path / "one", workers=1)
    assert digests(tmp_path / "one" / "pack") == digests(out / "pack")
    assert digests(tmp_path / "one" / "tokenizer") == digests(out / "tokenizer")


def test_pad_remainder_pads_the_last_row(packed_run, tmp_path):
    docs_dir, out = packed_run
    run_config(config(docs_dir, remainder="pad"), tmp_path / "pad")
    meta = index(tmp_path / "pad" / "pack")
    assert meta["truncated_tokens"] == 0
    table = split_table(tmp_path / "pad" / "pack", "train")
    last_lens, last_ids = table.column("doc_lens")[-1].as_py(), table.column("doc_ids")[-1].as_py()
    pad = meta["splits"]["train"]["pad_tokens"]
    assert 0 < pad < SEQ_LEN + 1 and last_ids[-1] == "" and last_lens[-1] == pad
    assert np.asarray(table.column("tokens")[-1].values)[-pad:].tolist() == [meta["special_tokens"]["pad"]] * pad


def _big_vocab_tokenizer(tmp_path: Path, size: int) -> Path:
    """A word-level tokenizer with `size` entries (the specials first): cheap to build."""
    specials = ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "[UNK]"]
    vocab = {t: i for i, t in enumerate(specials)}
    vocab.update({f"w{i}": len(specials) + i for i in range(size - len(specials))})
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(specials[:5])
    path = tmp_path / "big.json"
    tokenizer.save(str(path))
    return path


@pytest.mark.parametrize("dtype,expected", [("auto", pa.uint32()), ("uint32", pa.uint32()), ("uint16", None)])
def test_dtype_follows_the_vocab_and_a_too_small_one_is_an_error(tmp_path, dtype, expected):
    from conftest import write_jsonl

    write_jsonl(tmp_path / "d.jsonl", [{"text": f"w{i} w{69990 - i}"} for i in range(50)])
    big = _big_vocab_tokenizer(tmp_path, 70_000)
    raw = {
        "sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}},
        "stages": [
            {"id": "tok", "stage": "tokenizer", "inputs": ["docs"], "params": {"path": str(big)}},
            {"id": "pack", "stage": "pack", "inputs": ["docs"], "uses": {"tokenizer": "tok"}, "params": {"seq_len": 7, "dtype": dtype, "val_fraction": 0.0}},
        ],
    }
    if expected is None:
        with pytest.raises(ConfigError, match=r"stages\[pack\]\.params\.dtype: vocab size 70000 does not fit uint16"):
            run_config(raw, tmp_path / "out")
        assert not (tmp_path / "out" / "pack" / "index.json").exists()
        return
    run_config(raw, tmp_path / "out")
    pack = tmp_path / "out" / "pack"
    table = split_table(pack, "train")
    assert table.schema.field("tokens").type == pa.list_(expected, 8)
    assert index(pack)["dtype"] == "uint32" and max(np.asarray(table.column("tokens").combine_chunks().values)) >= 65536


def test_pack_needs_a_tokenizer(tmp_path):
    from conftest import write_jsonl

    write_jsonl(tmp_path / "d.jsonl", [{"text": "一二三"}])
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}},
           "stages": [{"id": "pack", "stage": "pack", "inputs": ["docs"], "params": {"seq_len": 7}}]}
    with pytest.raises(ConfigError, match=r"stages\[pack\]\.uses\.tokenizer: missing"):
        run_config(raw, tmp_path / "out")
