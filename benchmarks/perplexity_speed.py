"""Perplexity scoring throughput per core: the `perplexity` stage's scorer vs kenlm + sentencepiece called directly.

Both sides score every page of crawl/docs.jsonl.gz (all languages) under the same model (a
`train_lm` run on reference/zh_reference.txt.gz, cached under benchmarks/_data/), in this
process, on one core, interleaved, best of `--repeat`:

- ours: `Perplexity.score(table)`: paragraphs split columnar, normalized (cc_net's rules),
  pieces, KenLM, per-document perplexity;
- direct: the loop a user writes: for each paragraph, `sp.encode(line, out_type=str)` then
  `model.score(" ".join(pieces))`, summed per document; on the paragraphs already normalized,
  so it does strictly less work than ours (normalization and splitting outside the timing).

Target: ours within 1.3x of direct (MB/s of page text per core).

    python benchmarks/perplexity_speed.py [--corpus ../shared/corpus] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from corpusforge.executors import make_executor
from corpusforge.pipeline.config import validate
from corpusforge.pipeline.runner import Runner
from stages.perplexity.stage import Perplexity, PerplexityParams

REPO = Path(__file__).resolve().parent.parent


def train(corpus: Path, out: Path) -> str:
    raw = {
        "sources": {"reference": {"paths": [str(corpus / "reference" / "zh_reference.txt.gz")]}},
        "stages": [{"id": "lm", "stage": "train_lm", "inputs": ["reference"], "params": {"vocab_size": 8000}}],
    }
    with make_executor("local", 1) as ex:
        Runner(validate(raw), ex, str(out), progress=False).run()
    return str(out / "lm")


def direct(sp, lm, docs: list[list[str]]) -> np.ndarray:
    """The plain loop over paragraphs: sentencepiece, then kenlm, per document."""
    out = np.empty(len(docs))
    for i, paragraphs in enumerate(docs):
        total, tokens = 0.0, 0
        for line in paragraphs:
            pieces = sp.encode(line, out_type=str)
            total += lm.score(" ".join(pieces))
            tokens += len(pieces) + 1
        out[i] = 10.0 ** (-total / tokens) if tokens else np.nan
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    model_dir = train(args.corpus, REPO / "benchmarks" / "_data" / "perplexity_speed")
    with gzip.open(args.corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6

    stage = Perplexity(PerplexityParams(), {"lm": model_dir})
    stage.ensure_setup()
    model = stage.model
    m = model.max_line_chars  # long paragraphs are scored in pieces of this length, as the LM was trained
    paragraphs = [
        [line[i : i + m] for line in model.normalize([x.strip() for x in t.split("\n") if x.strip()]) for i in range(0, len(line), m)]
        for t in texts
    ]

    best_ours = best_direct = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = stage.score(table)
        best_ours = min(best_ours, time.perf_counter() - start)
        start = time.perf_counter()
        theirs = direct(model.sp, model.lm, paragraphs)
        best_direct = min(best_direct, time.perf_counter() - start)
    agree = np.allclose(ours, theirs, rtol=1e-9, equal_nan=True)
    print(f"{len(texts)} pages, {megabytes:.2f} MB of text, one core, best of {args.repeat} (machine shared: noisy)")
    print(f"ours   (Perplexity.score)     {megabytes / best_ours:6.2f} MB/s  {best_ours:.2f} s")
    print(f"direct (sentencepiece+kenlm)  {megabytes / best_direct:6.2f} MB/s  {best_direct:.2f} s")
    print(f"ours / direct time: {best_ours / best_direct:.2f}x (target <= 1.3x); same perplexities: {agree}")


if __name__ == "__main__":
    main()
