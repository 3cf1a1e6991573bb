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

    # --- MinHash LSH: candidates from two signatures, measured on the dev crawl's gold pairs
    # (benchmarks/dedup_quality.py prints the sweep and the curve) ---
    # Signature 1: character n-grams of unspaced scripts (CJK), word n-grams of the others.
    ngram: int = Field(3, ge=1)  # tokens per shingle: characters for CJK, words otherwise
    num_perm: int = Field(128, ge=2)
    bands: int = Field(42, ge=1)
    rows: int = Field(3, ge=1)  # S-curve midpoint (1/42)^(1/3) = 0.29: near_edit pairs sit at 0.15-0.7
    seed: int = 1  # datasketch's default seed
    # Signature 2: character n-grams of every script (punctuation and spaces skipped), None: off.
    # Word 3-grams of a de/ko/ru page with 5-15% character edits keep a Jaccard of 0.15-0.25;
    # its character 3-grams keep 0.45-0.7. Measured (gold main text, 128 permutations each):
    # signature 1 alone finds R 0.92 at 1.3k candidates; with char 3-grams in 32 x 4 bands
    # R 0.98 at 3.2k; char 4-grams 0.97 at 2.5k, char 5-grams 0.97 at 2.4k.
    char_ngram: int | None = Field(3, ge=1)
    char_num_perm: int = Field(128, ge=2)
    char_bands: int = Field(32, ge=1)
    char_rows: int = Field(4, ge=1)  # midpoint (1/32)^(1/4) = 0.42
    char_seed: int = 2  # another seed: for pure CJK text both signatures hash the same shingles
    scheme: Scheme = "affine32"  # datasketch >= 2.0's default permutation scheme
    # "poly" is vectorised (measured 13-20x datasketch's sha1 update_batch, benchmarks/minhash_speed.py);
    # datasketch's MinHash equals ours with hashfunc=shingles.poly_hash32 (poly_char_hash32 for
    # signature 2). "sha1" is datasketch's default hash: its MinHash equals ours without a hashfunc.
    shingle_hash: ShingleHash = "poly"
    # A candidate pair is a duplicate when its true Jaccard over signature 1's shingles is >= threshold
    # (measured: 0.5 lets unrelated man pages sharing GNU sections through), over signature 2's
    # shingles >= char_threshold (catches reordered copies with edits, near_combo)...
    verify: bool = True
    threshold: float = Field(0.6, ge=0.0, le=1.0)
    char_threshold: float = Field(0.7, ge=0.0, le=1.0)
    # ...or its edit similarity, LCS / longer length over the key texts, is >= edit_threshold
    # (None: Jaccard only). It catches copies with scattered character edits (see similarity.py);
    # measured: 0.8 merges unrelated short man pages, 0.9 misses 15%-edited copies.
    edit_threshold: float | None = Field(0.85, ge=0.0, le=1.0)
    # Edit similarity compares the first this many key-text characters: LCS costs |a| |b| / 64
    # word operations, about 15 ms for 10k x 10k characters.
    edit_chars: int = Field(10_000, ge=1)
    # Documents in different Han scripts (one mostly Traditional-only characters, the other mostly
    # Simplified-only) are never near duplicates: a zh_TW page and its zh_CN original differ by
    # scattered character substitutions, like an edited copy (edit similarity 0.85-0.94), and are
    # both kept (normalize keeps Traditional as written). Measured: without it, such links chain
    # similar man pages of two commands into one cluster, precision 1.0 -> 0.97.
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
