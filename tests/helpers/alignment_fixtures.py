"""Tiny formatted SFT / preference / prompt shard directories (the packed-shard contract), for
the trainer's alignment tests: a word-level tokenizer and a copy task a tiny GPT learns in
seconds. Responses copy the prompt's words; rejected responses swap some for "bad" words, which
the reward model learns to punish and PPO learns to avoid."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

SPECIALS = ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
GOOD = [f"g{i}" for i in range(12)]
BAD = [f"b{i}" for i in range(8)]
WORDS = ["copy"] + GOOD + BAD
SPECIAL_IDS = {"eos": 0, "pad": 1, "system": 2, "user": 3, "assistant": 4}
VOCAB = {tok: i for i, tok in enumerate(SPECIALS + WORDS)}


def write_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, AddedToken

    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="<|pad|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens([AddedToken(s, special=True) for s in SPECIALS])
    tok.save(str(path))


def encode(words: list[str]) -> list[int]:
    return [VOCAB[w] for w in words]


def prompt_tokens(words: list[str]) -> list[int]:
    return [SPECIAL_IDS["user"]] + encode(["copy"] + words) + [SPECIAL_IDS["assistant"]]


def samples(n: int, seed: int, min_words: int = 2, max_words: int = 5) -> list[tuple[str, list[str]]]:
    rng = random.Random(seed)
    return [(f"s{seed}-{i}", [rng.choice(GOOD) for _ in range(rng.randint(min_words, max_words))]) for i in range(n)]


def _write_dir(root: Path, kind: str, seq_len: int, splits: dict[str, pa.Table]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_tokenizer(root / "tokenizer.json")
    index_splits = {}
    for split, table in splits.items():
        (root / split).mkdir(exist_ok=True)
        rel = f"{split}/part-00000.arrow"
        with pa.ipc.new_file(str(root / rel), table.schema) as writer:
            writer.write_table(table)
        index_splits[split] = {"files": [rel], "rows": table.num_rows}
    index = {
        "format": "corpusforge.packed/1", "kind": kind, "seq_len": seq_len, "vocab_size": len(VOCAB),
        "dtype": "uint16", "tokenizer": "tokenizer.json", "special_tokens": SPECIAL_IDS, "splits": index_splits,
    }
    (root / "index.json").write_text(json.dumps(index))
    return root


def _pack_sft(rows: list[tuple[str, list[str]]], seq_len: int) -> pa.Table:
    width = seq_len + 1
    out_tokens, out_mask, out_lens, out_ids = [], [], [], []
    tokens, mask, lens, ids = [], [], [], []

    def flush():
        pad = width - len(tokens)
        if pad:
            tokens.extend([SPECIAL_IDS["pad"]] * pad)
            mask.extend([0] * pad)
            lens.append(pad)
            ids.append("")
        out_tokens.append(list(tokens)); out_mask.append(list(mask)); out_lens.append(list(lens)); out_ids.append(list(ids))
        tokens.clear(); mask.clear(); lens.clear(); ids.clear()

    for sample_id, words in rows:
        prompt = prompt_tokens(words)
        response = encode(words) + [SPECIAL_IDS["eos"]]
        if len(tokens) + len(prompt) + len(response) > width:
            flush()
        tokens.extend(prompt + response)
        mask.extend([0] * len(prompt) + [1] * len(response))
        lens.append(len(prompt) + len(response))
        ids.append(sample_id)
    if tokens:
        flush()
    return pa.table({
        "tokens": pa.FixedSizeListArray.from_arrays(pa.array(np.array(out_tokens, dtype=np.uint16).ravel()), width),
        "doc_lens": pa.array(out_lens, pa.list_(pa.int32())),
        "doc_ids": pa.array(out_ids, pa.list_(pa.string())),
        "loss_mask": pa.FixedSizeListArray.from_arrays(pa.array(np.array(out_mask, dtype=np.uint8).ravel()), width),
    })


def write_sft(root: Path, seq_len: int = 32, n_train: int = 200, n_val: int = 40) -> Path:
    return _write_dir(root, "sft", seq_len, {
        "train": _pack_sft(samples(n_train, seed=1), seq_len),
        "val": _pack_sft(samples(n_val, seed=2), seq_len),
    })


def _corrupt(words: list[str], rng: random.Random) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), k=max(1, len(out) // 2)):
        out[i] = rng.choice(BAD)
    return out


def _preference_table(rows, seed: int) -> pa.Table:
    rng = random.Random(seed)
    ids, prompts, chosen, rejected = [], [], [], []
    for sample_id, words in rows:
        ids.append(sample_id)
        prompts.append(prompt_tokens(words))
        chosen.append(encode(words) + [SPECIAL_IDS["eos"]])
        rejected.append(encode(_corrupt(words, rng)) + [SPECIAL_IDS["eos"]])
    ulist = pa.list_(pa.uint16())
    return pa.table({"id": ids, "prompt": pa.array(prompts, ulist), "chosen": pa.array(chosen, ulist), "rejected": pa.array(rejected, ulist)})


def write_preference(root: Path, seq_len: int = 32, n_train: int = 160, n_val: int = 40, extra_train_rows=()) -> Path:
    train = _preference_table(samples(n_train, seed=3), seed=3)
    if extra_train_rows:
        ulist = pa.list_(pa.uint16())
        extra = pa.table({k: pa.array([r[k] for r in extra_train_rows], ulist if k != "id" else pa.string()) for k in ("id", "prompt", "chosen", "rejected")})
        train = pa.concat_tables([train, extra])
    return _write_dir(root, "preference", seq_len, {"train": train, "val": _preference_table(samples(n_val, seed=4), seed=4)})


def write_prompts(root: Path, seq_len: int = 32, n_train: int = 64, n_val: int = 16) -> Path:
    def table(rows):
        return pa.table({"id": [r[0] for r in rows], "prompt": pa.array([prompt_tokens(w) for _, w in rows], pa.list_(pa.uint16()))})

    return _write_dir(root, "prompt", seq_len, {"train": table(samples(n_train, seed=5)), "val": table(samples(n_val, seed=6))})


TINY_MODEL = {"n_layer": 2, "n_head": 2, "n_embd": 64}


def merge(base: dict, extra: dict) -> dict:
    """A nested copy of `base` updated by `extra`."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in extra.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def sft_raw(data: Path, **extra) -> dict:
    return merge({
        "data": {"path": str(data)}, "model": TINY_MODEL,
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 5}, "train": {"max_steps": 60, "batch_size": 8},
        "eval": {"every": 20, "batches": 5}, "checkpoint": {"every": 20}, "log": {"every": 10}, "export_hf": False,
    }, extra)


def rm_raw(data: Path, init_from: Path | None, **extra) -> dict:
    return merge({
        "data": {"path": str(data)}, "init_from": None if init_from is None else str(init_from), "model": TINY_MODEL,
        "optim": {"lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 5}, "train": {"max_steps": 40, "batch_size": 8},
        "eval": {"every": 20}, "checkpoint": {"every": 20}, "log": {"every": 10}, "export_hf": False,
    }, extra)


def ppo_raw(data: Path, actor_from: Path, reward_from: Path, **extra) -> dict:
    return merge({
        "data": {"path": str(data)}, "actor_from": str(actor_from), "reward_from": str(reward_from),
        "optim": {"lr": 1e-3, "min_lr": 1e-3, "warmup_steps": 0}, "train": {"max_steps": 4, "batch_size": 8},
        "ppo": {"rollout_batch_size": 16, "max_new_tokens": 10, "kl_coef": 0.05, "missing_eos_penalty": 2.0},
        "eval": {"every": 5}, "checkpoint": {"every": 2}, "log": {"every": 1}, "export_hf": False,
    }, extra)


def read_metrics(run: Path) -> list[dict]:
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return [{k: (float(v) if v != "" else None) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Two shared cores: torch's two intra-op threads fight other processes (30x slower steps)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
