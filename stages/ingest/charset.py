"""Deciding the character encoding of a fetched page: BOM, HTTP header, <meta>, then the bytes.

A browser trusts declarations in the WHATWG order (BOM, HTTP charset, <meta> in the first
1,024 bytes). Crawled pages often lie: servers send `charset=utf-8` for GBK pages, or a default
`iso-8859-1`; gb2312 labels cover gb18030 bytes. So a declaration here is only a candidate, and
each is checked against the bytes:

1. a BOM decides (WHATWG: it overrides every declaration);
2. bytes that are valid UTF-8 *and* contain non-ASCII sequences are UTF-8, whatever the labels
   say: GBK/Big5/Shift_JIS text essentially never forms valid multi-byte UTF-8 by accident;
3. a declared multi-byte CJK encoding is used when the bytes decode under it strictly
   (a declaration that fails to decode is a lie, and the next candidate is tried);
4. UTF-8 with a few broken sequences (a truncated payload, one pasted Latin-1 byte) stays UTF-8;
5. a declared single-byte encoding (windows-1251, koi8-r, ...) is kept unless detection on the
   bytes finds a CJK encoding that decodes them strictly (a default `iso-8859-1` on a GBK page);
6. with nothing usable declared, charset-normalizer guesses from the bytes;
7. failing all that, the first declaration (or UTF-8) with replacement characters.

Labels map to decoders the WHATWG way (gb2312 and gbk -> gb18030, big5 -> big5-hkscs,
shift_jis -> cp932, euc-kr -> cp949, iso-8859-1 and ascii -> windows-1252).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace

import ftfy
from charset_normalizer import from_bytes

from stages.text.mojibake import repair_utf8_read_as_gbk

# WHATWG Encoding Standard labels whose decoder is a superset of what the label names; every
# other label goes through Python's codec registry, which knows the rest of the common labels.
_WHATWG_LABELS: dict[str, str] = {
    **dict.fromkeys(
        ("gb2312", "gbk", "x-gbk", "gb_2312", "gb_2312-80", "chinese", "csgb2312", "csiso58gb231280", "iso-ir-58", "gb18030"),
        "gb18030",
    ),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5", "big5hkscs", "cp950"), "big5hkscs"),
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms932", "ms_kanji", "csshiftjis", "windows-31j", "cp932"), "cp932"
    ),
    **dict.fromkeys(
        ("euc-kr", "euc_kr", "cseuckr", "csksc56011987", "iso-ir-149", "korean", "ks_c_5601-1987", "ks_c_5601-1989",
         "ksc5601", "ksc_5601", "windows-949", "cp949"),
        "cp949",
    ),
    **dict.fromkeys(
        ("iso-8859-1", "iso8859-1", "iso_8859-1", "iso88591", "latin1", "l1", "cp819", "ibm819", "csisolatin1",
         "iso-ir-100", "iso_8859-1:1987", "ascii", "us-ascii", "ansi_x3.4-1968", "windows-1252", "x-cp1252", "cp1252"),
        "cp1252",
    ),
    **dict.fromkeys(("windows-874", "tis-620", "iso-8859-11", "iso8859-11", "dos-874"), "cp874"),
    **dict.fromkeys(("x-mac-cyrillic", "x-mac-ukrainian"), "mac-cyrillic"),
    **dict.fromkeys(("macintosh", "mac", "x-mac-roman", "csmacintosh"), "mac-roman"),
    **dict.fromkeys(("iso-8859-8-i", "csiso88598i", "logical"), "iso8859-8"),
}

# Other decoders a label may need besides its first: Big5 pages also use the cp950 (ETEN)
# extensions, which big5-hkscs maps differently or not at all.
_ALTERNATIVES: dict[str, tuple[str, ...]] = {"big5hkscs": ("big5hkscs", "cp950")}

# Encodings whose strict decoding of non-ASCII bytes is evidence: most random byte pairs are
# invalid in them. Single-byte encodings decode (nearly) anything, so they prove nothing.
_MULTIBYTE = frozenset(
    ("utf-8", "gb18030", "big5hkscs", "cp950", "cp932", "cp949", "euc_jp", "shift_jis", "euc_kr", "iso2022_jp", "hz")
)

# WHATWG: the <meta> prescan looks at the first 1,024 bytes only.
META_PRESCAN_BYTES = 1024
_META = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]+)""", re.IGNORECASE)

# Replacement characters tolerated in a UTF-8 decoding, as a share of its non-ASCII characters.
# Measured on the dev crawl: every non-UTF-8 page (GBK, Big5, Shift_JIS, cp1251, ...) decoded
# as UTF-8 has at least 72% of them replaced; one stray byte inside a CJK character costs up to 3.
NEAR_UTF8_MAX_REPLACED = 0.05

_NON_ASCII = re.compile(r"[^\x00-\x7f]")

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # the Python codec that produced `text`
    decided_by: str  # bom, ascii, utf8, http, meta, near_utf8, detected, fallback


def codec_for_label(label: str | None) -> str | None:
    """The decoder for an encoding label, following WHATWG where it names a superset."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WHATWG_LABELS:
        return _WHATWG_LABELS[label]
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name.startswith("utf-16") or name.startswith("utf-32"):
        # WHATWG: a label found in ASCII-compatible bytes cannot be UTF-16; it means UTF-8.
        return "utf-8"
    return _WHATWG_LABELS.get(name, name)


def meta_charset(payload: bytes) -> str | None:
    """The charset named by a <meta charset> or <meta http-equiv content> in the prescan window."""
    match = _META.search(payload, 0, META_PRESCAN_BYTES)
    return match.group(1).decode("ascii") if match else None


def _strict(payload: bytes, codec: str) -> Decoded | None:
    """The strict decoding under `codec` (or one of its alternatives), if there is one."""
    for candidate in _ALTERNATIVES.get(codec, (codec,)):
        try:
            return Decoded(payload.decode(candidate), candidate, "")
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def _near_utf8(payload: bytes) -> str | None:
    text = payload.decode("utf-8", errors="replace")
    non_ascii = len(_NON_ASCII.findall(text))
    return text if text.count("\ufffd") <= NEAR_UTF8_MAX_REPLACED * non_ascii else None


def _detected(payload: bytes) -> Decoded | None:
    """charset-normalizer's best guess, if it decodes the bytes strictly."""
    best = from_bytes(payload).best()
    codec = codec_for_label(best.encoding) if best is not None else None
    return _strict(payload, codec) if codec else None


def decode_html(payload: bytes, http_charset: str | None = None) -> Decoded:
    """Decode a page's bytes, checking every declaration against the bytes themselves."""
    for bom, codec in _BOMS:
        if payload.startswith(bom):
            return Decoded(payload.decode(codec, errors="replace"), codec, "bom")
    if payload.isascii():
        return Decoded(payload.decode("ascii"), "ascii", "ascii")
    try:
        return Decoded(payload.decode("utf-8"), "utf-8", "utf8")
    except UnicodeDecodeError:
        pass
    declared = [(codec_for_label(http_charset), "http"), (codec_for_label(meta_charset(payload)), "meta")]
    declared = [(codec, by) for codec, by in declared if codec and codec != "utf-8"]
    for codec, by in declared:
        if codec in _MULTIBYTE and (strict := _strict(payload, codec)) is not None:
            return replace(strict, decided_by=by)
    text = _near_utf8(payload)
    if text is not None:
        return Decoded(text, "utf-8", "near_utf8")
    single = [(codec, by) for codec, by in declared if codec not in _MULTIBYTE]
    detected = _detected(payload)
    if detected is not None and (not single or detected.charset in _MULTIBYTE):
        return replace(detected, decided_by="detected")
    for codec, by in single:
        if (strict := _strict(payload, codec)) is not None:
            return replace(strict, decided_by=by)
    codec = next((codec for codec, _ in declared), "utf-8")
    return Decoded(payload.decode(codec, errors="replace"), codec, "fallback")


# A character that UTF-8 lead bytes become in windows-1252/latin-1 (Â..ô), followed by one that
# continuation bytes become: the mark of UTF-8 read as a single-byte code page ("ä¸­æ–‡").
# It is a cheap gate: ftfy's own badness check costs about 1.5 ms per page (measured on the
# dev crawl), this regex about 0.05 ms, and on the dev crawl it fires on exactly the 10
# utf8_as_cp1252 pages.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as windows-1252/latin-1 or as GBK before the page was served.

    This must run on the whole decoded page, before extraction: text extraction collapses the
    U+00A0 and drops the U+00AD that cp1252 mojibake contains, after which the original bytes
    can no longer be rebuilt. ftfy's `fix_encoding` only changes what it can decode back, so
    full-width punctuation and correct text are left alone. UTF-8 read as GBK ("鍙戝竷") is
    undone run by run (stages/text/mojibake.py); each U+FFFD in it lost a byte, which is
    restored when the bytes around it fix it and guessed otherwise.
    """
    if _MOJIBAKE.search(text):
        text = ftfy.fix_encoding(text)
    return repair_utf8_read_as_gbk(text)
