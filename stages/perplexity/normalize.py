"""cc_net's text normalization for language modelling, columnar: Arrow kernels and one numpy table lookup.

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
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


# Code points below this have a row in the lookup tables; above it only marks (plane 14's
# variation selectors) change, and are deleted.
_TABLE_SIZE = 0x30000
_WIDTH = 3  # the longest replacement: "..." and " - "


@dataclass(frozen=True)
class _Lookup:
    """`translation` as arrays indexed by code point (below _TABLE_SIZE)."""

    first: np.ndarray  # uint32: the first character of the replacement (the code point itself if unchanged)
    length: np.ndarray  # int8: characters in the replacement (0: deleted)
    rest: np.ndarray  # uint32 (_TABLE_SIZE, _WIDTH - 1): the replacement's further characters
    utf8: np.ndarray  # int64: UTF-8 bytes of the replacement
    deleted_above: np.ndarray  # deleted code points >= _TABLE_SIZE


@functools.cache
def _lookup(numbers: bool, punct: bool, accents: bool) -> _Lookup:
    codes = np.arange(_TABLE_SIZE, dtype=np.uint32)
    first, length = codes.copy(), np.ones(_TABLE_SIZE, np.int8)
    rest = np.zeros((_TABLE_SIZE, _WIDTH - 1), np.uint32)
    utf8 = _utf8_lengths(codes)
    deleted_above = []
    for code, value in translation(numbers, punct, accents).items():
        if code >= _TABLE_SIZE:
            assert value is None, "only deletions above the table"
            deleted_above.append(code)
            continue
        value = value or ""
        length[code] = len(value)
        utf8[code] = len(value.encode("utf-8"))
        if value:
            first[code] = ord(value[0])
            rest[code, : len(value) - 1] = [ord(c) for c in value[1:]]
    return _Lookup(first, length, rest, utf8, np.asarray(sorted(deleted_above), dtype=np.uint32))


def _utf8_lengths(cps: np.ndarray) -> np.ndarray:
    return (1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)).astype(np.int64)


def _translate(lines: pa.StringArray, numbers: bool, punct: bool, accents: bool) -> pa.StringArray:
    """`str.translate(translation(...))` of every line at once, over code points in numpy.

    Most characters map to one character: a gather does them. The few that are deleted or
    become several are then removed or expanded in one vectorized delete/insert.
    """
    n = len(lines)
    table = _lookup(numbers, punct, accents)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + n + 1]
    data = lines.buffers()[2]
    text = (data.to_pybytes()[offsets[0] : offsets[-1]] if data is not None else b"").decode("utf-8")
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    above = np.flatnonzero(cps >= _TABLE_SIZE)
    index = np.minimum(cps, _TABLE_SIZE - 1)
    out, length, utf8 = table.first[index], table.length[index], table.utf8[index]
    if len(above):
        gone = np.isin(cps[above], table.deleted_above)
        out[above], length[above] = cps[above], np.where(gone, 0, 1)
        utf8[above] = np.where(gone, 0, _utf8_lengths(cps[above]))
    # Byte offsets of the output lines, from each input character's output size.
    char_offsets = np.concatenate(([0], np.cumsum(pc.utf8_length(lines).to_numpy(zero_copy_only=False))))
    out_offsets = np.concatenate(([0], np.cumsum(utf8)))[char_offsets].astype(np.int32)
    special = np.flatnonzero(length != 1)
    if len(special):
        wide = special[length[special] > 1]
        counts = length[wide].astype(np.int64) - 1
        at = np.repeat(wide + 1, counts)
        slot = np.arange(len(at)) - np.repeat(np.cumsum(counts) - counts, counts)
        extra = table.rest[index[np.repeat(wide, counts)], slot]
        keep = np.ones(len(out), dtype=bool)
        keep[special[length[special] == 0]] = False
        # Insert first (positions refer to the input), then drop the deleted characters.
        out = np.insert(out, at, extra)
        keep = np.insert(keep, at, True)
        out = out[keep]
    body = out.astype("<u4").tobytes().decode("utf-32-le").encode("utf-8")
    return pa.StringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(body))


def normalize_array(lines: pa.Array, numbers: bool = True, punct: bool = True, accents: bool = True, case: bool = True) -> pa.StringArray:
    """Every line normalized as cc_net does before SentencePiece and KenLM (null: empty).

    Columnar: strip, lowercase (Unicode case mapping, utf8proc), NFD, then one table lookup per
    code point in numpy (digits, punctuation, controls, marks), then NFC.
    """
    lines = pc.utf8_trim_whitespace(lines.fill_null("")) if len(lines) else pa.array([], pa.string())
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if case:
        lines = pc.utf8_lower(lines)
    if not accents:
        return _translate(lines, numbers, punct, accents)
    # NFD and NFC leave lines of ASCII, CJK ideographs and CJK/full-width punctuation as they
    # are, and translating them creates nothing to compose: only the other lines go through.
    other = np.flatnonzero(~pc.match_substring_regex(lines, _UNCHANGED_BY_NFD).to_numpy(zero_copy_only=False))
    if len(other):
        decomposed = pc.utf8_normalize(lines.take(pa.array(other)), "NFD")
        lines = _replace(lines, other, decomposed)
    lines = _translate(lines, numbers, punct, accents)
    if len(other):
        lines = _replace(lines, other, pc.utf8_normalize(lines.take(pa.array(other)), "NFC"))
    return lines


# Lines made only of characters that NFD and NFC map to themselves and that are no marks
# (checked for every code point of these ranges in tests/test_perplexity_normalize.py).
UNCHANGED_RANGES = ((0x00, 0x7F), (0x2010, 0x2027), (0x3000, 0x3029), (0x3030, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))
_UNCHANGED_BY_NFD = "^[" + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in UNCHANGED_RANGES) + "]*$"


def _replace(lines: pa.StringArray, at: np.ndarray, values: pa.StringArray) -> pa.StringArray:
    """`lines` with `lines[at[i]]` replaced by `values[i]`."""
    index = np.arange(len(lines))
    index[at] = len(lines) + np.arange(len(at))
    return pa.concat_arrays([lines, values]).take(pa.array(index))


def normalize_all(lines: list[str], numbers: bool = True, punct: bool = True, accents: bool = True, case: bool = True) -> list[str]:
    return normalize_array(pa.array(lines, pa.string()), numbers, punct, accents, case).to_pylist()


def normalize(line: str, numbers: bool = True, punct: bool = True, accents: bool = True, case: bool = True) -> str:
    """One line (paragraph) normalized as cc_net does before SentencePiece and KenLM."""
    return normalize_all([line], numbers, punct, accents, case)[0]
