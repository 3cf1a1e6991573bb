"""Locality-sensitive hashing: band keys of signatures, and the pairs that share a key.

Band i of a signature is slots [i * rows, (i + 1) * rows), as in datasketch's MinHashLSH; two
documents are candidates when any band matches exactly. A band is reduced to one 64-bit key (a
chain of splitmix64 over the band index and its values), so buckets can be hash-partitioned and
sorted; equal keys mean equal bands except with probability 2^-64.
"""

from __future__ import annotations

import numpy as np

from stages.dedup.shingles import splitmix64


def band_keys(signatures: np.ndarray, bands: int, rows: int, salt: int = 0) -> np.ndarray:
    """(num_docs, bands) uint64 keys of the bands of `signatures`.

    `salt` separates the key spaces of several signatures: band i of signature s starts its chain
    from splitmix64(s << 32 | i), so bands of different signatures never share a bucket.
    """
    values = signatures[:, : bands * rows].reshape(len(signatures), bands, rows).astype(np.uint64)
    start = (np.uint64(salt) << np.uint64(32)) | np.arange(bands, dtype=np.uint64)
    keys = np.broadcast_to(splitmix64(start), (len(signatures), bands))
    for j in range(rows):
        keys = splitmix64(keys ^ values[:, :, j])
    return keys


def group_pairs(keys: list[np.ndarray], members: np.ndarray, all_pairs_up_to: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Pairs (a < b) of `members` (int64) whose rows agree on every array of `keys`.

    A group of at most `all_pairs_up_to` members yields all its pairs (what MinHashLSH would
    report); a larger group yields the chain of consecutive members, which still connects it
    without k^2 pairs. Returns (a, b, number of groups that were chained).
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(members) < 2:
        return empty, empty, 0
    order = np.lexsort((members, *reversed(keys)))
    members = members[order]
    same = np.ones(len(members) - 1, dtype=bool)
    for key in keys:
        sorted_key = key[order]
        same &= sorted_key[1:] == sorted_key[:-1]
    group = np.concatenate(([0], np.cumsum(~same)))
    size = np.bincount(group)[group]
    first, second = [members[:-1][same]], [members[1:][same]]
    small = size <= all_pairs_up_to
    largest = int(size[small].max(initial=0))
    for step in range(2, largest):
        at = np.flatnonzero(small[:-step] & (group[:-step] == group[step:]))
        first.append(members[at])
        second.append(members[at + step])
    chained = len(np.unique(group[~small]))
    return np.concatenate(first), np.concatenate(second), chained
