"""Which paragraphs a reference LM trains on, per input table, columnar.

- `corpus`: the input is a reference corpus (Wikipedia's role in cc_net): every non-blank line
  of every record is a paragraph.
- `bootstrap`: the input is crawl documents (after the quality filters). Only strict prose is
  kept: Chinese documents (`lang` zh with `lang_score` >= min_lang_score where those columns
  exist) most of whose characters sit in prose paragraphs, and of those only the prose
  paragraphs: long enough, mostly Han characters, ending a sentence. Navigation, lists, tag
  clouds and tables fail the paragraph rule; pages made mostly of them fail the document rule.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.records import TEXT

# A prose paragraph ends a sentence: full-width or ASCII end punctuation, then closing quotes.
_SENTENCE_END = r"[。！？!?…][”’」』\"'）)]*$"


def paragraphs(table: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """Every non-blank line of every record, trimmed, and the row each came from."""
    texts = table.column(TEXT).combine_chunks() if table.num_rows else pa.array([], pa.string())
    lines = pc.split_pattern(texts.fill_null(""), "\n")
    row = np.repeat(np.arange(len(lines)), np.diff(lines.offsets.to_numpy()))
    flat = pc.utf8_trim_whitespace(lines.flatten())
    keep = pc.greater(pc.utf8_length(flat), 0)
    return flat.filter(keep), row[keep.to_numpy(zero_copy_only=False)]


def prose(lines: pa.Array, min_chars: int, min_han_ratio: float) -> np.ndarray:
    """Whether each paragraph is prose: >= min_chars characters, Han share, sentence end."""
    length = pc.utf8_length(lines).to_numpy(zero_copy_only=False)
    han = pc.count_substring_regex(lines, r"\p{Han}").to_numpy(zero_copy_only=False)
    ends = pc.match_substring_regex(lines, _SENTENCE_END).to_numpy(zero_copy_only=False)
    share = np.divide(han, length, out=np.zeros(len(length)), where=length > 0)
    return (length >= min_chars) & (share >= min_han_ratio) & ends


def strict_documents(table: pa.Table, min_lang_score: float) -> np.ndarray:
    """Documents langid calls Chinese with confidence (all, where there is no langid column)."""
    keep = np.ones(table.num_rows, dtype=bool)
    if "lang" in table.column_names:
        keep &= pc.fill_null(pc.starts_with(table.column("lang"), "zh"), False).to_numpy(zero_copy_only=False)
    if "lang_score" in table.column_names:
        keep &= pc.fill_null(pc.greater_equal(table.column("lang_score"), min_lang_score), False).to_numpy(zero_copy_only=False)
    return keep


def bootstrap_paragraphs(
    table: pa.Table, min_chars: int, min_han_ratio: float, min_lang_score: float, min_prose_share: float
) -> tuple[pa.Array, int]:
    """The prose paragraphs of the strict documents of `table`, and how many documents gave some."""
    lines, row = paragraphs(table)
    is_prose = prose(lines, min_chars, min_han_ratio)
    length = pc.utf8_length(lines).to_numpy(zero_copy_only=False).astype(np.float64)
    total = np.bincount(row, weights=length, minlength=table.num_rows)
    in_prose = np.bincount(row, weights=length * is_prose, minlength=table.num_rows)
    share = np.divide(in_prose, total, out=np.zeros(table.num_rows), where=total > 0)
    good_doc = strict_documents(table, min_lang_score) & (share >= min_prose_share)
    keep = is_prose & good_doc[row]
    return lines.filter(pa.array(keep)), int(np.count_nonzero(good_doc & (in_prose > 0)))
