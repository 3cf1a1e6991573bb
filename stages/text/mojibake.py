"""Mojibake repair with ftfy, configured so that it never rewrites correct Chinese text.

ftfy's defaults also "fix" things that are not broken in Chinese: `fix_character_width` turns
full-width punctuation (：！（）) into ASCII, `uncurl_quotes` straightens “”, and NFKC-like
normalization and ligature/line-break rewrites change stored text. Only the encoding repairs are
kept here; NFC, control characters and whitespace are handled by stages/text/cleanup.py.

ftfy is slow (about 3 MB/s on the dev crawl), but it changes nothing in a text unless its own
badness regex matches. That regex is translated once to RE2 and run columnar (hundreds of MB/s),
so ftfy runs only on the few documents that can need it. UTF-8 read as GBK, which ftfy does not
handle, is undone after it (see the second half of this module).
"""

from __future__ import annotations

import collections
import functools
import re

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
    # ESC starts the terminal escapes ftfy removes, U+FFFD marks UTF-8 read as GBK (see below);
    # the rest is ftfy's own mojibake detector.
    return "\x1b|\ufffd|" + _verbose_to_re2(ftfy.badness.BADNESS_RE.pattern)


def may_be_broken(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Documents in which ftfy could change something (a superset of those it changes)."""
    return pc.match_substring_regex(texts, _gate_pattern()).fill_null(False).to_numpy(zero_copy_only=False)


def repair(texts: list[str]) -> list[str]:
    """ftfy's encoding repairs, then UTF-8 read as GBK, one document at a time."""
    return [repair_utf8_read_as_gbk(ftfy.fix_text(t, FTFY_CONFIG)) for t in texts]



# --- UTF-8 read as GBK ("简体中文" served as "绠�浣撲腑鏂�") ---------------------------------
#
# ftfy only undoes single-byte misreadings. UTF-8 read as GBK can be undone too, except for one
# byte per U+FFFD: re-encoding the misread text as GBK gives back the UTF-8 bytes, and the GBK
# decoder replaced exactly one byte by each U+FFFD (a lone 0x80, or a lead byte whose follower
# is not a GBK trail byte). In UTF-8 text that byte is a continuation byte, and when the byte
# after it is not ASCII below 0x40 it can only have been 0x80 (any other lead would have paired
# with it). Otherwise one of the 64 continuation bytes is chosen: the character the rest of the
# page uses most, then a common character (GB2312 level 1), then any GB2312 character.
#
# A run of non-ASCII characters is replaced only when its bytes decode strictly as UTF-8 into
# Han text with no Latin-1..Cyrillic characters: GBK bytes of real Chinese text essentially never
# form valid multi-byte UTF-8 (the argument charset detection makes), and runs of one character
# are left alone. Only pages holding a U+FFFD are scanned (a substring test; scanning every run
# costs about 1 ms a page on the dev crawl): a misread run of an odd number of CJK characters
# always leaves one, so a page with a few misread runs all but surely has one.

_MISREAD_RUN = re.compile(r"[^\x00-\x7f]{2,}")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TWO_BYTE_UTF8 = re.compile(r"[\u0080-\u07ff]")


def _gb2312_rank(char: str) -> int:
    """0 for a GB2312 level-1 (common) character, 1 for level 2 and symbols, 2 otherwise."""
    try:
        code = char.encode("gb2312")
    except UnicodeEncodeError:
        return 2
    return 0 if len(code) == 2 and 0xB0 <= code[0] <= 0xD7 else 1


def _utf8_length(lead: int) -> int:
    return 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _unmisread_run(run: str, follower: int | None, page_chars: collections.Counter) -> str | None:
    """The UTF-8 text whose GBK misreading is `run`, or None if `run` is not such a misreading."""
    try:
        parts = [piece.encode("gbk") for piece in run.split("\ufffd")]
    except UnicodeEncodeError:
        return None
    data = bytearray(parts[0])
    holes = []
    for part in parts[1:]:
        holes.append(len(data))
        data.append(0x80)
        data += part
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not _HAN.search(text) or _TWO_BYTE_UTF8.search(text):
        return None
    if not holes:
        return text
    for hole in holes:
        after = data[hole + 1] if hole + 1 < len(data) else follower
        if after is not None and after >= 0x40:
            continue  # the lost byte was 0x80
        lead = hole - 1
        while lead >= 0 and 0x80 <= data[lead] < 0xC0 and lead not in holes:
            lead -= 1
        if lead < 0 or data[lead] < 0xC0:
            continue
        size = _utf8_length(data[lead])
        best = None
        for byte in range(0x80, 0xC0):
            candidate = bytearray(data[lead : lead + size])
            candidate[hole - lead] = byte
            try:
                char = bytes(candidate).decode("utf-8")
            except UnicodeDecodeError:
                continue
            score = (-page_chars[char], _gb2312_rank(char), byte)
            if best is None or score < best[0]:
                best = (score, byte)
        if best is not None:
            data[hole] = best[1]
    return bytes(data).decode("utf-8", errors="replace")


def repair_utf8_read_as_gbk(text: str) -> str:
    """`text` with every run of UTF-8-read-as-GBK mojibake decoded back (see above)."""
    if "\ufffd" not in text:
        return text
    page_chars = collections.Counter(text)
    out = []
    last = 0
    for match in _MISREAD_RUN.finditer(text):
        run = match.group()
        end = match.end()
        follower = ord(text[end]) if end < len(text) else None
        fixed = _unmisread_run(run, follower, page_chars)
        if fixed is not None and fixed != run:
            out.append(text[last : match.start()])
            out.append(fixed)
            last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)
