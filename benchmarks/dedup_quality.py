"""Dedup quality on the dev crawl: precision and recall over the gold duplicate pairs, by role.

Three texts of the same 1,114 pages:
- main: the gold main text (scripts/materialize_main_text.py);
- pipeline: what zh_web feeds dedup, the WARC run through configs/zh_web.yaml's ingest,
  normalize and clean stages (no langid/quality filter, so every gold pair can be scored);
- crawl: crawl/docs.jsonl.gz, the page text with its site template.

For each text this prints
1. the S-curve (candidate probability against Jaccard) of the default band layouts;
2. a sweep of signature 1 (ngram x bands x rows) x signature 2 (char n-grams, off or n x layout),
   run in memory with the stage's own functions and the default verification: candidates,
   precision, recall by role; the best settings, and the precision-recall curve along the LSH
   threshold at the default n-grams (`--sweep none|quick|full`);
3. the precision-recall curve of the verification thresholds at the default LSH;
4. the real `dedup` stage through the engine, with its defaults and with single changes;
5. datatrove's MinHash dedup with its defaults (MinhashConfig(), language "eng") and with a
   Chinese word tokenizer (language "cmn_Hani", jieba), on the same documents. datatrove runs in
   its own virtualenv (`--datatrove-python`, default /work/venvs/datatrove/bin/python: datatrove
   0.10.1 needs xxhash < 4), fed the documents as JSONL.

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

usage: python benchmarks/dedup_quality.py [--corpus DIR] [--text main,pipeline,crawl]
                                         [--sweep none|quick|full] [--datatrove-python PATH]
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
import pyarrow.compute as pc
import yaml

from stages.dedup.components import components
from stages.dedup.exact import text_keys
from stages.dedup.lsh import band_keys, group_pairs
from stages.dedup.minhash import Permutations, signatures
from stages.dedup.normalize import folded_text, key_text
from stages.dedup.params import DedupParams, SignatureSpec
from stages.dedup.shingles import ShingleText
from stages.dedup.similarity import edit_similarity, han_scripts, jaccard, other_scripts

REPO = Path(__file__).resolve().parent.parent
CONSTRUCTED = ("exact_page", "exact_text", "near_boiler", "near_reorder", "near_combo", "near_edit", "doorway_variant")
NEUTRAL = ("natural", "t2s_counterpart")
DATATROVE_PYTHON = "/work/venvs/datatrove/bin/python"


# --- data ---------------------------------------------------------------------------------


def load_docs(corpus: Path, text: str) -> list[dict]:
    if text == "main":
        script = corpus / "scripts" / "materialize_main_text.py"
        out = subprocess.run([sys.executable, str(script), str(corpus)], check=True, capture_output=True, text=True).stdout
        return [{"id": r["id"], "url": r["url"], "text": r["main_text"]} for r in map(json.loads, out.splitlines())]
    if text == "pipeline":
        return pipeline_docs(corpus)
    with gzip.open(corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def pipeline_docs(corpus: Path) -> list[dict]:
    """The WARC through zh_web's ingest -> normalize -> clean, named by gold id (via WARC-Record-ID)."""
    from corpusforge.executors import make_executor
    from corpusforge.io import read_shard, url_to_fs
    from corpusforge.pipeline.config import load
    from corpusforge.pipeline.runner import Runner

    zh_web = yaml.safe_load((REPO / "configs" / "zh_web.yaml").read_text(encoding="utf-8"))
    chain = {s["id"]: s for s in zh_web["stages"] if s["id"] in ("ingest", "normalize", "clean")}
    chain["normalize"]["inputs"], chain["clean"]["inputs"] = ["ingest"], ["normalize"]
    source = dict(zh_web["sources"]["crawl"], paths=str(corpus / "crawl" / "warc" / "*.warc.gz"))
    with open(corpus / "gold" / "labels.jsonl", encoding="utf-8") as f:
        gold_id = {r["warc_record_id"]: r["id"] for r in map(json.loads, f)}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "pipeline.json"
        config.write_text(json.dumps({"output": f"{tmp}/out", "sources": {"crawl": source}, "stages": list(chain.values())}))
        with make_executor("local", 1) as executor:
            Runner(load(str(config)), executor, f"{tmp}/out", progress=False).run()
        fs, _ = url_to_fs(tmp)
        docs = []
        for path in sorted(fs.glob(f"{tmp}/out/clean/*.arrow")):
            table = read_shard(fs, path, ["warc_record_id", "url", "text"])
            docs += [{"id": gold_id[r["warc_record_id"]], "url": r["url"], "text": r["text"]} for r in table.to_pylist()]
    return docs


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


def line(name: str, m: dict, width: int = 60) -> str:
    relations = " ".join(f"{r.split('_', 1)[-1]}={f}/{t}" for r, (f, t) in m["by_relation"].items())
    neutral = ",".join(f"{k}={v}" for k, v in sorted(m["neutral"].items())) or "-"
    return f"{name:<{width}} P={m['precision']:.4f} R={m['recall']:.4f} F1={m['f1']:.4f} tp={m['tp']} fp={m['fp']} neutral[{neutral}]  {relations}"


# --- in memory, with the stage's functions ------------------------------------------------


class Prepared:
    """Signatures, shingle sets, key texts, Han scripts and exact pairs of one text of the crawl."""

    def __init__(self, docs: list[dict], defaults: DedupParams):
        self.ids = [d["id"] for d in docs]
        self.defaults = defaults
        texts = pa.array([d["text"] for d in docs], pa.string())
        self.text = ShingleText(folded_text(texts))
        keys = key_text(texts)
        self.keys = pc.utf8_slice_codeunits(keys, 0, defaults.edit_chars).to_pylist()
        self.scripts = han_scripts(pa.array(self.keys, pa.string())).tolist()
        hi, lo, present = text_keys(texts)
        gid = np.arange(len(docs), dtype=np.int64)
        a, b, _ = group_pairs([hi[present], lo[present]], gid[present], 2)
        self.exact = (a, b)
        self._signatures: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._sets: dict[tuple, list[np.ndarray]] = {}
        self._jaccard: dict[tuple, float] = {}
        self._edit: dict[tuple[int, int], float] = {}

    def _shingle(self, tokens: str, ngram: int) -> None:
        shingles = self.text.shingles(ngram, self.defaults.shingle_hash, tokens)
        distinct = shingles.distinct()
        bounds = np.searchsorted(distinct.doc, np.arange(len(self.ids) + 1))
        self._sets[(tokens, ngram)] = [distinct.hash[bounds[i] : bounds[i + 1]] for i in range(len(self.ids))]
        return shingles

    def signature(self, spec: SignatureSpec) -> tuple[np.ndarray, np.ndarray]:
        key = (spec.tokens, spec.ngram, spec.num_perm, spec.seed)
        if key not in self._signatures:
            shingles = self._shingle(spec.tokens, spec.ngram)
            has = np.bincount(shingles.doc, minlength=len(self.ids)) >= self.defaults.min_shingles
            perms = Permutations(spec.num_perm, spec.seed, self.defaults.scheme)
            self._signatures[key] = (signatures(shingles, len(self.ids), perms), has)
        return self._signatures[key]

    def candidates(self, specs: list[SignatureSpec]) -> set[tuple[int, int]]:
        pairs: set[tuple[int, int]] = set()
        for salt, spec in enumerate(specs):
            sigs, has = self.signature(spec)
            keys = band_keys(sigs[has], spec.bands, spec.rows, salt)
            owners = np.repeat(np.flatnonzero(has), spec.bands).astype(np.int64)
            a, b, _ = group_pairs([keys.reshape(-1)], owners, 10**9)
            pairs |= set(zip(a.tolist(), b.tolist()))
        return pairs

    def jaccard(self, tokens: str, ngram: int, x: int, y: int) -> float:
        key = (tokens, ngram, x, y)
        if key not in self._jaccard:
            if (tokens, ngram) not in self._sets:
                self._shingle(tokens, ngram)
            sets = self._sets[(tokens, ngram)]
            self._jaccard[key] = jaccard(sets[x], sets[y])
        return self._jaccard[key]

    def edit(self, x: int, y: int) -> float:
        if (x, y) not in self._edit:
            self._edit[(x, y)] = edit_similarity(self.keys[x], self.keys[y])
        return self._edit[(x, y)]

    def verified(self, pairs, specs: list[SignatureSpec], thresholds: tuple, edit_threshold: float | None, same_script: bool) -> list[tuple[int, int]]:
        """The pairs the stage's Verify phase accepts, with these settings."""
        kept = []
        for x, y in pairs:
            if same_script and other_scripts(self.scripts[x], self.scripts[y]):
                continue
            if any(self.jaccard(s.tokens, s.ngram, x, y) >= t for s, t in zip(specs, thresholds)):
                kept.append((x, y))
            elif edit_threshold is not None:
                shorter, longer = sorted((len(self.keys[x]), len(self.keys[y])))
                if shorter >= edit_threshold * longer and self.edit(x, y) >= edit_threshold:
                    kept.append((x, y))
        return kept

    def clusters(self, pairs: list[tuple[int, int]]) -> dict[str, str]:
        a = np.concatenate((self.exact[0], np.array([p[0] for p in pairs], np.int64)))
        b = np.concatenate((self.exact[1], np.array([p[1] for p in pairs], np.int64)))
        nodes, labels = components(a, b)
        return {self.ids[n]: f"c{label}" for n, label in zip(nodes.tolist(), labels.tolist())}


def s_curve(defaults: DedupParams) -> None:
    print("S-curve: probability that a pair of Jaccard J is a candidate, 1 - (1 - J^r)^b")
    specs = defaults.signature_specs()
    grid = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    print("  " + " " * 30 + " ".join(f"J={j:<4}" for j in grid))
    for spec in specs:
        probs = [1 - (1 - j**spec.rows) ** spec.bands for j in grid]
        print(f"  {spec.tokens:>5} n={spec.ngram} b={spec.bands:>2} r={spec.rows:<11}" + " ".join(f"{p:6.3f}" for p in probs))


def sweep(prep: Prepared, gold: Gold, size: str) -> None:
    d = prep.defaults
    layouts = [(64, 2), (42, 3), (32, 4), (25, 5), (16, 8)]
    first_ngrams = (3,) if size == "quick" else (2, 3, 5)
    second = [None] + [(n, layout) for n in ((3,) if size == "quick" else (3, 4, 5)) for layout in ((42, 3), (32, 4), (25, 5))]
    thresholds = (d.threshold, d.char_threshold)
    results = []
    start = time.perf_counter()
    for ngram in first_ngrams:
        for bands, rows in layouts:
            first = SignatureSpec("mixed", ngram, d.num_perm, bands, rows, d.seed)
            for option in second:
                specs = [first]
                if option is not None:
                    n, (b2, r2) = option
                    specs.append(SignatureSpec("chars", n, d.char_num_perm, b2, r2, d.char_seed))
                pairs = sorted(prep.candidates(specs))
                m = gold.score(prep.clusters(prep.verified(pairs, specs, thresholds, d.edit_threshold, d.same_script)))
                m["candidates"] = len(pairs)
                name = f"1: n={ngram} {bands}x{rows}  2: " + ("off" if option is None else f"n={option[0]} {option[1][0]}x{option[1][1]}")
                results.append((m, specs, name))
    print(f"\nsweep: {len(results)} settings, default verification ({time.perf_counter() - start:.0f}s)")

    def show(rows):
        for m, _, name in rows:
            print(" ", line(f"{name} cand={m['candidates']}", m, 44))

    print("best 10 by F1 (ties: fewest candidates):")
    show(sorted(results, key=lambda r: (-r[0]["f1"], r[0]["candidates"]))[:10])
    print("fewest candidates with precision >= 0.98 and recall >= 0.95:")
    show(sorted((r for r in results if r[0]["precision"] >= 0.98 and r[0]["recall"] >= 0.95), key=lambda r: r[0]["candidates"])[:6])
    print(f"precision-recall along the LSH threshold, signature 1 n={d.ngram}:")
    for m, specs, name in results:
        second_default = len(specs) == 1 or (specs[1].ngram == d.char_ngram and (specs[1].bands, specs[1].rows) == (d.char_bands, d.char_rows))
        if specs[0].ngram == d.ngram and second_default:
            show([(m, specs, name)])
    print(f"precision-recall along signature 2's LSH threshold, signature 1 at the default {d.bands}x{d.rows}:")
    for m, specs, name in results:
        if (specs[0].ngram, specs[0].bands, specs[0].rows) == (d.ngram, d.bands, d.rows):
            show([(m, specs, name)])


def verification_curve(prep: Prepared, gold: Gold) -> None:
    d = prep.defaults
    specs = d.signature_specs()
    pairs = sorted(prep.candidates(specs))
    print(f"\nprecision-recall of the verification at the default LSH ({len(pairs)} candidate pairs):")
    settings = [("no verification", None, None, None, False)]
    settings += [(f"J1>={t} J2>={c} edit>={e} same_script={s}", t, c, e, s)
                 for s in (False, True) for e in (None, 0.8, 0.85, 0.9) for t, c in ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8))]
    for name, t, c, e, s in settings:
        kept = pairs if t is None else prep.verified(pairs, specs, (t, c), e, s)
        print(" ", line(name, gold.score(prep.clusters(kept)), 44))


# --- the real stage, through the engine ---------------------------------------------------


def run_stage(docs: list[dict], params: dict) -> tuple[dict[str, str], float, dict]:
    """Run `dedup` with `params` via the engine; id -> dup_cluster, the seconds, the counters."""
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
            result = Runner(load(str(config)), executor, f"{tmp}/out", progress=False).run()
        seconds = time.perf_counter() - start
        fs, _ = url_to_fs(tmp)
        cluster_of = {}
        for directory in (f"{tmp}/out/dedup", f"{tmp}/out/_rejected/dedup"):
            for path in sorted(fs.glob(f"{directory}/*.arrow")):
                table = read_shard(fs, path, ["id", "dup_cluster"])
                cluster_of.update(zip(table.column("id").to_pylist(), table.column("dup_cluster").to_pylist()))
    return cluster_of, seconds, result.stats["dedup"].counters


# --- datatrove, in its own virtualenv -----------------------------------------------------

DATATROVE = r"""
import json, sys, tempfile
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
source, language = sys.argv[1], sys.argv[2]
config = MinhashConfig()
docs = [json.loads(line) for line in open(source, encoding="utf-8")]
documents = [Document(text=d["text"], id=d["id"], metadata={"url": d["url"]}) for d in docs]
with tempfile.TemporaryDirectory() as tmp:
    MinhashDedupSignature(f"{tmp}/sigs", config=config, language=language).run(iter(documents), rank=0, world_size=1)
    for bucket in range(config.num_buckets):
        MinhashDedupBuckets(f"{tmp}/sigs", f"{tmp}/buckets", config=config).run(rank=bucket, world_size=config.num_buckets)
    MinhashDedupCluster(f"{tmp}/buckets", f"{tmp}/remove", config=config, save_cluster_id=True).run()
    # The filter tags every document it sees (kept or removed) with its cluster, -1 for none.
    for _ in MinhashDedupFilter(f"{tmp}/remove", load_cluster_ids=True).run(iter(documents), rank=0, world_size=1):
        pass
print(json.dumps({"config": str(config), "clusters": {d.id: d.metadata.get("minhash_cluster_id", -1) for d in documents}}))
"""


def run_datatrove(python: str, docs: list[dict], language: str) -> tuple[dict[str, str], str] | str:
    """datatrove's four MinHash steps with MinhashConfig() defaults: (id -> cluster, config), or why not."""
    if not Path(python).exists():
        return f"no datatrove virtualenv at {python} (python -m venv DIR && DIR/bin/pip install datatrove 'xxhash<4' spacy jieba)"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "docs.jsonl"
        source.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        done = subprocess.run([python, "-c", DATATROVE, str(source), language], capture_output=True, text=True, cwd=tmp)
    if done.returncode:
        return f"datatrove failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {doc: f"dt{c}" for doc, c in out["clusters"].items() if c != -1}, out["config"]


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--text", default="main,pipeline,crawl", help="comma-separated: main, pipeline, crawl")
    parser.add_argument("--sweep", choices=("none", "quick", "full"), default="quick")
    parser.add_argument("--datatrove-python", default=DATATROVE_PYTHON)
    args = parser.parse_args()
    gold = Gold(args.corpus)
    defaults = DedupParams()
    print(f"gold: {len(gold.positives)} constructed duplicate pairs, {len(gold.neutral)} neutral pairs")
    s_curve(defaults)
    for text in args.text.split(","):
        docs = load_docs(args.corpus, text)
        print(f"\n=== {text} text: {len(docs)} documents, {sum(len(d['text']) for d in docs):,} characters ===")
        if args.sweep != "none":
            prep = Prepared(docs, defaults)
            sweep(prep, gold, args.sweep)
            verification_curve(prep, gold)
        print("\nthe dedup stage through the engine (local executor, 1 worker):")
        variants = (
            ("dedup defaults", {}),
            ("dedup char_ngram=None (signature 1 only)", {"char_ngram": None}),
            ("dedup same_script=false", {"same_script": False}),
            ("dedup edit_threshold=None (Jaccard only)", {"edit_threshold": None}),
            ("dedup shingle_hash=sha1", {"shingle_hash": "sha1"}),
            ("dedup + host_lines", {"host_lines": True}),
        )
        for name, params in variants:
            cluster_of, seconds, counters = run_stage(docs, params)
            near = counters.get("near_candidate_pairs", 0)
            print(" ", line(f"{name} ({seconds:.1f}s, {near} cand)", gold.score(cluster_of)))
        for language in ("eng", "cmn_Hani"):
            result = run_datatrove(args.datatrove_python, docs, language)
            if isinstance(result, str):
                print(f"  datatrove language={language}: {result}")
            else:
                cluster_of, config = result
                print(" ", line(f"datatrove {config} language={language}", gold.score(cluster_of)))


if __name__ == "__main__":
    main()
