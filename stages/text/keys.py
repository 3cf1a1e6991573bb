"""Matching keys: the text form that dedup and the language model compare, never stored as text.

NFKC folds full-width letters and digits, compatibility ideographs and ligatures into one form,
lowercasing folds case, whitespace runs become one space, and Traditional characters fold to
Simplified so a zh_TW page and its zh_CN original share shingles (the dev crawl's README: 49 of
its 105 cross-script pairs reach Jaccard 0.8 only after such a conversion).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stages.text.han import convert


def match_keys(texts: pa.Array | pa.ChunkedArray, to_simplified: str | None = "t2s") -> pa.Array:
    """NFKC, lowercase, single spaces and (with an OpenCC configuration) Simplified characters.

    Full-width punctuation becomes ASCII here (NFKC), which is what a key wants and what stored
    text must not get.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    keys = pc.utf8_lower(pc.utf8_normalize(texts, "NFKC"))
    keys = pc.utf8_trim_whitespace(pc.replace_substring_regex(keys, r"[\s\pZ]+", " "))
    return convert(keys, to_simplified) if to_simplified else keys
