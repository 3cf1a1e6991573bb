"""MinHash signature throughput, one core: datasketch's MinHash.update_batch against `dedup`'s defaults.

Both sides hash the same shingles of the same documents (crawl/docs.jsonl.gz of the dev corpus),
for each signature of the default DedupParams (signature 1: mixed tokens, signature 2: character
n-grams), with its num_perm, seed and the default permutation scheme:
- datasketch: `MinHash(num_perm, seed).update_batch(shingles)` per document with its default
  hash (sha1_hash32), the shingles (UTF-8 bytes of `shingles.shingle_strings`) prepared
  beforehand and not timed;
- ours, with the default shingle hash: from the folded text (tokenising, shingling, hashing,
  permutations: the part that corresponds to datasketch's work) and from the raw text (NFKC and
  lowercasing added, by table lookup as the stage folds). "both" computes the two default
  signatures of a batch the way the stage does, decoding the text once, against datasketch
  computing both.
Throughput is shingles (with repeats, as datasketch receives them) per CPU second of this process
(both sides are single-threaded); the two sides run interleaved, best of --repeat, so load from
other processes hits both alike. Ours runs batch by batch as the stage does (phases.BATCH_CHARS).

Before timing, every signature is checked against datasketch: LeanMinHash(seed, hashvalues=ours)
equals datasketch's MinHash of the same shingle strings built with hashfunc=poly_hash32
(poly_char_hash32 for signature 2), the compatibility contract of the default "poly" hash; with
--check-sha1, the shingle_hash="sha1" option is also checked against datasketch's default hash.

usage: python benchmarks/minhash_speed.py [--corpus DIR] [--docs N] [--repeat R] [--scheme S] [--check-sha1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketch import LeanMinHash, MinHash

from stages.dedup.minhash import Permutations, signatures
from stages.dedup.normalize import folded_text
from stages.dedup.params import DedupParams, SignatureSpec
from stages.dedup.phases import BATCH_CHARS
from stages.dedup.shingles import ShingleText, _fold_tables, batches, poly_char_hash32, poly_hash32, shingle_strings

REPO = Path(__file__).resolve().parent.parent
HASHFUNCS = {"mixed": poly_hash32, "chars": poly_char_hash32}


def ours(texts: pa.Array, specs: list[SignatureSpec], shingle_hash: str, scheme: str, fold: bool) -> list[np.ndarray]:
    """The signatures the stage's signatures phase computes: batch by batch of BATCH_CHARS characters,
    from folded text, or (fold=True) from the raw text, folded as the stage does."""
    permutations = [Permutations(s.num_perm, s.seed, scheme) for s in specs]
    out = [[] for _ in specs]
    for start, stop in batches(np.asarray(pc.utf8_length(texts), dtype=np.int64), BATCH_CHARS):
        text = ShingleText(texts.slice(start, stop - start), fold=fold)
        for k, (s, perms) in enumerate(zip(specs, permutations)):
            out[k].append(signatures(text.shingles(s.ngram, shingle_hash, s.tokens), stop - start, perms))
    return [np.concatenate(parts) for parts in out]


def datasketch(shingles: list[list[bytes]], spec: SignatureSpec, scheme: str, hashfunc=None) -> list[MinHash]:
    out = []
    for doc in shingles:
        m = MinHash(num_perm=spec.num_perm, seed=spec.seed, scheme=scheme, **({"hashfunc": hashfunc} if hashfunc else {}))
        m.update_batch(doc)
        out.append(m)
    return out


def timed(fn) -> float:
    """CPU seconds of this process: both sides are single-threaded, and other jobs on a shared
    machine then slow the measurement less than wall-clock time."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def check(signature: np.ndarray, reference: list[MinHash], spec: SignatureSpec, scheme: str) -> None:
    for i, m in enumerate(reference):
        assert LeanMinHash(seed=spec.seed, hashvalues=signature[i], scheme=scheme) == LeanMinHash(m), (spec, i)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--docs", type=int, default=1114, help="documents to use (the dev crawl has 1114)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many interleaved runs")
    parser.add_argument("--scheme", default=None, help="permutation scheme (default: DedupParams' default)")
    parser.add_argument("--check-sha1", action="store_true", help="also check the sha1 option against datasketch's default hash")
    args = parser.parse_args()

    defaults = DedupParams()
    scheme = args.scheme or defaults.scheme
    specs = defaults.signature_specs()
    with gzip.open(args.corpus / "crawl" / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line, _ in zip(f, range(args.docs))]
    raw = pa.array(texts, pa.string())
    folded = folded_text(raw)
    folded_py = folded.to_pylist()
    shingles = {s: [[x.encode("utf-8", "surrogatepass") for x in shingle_strings(t, s.ngram, s.tokens)] for t in folded_py] for s in specs}
    counts = {s: sum(len(d) for d in shingles[s]) for s in specs}
    print(f"{len(texts)} documents, {sum(map(len, texts)):,} characters, scheme={scheme}, shingle_hash={defaults.shingle_hash}; machine shared with other jobs")
    for s in specs:
        print(f"  signature {s.tokens:>5} n={s.ngram} num_perm={s.num_perm} seed={s.seed}: {counts[s]:,} shingles")

    # The compatibility contract, checked on every document before any timing.
    _fold_tables()  # built once per process, as in a worker
    mine = ours(raw, specs, defaults.shingle_hash, scheme, fold=True)
    for s, signature in zip(specs, mine):
        check(signature, datasketch(shingles[s], s, scheme, HASHFUNCS[s.tokens] if defaults.shingle_hash == "poly" else None), s, scheme)
    print("  checked: LeanMinHash(seed, hashvalues=ours) == datasketch MinHash of the same shingles, every document and signature")
    if args.check_sha1:
        for s, signature in zip(specs, ours(folded, specs, "sha1", scheme, fold=False)):
            check(signature, datasketch(shingles[s], s, scheme), s, scheme)
        print("  checked: shingle_hash=sha1 == datasketch's default sha1_hash32")

    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, np.inf), seconds)

    for _ in range(args.repeat):
        for s in specs:
            keep(f"datasketch {s.tokens}", timed(lambda: datasketch(shingles[s], s, scheme)))
            keep(f"folded {s.tokens}", timed(lambda: ours(folded, [s], defaults.shingle_hash, scheme, fold=False)))
            keep(f"raw {s.tokens}", timed(lambda: ours(raw, [s], defaults.shingle_hash, scheme, fold=True)))
        keep("folded both", timed(lambda: ours(folded, specs, defaults.shingle_hash, scheme, fold=False)))
        keep("raw both", timed(lambda: ours(raw, specs, defaults.shingle_hash, scheme, fold=True)))

    print(f"\nbest of {args.repeat}, CPU seconds of one core:")
    rows = [(s.tokens, counts[s], best[f"datasketch {s.tokens}"]) for s in specs]
    rows.append(("both", sum(counts.values()), sum(best[f"datasketch {s.tokens}"] for s in specs)))
    for name, total, theirs in rows:
        print(f"  {name:>5}  datasketch update_batch (sha1): {total / theirs:>12,.0f} shingles/s ({theirs:.2f}s)")
        for start in ("folded", "raw"):
            seconds = best[f"{start} {name}"]
            print(f"         dedup from {start:<6} text ({defaults.shingle_hash}): {total / seconds:>12,.0f} shingles/s ({seconds:.2f}s)  {theirs / seconds:5.1f}x datasketch")


if __name__ == "__main__":
    main()
