"""Mojibake repair with ftfy, configured so that it never rewrites correct Chinese text.

ftfy's defaults also "fix" things that are not broken in Chinese: `fix_character_width` turns
full-width punctuation (：！（）) into ASCII, `uncurl_quotes` straightens “”, and NFKC-like
normalization and ligature/line-break rewrites change stored text. Only the encoding repairs are
kept here; NFC, control characters and whitespace are handled by stages/text/cleanup.py.

ftfy is slow (about 3 MB/s on the dev crawl), but it changes nothing in a text unless its own
badness regex matches. That regex is translated once to RE2 and run columnar (hundreds of MB/s),
so ftfy runs only on the few documents that can need it.
"""

from __future__ import annotations

import functools

import ftfy
import ftfy.badness
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,  # entities belong to HTML extraction; man pages quote "&lt;" literally
    remove_terminal_escapes=True,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,  # keeps ：！（） full-width
    uncurl_quotes=False,  # keeps “”‘’
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)


def _verbose_to_re2(pattern: str) -> str:
    """A Python re.VERBOSE pattern as RE2 syntax: drop comments and layout whitespace.

    Python's \\w and \\s are Unicode-aware, RE2's are ASCII-only: they become Unicode classes so
    the RE2 pattern matches wherever the Python one does.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            escape = pattern[i : i + 2]
            unicode_class = {"\\w": r"\pL\pN_", "\\s": r"\s\pZ"}.get(escape)
            if unicode_class:
                escape = unicode_class if in_class else f"[{unicode_class}]"
            out.append(escape)
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c == "#":
            newline = pattern.find("\n", i)
            i = len(pattern) if newline < 0 else newline
            continue
        elif not c.isspace():
            out.append(c)
        i += 1
    return "".join(out)


@functools.cache
def _gate_pattern() -> str:
    # ESC starts the terminal escapes ftfy removes; the rest is ftfy's own mojibake detector.
    return "\x1b|" + _verbose_to_re2(ftfy.badness.BADNESS_RE.pattern)


def may_be_broken(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Documents in which ftfy could change something (a superset of those it changes)."""
    return pc.match_substring_regex(texts, _gate_pattern()).fill_null(False).to_numpy(zero_copy_only=False)


def repair(texts: list[str]) -> list[str]:
    """ftfy's encoding repairs, one document at a time (ftfy works per line of a string)."""
    return [ftfy.fix_text(t, FTFY_CONFIG) for t in texts]
