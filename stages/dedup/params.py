"""Parameters of the `dedup` stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from corpusforge.stage import Params
from stages.dedup.minhash import Scheme
from stages.dedup.shingles import ShingleHash, Tokens


@dataclass(frozen=True)
class SignatureSpec:
    """One MinHash signature: its shingles, permutations and LSH band layout."""

    tokens: Tokens
    ngram: int
    num_perm: int
    bands: int
    rows: int
    seed: int


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

    # --- MinHash LSH: candidates from two signatures. Measured on the dev crawl's gold pairs,
    # gold main text / extracted+cleaned text (benchmarks/dedup_quality.py prints the sweep, the
    # S-curves and the precision-recall curves): the defaults give P 1.000 / R 0.988 and
    # P 1.000 / R 0.982, at 3.3k candidate pairs for 1,114 pages ---
    # Signature 1: character n-grams of unspaced scripts (CJK), word n-grams of the others.
    # Tokens per shingle: characters for CJK, words otherwise. 2-grams: 4 false pairs (P 0.986).
    ngram: int = Field(3, ge=1)
    num_perm: int = Field(128, ge=2)
    # 42 x 3: S-curve midpoint (1/42)^(1/3) = 0.29, as near_edit copies sit at Jaccard 0.15-0.7.
    # Alone (char_ngram None) R 0.905 at 1.5k candidates; 32 x 4 R 0.851, 64 x 2 R 0.958 at 4.1k.
    bands: int = Field(42, ge=1)
    rows: int = Field(3, ge=1)
    seed: int = 1  # datasketch's default seed
    # Signature 2: character n-grams of every script (punctuation and spaces skipped), None: off.
    # Word 3-grams of a de/ko/ru page with 5-15% character edits keep a Jaccard of 0.15-0.25, its
    # character 3-grams 0.45-0.7. With signature 1 at 42 x 3: char 3-grams in 32 x 4 bands
    # (midpoint 0.42) R 0.988 at 3.3k candidates; 42 x 3 the same R at 12.9k; 25 x 5 R 0.976 at
    # 1.9k; char 4-grams in 32 x 4 R 0.964 at 2.0k, char 5-grams R 0.941 at 2.0k.
    char_ngram: int | None = Field(3, ge=1)
    char_num_perm: int = Field(128, ge=2)
    char_bands: int = Field(32, ge=1)
    char_rows: int = Field(4, ge=1)
    char_seed: int = 2  # another seed: for pure CJK text both signatures hash the same shingles
    # A document with fewer shingles (repeats counted) than this in a signature gets no band keys
    # from it: one shared shingle of a 2-shingle page is Jaccard 0.33 already, so pages this short
    # are matched by their exact key only and never chain into one cluster (gold pairs have >= 111).
    min_shingles: int = Field(5, ge=1)
    scheme: Scheme = "affine32"  # datasketch >= 2.0's default permutation scheme
    # "poly" is vectorised (benchmarks/minhash_speed.py: 12-15x datasketch's sha1 update_batch per
    # CPU second on the same shingles); datasketch's MinHash equals ours with
    # hashfunc=shingles.poly_hash32 (poly_char_hash32 for signature 2). "sha1" is datasketch's
    # default hash (its MinHash equals ours without a hashfunc), about 1.5x datasketch.
    shingle_hash: ShingleHash = "poly"
    # A candidate pair is a duplicate when its true Jaccard over signature 1's shingles is
    # >= threshold, over signature 2's >= char_threshold (reordered copies with edits, near_combo)...
    # Measured at the default LSH: 0.5 / 0.6 merge man pages sharing GNU sections (P 0.59),
    # 0.7 / 0.8 lose reordered+edited copies (R 0.946).
    verify: bool = True
    threshold: float = Field(0.6, ge=0.0, le=1.0)
    char_threshold: float = Field(0.7, ge=0.0, le=1.0)
    # ...or its edit similarity, LCS / longer length over the key texts, is >= edit_threshold
    # (None: Jaccard only, R 0.792). It catches copies with scattered character edits (see
    # similarity.py); measured: 0.8 merges unrelated short man pages (P 0.956), 0.9 misses
    # 15%-edited copies (R 0.935).
    edit_threshold: float | None = Field(0.85, ge=0.0, le=1.0)
    # Edit similarity compares the first this many key-text characters: LCS costs |a| |b| / 64
    # word operations, about 15 ms for 10k x 10k characters.
    edit_chars: int = Field(10_000, ge=1)
    # Documents in different Han scripts (one mostly Traditional-only characters, the other mostly
    # Simplified-only) are never near duplicates: a zh_TW page and its zh_CN original differ by
    # scattered character substitutions, like an edited copy (edit similarity 0.85-0.94), and are
    # both kept (normalize keeps Traditional as written). Measured: without it, such links chain
    # similar man pages of two commands into one cluster, precision 1.000 -> 0.928.
    same_script: bool = True

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

    def signature_specs(self) -> list[SignatureSpec]:
        """The signatures whose LSH bands give candidates: the mixed one, then the character one."""
        specs = [SignatureSpec("mixed", self.ngram, self.num_perm, self.bands, self.rows, self.seed)]
        if self.char_ngram is not None:
            specs.append(SignatureSpec("chars", self.char_ngram, self.char_num_perm, self.char_bands, self.char_rows, self.char_seed))
        return specs

    @model_validator(mode="after")
    def _consistent(self) -> DedupParams:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.char_ngram is not None and self.char_bands * self.char_rows > self.char_num_perm:
            raise ValueError(f"char_bands * char_rows = {self.char_bands * self.char_rows} exceeds char_num_perm = {self.char_num_perm}")
        if self.keep == "score" and not self.score_column:
            raise ValueError("keep: score needs score_column")
        if not (self.exact or self.near or self.url):
            raise ValueError("nothing to do: exact, near and url are all off")
        return self
