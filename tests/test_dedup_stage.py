"""The `dedup` global stage run through the engine on small generated JSONL sources."""

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import run_config, shard_digests, write_jsonl

from corpusforge.io import read_shard, url_to_fs
from corpusforge.pipeline.config import ConfigError, validate

HANZI = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量"


def chinese(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HANZI) for _ in range(n))


def edited(rng: random.Random, text: str, rate: float) -> str:
    return "".join(rng.choice(HANZI) if rng.random() < rate else c for c in text)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Two files: 30 unrelated documents, exact and near copies of some, empty and short ones."""
    rng = random.Random(0)
    originals = [chinese(rng, 400) for _ in range(30)]
    first = [{"id": f"o{i:02d}", "text": t, "url": f"https://a.test/{i}", "score": float(i % 7)} for i, t in enumerate(originals)]
    second = [
        # exact copies: punctuation, case, width and spacing differ only
        {"id": "x00", "text": originals[0][:200] + "，" + originals[0][200:] + "  ", "url": "https://b.test/x0", "score": 9.0},
        {"id": "x01", "text": originals[1] + "。", "url": "https://b.test/x1", "score": 0.0},
        # near copies: 3% and 6% of the characters replaced, one with a longer tail
        {"id": "n02", "text": edited(rng, originals[2], 0.03), "url": "https://b.test/n2", "score": 1.0},
        {"id": "n03", "text": edited(rng, originals[3], 0.06) + chinese(rng, 30), "url": "https://b.test/n3", "score": 8.0},
        {"id": "n02b", "text": edited(rng, originals[2], 0.03), "url": "https://c.test/n2", "score": 5.0},
    ]
    second += [{"id": f"e{i}", "text": "", "url": f"https://e.test/{i}"} for i in range(5)]
    second += [{"id": f"s{i}", "text": HANZI[i], "url": f"https://s.test/{i}"} for i in range(5)]
    second += [{"id": f"p{i}", "text": "。！" * i, "url": f"https://p.test/{i}"} for i in range(1, 4)]
    directory = tmp_path / "docs"
    directory.mkdir()
    write_jsonl(directory / "a.jsonl", first)
    write_jsonl(directory / "b.jsonl", second)
    return directory


def config(corpus: Path, **params) -> dict:
    return {
        "sources": {"docs": {"paths": str(corpus / "*.jsonl")}},
        "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"], "params": params}],
    }


def outputs(directory: Path) -> tuple[pa.Table, pa.Table]:
    fs, _ = url_to_fs(str(directory))

    def load(path: Path) -> pa.Table | None:
        tables = [read_shard(fs, str(p)) for p in sorted(path.glob("*.arrow"))]
        return pa.concat_tables(tables) if tables else None

    return load(directory / "dedup"), load(directory / "_rejected" / "dedup")


def rows(table: pa.Table | None) -> dict[str, dict]:
    return {r["id"]: r for r in table.to_pylist()} if table is not None else {}


def test_exact_near_and_unrelated_documents(corpus, tmp_path):
    result = run_config(config(corpus), tmp_path / "out")
    kept, rejected = outputs(tmp_path / "out")
    kept, dropped = rows(kept), rows(rejected)
    assert set(dropped) == {"x00", "x01", "n02", "n03", "n02b"}
    assert {i: (r["reason"], r["duplicate_of"]) for i, r in dropped.items()} == {
        "x00": ("exact", "o00"), "x01": ("exact", "o01"), "n02": ("near", "o02"), "n03": ("near", "o03"), "n02b": ("near", "o02"),
    }
    assert dropped["n02"]["dup_cluster"] == "o02" and dropped["n02"]["dup_cluster_size"] == 3
    assert (kept["o02"]["dup_cluster"], kept["o02"]["dup_cluster_size"]) == ("o02", 3)
    assert (kept["o00"]["dup_cluster"], kept["o00"]["dup_cluster_size"]) == ("o00", 2)
    # unrelated, empty, one-character and punctuation-only documents are all kept, alone
    for i in [f"o{k:02d}" for k in range(4, 30)] + [f"e{k}" for k in range(5)] + [f"s{k}" for k in range(5)] + ["p1", "p2", "p3"]:
        assert (kept[i]["dup_cluster"], kept[i]["dup_cluster_size"]) == (i, 1), i
    assert "duplicate_of" not in kept["o04"] and "reason" not in kept["o04"]
    stats = result.stats["dedup"]
    assert stats.dropped == {"exact": 2, "near": 3}
    assert stats.counters["docs_without_shingles"] == 13


def test_output_contract_columns(corpus, tmp_path):
    run_config(config(corpus), tmp_path / "out")
    kept, rejected = outputs(tmp_path / "out")
    assert kept.column_names == ["id", "text", "url", "source", "score", "dup_cluster", "dup_cluster_size"]
    assert rejected.column_names == kept.column_names + ["duplicate_of", "reason"]
    assert kept.schema.field("dup_cluster_size").type == pa.int64()
    assert pc.all(pc.is_valid(rejected.column("duplicate_of"))).as_py()


@pytest.mark.parametrize(
    "keep,expected",
    [
        ("first", {"o00", "o01", "o02", "o03"}),
        # x00 and x01 carry extra punctuation, n03 a longer tail; o02 ties n02/n02b and is first
        ("longest", {"x00", "x01", "o02", "n03"}),
        ("score", {"x00", "o01", "n02b", "n03"}),
    ],
)
def test_keep_rules(corpus, tmp_path, keep, expected):
    params = {"keep": keep, "score_column": "score"} if keep == "score" else {"keep": keep}
    run_config(config(corpus, **params), tmp_path / "out")
    kept, rejected = outputs(tmp_path / "out")
    kept_ids, dropped = set(kept.column("id").to_pylist()), rows(rejected)
    assert expected <= kept_ids
    clusters = [{"o00", "x00"}, {"o01", "x01"}, {"o02", "n02", "n02b"}, {"o03", "n03"}]
    for cluster in clusters:
        (keeper,) = cluster & expected
        assert all(dropped[d]["duplicate_of"] == keeper for d in cluster - {keeper})


def test_same_output_for_any_worker_count_and_executor(corpus, tmp_path):
    raw = config(corpus, partitions=3)
    raw["sources"]["docs"]["block_size_mb"] = 0.002  # several units per file
    runs = {"local1": ("local", 1), "local2": ("local", 2), "dask2": ("dask", 2)}
    for name, (executor, workers) in runs.items():
        run_config(raw, tmp_path / name, executor, workers)
    kept = {name: shard_digests(tmp_path / name / "dedup") for name in runs}
    rejected = {name: shard_digests(tmp_path / name / "_rejected" / "dedup") for name in runs}
    assert len(kept["local1"]) > 2 and rejected["local1"]
    assert kept["local1"] == kept["local2"] == kept["dask2"]
    assert rejected["local1"] == rejected["local2"] == rejected["dask2"]


def test_without_verification_and_with_sha1_hash(corpus, tmp_path):
    run_config(config(corpus, verify=False, shingle_hash="sha1", partitions=1), tmp_path / "out")
    _, rejected = outputs(tmp_path / "out")
    assert set(rejected.column("id").to_pylist()) == {"x00", "x01", "n02", "n03", "n02b"}


def test_edit_similarity_rescues_scattered_edits(tmp_path):
    rng = random.Random(5)
    original = chinese(rng, 1500)
    docs = [{"id": "a", "text": original}, {"id": "b", "text": edited(rng, original, 0.12)}]
    write_jsonl(tmp_path / "d.jsonl", docs)
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"]}]}
    # 12% edits leave a 3-gram Jaccard near 0.55: only the edit similarity (~0.88) accepts it
    raw["stages"][0]["params"] = {"edit_threshold": None, "bands": 64, "rows": 2}
    assert run_config(raw, tmp_path / "jaccard_only").stats["dedup"].dropped == {}
    raw["stages"][0]["params"] = {"bands": 64, "rows": 2}
    result = run_config(raw, tmp_path / "with_edit")
    assert result.stats["dedup"].dropped == {"near": 1}
    assert result.stats["dedup"].counters["near_pairs_edit_compared"] == 1


def test_url_dedup(tmp_path):
    rng = random.Random(6)
    docs = [
        {"id": "a", "text": chinese(rng, 200), "url": "https://Site.test/page?utm_source=x#top"},
        {"id": "b", "text": chinese(rng, 200), "url": "https://site.test:443/page"},
        {"id": "c", "text": chinese(rng, 200), "url": "https://site.test/other"},
    ]
    write_jsonl(tmp_path / "d.jsonl", docs)
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"], "params": {"url": True}}]}
    run_config(raw, tmp_path / "out")
    _, rejected = outputs(tmp_path / "out")
    assert rows(rejected).keys() == {"b"} and rows(rejected)["b"]["reason"] == "url"
    assert rows(rejected)["b"]["duplicate_of"] == "a"


def test_host_boilerplate_lines_are_removed(tmp_path):
    rng = random.Random(7)
    template = ["首页 > 文章", "版权所有 © 本站 保留所有权利"]
    docs = [{"id": f"d{i}", "text": "\n".join([template[0], chinese(rng, 100), template[1]]), "url": f"https://a.test/{i}"} for i in range(4)]
    docs.append({"id": "other", "text": "\n".join([template[0], chinese(rng, 100)]), "url": "https://b.test/1"})
    write_jsonl(tmp_path / "d.jsonl", docs)
    params = {"host_lines": True, "host_line_min_docs": 3}
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"], "params": params}]}
    result = run_config(raw, tmp_path / "out")
    kept = rows(outputs(tmp_path / "out")[0])
    assert all(kept[f"d{i}"]["text"] == docs[i]["text"].split("\n")[1] for i in range(4))
    assert kept["other"]["text"] == docs[4]["text"]  # another host keeps its lines
    assert result.stats["dedup"].counters["host_lines_removed"] == 8


def test_character_signature_finds_edited_space_delimited_copies(tmp_path):
    """Word 3-grams of a German-like text with scattered character edits barely survive; the
    character-n-gram signature makes the copy a candidate and verification accepts it."""
    rng = random.Random(9)
    vocabulary = ["".join(rng.choice("abcdefghiklmnoprstuvwxyzäöü") for _ in range(rng.randint(4, 11))) for _ in range(3000)]
    original = " ".join(rng.choice(vocabulary) for _ in range(700))
    copy = "".join(rng.choice("aeinrst") if c != " " and rng.random() < 0.08 else c for c in original)
    docs = [{"id": "a", "text": original}, {"id": "b", "text": copy}]
    write_jsonl(tmp_path / "d.jsonl", docs)
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"]}]}
    assert run_config(raw, tmp_path / "both").stats["dedup"].dropped == {"near": 1}
    raw["stages"][0]["params"] = {"char_ngram": None}
    only_words = run_config(raw, tmp_path / "words").stats["dedup"]
    assert only_words.dropped == {} and only_words.counters.get("near_candidate_pairs", 0) == 0


def _script_pair(rng: random.Random) -> tuple[str, str]:
    """A Simplified text in which 10% of the characters have a Traditional form, and that form."""
    import opencc

    s2t = opencc.OpenCC("s2t")
    convertible = "这国发电们说东时会长见车马鸟书学问门开关对应认识语言话读写报纸简体汉字"
    neutral = [c for c in HANZI if s2t.convert(c) == c]
    simplified = "".join(rng.choice(convertible) if rng.random() < 0.1 else rng.choice(neutral) for _ in range(1500))
    return simplified, s2t.convert(simplified)


def test_documents_in_two_han_scripts_are_not_near_duplicates(tmp_path):
    simplified, traditional = _script_pair(random.Random(10))
    assert simplified != traditional
    write_jsonl(tmp_path / "d.jsonl", [{"id": "hans", "text": simplified}, {"id": "hant", "text": traditional}])
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"]}]}
    kept = run_config(raw, tmp_path / "guarded").stats["dedup"]
    assert kept.dropped == {} and kept.counters["near_pairs_other_script"] == 1
    raw["stages"][0]["params"] = {"same_script": False}
    assert run_config(raw, tmp_path / "unguarded").stats["dedup"].dropped == {"near": 1}  # edit similarity ~0.9


def test_empty_and_short_documents_never_form_one_cluster(tmp_path):
    """Hundreds of empty, punctuation-only and few-character pages over a 4-character alphabet:
    only pages with the same key text cluster (exact); nothing chains them by shared shingles."""
    rng = random.Random(11)
    texts = [""] * 60 + [" \n\t"] * 20 + ["。，！"] * 20
    texts += ["".join(rng.choice("的一是在") for _ in range(rng.randint(1, 6))) for _ in range(300)]
    texts += [" ".join(rng.choice(["ab", "cd", "ef"]) for _ in range(rng.randint(1, 4))) for _ in range(100)]
    docs = [{"id": f"d{i:03d}", "text": t} for i, t in enumerate(texts)]
    write_jsonl(tmp_path / "d.jsonl", docs)
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"]}]}
    result = run_config(raw, tmp_path / "out")
    kept, rejected = outputs(tmp_path / "out")
    rows_out = kept.to_pylist() + (rejected.to_pylist() if rejected is not None else [])
    key = {d["id"]: "".join(c for c in d["text"] if c.isalnum()) for d in docs}
    clusters: dict[str, set[str]] = {}
    for r in rows_out:
        clusters.setdefault(r["dup_cluster"], set()).add(key[r["id"]])
    assert all(len(keys) == 1 for keys in clusters.values()), "a cluster joins pages with different text"
    assert all("" not in keys or len([r for r in rows_out if r["dup_cluster"] == c]) == 1 for c, keys in clusters.items())
    assert result.stats["dedup"].dropped.get("near", 0) == 0
    assert result.stats["dedup"].counters["docs_below_min_shingles"] > 100


def test_huge_document_is_shingled_up_to_the_cap(tmp_path):
    rng = random.Random(8)
    head = chinese(rng, 2000)
    docs = [{"id": "big1", "text": head + chinese(rng, 50_000)}, {"id": "big2", "text": head + chinese(rng, 50_000)}]
    write_jsonl(tmp_path / "d.jsonl", docs)
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"], "params": {"max_doc_chars": 2000}}]}
    result = run_config(raw, tmp_path / "out")
    assert result.stats["dedup"].counters["docs_truncated_for_shingles"] == 2
    assert result.stats["dedup"].dropped == {"near": 1}  # identical first 2000 characters


def test_params_are_checked():
    def stage(**params):
        return {"stages": [{"id": "dedup", "stage": "dedup", "params": params}]}

    for bad in ({"bands": 50, "rows": 3}, {"keep": "score"}, {"exact": False, "near": False}, {"shingle_hash": "md5"}):
        with pytest.raises(ConfigError):
            validate(stage(**bad))


def test_huge_document_memory_is_bounded_by_the_cap(tmp_path):
    """An 8M-character page costs the signatures phase about max_doc_chars of work, not its size."""
    import tracemalloc

    rng = random.Random(12)
    words = ["".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(5000)]
    huge = " ".join(rng.choice(words) for _ in range(8_000_000 // 7))
    write_jsonl(tmp_path / "d.jsonl", [{"id": "huge", "text": huge}, {"id": "small", "text": huge[:5000]}])
    raw = {"sources": {"docs": {"paths": str(tmp_path / "d.jsonl")}}, "stages": [{"id": "dedup", "stage": "dedup", "inputs": ["docs"]}]}
    tracemalloc.start()
    try:
        result = run_config(raw, tmp_path / "out")  # one worker: every phase runs in this process
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.stats["dedup"].counters["docs_truncated_for_shingles"] == 1
    # measured: 208 MiB with the default 1M-character cap, 703 MiB when the whole page is shingled
    assert peak < 300 * 2**20, f"peak {peak / 2**20:.0f} MiB"
