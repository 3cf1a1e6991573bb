"""MinHash signatures, computed with the permutations of datasketch so the two agree exactly.

datasketch (>= 2.0) draws its permutations from `np.random.RandomState(seed)`:
- "affine32" (its default): h -> a * fmix32(h) + b mod 2^32, `a` odd;
- "legacy" (before 2.0): h -> ((a * h + b) mod 2^64 mod (2^61 - 1)) & 0xffffffff.
A signature is the per-permutation minimum over a document's shingle hashes, so
`LeanMinHash(seed=seed, hashvalues=signature, scheme=scheme)` equals datasketch's MinHash of the
same shingles. Here the permutations run over all shingles of a batch at once, as a
(num_perm x chunk) block whose per-document minima come from one `minimum.reduceat`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from stages.dedup.shingles import Shingles

Scheme = Literal["affine32", "legacy"]

# A document without shingles keeps this value in every slot (datasketch's initial value).
EMPTY = np.uint32(0xFFFFFFFF)
_MERSENNE = np.uint64((1 << 61) - 1)
# Shingles per block: a 128 x 8192 uint32 block (4 MiB) stays in cache; measured fastest of
# 1k-16k on the dev machine (benchmarks/minhash_speed.py).
_CHUNK = 8192


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (datasketch's pre-mix for the affine schemes)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _mod_mersenne(x: np.ndarray) -> np.ndarray:
    """x mod (2^61 - 1) for uint64 x, in place: 2^61 = 1 (mod p), so fold the top 3 bits."""
    high = x >> np.uint64(61)
    x &= _MERSENNE
    x += high
    x -= np.where(x >= _MERSENNE, _MERSENNE, np.uint64(0))
    return x


@dataclass(frozen=True)
class Permutations:
    num_perm: int = 128
    seed: int = 1
    scheme: Scheme = "affine32"
    a: np.ndarray = field(init=False, repr=False, compare=False)
    b: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The same draws, in the same order, as datasketch's MinHash._init_permutations.
        gen = np.random.RandomState(self.seed)
        if self.scheme == "legacy":
            ab = np.array(
                [(gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64)) for _ in range(self.num_perm)],
                dtype=np.uint64,
            ).T
            a, b = ab[0], ab[1]
        else:
            a = gen.randint(0, 1 << 31, self.num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
            b = gen.randint(0, 1 << 32, self.num_perm, dtype=np.uint32)
        object.__setattr__(self, "a", a[:, None])
        object.__setattr__(self, "b", b[:, None])

    def apply(self, hashes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The permuted values of `hashes` (uint32), as a (num_perm, len(hashes)) uint32 block.

        `out`, a (num_perm, >= len(hashes)) uint32 buffer, receives the affine schemes' block: one
        buffer reused for every chunk saves mapping fresh pages for each (measured: 23% faster).
        """
        with np.errstate(over="ignore"):
            if self.scheme == "legacy":
                block = self.a * hashes.astype(np.uint64)[None, :]
                block += self.b
                return (_mod_mersenne(block) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            block = np.multiply(self.a, fmix32(hashes)[None, :], out=None if out is None else out[:, : len(hashes)])
            block += self.b
            return block


def signatures(shingles: Shingles, num_docs: int, permutations: Permutations) -> np.ndarray:
    """(num_docs, num_perm) uint32 signatures; documents without shingles get all EMPTY."""
    out = np.full((num_docs, permutations.num_perm), EMPTY, dtype=np.uint32)
    buffer = np.empty((permutations.num_perm, min(_CHUNK, len(shingles))), dtype=np.uint32)
    for start in range(0, len(shingles), _CHUNK):
        docs = shingles.doc[start : start + _CHUNK]
        block = permutations.apply(shingles.hash[start : start + _CHUNK], buffer)
        segments = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
        minima = np.minimum.reduceat(block, segments, axis=1).T
        # A document cut by the chunk edge gets its minimum from both blocks.
        rows = docs[segments]
        out[rows] = np.minimum(out[rows], minima)
    return out
