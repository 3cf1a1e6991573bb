"""cc_net's text normalization for language modelling, in one `str.translate` per paragraph.

cc_net (text_normalizer.normalize, as used for its LMs): strip, lowercase, strip accents (NFD,
drop combining marks), every Unicode digit to 0, its table of full-width and typographic
punctuation to ASCII, control characters removed. Two defects fixed here:
- its table maps the full-width digit "１" to a double quote (and leaves ２-９ alone), so with
  `numbers` off "第１章" became '第"章'; all full-width ASCII forms (digits, letters, symbols,
  U+FF01-U+FF5E) now fold to their ASCII characters, and the ideographic space to a space;
- accent stripping left Hangul decomposed into jamo; text is recomposed (NFC) afterwards.
cc_net's own entries keep precedence ("．" is ". ", "—" is " - "), so the output on text
without those characters is cc_net's.
"""

from __future__ import annotations

import functools
import unicodedata

# cc_net's UNICODE_PUNCT, without its "１" -> '"' entry.
CCNET_PUNCT = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?",
    "！": "!", "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~",
    "’": "'", "…": "...", "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%",
    "►": "-",
}  # fmt: skip

# cc_net's NON_PRINTING_CHARS_RE: C0 and C1 controls (tab and newline included).
_CONTROLS = [*range(0, 32), *range(127, 160)]


@functools.cache
def _marks_and_digits() -> tuple[list[int], list[int]]:
    """Code points of combining marks (Mn) and of decimal digits (Nd), as Python's re \\d knows them."""
    category = unicodedata.category
    marks, digits = [], []
    # Planes 4-13 are unassigned and 15-16 private use: no marks or digits there.
    for code in (*range(0x40000), *range(0xE0000, 0xF0000)):
        c = category(chr(code))
        if c == "Mn":
            marks.append(code)
        elif c == "Nd":
            digits.append(code)
    return marks, digits


@functools.cache
def translation(numbers: bool = True, punct: bool = True, accents: bool = True) -> dict[int, str | None]:
    """The one translation table doing digits, punctuation, control removal and mark removal."""
    marks, digits = _marks_and_digits()
    table: dict[int, str | None] = {}
    if accents:
        table.update(dict.fromkeys(marks))
    if punct:
        # Full-width ASCII forms first, so that cc_net's own entries below override them.
        for code in range(0xFF01, 0xFF5F):
            table[code] = chr(code - 0xFEE0)
        table[0x3000] = " "
        table.update({ord(k): v for k, v in CCNET_PUNCT.items()})
    if numbers:
        table.update(dict.fromkeys(digits, "0"))
    for code in _CONTROLS:
        table[code] = None
    return table


def normalize(line: str, numbers: bool = True, punct: bool = True, accents: bool = True, case: bool = True) -> str:
    """One line (paragraph) normalized as cc_net does before SentencePiece and KenLM."""
    return normalize_all([line], numbers, punct, accents, case)[0]


def normalize_all(lines: list[str], numbers: bool = True, punct: bool = True, accents: bool = True, case: bool = True) -> list[str]:
    """`normalize` over many lines, with the table looked up once."""
    table = translation(numbers, punct, accents)
    is_nfd, nfd = unicodedata.is_normalized, unicodedata.normalize
    out = []
    for line in lines:
        line = line.strip()
        if case:
            line = line.lower()
        if accents and not is_nfd("NFD", line):
            line = nfd("NFC", nfd("NFD", line).translate(table))
        else:
            line = line.translate(table)
        out.append(line)
    return out
