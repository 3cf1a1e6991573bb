"""Writing system of a document (ISO 15924 codes) and its share of CJK characters.

Counting is columnar: the text column is decoded to code points once, each gets its script from
a lookup table built from RE2's Unicode classes, and one bincount gives the counts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stages.text.codepoints import decode_utf8
from stages.text.han import traditional_share

# Script codes a document can be given; counted scripts first, in tie-break order.
HAN, HANS, HANT, JAPANESE, KOREAN, UNKNOWN = "Hani", "Hans", "Hant", "Jpan", "Kore", "Zyyy"
_COUNTED = {
    HAN: r"\p{Han}",
    "Kana": r"[\p{Hiragana}\p{Katakana}]",
    "Hang": r"\p{Hangul}",
    "Latn": r"\p{Latin}",
    "Cyrl": r"\p{Cyrillic}",
    "Grek": r"\p{Greek}",
    "Arab": r"\p{Arabic}",
    "Hebr": r"\p{Hebrew}",
    "Thai": r"\p{Thai}",
    "Deva": r"\p{Devanagari}",
}
# A document written with Han characters is Japanese when kana make up this share of its
# Han + kana characters. Measured on the dev crawl (full crawl text): ja pages 0.61-0.97, zh
# pages <= 0.054 (spam pages salted with Japanese fragments); 0.2 sits in the gap.
JAPANESE_KANA_SHARE = 0.2
# A Chinese document is Traditional when Traditional-only characters outnumber Simplified-only
# ones (see han.py): the majority rule. Measured on the dev crawl (full crawl text, template
# included, intact pages): zh-Hant pages >= 0.68 (Traditional po pages in a Simplified site
# template), zh-Hans pages <= 0.20, except the pages quoting the Shijing in Traditional
# characters (0.60-0.74; 0.90-0.96 on their main text), which gold labels zh-Hans.
HANT_MIN_SHARE = 0.5
# fastText labels whose text is written in Han characters.
HAN_LANGUAGES = frozenset({"zh", "yue", "wuu", "gan", "lzh"})
# Other lid.176 languages written in one non-Latin script: their documents get that script when
# it occurs at all, since Latin command names and URLs can outnumber it (dev crawl: 7 of 27 ru
# man pages have more Latin than Cyrillic letters).
LANGUAGE_SCRIPTS = {
    **dict.fromkeys(("ru", "uk", "bg", "be", "mk", "kk", "ky", "tg", "tt", "ba", "cv", "mn", "os", "ce", "sah"), "Cyrl"),
    **dict.fromkeys(("ar", "fa", "ur", "ps", "ckb", "ug", "sd", "arz"), "Arab"),
    **dict.fromkeys(("he", "yi"), "Hebr"),
    **dict.fromkeys(("hi", "mr", "ne", "sa", "new", "mai", "bh"), "Deva"),
    "el": "Grek",
    "th": "Thai",
}


@dataclass(frozen=True)
class ScriptCounts:
    """Per-document character counts of each counted script, and of all non-space characters."""

    counts: dict[str, np.ndarray]
    visible: np.ndarray

    @classmethod
    def of(cls, texts: pa.Array | pa.ChunkedArray) -> ScriptCounts:
        # One decode of the column and one table lookup per character, then one bincount: a
        # regex count per script costs eleven passes over the text (measured on the dev crawl,
        # 2.2 M characters: 0.37 s against 0.05 s).
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
        cp, starts = decode_utf8(texts)
        n = len(starts) - 1
        doc = np.repeat(np.arange(n, dtype=np.int64), np.diff(starts))
        table = _script_table()
        kinds = table[np.minimum(cp, len(table) - 1)]
        per_doc = np.bincount(doc * _N_KINDS + kinds, minlength=n * _N_KINDS).reshape(n, _N_KINDS)
        counts = {name: per_doc[:, i + 1] for i, name in enumerate(_COUNTED)}
        visible = np.diff(starts) - per_doc[:, _SPACE_KIND]
        return cls(counts, visible)

    def cjk_ratio(self) -> np.ndarray:
        """Han, kana and Hangul characters over non-space characters (0 for an empty text)."""
        cjk = self.counts[HAN] + self.counts["Kana"] + self.counts["Hang"]
        return np.divide(cjk, self.visible, out=np.zeros(len(cjk)), where=self.visible > 0)

    def kana_share(self) -> np.ndarray:
        han_kana = self.counts[HAN] + self.counts["Kana"]
        return np.divide(self.counts["Kana"], han_kana, out=np.zeros(len(han_kana)), where=han_kana > 0)

    def dominant(self) -> np.ndarray:
        """The script with the most characters; Zyyy where no counted script occurs."""
        names = list(self.counts)
        matrix = np.stack([self.counts[n] for n in names])
        top = np.asarray(names, dtype=object)[matrix.argmax(axis=0)]
        top[matrix.max(axis=0) == 0] = UNKNOWN
        return top


# Kinds of code point: 0 none, 1.. the counted scripts in order, then white space.
_SPACE_KIND = len(_COUNTED) + 1
_N_KINDS = len(_COUNTED) + 2
# The table covers every code point below the end of CJK Extension H: all of the counted
# scripts' characters, and white space. Code points above it (tags, private use) count as none.
_TABLE_END = 0x323B0
_MARK = 0x01


@functools.cache
def _script_table() -> np.ndarray:
    """Kind of every code point below _TABLE_END (and 0 at the end, for all above), read from
    RE2's own Unicode classes: each counted class marks its characters in one string holding
    every code point (about 0.1 s)."""
    points = np.arange(_TABLE_END, dtype=np.uint32)
    # Lone surrogates are not text, and the marker must not occur: NUL stands in (kind none).
    points[((points >= 0xD800) & (points < 0xE000)) | (points == _MARK)] = 0
    every = pa.array([str(points.tobytes(), "utf-32-le")], pa.string())
    table = np.zeros(_TABLE_END + 1, dtype=np.uint8)
    for kind, pattern in enumerate([*_COUNTED.values(), r"[\s\p{Z}]"], start=1):
        marked = pc.replace_substring_regex(every, pattern, chr(_MARK))[0].as_py()
        hit = np.frombuffer(marked.encode("utf-32-le"), dtype=np.uint32) == _MARK
        table[:_TABLE_END][hit & (table[:_TABLE_END] == 0)] = kind
    return table


def is_traditional(texts: pa.Array | pa.ChunkedArray, min_share: float = HANT_MIN_SHARE) -> np.ndarray:
    """Whether each text's distinguishing Han characters are mostly Traditional."""
    share, marked = traditional_share(texts)
    return (marked > 0) & (share > min_share)


def detect_scripts(
    texts: pa.Array | pa.ChunkedArray,
    langs: np.ndarray | None = None,
    counts: ScriptCounts | None = None,
    hant_min_share: float = HANT_MIN_SHARE,
) -> np.ndarray:
    """ISO 15924 script per document: Hans/Hant/Jpan/Kore for CJK, else the dominant script.

    With `langs` (fastText codes), a zh/ja/ko document gets its language's script even when
    Latin letters outnumber its Han characters (man pages full of option names).
    """
    counts = counts or ScriptCounts.of(texts)
    script = counts.dominant()
    script[script == "Kana"] = JAPANESE
    script[script == "Hang"] = KOREAN
    han = script == HAN
    if langs is not None:
        langs = np.asarray(langs, dtype=object)
        for code in set(LANGUAGE_SCRIPTS) & set(langs.tolist()):
            expected = LANGUAGE_SCRIPTS[code]
            rows = (langs == code) & (counts.counts[expected] > 0)
            script[rows] = expected
        han = (han & ~np.isin(langs, ["ja", "ko"])) | np.isin(langs, list(HAN_LANGUAGES))
        script[langs == "ja"] = JAPANESE
        script[langs == "ko"] = KOREAN
    japanese = han & (counts.kana_share() >= JAPANESE_KANA_SHARE)
    script[japanese] = JAPANESE
    han &= ~japanese
    script[han] = np.where(is_traditional(texts, hant_min_share)[han], HANT, HANS)
    return script
