"""Sentence and paragraph spans, found columnar: RE2 marks every boundary, a split cuts there.

A boundary marker (NUL, removed from stored text by `normalize`, and replaced by a space in the
working copy here) is inserted after each sentence end; splitting on it and on line breaks gives
pieces whose lengths, summed per document, are the character offsets of the sentences. Pieces
are trimmed of surrounding whitespace, and empty ones vanish. Offsets are in Unicode code points,
the units of Python string indexing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPAN = pa.struct([pa.field("start", pa.int32()), pa.field("end", pa.int32())])
SPANS = pa.list_(SPAN)

_MARK = "\x00"
# Closing quotes and brackets that belong to the sentence they follow: 他说：“你好！”
_CLOSERS = r"[”’」』）》〉】〕〗｝｣\"')\]}]*"
# Full-width ends and the Chinese ellipsis (…… or ⋯⋯) end a sentence wherever they stand.
_CJK_END = r"(?:[。！？｡]|…{2}|⋯{2})[。！？｡!?…⋯]*"
# ASCII ! and ?, a single … and ... end a sentence only before whitespace and then anything but
# a lowercase letter, before a Han character, or at the end of the text, so URLs (a.php?id=1),
# inline ellipses and a quoted exclamation inside a sentence ("hi!" he said) stay whole.
_ASCII_END = r"(?:[!?]+|\.{3,}|…)"
# Full stops: before whitespace and then a capital, a digit, a Han character or an opening quote
# or bracket, or directly before a Han character (Chinese typed with an ASCII full stop).
_FULL_STOP = r"\."
# Abbreviations after which ". Capital" does not end a sentence, and single initials (J. Smith).
_ABBREVIATIONS = (
    r"(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|vs|Fig|No|Vol|Inc|Ltd|Co|Corp"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|e\.g|i\.e|[A-Z])"
)


def _mark_sentence_ends(texts: pa.Array, semicolon: bool, english: bool) -> pa.Array:
    cjk_end = _CJK_END.replace("[。！？｡]", "[。！？｡；]") if semicolon else _CJK_END
    texts = pc.replace_substring_regex(texts, f"({cjk_end}{_CLOSERS})", "\\1" + _MARK)
    mark_between = "\\1" + _MARK + "\\2"
    texts = pc.replace_substring_regex(texts, rf"({_ASCII_END}{_CLOSERS})(\s+[^\s\p{{Ll}}]|\p{{Han}}|$)", mark_between)
    if english:
        next_start = r"\s+[\p{Lu}\p{N}\p{Han}“‘\"'(\[]|\p{Han}"
        texts = pc.replace_substring_regex(texts, rf"({_FULL_STOP}{_CLOSERS})({next_start})", mark_between)
        texts = pc.replace_substring_regex(texts, rf"(\b{_ABBREVIATIONS}\.){_MARK}", "\\1")
    return texts


def sentence_spans(texts: pa.Array, semicolon: bool = False, english: bool = True) -> pa.Array:
    """list<struct<start, end>> per document: its sentences, never crossing a line break."""
    work = pc.replace_substring(texts.fill_null(""), _MARK, " ")
    work = pc.replace_substring(_mark_sentence_ends(work, semicolon, english), "\n", "\n" + _MARK)
    return _spans(pc.split_pattern(work, _MARK))


def paragraph_spans(texts: pa.Array) -> pa.Array:
    """list<struct<start, end>> per document: its non-blank lines (one paragraph per line)."""
    return _spans(pc.split_pattern(pc.replace_substring(texts.fill_null(""), "\n", "\n" + _MARK), _MARK))


def _spans(pieces: pa.ListArray) -> pa.Array:
    """Spans of the non-blank pieces, trimmed of whitespace, from pieces that tile each text."""
    flat = pieces.flatten()
    length = _lengths(flat)
    lead = length - _lengths(pc.utf8_ltrim_whitespace(flat))
    trail = length - _lengths(pc.utf8_rtrim_whitespace(flat))
    offsets = pieces.offsets.to_numpy()
    starts = np.concatenate(([0], np.cumsum(length)))[:-1]
    counts = np.diff(offsets)
    starts -= np.repeat(starts[offsets[:-1]], counts)  # every text splits into >= 1 piece
    begin, end = starts + lead, starts + length - trail
    keep = end > begin
    doc = np.repeat(np.arange(len(counts)), counts)
    kept_offsets = np.concatenate(([0], np.cumsum(np.bincount(doc[keep], minlength=len(counts))))).astype(np.int32)
    spans = pa.StructArray.from_arrays(
        [pa.array(begin[keep].astype(np.int32)), pa.array(end[keep].astype(np.int32))], fields=list(SPAN)
    )
    return pa.ListArray.from_arrays(pa.array(kept_offsets), spans, type=SPANS)


def _lengths(strings: pa.Array) -> np.ndarray:
    return pc.utf8_length(strings).to_numpy(zero_copy_only=False).astype(np.int64)
