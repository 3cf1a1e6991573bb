"""Columnar views of a shard's text: code points, character classes, lines, and per-group sums.

Every document filter works on these arrays rather than on Python strings: the UTF-8 buffer of
the text column is decoded to code points with numpy, each code point gets a class from a lookup
table, and per-document (or per-line) figures are bincounts over a group index.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from stages.text.codepoints import decode_utf8

# Character classes.
HAN, LETTER, DIGIT, PUNCT, SYMBOL, SPACE, OTHER = range(7)
NEWLINE = 0x0A


@functools.cache
def class_table() -> np.ndarray:
    """Class of every Basic Multilingual Plane code point (built once per process, ~0.1 s)."""
    table = np.full(0x10000, OTHER, dtype=np.uint8)
    prefix = {"L": LETTER, "N": DIGIT, "P": PUNCT, "S": SYMBOL, "Z": SPACE}
    for cp in range(0x10000):
        cat = unicodedata.category(chr(cp))
        # Only decimal digits count as digits: ①, ½ and Roman numerals read as symbols.
        table[cp] = DIGIT if cat == "Nd" else SYMBOL if cat[0] == "N" else prefix.get(cat[0], OTHER)
    table[[0x09, 0x0A, 0x0B, 0x0C, 0x0D]] = SPACE
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x3007, 0x3007)):
        table[lo : hi + 1] = HAN
    # Box drawing and block elements lay out tables (man pages, manuals): formatting, not noise.
    table[0x2500:0x25A0] = PUNCT
    table[0xFFFD] = SYMBOL  # the replacement character of a broken decode
    return table


def classify(cp: np.ndarray) -> np.ndarray:
    table = class_table()
    classes = table[np.minimum(cp, 0xFFFF)]
    astral = cp > 0xFFFF
    if astral.any():
        # CJK extensions B-H are Han; other astral code points are mostly emoji and symbols.
        classes[astral] = np.where((cp[astral] >= 0x20000) & (cp[astral] <= 0x323AF), HAN, SYMBOL)
    return classes


@dataclass
class TextView:
    """A shard's text as flat arrays: code point, class, document and line of every character."""

    cp: np.ndarray  # uint32 code points
    cls: np.ndarray  # uint8 class per code point
    doc: np.ndarray  # int64 document index per code point
    line: np.ndarray  # int64 global line index per code point (newlines belong to the line they end)
    line_doc: np.ndarray  # int64 document of each global line
    n_docs: int

    @classmethod
    def of(cls, text: pa.Array) -> TextView:
        cp, starts = decode_utf8(text)
        n_docs = len(starts) - 1
        lengths = np.diff(starts)
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        # A line starts at each document start and after each newline.
        is_newline = cp == NEWLINE
        line_start = np.zeros(len(cp), dtype=bool)
        line_start[starts[:-1][lengths > 0]] = True
        line_start[1:] |= is_newline[:-1]
        line = np.cumsum(line_start) - 1
        line_doc = doc[line_start]
        return cls(cp, classify(cp), doc, line, line_doc, n_docs)

    @property
    def n_lines(self) -> int:
        return len(self.line_doc)

    def per_doc(self, where: np.ndarray) -> np.ndarray:
        """Per document, how many of its characters are marked in `where`."""
        return np.bincount(self.doc[where], minlength=self.n_docs).astype(np.float64)


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num), dtype=np.float64), where=den > 0)
