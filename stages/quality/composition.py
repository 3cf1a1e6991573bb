"""Composition: what a document is made of, per character (Gopher/FineWeb quality rules for Chinese).

- length: non-space characters;
- Han ratio: Han characters over non-space characters (decides whether Chinese rules apply);
- stopwords: occurrences of Chinese function characters (的 了 是 在 …) in running text, the
  character-level form of Gopher's "at least two stop words". Running text is the lines with at
  least `running_line_han` Han characters: lists of names (language names, month names in a
  translation table) have no function words and are not what the rule is after;
- symbol and digit ratios over non-space characters;
- character entropy (bits) of the non-space character distribution;
- terminal punctuation: the fraction of non-blank lines whose last character, after closing
  quotes and brackets, ends a sentence (FineWeb's line_punct rule).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stages.quality.chars import DIGIT, HAN, SPACE, SYMBOL, TextView, safe_div

# Sentence-final marks, full and half width, and the ellipsis.
TERMINAL_PUNCTUATION = ("。", "！", "？", "…", "．", "；", ".", "!", "?", ";", "｡")
# Closing quotes and brackets that may follow the sentence-final mark: 他说：“好。”
CLOSERS = "”’\"'」』）)】》〉］]"


def load_stopwords(path: str | Path) -> np.ndarray:
    """Code points listed in a stopword file (one or more characters per line, # comments)."""
    chars = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        chars.update(c for c in line if not c.isspace())
    return np.array(sorted(ord(c) for c in chars), dtype=np.uint32)


def char_composition(view: TextView, is_stop: np.ndarray, running_line_han: int) -> dict[str, np.ndarray]:
    """Per-document composition figures; `is_stop` marks the stopword characters of the view."""
    nonspace = view.cls != SPACE
    is_han = view.cls == HAN
    n_chars = view.per_doc(where=nonspace)
    han = view.per_doc(where=is_han)
    running = (np.bincount(view.line[is_han], minlength=view.n_lines) >= running_line_han)[view.line]
    running_han = view.per_doc(where=is_han & running)
    running_stop = view.per_doc(where=is_stop & running)
    return {
        "chars": n_chars,
        "han_ratio": safe_div(han, n_chars),
        "running_han": running_han,
        "stopwords": running_stop,
        "stopword_ratio": safe_div(running_stop, running_han),
        "symbol_ratio": safe_div(view.per_doc(where=view.cls == SYMBOL), n_chars),
        "digit_ratio": safe_div(view.per_doc(where=view.cls == DIGIT), n_chars),
        "entropy": char_entropy(view, nonspace),
    }


def char_entropy(view: TextView, where: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of each document's character distribution."""
    doc = view.doc[where]
    key = (doc << 21) | view.cp[where].astype(np.int64)  # code points fit in 21 bits
    uniq, counts = np.unique(key, return_counts=True)
    key_doc = uniq >> 21
    total = np.bincount(doc, minlength=view.n_docs).astype(np.float64)
    p = counts / total[key_doc]
    return np.bincount(key_doc, weights=-p * np.log2(p), minlength=view.n_docs)


def terminal_punctuation(lines: pa.ListArray, n_docs: int) -> np.ndarray:
    """Per document, the fraction of non-blank lines that end a sentence."""
    flat = pc.utf8_rtrim(pc.utf8_trim_whitespace(pc.list_flatten(lines)), characters=CLOSERS + " \t")
    parent = np.asarray(pc.list_parent_indices(lines))
    nonblank = np.asarray(pc.greater(pc.utf8_length(flat), 0))
    last = pc.utf8_slice_codeunits(flat, start=-1)
    ends = np.asarray(pc.is_in(last, value_set=pa.array(TERMINAL_PUNCTUATION))) & nonblank
    return safe_div(np.bincount(parent[ends], minlength=n_docs).astype(np.float64), np.bincount(parent[nonblank], minlength=n_docs).astype(np.float64))
