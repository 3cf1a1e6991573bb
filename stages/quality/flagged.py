"""Flagged words: porn, gambling and advertising vocabulary, scored per category as a ratio.

The score of a category is the number of characters inside its matches over the document's
non-space characters. Matching is one RE2 pass per category over the whole text column: the
matched characters are the length lost when the matches are deleted.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml


def load_flagged(path: str | Path) -> dict[str, str]:
    """Category -> one regex matching any of its terms (longest first, Latin case-insensitive)."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out = {}
    for category, terms in spec.items():
        terms = sorted({str(t) for t in terms or () if str(t).strip()}, key=len, reverse=True)
        if terms:
            out[category] = "(?i:" + "|".join(re.escape(t) for t in terms) + ")"
    return out


def flagged_chars(text: pa.Array, patterns: dict[str, str]) -> dict[str, np.ndarray]:
    """Per category, the number of characters of each document inside flagged terms."""
    text = pc.fill_null(text, "")
    length = np.asarray(pc.utf8_length(text), dtype=np.int64)
    out = {}
    for category, regex in patterns.items():
        candidates = np.flatnonzero(np.asarray(pc.match_substring_regex(text, regex)))
        chars = np.zeros(len(text), dtype=np.float64)
        if len(candidates):
            sub = text.take(pa.array(candidates))
            kept = np.asarray(pc.utf8_length(pc.replace_substring_regex(sub, regex, "")), dtype=np.int64)
            chars[candidates] = length[candidates] - kept
        out[category] = chars
    return out
