"""Writing system of a document (ISO 15924 codes) and its share of CJK characters.

Counting is columnar: one RE2 pass over the text column per script.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
        counts = {name: _count(texts, pattern) for name, pattern in _COUNTED.items()}
        visible = pc.utf8_length(texts).fill_null(0).to_numpy(zero_copy_only=False) - _count(texts, r"[\s\p{Z}]")
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


def _count(texts: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(texts, pattern).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


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
