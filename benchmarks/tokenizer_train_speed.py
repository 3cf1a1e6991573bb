"""Tokenizer training speed: the `tokenizer` stage against calling the library directly.

On the development crawl's text (../shared/corpus/crawl/docs.jsonl.gz, repeated `--copies`
times, in benchmarks/_data/tokenizer/; never copied into the repo), times two fresh processes:

  bare:  `python -c`: pyarrow.json reads the files, then HF tokenizers' `train_from_iterator`
         (byte-level BPE, digits split, the same special tokens), or sentencepiece's trainer
         with the same options (`--backend sentencepiece`), and saves the result;
  ours:  `corpusforge run` of a one-stage `tokenizer` config: the JSONL reader, the
         deterministic sample (here all of the input), training, tokenizer.json (and .model),
         tokenizer_config.json, fertility and compression on a held-out slice, manifest, report.

Both pinned to the same cores, input in the page cache, runs alternating, best of `--repeats`.
Checks that both learned the same vocabulary, then prints both wall times (and CPU seconds,
workers included, where a cgroup can count them) and the ratios (target: ours / bare <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pack_speed import DEV_DOCS, generate, ratios, summary, timed  # noqa: E402

HERE = Path(__file__).resolve().parent

BARE_HF = """
import sys
import pyarrow.json as pj
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
vocab, out, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
texts = [t for p in paths for t in pj.read_json(p).column("text").to_pylist()]
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
tokenizer.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                              special_tokens=["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"])
tokenizer.train_from_iterator((texts[i:i + 1024] for i in range(0, len(texts), 1024)), trainer)
tokenizer.save(out)
"""

BARE_SP = """
import sys
import pyarrow.json as pj
import sentencepiece as spm
vocab, out, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
lines = [l for p in paths for t in pj.read_json(p).column("text").to_pylist() for l in t.split("\\n") if l]
specials = ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=out, model_type="unigram", vocab_size=vocab,
    character_coverage=0.9995, byte_fallback=True, split_digits=True, normalization_rule_name="identity",
    remove_extra_whitespaces=False, add_dummy_prefix=False, allow_whitespace_only_pieces=True,
    user_defined_symbols=specials + ["\\n"], unk_id=len(specials), bos_id=-1, eos_id=-1, pad_id=-1,
    hard_vocab_limit=False, max_sentence_length=1 << 16, input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2)
"""

CONFIG = """
output: {out}
sources:
  docs: {{paths: ["{data}/*.jsonl"], format: jsonl}}
stages:
  - {{id: tokenizer, stage: tokenizer, inputs: [docs], params: {{backend: {backend}, model: {model}, vocab_size: {vocab}}}}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of the dev crawl text (~8.6 MB each)")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=16000)
    parser.add_argument("--backend", choices=["hf", "sentencepiece"], default="hf")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not DEV_DOCS.exists():
        sys.exit(f"needs the development crawl at {DEV_DOCS}")
    work = HERE / "_data" / "tokenizer"
    paths = generate(work / "docs", args.copies, args.files)
    cores = sorted(os.sched_getaffinity(0))
    env = dict(os.environ)
    config = work / "tokenizer.yaml"
    out = work / "out"
    model = "unigram" if args.backend == "sentencepiece" else "bpe"
    config.write_text(CONFIG.format(out=out, data=work / "docs", backend=args.backend, model=model, vocab=args.vocab))
    bare_out = work / ("bare" if args.backend == "sentencepiece" else "bare.json")
    bare_cmd = [sys.executable, "-c", BARE_SP if args.backend == "sentencepiece" else BARE_HF, str(args.vocab), str(bare_out), *map(str, paths)]
    ours_cmd = [sys.executable, "-m", "corpusforge", "run", str(config), "--no-progress", "--workers", str(len(cores))]
    for path in paths:
        path.read_bytes()
    bare_runs, ours_runs = [], []
    for _ in range(args.repeats):
        bare_runs.append(timed(bare_cmd, cores, env)[:2])
        shutil.rmtree(out, ignore_errors=True)
        ours_runs.append(timed(ours_cmd, cores, env)[:2])
    if args.backend == "hf":
        same = json.loads(bare_out.read_text())["model"]["vocab"] == json.loads((out / "tokenizer" / "tokenizer.json").read_text())["model"]["vocab"]
    else:
        import sentencepiece as spm

        def pieces(path: Path) -> list[tuple[str, float]]:
            processor = spm.SentencePieceProcessor(model_file=str(path))
            return [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]

        same = pieces(work / "bare.model") == pieces(out / "tokenizer" / "tokenizer.model")
    metrics = json.loads((out / "tokenizer" / "metrics.json").read_text())
    mb = sum(p.stat().st_size for p in paths) / 2**20
    print(f"corpus: {mb:.0f} MB JSONL, backend {args.backend} ({model}), vocab {args.vocab}, {len(cores)} cores; same vocabulary learned: {same}")
    print(f"ours: fertility {metrics['fertility']} tokens per Han character, {metrics['bytes_per_token']} bytes per token")
    ratios(summary("bare library", bare_runs, None, len(cores)), summary("corpusforge stage", ours_runs, None, len(cores)))


if __name__ == "__main__":
    main()
