"""`tokenizer`: both backends, the special tokens, loadability with transformers, metrics, errors."""

import json
import random
from pathlib import Path

import pytest
from conftest import run_config, write_jsonl
from tokenizers import Tokenizer

from corpusforge.pipeline.config import ConfigError, validate

SPECIALS = ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
WORDS = ["天气", "很好", "我们", "公园", "散步", "明天", "下雨", "在家", "看书", "城市", "图书馆", "开放", "孩子", "周末", "老师"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    rng = random.Random(0)
    directory = tmp_path_factory.mktemp("tok")
    rows = [{"id": f"d{i}", "text": "".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) + f"，共{rng.randint(1, 999)}人。"} for i in range(300)]
    write_jsonl(directory / "docs.jsonl", rows)
    return directory / "docs.jsonl"


def train(corpus: Path, out: Path, workers: int = 1, **params) -> Path:
    raw = {"sources": {"docs": {"paths": str(corpus)}},
           "stages": [{"id": "tok", "stage": "tokenizer", "inputs": ["docs"], "params": {"vocab_size": 400, **params}}]}
    result = run_config(raw, out, workers=workers)
    assert result.stats["tok"].counters["vocab_size"] > 0
    return out / "tok"


@pytest.mark.parametrize("params", [{"bytes": "byte_level"}, {"bytes": "byte_fallback"}], ids=["byte_level", "byte_fallback"])
def test_hf_bpe_loads_everywhere_with_the_special_tokens_first(corpus, tmp_path, params):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    out = train(corpus, tmp_path / "out", **params)
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert [tokenizer.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3, 4]
    text = "明天下雨，我们在家看书 2024 年。饕餮 ok"  # 饕餮: never seen in training
    ids = tokenizer.encode(text).ids
    assert tokenizer.decode(ids) == text
    assert [tokenizer.id_to_token(i) for i in tokenizer.encode("2024").ids] == [tokenizer.id_to_token(tokenizer.encode(d).ids[0]) for d in "2024"]
    fast = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"))
    assert fast(text)["input_ids"] == ids and fast.decode(ids) == text
    auto = AutoTokenizer.from_pretrained(str(out))
    assert auto.eos_token == "<|endoftext|>" and auto.pad_token_id == 1 and auto(text)["input_ids"] == ids
    assert tokenizer.encode("<|user|>你好<|assistant|>").ids[0] == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["vocab_size"] == tokenizer.get_vocab_size() <= 400
    assert 0 < metrics["fertility"] < 3 and metrics["bytes_per_token"] > 1


@pytest.mark.parametrize("model", ["unigram", "bpe"])
def test_sentencepiece_model_and_its_tokenizer_json_encode_alike(corpus, tmp_path, model):
    import sentencepiece as spm

    out = train(corpus, tmp_path / "out", backend="sentencepiece", model=model, character_coverage=1.0)
    processor = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert [processor.piece_to_id(t) for t in SPECIALS] == [tokenizer.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3, 4]
    lines = [json.loads(line)["text"] for line in corpus.read_text().splitlines()[:100]] + ["图书馆周末开放 12 小时", "饕餮"]
    for line in lines:
        assert tokenizer.encode(line).ids == processor.encode(line), line
        assert tokenizer.decode(tokenizer.encode(line).ids) == line


def test_the_sample_is_deterministic_and_bounded(corpus, tmp_path):
    a = train(corpus, tmp_path / "a", sample_chars=2000, eval_chars=1000)
    b = train(corpus, tmp_path / "b", workers=2, sample_chars=2000, eval_chars=1000)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    metrics = json.loads((a / "metrics.json").read_text())
    assert 0 < metrics["sample_docs"] < 300 and metrics["evaluated_on"] == "held_out" and metrics["eval_docs"] > 0
    c = train(corpus, tmp_path / "c", sample_chars=2000, eval_chars=1000, seed=1)
    assert (c / "tokenizer.json").read_bytes() != (a / "tokenizer.json").read_bytes()


def test_a_given_tokenizer_is_copied_and_evaluated(corpus, tmp_path):
    trained = train(corpus, tmp_path / "a")
    given = train(corpus, tmp_path / "b", path=str(trained / "tokenizer.json"))
    assert (given / "tokenizer.json").read_text() == Tokenizer.from_file(str(trained / "tokenizer.json")).to_str(pretty=True)
    assert json.loads((given / "metrics.json").read_text())["evaluated_on"] == "input_sample"


def test_a_changed_given_tokenizer_file_re_runs_the_stage(corpus, tmp_path):
    import os

    given = tmp_path / "given.json"
    given.write_text((train(corpus, tmp_path / "a") / "tokenizer.json").read_text())
    out = tmp_path / "b"
    train(corpus, out, path=str(given))
    raw = {"sources": {"docs": {"paths": str(corpus)}},
           "stages": [{"id": "tok", "stage": "tokenizer", "inputs": ["docs"], "params": {"vocab_size": 400, "path": str(given)}}]}
    assert run_config(raw, out).report["stages"]["tok"]["status"] == "skipped"
    retrained = train(corpus, tmp_path / "c", vocab_size=500) / "tokenizer.json"
    given.write_text(retrained.read_text())
    os.utime(given, (1, 1))  # a new size and mtime, whatever the clock's resolution
    assert run_config(raw, out).report["stages"]["tok"]["status"] == "ran"
    assert Tokenizer.from_file(str(out / "tok" / "tokenizer.json")).get_vocab_size() == Tokenizer.from_file(str(retrained)).get_vocab_size()


@pytest.mark.parametrize("params,message", [
    ({"model": "unigram"}, "needs backend 'sentencepiece'"),
    ({"special_tokens": ["<|endoftext|>"]}, r"must include <\|pad\|>"),
    ({"path": "/nonexistent/tokenizer.json"}, "no such file"),
    ({"vocab_size": 10}, "greater than or equal to 300"),
])
def test_config_errors_name_the_field(corpus, params, message):
    raw = {"sources": {"docs": {"paths": str(corpus)}}, "stages": [{"id": "tok", "stage": "tokenizer", "inputs": ["docs"], "params": params}]}
    with pytest.raises(ConfigError, match=r"stages\[tok\]\.params.*" + message):
        validate(raw)
