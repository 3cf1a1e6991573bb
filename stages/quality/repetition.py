"""Repetition: Gopher's repetition rules at the character level, for text without word spaces.

Gopher (Rae et al. 2021) and FineWeb-2 measure repeated lines, paragraphs and word n-grams.
Chinese has no spaces to find words, so the n-gram rules run on characters: an n-gram is n
consecutive "word characters" (Han, letters, digits) of one document; punctuation, symbols and
spaces are skipped, so rules of underscores or a repeated "—— 《…》" attribution do not count.

- top n-gram ratio (n = 2..4): characters covered by the most frequent n-gram, counted with
  multiplicity, over the document's word characters (only an n-gram seen at least twice counts);
- duplicate n-gram fraction (n = 5..10): characters covered by n-grams that already occurred
  earlier in the document, over the document's word characters;
- duplicate lines / paragraphs: the fraction of lines (paragraphs) that repeat an earlier one,
  and the fraction of characters in them.

How n-grams are counted without a Python loop: each n-gram gets a polynomial hash, mixed with its
document through splitmix64's finalizer; the top bits of the hash and the n-gram's position are packed into one uint64, and one
`np.sort` then groups equal n-grams together with their positions in order, so run lengths are
counts and the first element of a run is the first occurrence. Inputs are cut into batches of
whole documents of about 4M characters, which leaves 42 hash bits: about one pair of n-grams per
batch shares a hash, which changes no ratio visibly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stages.quality.chars import DIGIT, HAN, LETTER, TextView, safe_div

# Rolling-hash base (an odd 64-bit constant with well-spread bits) and splitmix64's finalizer
# constants, which spread every input bit over the top bits that the packed sort keeps.
_BASE = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _finalize(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)
BATCH_CHARS = 1 << 22


def word_chars(view: TextView) -> tuple[np.ndarray, np.ndarray]:
    """Code points and document of the characters the n-gram rules look at."""
    keep = (view.cls == HAN) | (view.cls == LETTER) | (view.cls == DIGIT)
    return view.cp[keep].astype(np.uint64), view.doc[keep]


def _batches(group: np.ndarray) -> Iterator[slice]:
    """Slices of about BATCH_CHARS positions that never split a group (group is non-decreasing)."""
    start, n = 0, len(group)
    while start < n:
        end = min(start + BATCH_CHARS, n)
        if end < n:
            # Extend to the end of the group in progress, so a batch holds whole groups.
            end = int(np.searchsorted(group, group[end - 1], side="right"))
        yield slice(start, end)
        start = end


def _ngram_runs(
    codes: np.ndarray, group: np.ndarray, ns: tuple[int, ...], prune: int = 0
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """For each n in `ns`: positions of the n-grams sorted so equal n-grams are adjacent, in order
    of position within a run, with the start index and length of each run.

    With `prune`, an n-gram is only looked at when its (n-1)-gram prefix, if that level was
    computed, occurred at least `prune` times: a rarer prefix cannot start a more frequent n-gram.
    Callers that only read runs of length >= `prune` get the same answer from smaller sorts.
    """
    pos_bits = max(int(len(codes)).bit_length(), 1)
    pos_mask = np.uint64((1 << pos_bits) - 1)
    shift = np.uint64(pos_bits)
    group_u64 = group.view(np.uint64)
    h = codes.copy()
    candidates = None  # positions still worth sorting; None: all
    for n in range(1, max(ns) + 1):
        if n > 1:
            h = h[:-1] * _BASE + codes[n - 1 :]
        if n not in ns:
            candidates = None
            continue
        if candidates is None:
            pos = np.flatnonzero(group[: len(h)] == group[n - 1 :]) if n > 1 else np.arange(len(h))
        else:
            pos = candidates[candidates < len(h)]
            pos = pos[group[pos] == group[pos + n - 1]]
        mixed = _finalize(h[pos] + group_u64[pos] * _M2)
        packed = ((mixed >> shift) << shift) | pos.view(np.uint64)
        packed.sort()
        hashes = packed >> shift
        positions = (packed & pos_mask).view(np.int64)
        run_start = np.flatnonzero(np.concatenate(([True], hashes[1:] != hashes[:-1]))) if len(packed) else np.zeros(0, np.int64)
        run_len = np.diff(np.append(run_start, len(packed)))
        yield n, positions, run_start, run_len
        if prune:
            candidates = positions[np.repeat(run_len >= prune, run_len)]


def ngram_repetition(codes: np.ndarray, group: np.ndarray, n_groups: int, top_ns: tuple[int, ...], dup_ns: tuple[int, ...], min_count: int = 2) -> dict[str, np.ndarray]:
    """Top n-gram ratios and duplicate n-gram fractions per group (see the module docstring)."""
    total = np.bincount(group, minlength=n_groups).astype(np.float64)
    top = {n: np.zeros(n_groups, dtype=np.int64) for n in top_ns}
    dup = {n: np.zeros(n_groups) for n in dup_ns}
    ns = tuple(sorted({*top_ns, *dup_ns}))
    for part in _batches(group) if ns else ():
        g = group[part]
        for n, positions, run_start, run_len in _ngram_runs(codes[part], g, ns, prune=min_count):
            if n in top:
                repeated = run_len >= min_count
                np.maximum.at(top[n], g[positions[run_start[repeated]]], run_len[repeated] * n)
            if n in dup:
                later = np.ones(len(positions), dtype=bool)
                later[run_start] = False
                dup[n] += _covered(positions[later], n, g, n_groups)
    return {
        **{f"top_{n}gram": safe_div(v, total) for n, v in top.items()},
        **{f"dup_{n}gram": safe_div(v, total) for n, v in dup.items()},
    }


def repeated_ngram_coverage(
    codes: np.ndarray, group: np.ndarray, n_groups: int, n: int, min_count: int, counted: np.ndarray | None = None
) -> np.ndarray:
    """Per group, the fraction of characters inside n-grams that occur at least `min_count` times.

    With `counted` (a mask over `codes`), only n-grams holding at least one counted character count.
    """
    total = np.bincount(group, minlength=n_groups).astype(np.float64)
    covered = np.zeros(n_groups)
    for part in _batches(group):
        g = group[part]
        inside = None if counted is None else np.concatenate(([0], np.cumsum(counted[part])))
        for _, positions, run_start, run_len in _ngram_runs(codes[part], g, (n,)):
            starts = positions[np.repeat(run_len >= min_count, run_len)]
            if inside is not None:
                starts = starts[inside[starts + n] > inside[starts]]
            covered += _covered(starts, n, g, n_groups)
    return safe_div(covered, total)


def _covered(starts: np.ndarray, n: int, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the number of positions inside at least one n-gram starting at `starts`."""
    length = len(group)
    diff = np.bincount(starts, minlength=length + 1) - np.bincount(starts + n, minlength=length + 1)
    covered = np.cumsum(diff[:-1]) > 0
    return np.bincount(group[covered], minlength=n_groups).astype(np.float64)


def duplicate_units(units: pa.ListArray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of non-blank units (lines, paragraphs) repeating an earlier one, and of their chars.

    The character fraction is over the characters of all non-blank units, as in Gopher.
    """
    flat = pc.utf8_trim_whitespace(pc.list_flatten(units))
    parent = np.asarray(pc.list_parent_indices(units))
    chars = np.asarray(pc.utf8_length(flat), dtype=np.int64)
    nonblank = chars > 0
    flat, parent, chars = flat.filter(pa.array(nonblank)), parent[nonblank], chars[nonblank]
    count = np.bincount(parent, minlength=n_docs).astype(np.float64)
    total_chars = np.bincount(parent, weights=chars, minlength=n_docs)
    if len(flat) == 0:
        return np.zeros(n_docs), np.zeros(n_docs)
    ids = np.asarray(pc.dictionary_encode(flat).indices, dtype=np.int64)
    key = parent * (int(ids.max()) + 1) + ids
    _, first = np.unique(key, return_index=True)
    repeat = np.ones(len(key), dtype=bool)
    repeat[first] = False
    dup = np.bincount(parent[repeat], minlength=n_docs)
    dup_chars = np.bincount(parent[repeat], weights=chars[repeat], minlength=n_docs)
    return safe_div(dup, count), safe_div(dup_chars, total_chars)
