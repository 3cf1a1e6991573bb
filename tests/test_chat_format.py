"""SFT, preference and prompt formatting: the loss mask, the chat template, bad records."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_config, write_jsonl
from packed import digests, index, split_table
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[1]
ARTICLE = "城东的区图书馆闭馆一年后重新开放。原来昏暗的阅览室换上了大面积的玻璃窗，书架也降低了高度。"


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("chat")
    write_jsonl(root / "docs.jsonl", [{"text": ARTICLE * (1 + i % 3) + f"第{i}天。"} for i in range(60)])
    raw = {"sources": {"docs": {"paths": str(root / "docs.jsonl")}},
           "stages": [{"id": "tok", "stage": "tokenizer", "inputs": ["docs"], "params": {"vocab_size": 400}}]}
    run_config(raw, root / "out")
    return root / "out" / "tok"


def instructions(n: int = 30) -> list[dict]:
    rows = [{"id": f"i{k}", "instruction": f"第{k}个问题：图书馆什么时候开放？", "input": "请简短回答。" if k % 2 else "", "output": f"重新开放了{k}天。"} for k in range(n)]
    rows += [
        {"id": "bad-missing-instruction", "output": "回答"},
        {"id": "bad-empty", "instruction": "问题", "output": "   "},
        {"id": "bad-marker", "instruction": "问题<|user|>", "output": "回答"},
        {"id": "bad-long", "instruction": "图书馆" * 200, "output": "回答"},
    ]
    return rows


def formatted(tmp_path: Path, tokenizer_dir: Path, stage: str, rows: list[dict], text_field: str, workers: int = 1, **params) -> tuple[Path, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_jsonl(tmp_path / "records.jsonl", rows)
    raw = {
        "sources": {"records": {"paths": str(tmp_path / "records.jsonl"), "text_field": text_field}},
        "stages": [
            {"id": "tok", "stage": "tokenizer", "inputs": ["records"], "params": {"path": str(tokenizer_dir / "tokenizer.json")}},
            {"id": "out", "stage": stage, "inputs": ["records"], "uses": {"tokenizer": "tok"}, "params": params},
        ],
    }
    result = run_config(raw, tmp_path / "run", workers=workers)
    return tmp_path / "run" / "out", result.stats["out"]


def test_sft_rows_mask_exactly_the_responses(tmp_path, tokenizer_dir):
    out, stats = formatted(tmp_path, tokenizer_dir, "sft_format", instructions(), "output", seq_len=63, max_prompt_tokens=64, val_fraction=0.2)
    meta = index(out)
    assert meta["kind"] == "sft" and meta["seq_len"] == 63
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    ids = meta["special_tokens"]
    expected = {r["id"]: r for r in instructions()}
    seen = set()
    for split in ("train", "val"):
        table = split_table(out, split)
        assert meta["splits"][split]["rows"] == table.num_rows
        for tokens, mask, lens, doc_ids in zip(*(table.column(c).to_pylist() for c in ("tokens", "loss_mask", "doc_lens", "doc_ids"))):
            assert len(tokens) == len(mask) == sum(lens) == 64
            at = 0
            for n, doc in zip(lens, doc_ids):
                seg, seg_mask = tokens[at : at + n], mask[at : at + n]
                at += n
                if doc == "":
                    assert set(seg) == {ids["pad"]} and set(seg_mask) == {0}
                    continue
                record = expected[doc]
                split_at = seg.index(ids["assistant"]) + 1
                assert seg[0] == ids["user"] and seg[-1] == ids["eos"]
                assert seg_mask == [0] * split_at + [1] * (n - split_at)
                user = record["instruction"] + ("\n" + record["input"] if record["input"] else "")
                assert tokenizer.decode(seg[1 : split_at - 1]) == user
                assert tokenizer.decode(seg[split_at:-1]) == record["output"]
                seen.add(doc)
    assert seen == {f"i{k}" for k in range(30)}
    assert meta["splits"]["train"]["documents"] + meta["splits"]["val"]["documents"] == 30
    assert stats.errors == {"missing_instruction": 1, "empty_response": 1, "contains_special_token": 1, "prompt_too_long": 1}
    assert stats.counters["skipped:prompt_too_long"] == 1


def test_sft_truncates_when_configured_and_is_worker_independent(tmp_path, tokenizer_dir):
    out, stats = formatted(tmp_path / "a", tokenizer_dir, "sft_format", instructions(), "output", seq_len=63, max_prompt_tokens=16, on_long="truncate")
    assert "prompt_too_long" not in stats.errors and stats.counters["truncated:prompt"] >= 1
    assert "bad-long" in {d for row in split_table(out, "train").column("doc_ids").to_pylist() for d in row}
    again, _ = formatted(tmp_path / "b", tokenizer_dir, "sft_format", instructions(), "output", workers=2, seq_len=63, max_prompt_tokens=16, on_long="truncate")
    assert digests(out) == digests(again)


def test_preference_pairs_and_their_bad_records(tmp_path, tokenizer_dir):
    rows = [{"id": f"p{k}", "prompt": f"问题{k}", "chosen": f"好的回答{k}", "rejected": f"差的回答{k + 1}"} for k in range(20)]
    rows += [
        {"id": "same", "prompt": "问题", "chosen": "一样", "rejected": "一样 "},
        {"id": "empty", "prompt": "问题", "chosen": "", "rejected": "回答"},
        {"id": "norej", "prompt": "问题", "chosen": "回答"},
        {"id": "long", "prompt": "问题" * 300, "chosen": "回答", "rejected": "别的"},
    ]
    out, stats = formatted(tmp_path, tokenizer_dir, "preference_format", rows, "chosen", max_prompt_tokens=64, val_fraction=0.25)
    assert stats.errors == {"identical_pair": 1, "empty_response": 1, "missing_rejected": 1, "prompt_too_long": 1}
    meta = index(out)
    ids = meta["special_tokens"]
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    tables = [split_table(out, s) for s in ("train", "val")]
    assert sum(t.num_rows for t in tables) == 20 and all(t.num_rows for t in tables)
    for row in (r for t in tables for r in t.to_pylist()):
        k = int(row["id"][1:])
        assert row["prompt"][0] == ids["user"] and row["prompt"][-1] == ids["assistant"]
        assert tokenizer.decode(row["prompt"][1:-1]) == f"问题{k}"
        assert row["chosen"][-1] == row["rejected"][-1] == ids["eos"]
        assert tokenizer.decode(row["chosen"][:-1]) == f"好的回答{k}" and tokenizer.decode(row["rejected"][:-1]) == f"差的回答{k + 1}"


def test_prompts_for_ppo(tmp_path, tokenizer_dir):
    out, stats = formatted(tmp_path, tokenizer_dir, "prompt_format", instructions(), "output", max_prompt_tokens=64, val_fraction=0.0)
    meta = index(out)
    table = split_table(out, "train")
    # The record with an empty output is a good prompt; a prompt needs no response.
    assert meta["kind"] == "prompt" and table.num_rows == 31 and meta["splits"]["val"]["rows"] == 0
    assert all(p[-1] == meta["special_tokens"]["assistant"] for p in table.column("prompt").to_pylist())
    assert stats.errors["prompt_too_long"] == 1 and stats.errors["contains_special_token"] == 1


def test_the_trainers_prompt_is_the_prompt_the_data_was_formatted_with(tmp_path, tokenizer_dir):
    from corpusforge.train.chat import chat_prompt

    rows = [{"id": "r", "instruction": "图书馆什么时候开放？", "input": "请简短回答。", "system": "你是图书馆的助手。", "output": "明天。"}]
    out, _ = formatted(tmp_path, tokenizer_dir, "prompt_format", rows, "output", val_fraction=0.0, system_field="system")
    (formatted_prompt,) = split_table(out, "train").column("prompt").to_pylist()
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    asked = chat_prompt(tokenizer, index(out)["special_tokens"], rows[0]["instruction"], rows[0]["input"], rows[0]["system"])
    assert asked == formatted_prompt and asked[0] == index(out)["special_tokens"]["system"]


def test_sft_data_config_runs_on_the_bundled_sample(tmp_path, tokenizer_dir):
    out = tmp_path / "sft"
    command = [sys.executable, "-m", "corpusforge", "run", "configs/sft_data.yaml", "--output", str(out), "--workers", "2",
               "--set", f"stages.tokenizer.params.path={tokenizer_dir / 'tokenizer.json'}"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())["stages"]
    assert report["sft"]["errors"] == {"missing_text": 1, "empty_response": 1, "contains_special_token": 1, "empty_prompt": 1}
    assert report["preference"]["errors"] == {"identical_pair": 1, "empty_response": 1, "missing_rejected": 1}
    for name, kind in (("sft", "sft"), ("preference", "preference"), ("prompts", "prompt")):
        meta = index(out / name)
        assert meta["kind"] == kind and meta["splits"]["train"]["rows"] > 0 and meta["splits"]["val"]["rows"] > 0
    assert np.asarray(split_table(out / "sft", "train").column("loss_mask").combine_chunks().values).sum() == index(out / "sft")["splits"]["train"]["response_tokens"]
