"""Perplexity buckets on the labelled dev crawl: does the reference LM put spam and boilerplate in the tail?

Trains `train_lm` on reference/zh_reference.txt.gz (the role Wikipedia plays in cc_net) with
every 10th paragraph (by hash) held back, then runs `perplexity` (cc_net's 30/60 percentile
cutoffs, computed on the crawl itself) on the Chinese pages of crawl/docs.jsonl.gz (visible
page text, template boilerplate included; Chinese = gold lang zh-Hans/zh-Hant), through the
engine. Printed against gold/labels.jsonl:

- per bucket: pages, spam rate, boilerplate-heavy rate;
- the share of spam, boilerplate-heavy and clean (neither) pages that land in the tail;
- the held-back reference paragraphs' perplexity against the crawl's median.

With `--bootstrap` the LM trains instead on the crawl itself, as configs/zh_web.yaml would
without a reference corpus: the pages that pass its `clean` and `quality` stages, then
`reference: bootstrap`'s strict prose filters; scoring is the same.

    python benchmarks/perplexity_quality.py [--corpus ../shared/corpus] [--bootstrap] [--vocab-size N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import xxhash
import yaml

from corpusforge.executors import make_executor
from corpusforge.io import read_shard, url_to_fs
from corpusforge.pipeline.config import validate
from corpusforge.pipeline.runner import Runner
from stages.perplexity.model import LanguageModel

REPO = Path(__file__).resolve().parent.parent
CHINESE = ("zh-Hans", "zh-Hant")


def split_reference(path: Path, out: Path) -> list[str]:
    """Write 9 of every 10 paragraphs (by hash) to `out`; return the held-back tenth."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    held = [line for line in lines if xxhash.xxh3_64_intdigest(line.encode()) % 10 == 0]
    with gzip.open(out, "wt", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines if xxhash.xxh3_64_intdigest(line.encode()) % 10 != 0)
    return held


def chinese_pages(corpus: Path, out: Path, labels: dict[str, dict]) -> int:
    rows = []
    with gzip.open(corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if labels[doc["id"]]["lang"] in CHINESE:
                rows.append(json.dumps({"id": doc["id"], "url": doc["url"], "text": doc["text"], "lang": "zh", "lang_score": 1.0}, ensure_ascii=False))
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


def read_stage(output: Path, stage: str) -> pa.Table:
    fs, _ = url_to_fs(str(output))
    return pa.concat_tables(read_shard(fs, str(p)) for p in sorted((output / stage).glob("*.arrow")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--bootstrap", action="store_true", help="train on strictly filtered crawl pages, not the reference corpus")
    parser.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece pieces (the reference corpus is 207k characters)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with open(args.corpus / "gold" / "labels.jsonl", encoding="utf-8") as f:
        labels = {r["id"]: r for r in map(json.loads, f)}

    with tempfile.TemporaryDirectory(prefix="ppl-bench-") as tmp:
        tmp = Path(tmp)
        held = split_reference(args.corpus / "reference" / "zh_reference.txt.gz", tmp / "reference.txt.gz")
        n_pages = chinese_pages(args.corpus, tmp / "crawl.jsonl", labels)
        stages = [
            {"id": "lm", "stage": "train_lm", "inputs": ["quality" if args.bootstrap else "reference"],
             "params": {"vocab_size": args.vocab_size, "reference": "bootstrap" if args.bootstrap else "corpus"}},
            {"id": "perplexity", "stage": "perplexity", "inputs": ["crawl"], "uses": {"lm": "lm"}},
        ]
        if args.bootstrap:
            zh_web = {s["id"]: s for s in yaml.safe_load((REPO / "configs" / "zh_web.yaml").read_text())["stages"]}
            stages = [{**zh_web["clean"], "inputs": ["crawl"]}, {**zh_web["quality"], "inputs": ["clean"]}, *stages]
        raw = {
            "sources": {"reference": {"paths": [str(tmp / "reference.txt.gz")]}, "crawl": {"paths": [str(tmp / "crawl.jsonl")]}},
            "stages": stages,
        }
        out = tmp / "out"
        with make_executor("local", args.workers) as ex:
            result = Runner(validate(raw), ex, str(out), progress=False).run()
        table = read_stage(out, "perplexity")
        cutoffs = json.loads((out / "perplexity" / "cutoffs.json").read_text())["cutoffs"]
        trained = result.stats["lm"].counters
        model = LanguageModel(str(out / "lm"))
        held_ppl = model.score_texts(pa.array(held, pa.string())).ppl

    ids = table.column("id").to_pylist()
    ppl = np.asarray(table.column("ppl").to_numpy(zero_copy_only=False), dtype=np.float64)
    bucket = table.column("bucket").to_pylist()
    spam = np.array([labels[i]["is_spam"] for i in ids])
    heavy = np.array([bool(labels[i]["boilerplate_heavy"]) for i in ids])
    clean = ~spam & ~heavy
    source = "bootstrap (crawl pages past clean + quality, strict prose)" if args.bootstrap else "reference corpus, 90% of paragraphs"
    print(f"LM: {source}: {trained['paragraphs_trained']} paragraphs, {trained.get('docs_used', 0)} documents used")
    print(f"crawl: {n_pages} Chinese pages (gold), {int(spam.sum())} spam, {int(heavy.sum())} boilerplate-heavy, {int(clean.sum())} clean")
    print(f"cutoffs (30th/60th percentile of the crawl): head < {cutoffs[0]:.1f} <= middle < {cutoffs[1]:.1f} <= tail\n")
    print(f"{'bucket':8} {'pages':>6} {'spam rate':>10} {'boilerplate-heavy':>18} {'median ppl':>11}")
    for name in ("head", "middle", "tail"):
        at = np.array([b == name for b in bucket])
        print(f"{name:8} {int(at.sum()):>6} {spam[at].mean():>10.1%} {heavy[at].mean():>18.1%} {np.median(ppl[at]):>11.1f}")
    tail = np.array([b == "tail" for b in bucket])
    print()
    for label, group in (("spam", spam), ("boilerplate-heavy", heavy), ("spam or boilerplate-heavy", spam | heavy), ("clean (neither)", clean)):
        print(f"{label:27} in tail: {tail[group].mean():6.1%}  ({int(tail[group].sum())}/{int(group.sum())})")
    for kind in sorted({labels[i]["spam_type"] for i in ids if labels[i]["is_spam"]}):
        group = np.array([labels[i]["is_spam"] and labels[i]["spam_type"] == kind for i in ids])
        print(f"  spam {kind:22} in tail: {tail[group].mean():6.1%}  ({int(tail[group].sum())}/{int(group.sum())})")
    ratio = tail[spam | heavy].mean() / max(tail[clean].mean(), 1e-9)
    print(f"tail rate, spam or boilerplate-heavy vs clean: {ratio:.2f}x")
    crawl_median = float(np.nanmedian(ppl))
    held_median = float(np.nanmedian(held_ppl))
    below = float(np.mean(held_ppl < crawl_median))
    print(f"\nheld-back reference paragraphs: {len(held)}, median ppl {held_median:.1f} vs crawl median {crawl_median:.1f}"
          f" ({held_median / crawl_median:.2f}x); {below:.1%} of them below the crawl median")
    ok = held_median < crawl_median and tail[spam].mean() > tail[clean].mean()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
