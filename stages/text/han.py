"""Simplified and Traditional Han: OpenCC conversion and the characters that tell the scripts apart.

fastText's lid.176 labels both scripts `zh`, so the script is read from the characters: a
character that OpenCC's t2s rewrites is written only in Traditional text, one that s2t, s2tw and
s2hk all rewrite is written only in Simplified text. The lists come from OpenCC's own tables
(single characters, so phrase rules do not apply), built once per process in about 0.3 s.
"""

from __future__ import annotations

import functools

import numpy as np
import opencc
import pyarrow as pa
import pyarrow.compute as pc

# The OpenCC configurations a stage may name: the target is always Simplified Chinese.
# tw2sp and hk2s also rewrite regional vocabulary/variants (檔案 -> 文件 with tw2sp).
TO_SIMPLIFIED = ("t2s", "tw2s", "tw2sp", "hk2s")

# CJK Unified Ideographs, Extension A and the compatibility block: where OpenCC has mappings.
_HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))


@functools.cache
def converter(config: str) -> opencc.OpenCC:
    """One OpenCC converter per configuration and process (loading reads its dictionaries)."""
    return opencc.OpenCC(config)


def convert(texts: pa.Array, config: str) -> pa.Array:
    """Run an OpenCC configuration over every string (OpenCC works one string at a time)."""
    convert_one = converter(config).convert
    return pa.array([None if t is None else convert_one(t) for t in texts.to_pylist()], pa.string())


def _changed_by(config: str, chars: list[str]) -> set[str]:
    # One call over all characters, one per line, so no phrase rule spans two of them.
    converted = converter(config).convert("\n".join(chars)).split("\n")
    return {c for c, out in zip(chars, converted) if out != c}


@functools.cache
def script_characters() -> tuple[str, str]:
    """(Traditional-only, Simplified-only) characters, each as one RE2 character class."""
    chars = [chr(c) for lo, hi in _HAN_RANGES for c in range(lo, hi + 1)]
    # A character is Simplified-only when every Traditional standard rewrites it: 台, 群 and 游
    # are also standard in Taiwan (s2tw keeps them), so they say nothing about the script.
    simplified = _changed_by("s2t", chars) & _changed_by("s2tw", chars) & _changed_by("s2hk", chars)
    traditional = _changed_by("t2s", chars)
    # Characters that both directions rewrite (乾 -> 干 but 干 -> 幹) are ambiguous: drop them.
    return _char_class(traditional - simplified), _char_class(simplified - traditional)


def _char_class(chars: set[str]) -> str:
    return "[" + "".join(sorted(chars)) + "]"


def traditional_share(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per text: Traditional-only characters / (Traditional-only + Simplified-only), and their sum."""
    traditional, simplified = script_characters()
    n_trad = pc.count_substring_regex(texts, traditional).fill_null(0).to_numpy(zero_copy_only=False)
    n_simp = pc.count_substring_regex(texts, simplified).fill_null(0).to_numpy(zero_copy_only=False)
    marked = n_trad + n_simp
    return np.divide(n_trad, marked, out=np.zeros(len(marked)), where=marked > 0), marked
