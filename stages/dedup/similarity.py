"""Pair similarities for verifying LSH candidates: set Jaccard, and an order-aware edit similarity.

Jaccard over shingles misses copies with scattered character edits: 10% edited characters
destroy about a third of the character 3-grams (the dev crawl's near_edit pairs have 3-gram
Jaccard 0.15-0.72), while unrelated pages of one genre (man pages sharing their GNU sections)
reach 0.5. The edit similarity, LCS(a, b) / max(|a|, |b|) over the key texts, keeps such copies
above 0.8 where those unrelated pages stay below it.

A zh_TW page and its zh_CN original look like such a copy (scattered character substitutions,
edit similarity 0.85-0.94): `han_scripts` tells the two scripts apart, so that verification can
keep pages of different Han scripts apart (DedupParams.same_script).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# Han script codes of a document (see han_scripts).
NO_SCRIPT, SIMPLIFIED, TRADITIONAL = 0, 1, 2
# A document has a Han script when it has at least this many script-specific characters
# (Traditional-only or Simplified-only, stages.text.han); fewer say nothing.
MIN_SCRIPT_CHARS = 10


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a & b| / |a | b| of two sorted arrays of distinct values."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared)


def _match_masks(text: np.ndarray) -> dict[int, int]:
    """For each code point of `text`, the bit set of the positions where it occurs."""
    order = np.argsort(text, kind="stable")
    values, starts = np.unique(text[order], return_index=True)
    ends = np.append(starts[1:], len(text))
    masks = {}
    for value, start, end in zip(values.tolist(), starts.tolist(), ends.tolist()):
        bits = np.zeros(len(text), dtype=bool)
        bits[order[start:end]] = True
        masks[value] = int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")
    return masks


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyrö 2004): O(|a| |b| / w)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks = _match_masks(np.frombuffer(a.encode("utf-32-le", "surrogatepass"), dtype="<u4"))
    full = (1 << len(a)) - 1
    row = full
    for char in b:
        match = masks.get(ord(char))
        if match is not None:
            low = row & match
            row = ((row + low) | (row - low)) & full
    return len(a) - row.bit_count()


def edit_similarity(a: str, b: str) -> float:
    """LCS(a, b) / max(|a|, |b|): 1 for equal texts, about 1 - edit rate for edited copies."""
    longest = max(len(a), len(b))
    return lcs_length(a, b) / longest if longest else 0.0


def han_scripts(texts: pa.Array) -> np.ndarray:
    """Per text: TRADITIONAL when Traditional-only characters are the majority of its
    script-specific ones (the rule of langid's hant_min_share: 0.5), SIMPLIFIED otherwise, and
    NO_SCRIPT with fewer than MIN_SCRIPT_CHARS of them."""
    from stages.text.han import traditional_share  # OpenCC tables: loaded only when used

    share, marked = traditional_share(texts)
    return np.where(marked < MIN_SCRIPT_CHARS, NO_SCRIPT, np.where(share >= 0.5, TRADITIONAL, SIMPLIFIED)).astype(np.int8)


def other_scripts(x: int, y: int) -> bool:
    """Whether two script codes are two different Han scripts."""
    return x != y and x != NO_SCRIPT and y != NO_SCRIPT
