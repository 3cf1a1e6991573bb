"""MinHash signature throughput, one core: datasketch's MinHash.update_batch against `dedup`'s.

Both sides hash the same shingles of the same documents (crawl/docs.jsonl.gz of the dev corpus)
with 128 permutations:
- datasketch: `MinHash(num_perm).update_batch(shingles)` per document, the shingles (UTF-8
  bytes, built by `shingles.shingle_strings`) prepared beforehand and not timed;
- ours, for each shingle hash ("sha1", datasketch's own hash, and the vectorised "poly") and
  permutation scheme: from the raw text (NFKC, lowercasing, tokenising, shingling, hashing,
  permutations), and from the folded text (everything but NFKC and lowercasing, the part that
  corresponds to datasketch's work; its shingle strings are built outside the timing).
Throughput is shingles (with repeats, as datasketch receives them) per second. Before timing,
every signature is checked equal to datasketch's (with hashfunc=poly_hash32 for "poly").

usage: python benchmarks/minhash_speed.py [--corpus DIR] [--docs N] [--ngram N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasketch import LeanMinHash, MinHash

from stages.dedup.minhash import Permutations, signatures
from stages.dedup.normalize import folded_text
from stages.dedup.shingles import poly_hash32, shingle_hashes, shingle_strings

REPO = Path(__file__).resolve().parent.parent


def ours(texts: pa.Array, ngram: int, shingle_hash: str, permutations: Permutations) -> np.ndarray:
    return signatures(shingle_hashes(folded_text(texts), ngram, shingle_hash), len(texts), permutations)


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--docs", type=int, default=1114, help="documents to use (the dev crawl has 1114)")
    parser.add_argument("--ngram", type=int, default=3)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timed runs")
    args = parser.parse_args()

    with gzip.open(args.corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line, _ in zip(f, range(args.docs))]
    array = pa.array(texts, pa.string())
    folded = folded_text(array)
    shingles = [[s.encode("utf-8") for s in shingle_strings(t, args.ngram)] for t in folded.to_pylist()]
    total = sum(len(s) for s in shingles)
    print(f"{len(texts)} documents, {sum(map(len, texts)):,} characters, {total:,} {args.ngram}-gram shingles, num_perm={args.num_perm}")

    for scheme in ("affine32", "legacy"):
        permutations = Permutations(args.num_perm, 1, scheme)

        def datasketch_run(hashfunc=None):
            out = []
            for doc in shingles:
                m = MinHash(num_perm=args.num_perm, seed=1, scheme=scheme, **({"hashfunc": hashfunc} if hashfunc else {}))
                m.update_batch(doc)
                out.append(m)
            return out

        reference = datasketch_run()
        seconds = best_of(args.repeat, datasketch_run)
        print(f"\nscheme={scheme}\n  datasketch update_batch (sha1):   {total / seconds:>12,.0f} shingles/s  ({seconds:.2f}s)")
        for shingle_hash in ("sha1", "poly"):
            signature = ours(array, args.ngram, shingle_hash, permutations)
            expected = reference if shingle_hash == "sha1" else datasketch_run(poly_hash32)
            for i, m in enumerate(expected):
                assert LeanMinHash(seed=1, hashvalues=signature[i], scheme=scheme) == LeanMinHash(m), (scheme, shingle_hash, i)
            mine = best_of(args.repeat, lambda: ours(array, args.ngram, shingle_hash, permutations))
            print(f"  dedup from raw text    ({shingle_hash:>4}):   {total / mine:>12,.0f} shingles/s  ({mine:.2f}s)  {seconds / mine:5.1f}x datasketch")
            shingled = best_of(args.repeat, lambda: signatures(shingle_hashes(folded, args.ngram, shingle_hash), len(texts), permutations))
            print(f"  dedup from folded text ({shingle_hash:>4}):  {total / shingled:>12,.0f} shingles/s  ({shingled:.2f}s)  {seconds / shingled:5.1f}x datasketch")


if __name__ == "__main__":
    main()
