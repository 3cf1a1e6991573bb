"""Dedup quality on the dev crawl: precision and recall over the gold duplicate pairs.

Prints, for the crawl text (crawl/docs.jsonl.gz, template boilerplate included) and for the gold
main text (scripts/materialize_main_text.py):
1. a sweep of ngram x (bands, rows) x verification threshold, run in memory with the stage's own
   functions, and the precision-recall curve of the chosen LSH setting;
2. the real `dedup` stage, run through the engine with its defaults (and with host_lines);
3. datatrove's MinHash dedup with its defaults (MinhashConfig(), language "en") on the same
   documents, when datatrove is importable (it is not a dependency: run this script with a
   Python that has it, e.g. a venv with --system-site-packages and `pip install datatrove spacy`).

How pairs are counted
- Gold positives: the constructed pairs of gold/dup_pairs.jsonl (relations exact_page,
  exact_text, near_edit, near_reorder, near_boiler, near_combo, doorway_variant). A pair is
  found when both documents end in the same predicted cluster (kept or dropped).
- Predicted pairs: every pair of documents inside one predicted cluster. It is a true positive
  when both are in the same gold `dup_cluster`. It is neutral (neither true nor false, counted
  separately) when the gold relates their groups (a gold cluster, or a lone document) as
  `natural` or `t2s_counterpart` in dup_pairs.jsonl, or by a shared `xscript_group` or
  `natural_dup_group` label: similar pages that nobody constructed as copies, such as a zh_TW
  man page and a copy of its zh_CN original. Every other predicted pair is a false positive.
- precision = TP / (TP + FP), recall = found gold pairs / gold pairs, F1 from both.

usage: python benchmarks/dedup_quality.py [--corpus DIR] [--text crawl|main|both]
                                         [--sweep none|quick|default|full]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pyarrow as pa

from stages.dedup.components import components
from stages.dedup.exact import text_keys
from stages.dedup.lsh import band_keys, group_pairs
from stages.dedup.minhash import Permutations, signatures
from stages.dedup.normalize import key_text, folded_text
from stages.dedup.params import DedupParams
from stages.dedup.shingles import shingle_hashes
from stages.dedup.similarity import edit_similarity, jaccard

REPO = Path(__file__).resolve().parent.parent
CONSTRUCTED = ("exact_page", "exact_text", "near_boiler", "near_reorder", "near_combo", "near_edit", "doorway_variant")
NEUTRAL = ("natural", "t2s_counterpart")


# --- data ---------------------------------------------------------------------------------


def load_docs(corpus: Path, text: str) -> list[dict]:
    if text == "main":
        script = corpus / "scripts" / "materialize_main_text.py"
        out = subprocess.run([sys.executable, str(script), str(corpus)], check=True, capture_output=True, text=True).stdout
        return [{"id": r["id"], "url": r["url"], "text": r["main_text"]} for r in map(json.loads, out.splitlines())]
    with gzip.open(corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class Gold:
    def __init__(self, corpus: Path):
        self.cluster: dict[str, str] = {}
        tags: dict[str, set[str]] = collections.defaultdict(set)
        with open(corpus / "gold" / "labels.jsonl", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                if record.get("dup_cluster"):
                    self.cluster[record["id"]] = record["dup_cluster"]
                for tag in ("xscript_group", "natural_dup_group"):
                    if record.get(tag):
                        tags[record["id"]].add(record[tag])
        self.positives: list[tuple[str, str, str]] = []
        neutral_pairs: list[tuple[str, str, str]] = []
        with open(corpus / "gold" / "dup_pairs.jsonl", encoding="utf-8") as f:
            for line in f:
                pair = json.loads(line)
                if pair["relation"] in CONSTRUCTED:
                    self.positives.append((pair["a"], pair["b"], pair["relation"]))
                elif pair["relation"] in NEUTRAL:
                    neutral_pairs.append((pair["a"], pair["b"], pair["relation"]))
        # Neutral relations hold between whole gold groups (a cluster, or a lone document): the
        # copy of a zh_CN page relates to its zh_TW version as the original does.
        self.group_tags: dict[str, set[str]] = collections.defaultdict(set)
        for doc, doc_tags in tags.items():
            self.group_tags[self.group(doc)] |= doc_tags
        self.neutral = {frozenset((self.group(a), self.group(b))): relation for a, b, relation in neutral_pairs}

    def group(self, doc: str) -> str:
        return self.cluster.get(doc, doc)

    def relation(self, x: str, y: str) -> str:
        """"dup", "natural" or "t2s_counterpart" (neutral), or "other" for a predicted pair."""
        gx, gy = self.group(x), self.group(y)
        if gx == gy:
            return "dup"
        if frozenset((gx, gy)) in self.neutral:
            return self.neutral[frozenset((gx, gy))]
        shared = self.group_tags.get(gx, set()) & self.group_tags.get(gy, set())
        if shared:
            return "natural" if any(t.startswith("nat") for t in shared) else "t2s_counterpart"
        return "other"

    def score(self, cluster_of: dict[str, str]) -> dict:
        """Pair metrics of a prediction: document id -> predicted cluster label."""
        members = collections.defaultdict(list)
        for doc, label in cluster_of.items():
            members[label].append(doc)
        tp = fp = 0
        neutral = collections.Counter()
        for group in members.values():
            for x, y in combinations(sorted(group), 2):
                relation = self.relation(x, y)
                if relation == "dup":
                    tp += 1
                elif relation == "other":
                    fp += 1
                else:
                    neutral[relation] += 1
        found = collections.Counter()
        total = collections.Counter()
        for a, b, relation in self.positives:
            total[relation] += 1
            found[relation] += cluster_of.get(a) is not None and cluster_of.get(a) == cluster_of.get(b)
        recall = sum(found.values()) / max(sum(total.values()), 1)
        precision = tp / (tp + fp) if tp + fp else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        by_relation = {r: (found[r], total[r]) for r in CONSTRUCTED}
        return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "neutral": dict(neutral), "by_relation": by_relation}


def line(name: str, m: dict) -> str:
    relations = " ".join(f"{r.split('_', 1)[-1]}={f}/{t}" for r, (f, t) in m["by_relation"].items())
    neutral = ",".join(f"{k}={v}" for k, v in sorted(m["neutral"].items())) or "-"
    return f"{name:<58} P={m['precision']:.4f} R={m['recall']:.4f} F1={m['f1']:.4f} tp={m['tp']} fp={m['fp']} neutral[{neutral}]  {relations}"


# --- in-memory sweep ----------------------------------------------------------------------


class Prepared:
    """Shingle sets, signatures and exact pairs of the documents for one n-gram size."""

    def __init__(self, docs: list[dict], ngram: int, num_perm: int, shingle_hash: str):
        self.ids = [d["id"] for d in docs]
        texts = pa.array([d["text"] for d in docs], pa.string())
        shingles = shingle_hashes(folded_text(texts), ngram, shingle_hash).distinct()
        bounds = np.searchsorted(shingles.doc, np.arange(len(docs) + 1))
        self.sets = [shingles.hash[bounds[i] : bounds[i + 1]] for i in range(len(docs))]
        self.has = np.diff(bounds) > 0
        self.signatures = signatures(shingles, len(docs), Permutations(num_perm))
        self.keys = key_text(texts).to_pylist()
        self._edit: dict[tuple[int, int], float] = {}
        hi, lo, present = text_keys(texts)
        gid = np.arange(len(docs), dtype=np.int64)
        a, b, _ = group_pairs([hi[present], lo[present]], gid[present], 2)
        self.exact = (a, b)
        self._jaccard: dict[tuple[int, int], float] = {}

    def candidates(self, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        keys = band_keys(self.signatures[self.has], bands, rows)
        owners = np.repeat(np.flatnonzero(self.has), bands)
        a, b, _ = group_pairs([np.zeros(len(owners), np.uint64), keys.reshape(-1)], owners.astype(np.int64), 10**9)
        pairs = np.unique(np.stack([a, b], axis=1), axis=0) if len(a) else np.zeros((0, 2), np.int64)
        return pairs[:, 0], pairs[:, 1]

    def jaccard(self, x: int, y: int) -> float:
        key = (x, y)
        if key not in self._jaccard:
            self._jaccard[key] = jaccard(self.sets[x], self.sets[y])
        return self._jaccard[key]

    def edit(self, x: int, y: int) -> float:
        key = (x, y)
        if key not in self._edit:
            limit = DedupParams().edit_chars
            self._edit[key] = edit_similarity(self.keys[x][:limit], self.keys[y][:limit])
        return self._edit[key]

    def clusters(self, a: np.ndarray, b: np.ndarray) -> dict[str, str]:
        a = np.concatenate((self.exact[0], a))
        b = np.concatenate((self.exact[1], b))
        nodes, labels = components(a, b)
        return {self.ids[n]: f"c{label}" for n, label in zip(nodes.tolist(), labels.tolist())}


def sweep(docs: list[dict], gold: Gold, size: str, shingle_hash: str) -> None:
    ngrams = (3, 5) if size == "quick" else (2, 3, 4, 5)
    settings = [(128, 32, 4), (128, 42, 3), (112, 14, 8)]
    if size == "full":  # low LSH thresholds: 10-100k candidate pairs on the crawl text, minutes
        settings += [(128, 64, 2), (256, 85, 3)]
    jaccards = (None, 0.4, 0.5, 0.6, 0.7, 0.8)
    edits = (None, 0.7, 0.75, 0.8, 0.85, 0.9)
    results = []
    edit_cache: dict[tuple[int, int], float] = {}
    for ngram in ngrams:
        start = time.perf_counter()
        prepared = {}
        for num_perm, bands, rows in settings:
            if num_perm not in prepared:
                prepared[num_perm] = Prepared(docs, ngram, num_perm, shingle_hash)
                prepared[num_perm]._edit = edit_cache
            prep = prepared[num_perm]
            a, b = prep.candidates(bands, rows)
            jaccard = np.array([prep.jaccard(x, y) for x, y in zip(a.tolist(), b.tolist())])
            edit = np.array([prep.edit(x, y) for x, y in zip(a.tolist(), b.tolist())])
            for tj in jaccards:
                for te in edits:
                    if tj is None and te is not None:
                        continue
                    keep = np.ones(len(a), bool) if tj is None else (jaccard >= tj) | (edit >= (te if te is not None else np.inf))
                    m = gold.score(prep.clusters(a[keep], b[keep]))
                    verify = "off" if tj is None else f"J>={tj:.1f}" + ("" if te is None else f"|E>={te:.2f}")
                    m["candidates"] = len(a)
                    results.append((m, ngram, (num_perm, bands, rows), tj, te, f"n={ngram} perm={num_perm} b={bands} r={rows} cand={len(a)} verify={verify}"))
        print(f"  n={ngram}: {time.perf_counter() - start:.1f}s, {len(edit_cache)} pairs edit-compared", flush=True)
    print("\nsweep, best 12 by F1:")
    for m, *_, name in sorted(results, key=lambda r: -r[0]["f1"])[:12]:
        print(" ", line(name, m))
    print("\nbest recall with precision >= 0.98:")
    for m, *_, name in sorted((r for r in results if r[0]["precision"] >= 0.98), key=lambda r: -r[0]["recall"])[:6]:
        print(" ", line(name, m))
    defaults = DedupParams()
    chosen = (defaults.num_perm, defaults.bands, defaults.rows)
    print(f"\nprecision-recall curve at the default LSH (n={defaults.ngram} perm={chosen[0]} b={chosen[1]} r={chosen[2]}):")
    for m, ngram, setting, tj, te, name in results:
        if ngram == defaults.ngram and setting == chosen and te in (None, defaults.edit_threshold):
            print(" ", line(name, m))


# --- the real stage, through the engine ---------------------------------------------------


def run_stage(docs: list[dict], params: dict) -> tuple[dict[str, str], float]:
    """Run `dedup` with `params` via the engine; document id -> dup_cluster, and the seconds."""
    from corpusforge.executors import make_executor
    from corpusforge.io import read_shard, url_to_fs
    from corpusforge.pipeline.config import load
    from corpusforge.pipeline.runner import Runner

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "docs.jsonl"
        source.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        config = Path(tmp) / "dedup.yaml"
        config.write_text(json.dumps({
            "output": f"{tmp}/out", "sources": {"docs": {"paths": str(source)}},
            "stages": [{"id": "dedup", "stage": "dedup", "inputs": "docs", "params": params}],
        }))
        start = time.perf_counter()
        with make_executor("local", 1) as executor:
            Runner(load(str(config)), executor, f"{tmp}/out", progress=False).run()
        seconds = time.perf_counter() - start
        fs, _ = url_to_fs(tmp)
        cluster_of = {}
        for directory in (f"{tmp}/out/dedup", f"{tmp}/out/_rejected/dedup"):
            for path in sorted(fs.glob(f"{directory}/*.arrow")):
                table = read_shard(fs, path, ["id", "dup_cluster"])
                cluster_of.update(zip(table.column("id").to_pylist(), table.column("dup_cluster").to_pylist()))
    return cluster_of, seconds


# --- datatrove ----------------------------------------------------------------------------


def run_datatrove(docs: list[dict], language: str) -> dict[str, str] | str:
    """datatrove's four MinHash steps with MinhashConfig() defaults; id -> cluster, or why not.

    datatrove 0.10 passes str to xxhash, which xxhash >= 4 rejects: its environment needs xxhash < 4.
    """
    try:
        from datatrove.data import Document
        from datatrove.pipeline.dedup.minhash import (
            MinhashConfig,
            MinhashDedupBuckets,
            MinhashDedupCluster,
            MinhashDedupFilter,
            MinhashDedupSignature,
        )
    except ImportError as e:
        return f"datatrove not importable here ({e})"
    config = MinhashConfig()
    documents = [Document(text=d["text"], id=d["id"], metadata={"url": d["url"]}) for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        MinhashDedupSignature(f"{tmp}/sigs", config=config, language=language).run(iter(documents), rank=0, world_size=1)
        for bucket in range(config.num_buckets):
            MinhashDedupBuckets(f"{tmp}/sigs", f"{tmp}/buckets", config=config).run(rank=bucket, world_size=config.num_buckets)
        MinhashDedupCluster(f"{tmp}/buckets", f"{tmp}/remove", config=config, save_cluster_id=True).run()
        # The filter tags every document it sees (kept or removed) with its cluster, -1 for none.
        for _ in MinhashDedupFilter(f"{tmp}/remove", load_cluster_ids=True).run(iter(documents), rank=0, world_size=1):
            pass
    return {d.id: f"dt{d.metadata['minhash_cluster_id']}" for d in documents if d.metadata.get("minhash_cluster_id", -1) != -1}


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--text", choices=("crawl", "main", "both"), default="both")
    parser.add_argument("--sweep", choices=("none", "quick", "default", "full"), default="default")
    args = parser.parse_args()
    gold = Gold(args.corpus)
    defaults = DedupParams()
    print(f"gold: {len(gold.positives)} constructed duplicate pairs, {len(gold.neutral)} neutral pairs")
    for text in ("crawl", "main") if args.text == "both" else (args.text,):
        docs = load_docs(args.corpus, text)
        print(f"\n=== {text} text: {len(docs)} documents, {sum(len(d['text']) for d in docs):,} characters ===")
        if args.sweep != "none":
            sweep(docs, gold, args.sweep, defaults.shingle_hash)
        print("\nthe dedup stage through the engine (local executor, 1 worker):")
        variants = (
            ("dedup defaults", {}),
            ("dedup shingle_hash=poly", {"shingle_hash": "poly"}),
            ("dedup edit_threshold=None (Jaccard only)", {"edit_threshold": None}),
            ("dedup + host_lines", {"host_lines": True}),
        )
        for name, params in variants:
            cluster_of, seconds = run_stage(docs, params)
            print(" ", line(f"{name} ({seconds:.1f}s)", gold.score(cluster_of)))
        for language in ("en", "zh"):
            result = run_datatrove(docs, language)
            name = f"datatrove MinhashConfig() language={language}"
            print(" ", f"{name}: {result}" if isinstance(result, str) else line(name, gold.score(result)))


if __name__ == "__main__":
    main()
