"""CPU training throughput: our pretrainer vs nanoGPT's model.py and training loop.

Same model shape, batch, sequence length, data and threads, on the same machine, runs
interleaved (ours, nanoGPT, ours, ...) and the best of --repeats kept for each, since a shared
machine is noisy. Ours is the real `pretrain()` (data loader, document mask, accumulation,
clipping, AdamW, metrics); tokens/s is its own `metrics.csv` figure after the first interval.
nanoGPT's loop is its train.py's inner loop (get_batch from a uint16 memmap at random offsets,
loss / grad_accum, backward, clip, step), fed the same tokens flattened into a train.bin.

nanoGPT is not a package: save its model.py in a directory of your own and pass --nanogpt DIR.

    python benchmarks/trainer_speed.py --nanogpt /work/cache/nanoGPT [--data output/zh_web/pack]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
import yaml

from corpusforge.train.config import load_config
from corpusforge.train.data import PackedDataset
from corpusforge.train.pretrain import pretrain


def synthetic_pack(root: Path, vocab_size: int, seq_len: int, rows: int, seed: int = 0) -> Path:
    """Random tokens in documents of random length (a stand-in when no pack is given)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "train").mkdir(exist_ok=True)
    tokens = rng.integers(5, vocab_size, size=(rows, seq_len + 1), dtype=np.uint16)
    doc_lens = []
    for _ in range(rows):
        cuts = np.sort(rng.choice(np.arange(1, seq_len + 1), size=rng.integers(0, 4), replace=False))
        doc_lens.append(np.diff(np.concatenate([[0], cuts, [seq_len + 1]])).tolist())
    table = pa.table({
        "tokens": pa.FixedSizeListArray.from_arrays(pa.array(tokens.reshape(-1)), seq_len + 1),
        "doc_lens": pa.array(doc_lens, type=pa.list_(pa.int32())),
        "doc_ids": pa.array([[str(i)] * len(lens) for i, lens in enumerate(doc_lens)], type=pa.list_(pa.string())),
    })
    with pa.ipc.new_file(str(root / "train/part-00000.arrow"), table.schema) as writer:
        writer.write_table(table)
    (root / "index.json").write_text(json.dumps({
        "format": "corpusforge.packed/1", "kind": "pretrain", "seq_len": seq_len, "vocab_size": vocab_size,
        "dtype": "uint16", "tokenizer": None, "special_tokens": {"eos": 0},
        "splits": {"train": {"files": ["train/part-00000.arrow"], "rows": rows}},
    }))
    return root


def ours(pack: Path, args, work: Path, document_mask: bool) -> float:
    config = {
        "model": {"n_layer": args.n_layer, "n_head": args.n_head, "n_embd": args.n_embd},
        "data": {"path": str(pack), "document_mask": document_mask},
        "optim": {"lr": 6e-4, "warmup_steps": 2},
        "train": {"max_steps": args.steps, "batch_size": args.batch_size, "grad_accum": args.grad_accum},
        "eval": {"every": 10**9},
        "checkpoint": {"every": 10**9},
        "log": {"every": args.log_every},
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    out = work / "ours"
    shutil.rmtree(out, ignore_errors=True)
    pretrain(load_config(path), str(out))
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return float(np.median([float(r["tokens_per_s"]) for r in rows[1:]]))  # the first interval holds warmup


def nanogpt(module, train_bin: Path, vocab_size: int, seq_len: int, args) -> float:
    """nanoGPT's train.py inner loop on CPU (fp32, no compile, no GradScaler work)."""
    torch.manual_seed(1337)
    config = module.GPTConfig(
        block_size=seq_len, vocab_size=vocab_size, n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
        dropout=0.0, bias=True,
    )
    model = module.GPT(config)
    optimizer = model.configure_optimizers(0.1, 6e-4, (0.9, 0.95), "cpu")

    def get_batch():
        data = np.memmap(train_bin, dtype=np.uint16, mode="r")
        ix = torch.randint(len(data) - seq_len, (args.batch_size,))
        x = torch.stack([torch.from_numpy((data[i : i + seq_len]).astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy((data[i + 1 : i + 1 + seq_len]).astype(np.int64)) for i in ix])
        return x, y

    times = []
    X, Y = get_batch()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        for _ in range(args.grad_accum):
            _, loss = model(X, Y)
            loss = loss / args.grad_accum
            X, Y = get_batch()
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()
        times.append(time.perf_counter() - t0)
    per_step = np.median(times[args.log_every :])
    return args.batch_size * args.grad_accum * seq_len / per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nanogpt", required=True, help="directory holding nanoGPT's model.py")
    parser.add_argument("--data", help="a pretrain pack directory (default: synthetic tokens)")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=256, help="synthetic data only")
    parser.add_argument("--vocab-size", type=int, default=8192, help="synthetic data only")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()

    model_py = Path(args.nanogpt) / "model.py"
    if not model_py.is_file():
        sys.exit(
            f"trainer_speed: no nanoGPT model.py in {args.nanogpt}. nanoGPT is not on PyPI: save "
            "karpathy/nanoGPT's model.py in a directory outside this repository and pass it as --nanogpt DIR."
        )
    spec = importlib.util.spec_from_file_location("nanogpt_model", model_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pack = Path(args.data) if args.data else synthetic_pack(work / "pack", args.vocab_size, args.seq_len, 512)
        data = PackedDataset(str(pack))
        tokens, _, _ = data.rows(np.arange(len(data)))
        train_bin = work / "train.bin"
        tokens.astype(np.uint16).reshape(-1).tofile(train_bin)
        print(
            f"model {args.n_layer}x{args.n_embd} ({args.n_head} heads), seq_len {data.seq_len}, vocab {data.vocab_size}, "
            f"batch {args.batch_size}x{args.grad_accum}, {args.steps} steps, {args.threads} threads, "
            f"best of {args.repeats} interleaved runs"
        )
        runs = {
            "ours (document mask)": lambda: ours(pack, args, work, document_mask=True),
            "nanoGPT": lambda: nanogpt(module, train_bin, data.vocab_size, data.seq_len, args),
            "ours (plain causal)": lambda: ours(pack, args, work, document_mask=False),
        }
        results = {name: [] for name in runs}
        for repeat in range(args.repeats):
            for name, measure in runs.items():
                results[name].append(measure())
                print(f"  run {repeat + 1}: {name:22s} {results[name][-1]:10,.0f} tokens/s", flush=True)
    best = {name: max(values) for name, values in results.items()}
    for name, value in best.items():
        print(f"{name:22s} {value:12,.0f} tokens/s   ratio to nanoGPT {value / best['nanoGPT']:.3f}")


if __name__ == "__main__":
    main()
