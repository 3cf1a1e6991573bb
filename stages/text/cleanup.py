"""Unicode cleanup for stored text: invisible characters, NFC and whitespace, all columnar (RE2)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# C0 controls except \t and \n (\r is handled as a line break first), DEL, C1 controls, and
# invisible format characters: soft hyphen, zero-width space/non-joiner/joiner, LRM/RLM and the
# bidi embeddings and isolates, word joiner and invisible operators, the BOM/ZWNBSP, and the
# interlinear annotation marks. None of them carries text; all of them split words for the
# dedup shingles and the LM.
INVISIBLE = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{ad}\x{180e}\x{200b}-\x{200f}\x{202a}-\x{202e}"
    r"\x{2060}-\x{2064}\x{2066}-\x{206f}\x{feff}\x{fff9}-\x{fffb}]"
)
# Horizontal whitespace other than the space and the tab: no-break spaces, the typographic
# spaces and the ideographic space (U+3000, used to indent Chinese paragraphs).
_OTHER_SPACE = r"\x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}"
_SPACE = " " + _OTHER_SPACE
# Line and paragraph separators become plain line breaks.
_LINE_BREAK = r"\r\n?|[\x{85}\x{2028}\x{2029}]"


def strip_invisible(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Turn every line-break form into \\n, then delete control and zero-width characters."""
    return pc.replace_substring_regex(pc.replace_substring_regex(texts, _LINE_BREAK, "\n"), INVISIBLE, "")


def nfc(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.utf8_normalize(texts, "NFC")


def collapse_whitespace(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """One separator per whitespace run, no blank-line runs, no spaces at line ends.

    A run holding a tab becomes one tab (it separates columns); any other run of horizontal
    spaces becomes one ASCII space; spaces at the start and end of lines go (indentation carries
    no text); at most one empty line is kept between paragraphs.
    """
    texts = pc.replace_substring_regex(texts, rf"[{_SPACE}]*\t[\t{_SPACE}]*", "\t")
    texts = pc.replace_substring_regex(texts, rf"[{_SPACE}]{{2,}}|[{_OTHER_SPACE}]", " ")
    texts = pc.replace_substring_regex(texts, r"(?m)^[ \t]+|[ \t]+$", "")
    texts = pc.replace_substring_regex(texts, r"\n{3,}", "\n\n")
    return pc.utf8_trim(texts, "\n")
