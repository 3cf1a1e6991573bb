"""A tiny pretrain pack directory (the packed-shard contract) for the trainer tests: a BPE
tokenizer trained on a small generated corpus, documents concatenated with <|endoftext|> and cut
into rows of seq_len + 1 tokens, with doc_lens and doc_ids per row."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa

SPECIALS = ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
SUBJECTS = ["小猫", "老师", "我们", "机器", "城市", "学生"]
VERBS = ["喜欢", "看见", "需要", "打开", "记得"]
OBJECTS = ["苹果", "书本", "窗户", "河流", "音乐", "数据"]


def documents(n: int, seed: int) -> list[str]:
    """Documents of a few sentences from a small grammar: learnable in a few dozen steps."""
    rng = random.Random(seed)
    return [
        "".join(f"{rng.choice(SUBJECTS)}{rng.choice(VERBS)}{rng.choice(OBJECTS)}。" for _ in range(rng.randint(1, 6)))
        for _ in range(n)
    ]


def train_tokenizer(texts: list[str], vocab_size: int = 120):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Split("。", behavior="merged_with_previous")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def pack_rows(docs: list[list[int]], doc_ids: list[str], seq_len: int, eos: int) -> pa.Table:
    """Concatenate documents (each + eos) and cut rows of seq_len + 1 tokens (the tail is dropped)."""
    width = seq_len + 1
    stream = [(t, d) for tokens, did in zip(docs, doc_ids) for t, d in ((t, did) for t in tokens + [eos])]
    rows_tokens, rows_lens, rows_ids = [], [], []
    for start in range(0, len(stream) - width + 1, width):
        piece = stream[start : start + width]
        lens, ids = [], []
        for _, did in piece:
            if ids and ids[-1] == did:
                lens[-1] += 1
            else:
                ids.append(did)
                lens.append(1)
        rows_tokens.append([t for t, _ in piece])
        rows_lens.append(lens)
        rows_ids.append(ids)
    return pa.table({
        "tokens": pa.array(rows_tokens, type=pa.list_(pa.uint16(), width)),
        "doc_lens": pa.array(rows_lens, type=pa.list_(pa.int32())),
        "doc_ids": pa.array(rows_ids, type=pa.list_(pa.string())),
    })


def write_pretrain_pack(root: Path, seq_len: int = 32, train_docs: int = 400, val_docs: int = 60, seed: int = 0,
                        shards: int = 2) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    train_texts, val_texts = documents(train_docs, seed), documents(val_docs, seed + 1)
    tok = train_tokenizer(train_texts)
    tok.save(str(root / "tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    splits = {}
    for split, texts, pieces in (("train", train_texts, shards), ("val", val_texts, 1)):
        (root / split).mkdir(exist_ok=True)
        encoded = [tok.encode(t).ids for t in texts]
        ids = [f"{split}-{i}" for i in range(len(texts))]
        table = pack_rows(encoded, ids, seq_len, eos)
        files, per = [], -(-table.num_rows // pieces)
        for k in range(pieces):
            rel = f"{split}/part-{k:05d}.arrow"
            with pa.ipc.new_file(str(root / rel), table.schema) as writer:
                writer.write_table(table.slice(k * per, per), max_chunksize=16)
            files.append(rel)
        splits[split] = {"files": files, "rows": table.num_rows, "tokens": table.num_rows * (seq_len + 1),
                         "documents": len(texts)}
    index = {
        "format": "corpusforge.packed/1", "kind": "pretrain", "seq_len": seq_len,
        "vocab_size": tok.get_vocab_size(), "dtype": "uint16", "tokenizer": "tokenizer.json",
        "special_tokens": {name: tok.token_to_id(s) for name, s in zip(["eos", "pad", "system", "user", "assistant"], SPECIALS)},
        "splits": splits,
    }
    (root / "index.json").write_text(json.dumps(index, ensure_ascii=False))
    return root
