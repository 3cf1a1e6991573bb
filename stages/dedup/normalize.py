"""Text normalisation for dedup keys: NFKC, lowercase, punctuation and whitespace stripped.

- `folded_text`: NFKC and lowercase; shingles are cut from it (shingles.py strips punctuation
  and whitespace while it tokenises, so they never reach a shingle).
- `key_text`: folded text with all punctuation and whitespace removed; two documents are exact
  duplicates when these are equal.
Both are column-wise Arrow compute (utf8proc for NFKC and case, RE2 for the classes).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Punctuation (all Unicode P* categories, CJK and full-width included), separators, whitespace,
# control and format characters (zero-width spaces, BOMs, soft hyphens). Symbols (S*) are kept:
# they carry content in code and formulas.
SEPARATORS = r"[\p{P}\p{Z}\p{Cc}\p{Cf}\s]+"


def folded_text(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """NFKC-normalised, lowercased text (null as empty)."""
    return pc.utf8_lower(pc.utf8_normalize(pc.fill_null(texts, ""), "NFKC"))


def key_text(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """NFKC-lowercased text with all punctuation and whitespace removed: the exact-dedup key."""
    return pc.replace_substring_regex(folded_text(texts), SEPARATORS, "")
