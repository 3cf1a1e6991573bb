"""`train_lm` and `perplexity`: the formula, buckets, bad input, model errors, and a tiny train+score run."""

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import run_config, shard_digests, write_jsonl

from corpusforge.io import read_shard, url_to_fs
from corpusforge.pipeline.config import ConfigError, validate
from stages.perplexity.model import LanguageModel, ModelError, perplexity
from stages.perplexity.reference import bootstrap_paragraphs
from stages.perplexity.stage import Perplexity, PerplexityParams, bucket_of

SUBJECTS = ["我们", "学生们", "老师", "他的朋友", "这个城市", "农民", "工程师", "孩子们", "科学家", "邻居"]
ADVERBS = ["在周末", "每天早上", "在春天", "经常", "认真地", "一起", "去年", "很早就"]
VERBS = ["参观了", "研究", "建设了", "讨论", "学习", "保护", "介绍了", "喜欢"]
OBJECTS = ["新的图书馆", "古老的寺庙", "这条河流", "科学知识", "传统文化", "美丽的公园", "那座大桥", "本地的历史"]
SALAD = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量"


def sentence(rng: random.Random) -> str:
    return rng.choice(SUBJECTS) + rng.choice(ADVERBS) + rng.choice(VERBS) + rng.choice(OBJECTS) + "。"


def paragraph(rng: random.Random, n: int) -> str:
    return "".join(sentence(rng) for _ in range(n))


def salad(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SALAD) for _ in range(n)) + "。"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A reference text file and two crawl files: fluent pages, character salad, bad input."""
    root = tmp_path_factory.mktemp("ppl")
    rng = random.Random(7)
    with gzip.open(root / "reference.txt.gz", "wt", encoding="utf-8") as f:
        f.writelines(paragraph(rng, rng.randint(2, 5)) + "\n\n" for _ in range(400))
    docs = []
    for i in range(30):
        docs.append({"id": f"good{i:02d}", "text": "\n".join(paragraph(rng, 3) for _ in range(3))})
        docs.append({"id": f"salad{i:02d}", "text": "\n".join(salad(rng, 60) for _ in range(3))})
    bad = [
        {"id": "empty", "text": ""},
        {"id": "blank", "text": "  \n\n \t\n"},
        {"id": "controls", "text": "\x00\x01\x02"},
        {"id": "null", "text": None},
        {"id": "english", "text": "This page has no Chinese characters at all.\nJust English."},
        {"id": "long", "text": paragraph(rng, 4000)},  # one ~40k-character line
    ]
    (root / "crawl").mkdir()
    write_jsonl(root / "crawl" / "a.jsonl", docs[:30])
    write_jsonl(root / "crawl" / "b.jsonl", docs[30:] + bad)
    return root


def config(corpus: Path, **ppl_params) -> dict:
    return {
        "sources": {
            "reference": {"paths": [str(corpus / "reference.txt.gz")]},
            "crawl": {"paths": [str(corpus / "crawl" / "*.jsonl")]},
        },
        "stages": [
            {"id": "lm", "stage": "train_lm", "inputs": ["reference"], "params": {"vocab_size": 200, "order": 3, "prune": [0]}},
            {"id": "perplexity", "stage": "perplexity", "inputs": ["crawl"], "uses": {"lm": "lm"}, "params": ppl_params},
        ],
    }


def load(directory: Path) -> pa.Table:
    fs, _ = url_to_fs(str(directory))
    return pa.concat_tables(read_shard(fs, str(p)) for p in sorted(directory.glob("*.arrow")))


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """One run with the default percentile cutoffs; the LM is reused by later runs."""
    out = tmp_path_factory.mktemp("run") / "out"
    result = run_config(config(corpus), out)
    return out, result


def by_id(table: pa.Table) -> dict[str, dict]:
    return {row["id"]: row for row in table.to_pylist()}


def test_formula():
    # 10^(-sum log10 p / sum(tokens + 1)): two paragraphs of 2 and 3 pieces, 7 tokens in all.
    assert perplexity(np.array([-7.0]), np.array([7]))[0] == pytest.approx(10.0)
    assert np.isnan(perplexity(np.array([0.0]), np.array([0]))[0])


def test_document_perplexity_is_ccnets(trained):
    out, _ = trained
    model = LanguageModel(str(out / "lm"))
    text = "我们在周末参观了新的图书馆。\n\n  老师经常讨论传统文化。  \n"
    total, tokens = 0.0, 0
    for line in ("我们在周末参观了新的图书馆。", "老师经常讨论传统文化。"):
        pieces = model.sp.encode(model.normalize([line])[0], out_type=str)
        total += model.lm.score(" ".join(pieces))  # with <s> and </s>, as cc_net scores
        tokens += len(pieces) + 1
    scores = model.score_texts(pa.array([text]))
    assert scores.tokens[0] == tokens and scores.paragraphs[0] == 2
    assert scores.ppl[0] == pytest.approx(10 ** (-total / tokens), rel=1e-12)


def test_buckets_rule():
    got = bucket_of(np.array([5.0, 10.0, 15.0, 20.0, 25.0, np.nan]), (10.0, 20.0)).to_pylist()
    assert got == ["head", "middle", "middle", "tail", "tail", None]


def test_params_are_checked():
    with pytest.raises(ValueError):
        PerplexityParams(percentiles=(60, 30))
    with pytest.raises(ValueError):
        PerplexityParams(cutoffs=(0, 10))
    with pytest.raises(ConfigError, match=r"stages\[lm\]\.params\.prune"):
        validate({"sources": {"r": {"paths": [__file__], "format": "text"}},
                  "stages": [{"id": "lm", "stage": "train_lm", "inputs": ["r"], "params": {"prune": [1, 1]}}]})


def test_train_and_score_end_to_end(trained):
    out, result = trained
    assert {p.name for p in (out / "lm").iterdir()} >= {"sp.model", "lm.binary", "meta.json", "manifest.json"}
    meta = json.loads((out / "lm" / "meta.json").read_text())
    assert meta["order"] == 3 and meta["paragraphs"] == result.stats["lm"].counters["paragraphs_trained"] > 100
    assert result.stats["lm"].counters["paragraphs_duplicate"] >= 0
    rows = by_id(load(out / "perplexity"))
    assert len(rows) == 65, "nothing dropped without keep_buckets (the reader skips the record without text)"
    assert result.stats["perplexity"].errors["missing_text"] == 1, "counted once, though the input is read twice"
    good = [rows[f"good{i:02d}"]["ppl"] for i in range(30)]
    bad = [rows[f"salad{i:02d}"]["ppl"] for i in range(30)]
    assert max(good) < min(bad), "fluent text scores far better than character salad"
    # 62 scored: the 30th percentile falls among the fluent pages, the 60th among the salad.
    assert {r["id"][:4] for r in rows.values() if r["bucket"] == "tail"} <= {"sala", "engl"}
    assert sum(rows[f"good{i:02d}"]["bucket"] == "head" for i in range(30)) >= 15
    assert all(rows[f"salad{i:02d}"]["bucket"] != "head" for i in range(30))
    cutoffs = json.loads((out / "perplexity" / "cutoffs.json").read_text())
    scored = sorted(r["ppl"] for r in rows.values() if r["ppl"] is not None)
    assert cutoffs["sample_docs"] == len(scored) == 62
    assert cutoffs["cutoffs"] == pytest.approx(list(np.percentile(scored, [30, 60])))
    counters = result.stats["perplexity"].counters
    assert counters["bucket:head"] + counters["bucket:middle"] + counters["bucket:tail"] == 62
    assert counters["bucket:unscored"] == counters["docs_unscored"] == 3


def test_bad_input_gets_null_or_a_number(trained):
    out, _ = trained
    rows = by_id(load(out / "perplexity"))
    for doc in ("empty", "blank", "controls"):
        assert rows[doc]["ppl"] is None and rows[doc]["bucket"] is None
    assert "null" not in rows, "a JSONL record without text is a bad record of the reader"
    assert np.isfinite(rows["english"]["ppl"]) and rows["english"]["bucket"] is not None
    assert np.isfinite(rows["long"]["ppl"]) and rows["long"]["ppl"] < min(rows[f"salad{i:02d}"]["ppl"] for i in range(30))


def test_bad_input_straight_to_the_model(trained):
    out, _ = trained
    model = LanguageModel(str(out / "lm"))
    texts = pa.array([None, "", "\n\n", "\x00", "abc", "中" * 100_000, "我们学习。"], pa.string())
    scores = model.score_texts(texts)
    ppl = scores.ppl
    assert np.isnan(ppl[:4]).all() and np.isfinite(ppl[4:]).all()
    assert scores.paragraphs[5] == 100_000 // model.max_line_chars, "a very long line is scored in pieces"
    assert len(model.score_texts(pa.array([], pa.string())).ppl) == 0


def test_batches_do_not_change_scores(trained, monkeypatch):
    from stages.perplexity import model as model_module

    out, _ = trained
    model = LanguageModel(str(out / "lm"))
    rng = random.Random(3)
    texts = pa.array(["\n".join(paragraph(rng, 2) for _ in range(rng.randint(0, 4))) for _ in range(40)], pa.string())
    whole = model.score_texts(texts)
    monkeypatch.setattr(model_module, "BATCH_CHARS", 50)
    batched = model.score_texts(texts)
    assert np.array_equal(whole.tokens, batched.tokens)
    np.testing.assert_allclose(batched.log10_prob, whole.log10_prob, rtol=1e-12)


def test_keep_buckets_and_fixed_cutoffs(corpus, tmp_path):
    out = tmp_path / "out"
    result = run_config(config(corpus, cutoffs=[20.0, 40.0], keep_buckets=["head", "middle"]), out)
    kept = load(out / "perplexity")
    rejected = load(out / "_rejected" / "perplexity")
    assert set(kept.column("bucket").to_pylist()) <= {"head", "middle"}
    assert all(p < 40.0 for p in kept.column("ppl").to_pylist())
    reasons = set(rejected.column("reason").to_pylist())
    assert reasons == {"ppl_tail", "ppl_unscored"}
    assert kept.num_rows + rejected.num_rows == 65
    assert result.stats["perplexity"].dropped["ppl_unscored"] == 3
    assert not (out / "perplexity" / "cutoffs.json").exists()


def test_same_bytes_whatever_the_workers(corpus, trained, tmp_path):
    first, _ = trained
    out = tmp_path / "out"
    run_config(config(corpus, sample_size=20), out, workers=2)
    assert shard_digests(out / "perplexity")
    run_config(config(corpus, sample_size=20), tmp_path / "serial", workers=1)
    assert shard_digests(out / "perplexity") == shard_digests(tmp_path / "serial" / "perplexity")
    assert (out / "lm" / "lm.binary").read_bytes() == (first / "lm" / "lm.binary").read_bytes()
    assert (out / "lm" / "sp.model").read_bytes() == (first / "lm" / "sp.model").read_bytes()
    sample = json.loads((out / "perplexity" / "cutoffs.json").read_text())
    assert sample["sample_docs"] == 20


def test_missing_or_corrupt_model_fails_before_scoring(trained, tmp_path):
    out, _ = trained
    with pytest.raises(ModelError, match="meta.json: missing"):
        LanguageModel(str(tmp_path))
    with pytest.raises(ModelError, match="uses"):
        Perplexity(PerplexityParams(), {}).setup()
    for name, match in (("lm.binary", "not a KenLM model"), ("sp.model", "not a SentencePiece model"), ("meta.json", "not a train_lm metadata")):
        broken = tmp_path / name
        broken.mkdir()
        for f in ("sp.model", "lm.binary", "meta.json"):
            (broken / f).write_bytes((out / "lm" / f).read_bytes())
        (broken / name).write_bytes(b"not a model\n" * 10)
        with pytest.raises(ModelError, match=match):
            LanguageModel(str(broken))


def test_corrupt_model_in_a_run_stops_it_before_any_task(corpus, tmp_path):
    out = tmp_path / "out"
    run_config(config(corpus, cutoffs=[1.0, 2.0]), out, targets=["lm"])
    (out / "lm" / "lm.binary").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="lm.binary"):
        run_config(config(corpus), out)
    assert not list(out.glob("_work/perplexity-*/score/_markers/*.json"))


def test_bootstrap_keeps_strict_prose_only():
    rng = random.Random(1)
    prose = paragraph(rng, 3)
    docs = pa.table({
        "text": [
            f"首页 | 新闻 | 关于我们\n{prose}\n{paragraph(rng, 2)}",  # prose page with a nav line
            f"热门标签 下载 游戏\n{prose[:10]}\n免费下载 破解版",  # no prose
            f"{paragraph(rng, 3)}",  # prose, but langid is not confident
            "\n".join(["相关文章列表"] * 6 + [paragraph(rng, 1)]),  # mostly list: prose share too low
        ],
        "lang": ["zh", "zh", "zh", "zh"],
        "lang_score": [0.99, 0.99, 0.5, 0.99],
    })
    lines, docs_used = bootstrap_paragraphs(docs, 20, 0.5, 0.8, 0.5)
    assert docs_used == 1
    assert lines.to_pylist()[0] == prose and len(lines) == 2


def test_text_reader(tmp_path):
    path = tmp_path / "ref.txt"
    path.write_bytes("第一段。\n\n第二段。\r\n".encode() + b"\xff\xfe broken\n" + "第三段。".encode())
    out = tmp_path / "out"
    result = run_config({"sources": {"ref": {"paths": [str(path)]}}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["ref"]}]}, out)
    table = load(out / "w")
    assert table.column("text").to_pylist() == ["第一段。", "第二段。", "第三段。"]
    assert len(set(table.column("id").to_pylist())) == 3
    assert result.stats["w"].errors["invalid_utf8"] == 1


def test_text_reader_ranges_cover_every_line_once(tmp_path):
    path = tmp_path / "big.txt"
    lines = [f"第{i}行" + "字" * (i % 37) for i in range(3000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    source = {"paths": [str(path)], "block_size_mb": 0.01}
    run_config({"sources": {"ref": source}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["ref"]}]}, out)
    table = load(out / "w")
    assert len(list((out / "w").glob("*.arrow"))) > 5
    assert table.column("text").to_pylist() == lines
    assert len(set(table.column("id").to_pylist())) == len(lines)
