"""SEO keyword stuffing: lines (and titles) built from a repeated keyword or from short fragments.

Three shapes of stuffed line, all found on Chinese SEO pages:
- keyword repetition: one keyword glued to many suffixes, `chown免费下载 chown激活码 chown官方正版`;
  measured as the share of a line's word characters inside 4-grams that occur at least three
  times in that line;
- shared keyword: segments split by `_ | ｜ , ， 、 ; ；` that mostly start with the same two
  characters, `mv中文版_mv百度网盘_mv官方正版` (catches keywords too short for 4-grams);
- fragment lists: many short segments split by `_ | ｜ - ,`, `手游_下载_破解_安卓_苹果_电脑`;
  a segment is short when it has at most `max_segment_chars` characters and contains Han.
  Spaces do not split segments (they separate words in English and in segmented Chinese).

A stuffed line is also not a sentence: at most `max_stopword_ratio` of its Han characters are
function characters (的 是 在 …). Keyword lists have none; technical prose that repeats a term
(`ESC $ ( xx （对于 G0）， ESC $ ) xx （对于 G1）`) has plenty.

A document gets the fraction of its non-blank lines that are stuffed, and whether its first
non-blank line (the page title for crawled text) is stuffed.
"""

from __future__ import annotations

import numpy as np

from stages.quality.chars import DIGIT, HAN, LETTER, SPACE, TextView, safe_div
from stages.quality.repetition import repeated_ngram_coverage

SEGMENT_SEPARATORS = np.array([ord(c) for c in "_|｜-,"], dtype=np.uint32)
KEYWORD_SEPARATORS = np.array([ord(c) for c in "_|｜,，、;；"], dtype=np.uint32)


def keyword_lines(view: TextView, min_chars: int, coverage: float, among: np.ndarray, n: int = 4, min_count: int = 3) -> np.ndarray:
    """Per global line: is it a repeated-keyword line (see the module docstring)?

    Only lines marked in `among` are examined (the others are already known not to be stuffed),
    which keeps the n-gram sort to a small part of the text.
    """
    word = ((view.cls == HAN) | (view.cls == LETTER) | (view.cls == DIGIT)) & among[view.line]
    codes, line = view.cp[word].astype(np.uint64), view.line[word]
    chars = np.bincount(line, minlength=view.n_lines)
    # A 4-gram of digits only is not a keyword: a column of numbers repeats 0000 but is a table.
    cov = repeated_ngram_coverage(codes, line, view.n_lines, n, min_count, counted=view.cls[word] != DIGIT)
    return (chars >= min_chars) & (cov >= coverage)


def _segments(view: TextView, separators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the characters inside segments, and each one's segment id.

    A segment is a run between separators within a line; spaces belong to no segment and split
    nothing. Segment ids grow along the text, so each segment's characters are contiguous here.
    """
    is_sep = np.isin(view.cp, separators)
    line_start = np.ones(len(view.line), dtype=bool)
    line_start[1:] = view.line[1:] != view.line[:-1]
    content = np.flatnonzero(~is_sep & (view.cls != SPACE))
    return content, np.cumsum(is_sep | line_start)[content]


def shared_keyword_lines(view: TextView, min_segments: int, share: float) -> np.ndarray:
    """Per global line: do most of its segments start with the same two letters/Han characters?"""
    content, seg = _segments(view, KEYWORD_SEPARATORS)
    out = np.zeros(view.n_lines, dtype=bool)
    if len(seg) == 0:
        return out
    first = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1])))
    seg_line = view.line[content[first]]
    n_segs = np.bincount(seg_line, minlength=view.n_lines)
    # The second character must be in the same segment; both must be word characters, and not
    # both digits (a list of years is not a keyword).
    has_second = np.append(first[1:] - first[:-1] > 1, len(seg) - first[-1] > 1)
    a = content[first[has_second]]
    b = content[first[has_second] + 1]
    word = (view.cls == HAN) | (view.cls == LETTER) | (view.cls == DIGIT)
    ok = word[a] & word[b] & ~((view.cls[a] == DIGIT) & (view.cls[b] == DIGIT))
    a, b, line = a[ok], b[ok], seg_line[has_second][ok]
    if len(a) == 0:
        return out
    pair = (view.cp[a].astype(np.int64) << 21) | view.cp[b].astype(np.int64)
    _, pair_id = np.unique(pair, return_inverse=True)
    key, counts = np.unique(line * (int(pair_id.max()) + 1) + pair_id, return_counts=True)
    mode = np.zeros(view.n_lines, dtype=np.int64)
    np.maximum.at(mode, key // (int(pair_id.max()) + 1), counts)
    return (n_segs >= min_segments) & (mode >= share * n_segs)


def fragment_lines(view: TextView, min_segments: int, max_segment_chars: int, short_share: float) -> np.ndarray:
    """Per global line: is it a list of many short Han fragments?"""
    content, seg = _segments(view, SEGMENT_SEPARATORS)
    if len(seg) == 0:
        return np.zeros(view.n_lines, dtype=bool)
    seg_len = np.bincount(seg)
    seg_han = np.bincount(seg, weights=(view.cls[content] == HAN))
    seg_line = np.zeros(len(seg_len), dtype=np.int64)
    seg_line[seg] = view.line[content]
    present = seg_len > 0
    short = present & (seg_len <= max_segment_chars) & (seg_han > 0)
    n_segs = np.bincount(seg_line[present], minlength=view.n_lines)
    n_short = np.bincount(seg_line[short], minlength=view.n_lines)
    return (n_segs >= min_segments) & (n_short >= short_share * n_segs)


def not_sentences(view: TextView, is_stop: np.ndarray, max_stopword_ratio: float) -> np.ndarray:
    """Per global line: are function characters at most `max_stopword_ratio` of its Han characters?"""
    han = np.bincount(view.line[view.cls == HAN], minlength=view.n_lines)
    stop = np.bincount(view.line[is_stop], minlength=view.n_lines)
    return stop <= max_stopword_ratio * han


def stuffing(view: TextView, stuffed_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per document: the fraction of non-blank lines that are stuffed, and whether the first is."""
    nonblank = np.bincount(view.line[view.cls != SPACE], minlength=view.n_lines) > 0
    lines = np.flatnonzero(nonblank)
    docs = view.line_doc[lines]
    frac = safe_div(
        np.bincount(docs, weights=stuffed_line[lines], minlength=view.n_docs),
        np.bincount(docs, minlength=view.n_docs).astype(np.float64),
    )
    title = np.zeros(view.n_docs, dtype=bool)
    first_docs, first = np.unique(docs, return_index=True)
    title[first_docs] = stuffed_line[lines[first]]
    return frac, title
