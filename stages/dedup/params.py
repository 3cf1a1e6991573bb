"""Parameters of the `dedup` stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from corpusforge.stage import Params
from stages.dedup.minhash import Scheme
from stages.dedup.shingles import ShingleHash


class DedupParams(Params):
    # --- what counts as a duplicate ---
    exact: bool = True  # same normalised text (NFKC, lowercase, punctuation/whitespace stripped)
    near: bool = True  # MinHash LSH near-duplicates
    url: bool = False  # same normalised URL (scheme/host case, default port, fragment, tracking params)

    # --- host boilerplate lines (cc_net-style), removed before the duplicate keys are computed ---
    host_lines: bool = False
    # A line in this many distinct documents of one host is template boilerplate. Measured on the
    # dev crawl: 3-5 also erase the lines shared by a cluster of near-duplicates living on one
    # host (all 7 doorway variants lost), 10 keeps them. The removal costs near-dup recall there
    # (gold main text: 0.923 -> 0.845; crawl text: 0.589 -> 0.506), so it is off by default.
    host_line_min_docs: int = Field(10, ge=2)

    # --- MinHash LSH (defaults measured on the dev crawl's gold main text, see
    # benchmarks/dedup_quality.py: n=3, 42 bands x 3 rows, verified by Jaccard >= 0.6 or edit
    # similarity >= 0.85 gave precision 0.988 / recall 0.923 over the gold pairs, with 1.3k
    # candidate pairs; 5-grams or 8-row bands lose the near_edit copies, 2-grams cost 3-12x the
    # candidates for the same F1) ---
    ngram: int = Field(3, ge=1)  # tokens per shingle: characters for CJK, words otherwise
    num_perm: int = Field(128, ge=2)
    bands: int = Field(42, ge=1)
    rows: int = Field(3, ge=1)  # S-curve midpoint (1/42)^(1/3) = 0.29
    seed: int = 1  # datasketch's default seed, so its MinHash of the same shingles is equal
    scheme: Scheme = "affine32"  # datasketch >= 2.0's default permutation scheme
    # "sha1" is datasketch's default shingle hash; "poly" is vectorised (about 10x faster) and
    # equals datasketch's MinHash built with hashfunc=shingles.poly_hash32.
    shingle_hash: ShingleHash = "sha1"
    # Keep only candidate pairs whose true Jaccard (over the 32-bit shingle hashes) is >= threshold
    # (measured: 0.5 lets unrelated man pages sharing GNU sections through, 0.7 drops reorders)...
    verify: bool = True
    threshold: float = Field(0.6, ge=0.0, le=1.0)
    # ...or whose edit similarity, LCS / longer length over the key texts, is >= edit_threshold
    # (None: Jaccard only). It catches copies with scattered character edits (see similarity.py);
    # measured: 0.8 merges unrelated short man pages, 0.9 misses 15%-edited copies.
    edit_threshold: float | None = Field(0.85, ge=0.0, le=1.0)
    # Edit similarity compares the first this many key-text characters: LCS costs |a| |b| / 64
    # word operations, about 15 ms for 10k x 10k characters.
    edit_chars: int = Field(10_000, ge=1)

    # --- which document of a cluster is kept ---
    keep: Literal["first", "longest", "score"] = "first"
    score_column: str | None = None  # for keep=score: the highest value is kept

    # --- scale ---
    # Band buckets are hash-partitioned into this many files; one task finds the pairs of one
    # partition, so its memory is about (documents x bands x 25 bytes) / partitions.
    partitions: int = Field(16, ge=1)
    # A bucket of at most this many documents yields all its pairs for verification (as
    # MinHashLSH would); a larger one yields a chain of consecutive members, so a template shared
    # by thousands of pages costs thousands of pairs, not millions.
    max_bucket_pairs: int = Field(64, ge=2)
    # Only the first this many characters of a document are shingled: a 1M-character cap bounds
    # a worker's shingling memory (~60 bytes per character) at ~60 MB for any input.
    max_doc_chars: int = Field(1_000_000, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> DedupParams:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.keep == "score" and not self.score_column:
            raise ValueError("keep: score needs score_column")
        if not (self.exact or self.near or self.url):
            raise ValueError("nothing to do: exact, near and url are all off")
        return self
