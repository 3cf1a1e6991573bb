"""Shingles: the n-grams of a document's tokens, hashed to 32-bit integers, per document.

Tokens are read off the folded text (`normalize.folded_text`: NFKC, lowercase). Punctuation,
separators, control and format characters (Unicode P*, Z*, Cc, Cf) are never part of a token.
Two token modes:
- "mixed" (signature 1): every character of a script written without spaces (Han, kana,
  bopomofo, Thai, Lao, Myanmar, Khmer) is a token of its own; every other run of characters is a
  word token. Chinese thus gets character n-grams, space-delimited languages word n-grams, and
  mixed text both.
- "chars" (signature 2): every character is a token, whatever its script: character n-grams
  throughout, which survive scattered character edits of space-delimited text.

A shingle is n consecutive tokens of one document. Its string joins them with one space between
two word tokens and nothing next to an unspaced character ("中文字符串", "the quick brown fox
jumps", "ls命令列出"; "chars" joins with nothing); `shingle_strings` is the plain-Python
statement of that definition. Documents with fewer than n tokens have no shingles.

Shingle hashes (`hash`):
- "poly" (the default): each token is hashed as a polynomial of its code points mod 2^64, the n
  token hashes are combined positionally, mixed by splitmix64, upper 32 bits (`poly_hash32`,
  `poly_char_hash32` per shingle string). Fully vectorised; datasketch's MinHash equals ours when
  given `hashfunc=poly_hash32` (or poly_char_hash32), so a LeanMinHash is rebuilt from our values.
- "sha1": the first four bytes of SHA-1 of the shingle string's UTF-8, little-endian, which is
  datasketch's default `sha1_hash32`; signatures then equal datasketch's MinHash without a
  hashfunc. One hashlib call per distinct shingle: about 10x slower.
Everything except the SHA-1 calls is numpy over a whole batch of documents (`ShingleText`, which
can also fold raw text itself, by table lookup, to the code points `folded_text` gives).
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ShingleHash = Literal["sha1", "poly"]
# "mixed": characters of unspaced scripts and words of the others (the default); "chars": every
# character that is not a separator is a token, whatever its script (character n-grams throughout).
Tokens = Literal["mixed", "chars"]

# [start, end) code point ranges of scripts written without spaces between words.
_UNSPACED = np.array(
    [
        0x0E00, 0x0F00,  # Thai, Lao
        0x1000, 0x10A0,  # Myanmar
        0x1780, 0x1800,  # Khmer
        0x2E80, 0x2FE0,  # CJK radicals, Kangxi radicals
        0x3005, 0x3008,  # 々 〆 〇
        0x3021, 0x302A,  # Hangzhou numerals
        0x3040, 0x3130,  # hiragana, katakana, bopomofo
        0x31A0, 0x31C0,  # bopomofo extended
        0x31F0, 0x3200,  # katakana phonetic extensions
        0x3400, 0x4DC0,  # CJK extension A
        0x4E00, 0xA000,  # CJK unified ideographs
        0xF900, 0xFB00,  # CJK compatibility ideographs
        0x1B000, 0x1B170,  # kana supplement and extended
        0x20000, 0x40000,  # CJK extensions B-H
    ],
    dtype=np.uint32,
)
# Unicode categories that separate tokens and never belong to one.
_SEPARATOR_CATEGORIES = frozenset({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Zs", "Zl", "Zp", "Cc", "Cf"})
_MASK64 = (1 << 64) - 1
# Odd multiplier of a token's polynomial hash (the 64-bit golden ratio), and its inverse mod 2^64.
_BASE = 0x9E3779B97F4A7C15
_BASE_INV = pow(_BASE, -1, 1 << 64)
# Odd multiplier combining the token hashes of a shingle (splitmix64's second constant).
_COMBINE = 0xBF58476D1CE4E5B9


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective avalanche mix of uint64 values."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)  # one copy, then in place (measured 25% faster)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
        return x


def _splitmix64_int(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


# --- the reference definition, one string at a time ----------------------------------------


def _is_separator_char(char: str) -> bool:
    return unicodedata.category(char) in _SEPARATOR_CATEGORIES


def _is_unspaced_char(char: str) -> bool:
    return bool(np.searchsorted(_UNSPACED, np.uint32(ord(char)), side="right") % 2)


def _tokens(folded: str, tokens_mode: Tokens = "mixed") -> list[str]:
    if tokens_mode == "chars":
        return [char for char in folded if not _is_separator_char(char)]
    tokens, run = [], ""
    for char in folded:
        if _is_separator_char(char) or _is_unspaced_char(char):
            if run:
                tokens.append(run)
                run = ""
            if not _is_separator_char(char):
                tokens.append(char)
        else:
            run += char
    if run:
        tokens.append(run)
    return tokens


def shingle_strings(folded: str, n: int, tokens_mode: Tokens = "mixed") -> list[str]:
    """The shingles of one folded text, in order, repeats included (the reference definition)."""
    tokens = _tokens(folded, tokens_mode)
    shingles = []
    for k in range(len(tokens) - n + 1):
        text = tokens[k]
        for previous, token in zip(tokens[k : k + n - 1], tokens[k + 1 : k + n]):
            joined = tokens_mode == "mixed" and not (_is_unspaced_char(previous[-1]) or _is_unspaced_char(token[0]))
            text += (" " if joined else "") + token
        shingles.append(text)
    return shingles


def _token_hash_int(token: str) -> int:
    h, power = 0, 1
    for char in token:
        h = (h + (ord(char) + 1) * power) & _MASK64
        power = (power * _BASE) & _MASK64
    return _splitmix64_int(h)


def poly_hash32(shingle: bytes, tokens_mode: Tokens = "mixed") -> int:
    """The "poly" hash of one shingle string (UTF-8), for datasketch's `hashfunc`."""
    h, power = 0, 1
    for token in _tokens(shingle.decode("utf-8"), tokens_mode):
        h = (h + _token_hash_int(token) * power) & _MASK64
        power = (power * _COMBINE) & _MASK64
    return _splitmix64_int(h) >> 32


def poly_char_hash32(shingle: bytes) -> int:
    """The "poly" hash of one shingle string of tokens="chars", for datasketch's `hashfunc`."""
    return poly_hash32(shingle, "chars")


def sha1_hash32(shingle: bytes) -> int:
    """datasketch's default shingle hash (`datasketch.hashfunc.sha1_hash32`)."""
    return int.from_bytes(hashlib.sha1(shingle).digest()[:4], "little")


# --- vectorised ----------------------------------------------------------------------------


@functools.cache
def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """Separator and unspaced flags of every Basic Multilingual Plane code point (built once)."""
    separator = np.fromiter((unicodedata.category(chr(c)) in _SEPARATOR_CATEGORIES for c in range(0x10000)), dtype=bool, count=0x10000)
    unspaced = np.zeros(0x10000, dtype=bool)
    for low, high in _UNSPACED.reshape(-1, 2).tolist():
        unspaced[low : min(high, 0x10000)] = True
    return separator, unspaced


@dataclass(frozen=True)
class _FoldTables:
    """Per BMP code point, its NFKC-lowercased form (`normalize.folded_text` of it alone) as
    `length` code points from `start` in `pool`, and whether a text holding it is folded whole."""

    length: np.ndarray
    start: np.ndarray
    pool: np.ndarray
    whole: np.ndarray
    first: np.ndarray  # uint32: the first code point of each form (the whole form, mostly)


@functools.cache
def _fold_tables() -> _FoldTables:
    """Folding character by character equals folding the text unless a character interacts with
    its neighbours: a combining mark (reordered, composed with the character before), the second
    character of a canonical composition (U+0B3E, Hangul vowel and final jamo), or one whose
    decomposition or folded form starts with either. A text with any of these (rare outside
    decomposed Latin and conjoining jamo) is folded by pyarrow. Built once per process (~1.5 s)."""
    from stages.dedup.normalize import folded_text

    chars = [" " if 0xD800 <= c < 0xE000 else chr(c) for c in range(0x10000)]
    folded = folded_text(pa.array(chars, pa.string())).to_pylist()
    seconds = {int(d.split()[1], 16) for d in map(unicodedata.decomposition, chars) if d and not d.startswith("<") and len(d.split()) == 2}
    seconds |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))

    def interacts(text: str) -> bool:
        return bool(text) and (unicodedata.combining(text[0]) > 0 or ord(text[0]) in seconds)

    whole = np.zeros(0x10000, dtype=bool)
    whole[0xD800:0xE000] = True
    for c, (char, out) in enumerate(zip(chars, folded)):
        whole[c] |= interacts(char) or interacts(out) or interacts(unicodedata.normalize("NFKD", char))
    length = np.array([len(out) for out in folded], dtype=np.int64)
    pool = np.frombuffer("".join(folded).encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint32)
    start = np.cumsum(length) - length
    return _FoldTables(length, start, pool, whole, pool[start])


@functools.cache
def _char_hashes() -> np.ndarray:
    """The token hash of every one-character BMP token, splitmix64(code point + 1) (built once)."""
    return splitmix64(np.arange(1, 0x10001, dtype=np.uint64))


def _classify(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(separator, unspaced) flags of code points: a table lookup, astral planes looked up apart."""
    separator_bmp, unspaced_bmp = _bmp_tables()
    clipped = np.minimum(cp, 0xFFFF)
    separator, unspaced = separator_bmp[clipped], unspaced_bmp[clipped]
    astral = np.flatnonzero(cp > 0xFFFF)
    if len(astral):
        values, inverse = np.unique(cp[astral], return_inverse=True)
        separator[astral] = np.array([_is_separator_char(chr(v)) for v in values.tolist()], dtype=bool)[inverse]
        unspaced[astral] = (np.searchsorted(_UNSPACED, cp[astral], side="right") % 2).astype(bool)
    return separator, unspaced


class _Powers:
    """BASE^i and BASE^-i mod 2^64, grown on demand and kept for the life of the process."""

    forward = np.ones(1, dtype=np.uint64)
    inverse = np.ones(1, dtype=np.uint64)

    @classmethod
    def get(cls, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(cls.forward) < n:
            size = max(n, 2 * len(cls.forward))
            for name, base in (("forward", _BASE), ("inverse", _BASE_INV)):
                steps = np.full(size, base, dtype=np.uint64)
                steps[0] = 1
                setattr(cls, name, np.cumprod(steps))
        return cls.forward[:n], cls.inverse[:n]


@dataclass
class Shingles:
    """The 32-bit shingle hashes of a batch of documents, grouped by document (repeats allowed)."""

    doc: np.ndarray  # int64, non-decreasing: the document (index in the batch) of each hash
    hash: np.ndarray  # uint32

    def __len__(self) -> int:
        return len(self.hash)

    def distinct(self) -> Shingles:
        """Each document's set of hashes, sorted: what MinHash estimates and Jaccard compares."""
        packed = np.sort((self.doc.astype(np.uint64) << np.uint64(32)) | self.hash)
        keep = np.ones(len(packed), dtype=bool)
        keep[1:] = packed[1:] != packed[:-1]
        packed = packed[keep]
        return Shingles((packed >> np.uint64(32)).astype(np.int64), (packed & np.uint64(0xFFFFFFFF)).astype(np.uint32))


def _codepoints(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The code points of all strings, concatenated, and the number of code points of each."""
    lengths = np.asarray(pc.utf8_length(strings).fill_null(0), dtype=np.int64)
    offset_type = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], dtype=offset_type)[strings.offset : strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    raw = bytes(memoryview(data)[offsets[0] : offsets[-1]]) if data is not None and len(offsets) else b""
    # One C-level decode for the whole batch; surrogatepass keeps lone surrogates countable.
    text = raw.decode("utf-8", "surrogatepass")
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4"), lengths


def _fold(texts: pa.Array, cp: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The code points of folded_text(texts) and their per-text counts, from the raw ones."""
    from stages.dedup.normalize import folded_text

    tables = _fold_tables()
    raw_ends = np.cumsum(lengths)
    clipped = np.minimum(cp, 0xFFFF)
    folded = tables.first[clipped]
    multi = np.flatnonzero(tables.length[clipped] != 1)
    if len(multi):  # "…" -> "...", "™" -> "tm": few, spliced in one by one
        sizes = tables.length[clipped[multi]]
        pieces, done = [], 0
        for at, begin, size in zip(multi.tolist(), tables.start[clipped[multi]].tolist(), sizes.tolist()):
            pieces += [folded[done:at], tables.pool[begin : begin + size]]
            done = at + 1
        pieces.append(folded[done:])
        folded = np.concatenate(pieces)
        lengths = lengths.copy()
        np.add.at(lengths, np.searchsorted(raw_ends, multi, side="right"), sizes - 1)
    slow = tables.whole[clipped]
    slow[cp > 0xFFFF] = True
    if not slow.any():
        return folded, lengths
    docs = np.unique(np.searchsorted(raw_ends, np.flatnonzero(slow), side="right"))
    refolded, refolded_lengths = _codepoints(folded_text(texts.take(pa.array(docs))))
    ends = np.cumsum(lengths)
    pieces, done, taken = [], 0, 0
    for doc, size in zip(docs.tolist(), refolded_lengths.tolist()):
        pieces += [folded[done : ends[doc] - lengths[doc]], refolded[taken : taken + size]]
        done, taken = ends[doc], taken + size
    pieces.append(folded[done:])
    lengths = lengths.copy()
    lengths[docs] = refolded_lengths
    return np.concatenate(pieces), lengths


class ShingleText:
    """A batch of folded documents, decoded and classified once, shingled in either token mode."""

    def __init__(self, texts: pa.Array | pa.ChunkedArray, fold: bool = False):
        """`texts` folded already (`normalize.folded_text`), or raw with fold=True: then folded
        here, by table lookup, to the same code points (measured: 8x faster than pyarrow's NFKC)."""
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
        self.cp, lengths = _codepoints(texts)
        if fold:
            self.cp, lengths = _fold(texts, self.cp, lengths)
        ends_of_docs = np.cumsum(lengths)
        self.nonempty = lengths > 0
        self.first = np.zeros(len(self.cp) + 1, dtype=bool)  # first character of a document
        self.first[(ends_of_docs - lengths)[self.nonempty]] = True
        self.last = np.zeros(len(self.cp) + 1, dtype=bool)  # one past the last character of a document
        self.last[ends_of_docs[self.nonempty]] = True
        self.separator, self.unspaced = _classify(self.cp)
        self.content = ~self.separator
        self._tokens: dict[Tokens, tuple] = {}

    def tokens(self, mode: Tokens) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(unspaced flags, token starts, token ends, token document, token hashes), cached per mode."""
        if mode not in self._tokens:
            cp, content = self.cp, self.content
            unspaced = content if mode == "chars" else self.unspaced
            if mode == "chars":
                token_starts = np.flatnonzero(content)
                token_ends = token_starts + 1
            else:
                breaks = self.separator | unspaced
                after_break = self.first[:-1].copy()
                after_break[1:] |= breaks[:-1]
                before_break = self.last[1:].copy()
                before_break[:-1] |= breaks[1:]
                token_starts = np.flatnonzero(content & (unspaced | after_break))
                token_ends = np.flatnonzero(content & (unspaced | before_break)) + 1
            # The document of a token: count the document starts up to it, among non-empty documents.
            token_doc = np.flatnonzero(self.nonempty)[np.cumsum(self.first[:-1])[token_starts] - 1]
            with np.errstate(over="ignore"):
                if mode == "chars":
                    # A one-character token's polynomial is its code point + 1 (BASE^i BASE^-i = 1):
                    # BMP ones are looked up.
                    first_cp = cp[token_starts]
                    token_hash = _char_hashes()[np.minimum(first_cp, 0xFFFF)]
                    astral = np.flatnonzero(first_cp > 0xFFFF)
                    token_hash[astral] = splitmix64(first_cp[astral].astype(np.uint64) + np.uint64(1))
                else:
                    forward, inverse = _Powers.get(len(cp) + 1)
                    prefix = np.zeros(len(cp) + 1, dtype=np.uint64)
                    np.cumsum((cp.astype(np.uint64) + np.uint64(1)) * forward[: len(cp)], out=prefix[1:])
                    token_hash = splitmix64((prefix[token_ends] - prefix[token_starts]) * inverse[token_starts])
            self._tokens[mode] = (unspaced, token_starts, token_ends, token_doc, token_hash)
        return self._tokens[mode]

    def shingles(self, n: int, hash: ShingleHash = "poly", mode: Tokens = "mixed") -> Shingles:
        """The shingle hashes of every document, in text order, repeats kept."""
        unspaced, token_starts, token_ends, token_doc, token_hash = self.tokens(mode)
        count = len(token_starts) - n + 1
        if count <= 0:
            return Shingles(np.zeros(0, np.int64), np.zeros(0, np.uint32))
        same_doc = token_doc[:count] == token_doc[n - 1 :]
        with np.errstate(over="ignore"):
            combined = token_hash[:count].copy()
            weight = np.uint64(1)
            for j in range(1, n):
                weight = weight * np.uint64(_COMBINE)
                combined += token_hash[j : j + count] * weight
            poly = splitmix64(combined[same_doc] if not same_doc.all() else combined)
        shingle_doc = token_doc[:count][same_doc]
        if hash == "sha1":
            first_token = np.flatnonzero(same_doc)
            return _sha1_shingles(self.cp, self.separator, unspaced, token_starts, token_ends, token_doc, first_token, n, shingle_doc, poly)
        return Shingles(shingle_doc, (poly >> np.uint64(32)).astype(np.uint32))


def shingle_hashes(folded: pa.Array | pa.ChunkedArray, n: int, hash: ShingleHash = "poly", tokens: Tokens = "mixed") -> Shingles:
    """The shingle hashes of every document of `folded` (see `normalize.folded_text`), in text order.

    Repeats are kept: the signature does not change, and removing them costs a sort that only
    verification (`Shingles.distinct`) needs.
    """
    return ShingleText(folded).shingles(n, hash, tokens)


def _sha1_shingles(cp, separator, unspaced, token_starts, token_ends, token_doc, first_token, n, shingle_doc, poly) -> Shingles:
    """SHA-1 hashes of the shingle strings, computed once per distinct shingle of a document."""
    # Distinct by the 64-bit poly hash: SHA-1 in a Python loop is the cost to save.
    key = poly ^ splitmix64(shingle_doc.astype(np.uint64))
    order = np.argsort(key, kind="stable")
    new = np.ones(len(order), dtype=bool)
    new[1:] = key[order][1:] != key[order][:-1]
    pick = np.sort(order[new])
    first_token = first_token[pick]

    # The joined text of every document: token characters, and one space after each token
    # followed by another word token of the same document.
    word_token = ~unspaced[token_starts]
    space_after = np.zeros(len(token_starts), dtype=bool)
    space_after[:-1] = word_token[:-1] & word_token[1:] & (token_doc[:-1] == token_doc[1:])
    spaces_before = np.concatenate(([0], np.cumsum(space_after)))
    content_before = np.concatenate(([0], np.cumsum(~separator)))
    joined_start = content_before[token_starts] + spaces_before[:-1]
    joined_end = content_before[token_ends] + spaces_before[:-1]
    joined = np.full(int(content_before[-1] + spaces_before[-1]), 0x20, dtype=np.uint32)
    content = ~separator
    starts_here = np.zeros(len(cp), dtype=np.int64)
    starts_here[token_starts] = 1
    owner = np.cumsum(starts_here)[content] - 1  # the token of each content character
    joined[np.arange(int(content_before[-1])) + spaces_before[owner]] = cp[content]

    data = joined.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass").encode("utf-8", "surrogatepass")
    widths = 1 + (joined >= 0x80).astype(np.int64) + (joined >= 0x800) + (joined >= 0x10000)
    byte_at = np.concatenate(([0], np.cumsum(widths)))
    first_byte = byte_at[joined_start[first_token]].tolist()
    end_byte = byte_at[joined_end[first_token + n - 1]].tolist()
    sha1 = hashlib.sha1
    # Slicing bytes and keeping whole digests measured fastest of the loop forms tried.
    digests = b"".join([sha1(data[a:b]).digest() for a, b in zip(first_byte, end_byte)])
    hashes = np.frombuffer(digests, dtype="<u4").reshape(-1, 5)[:, 0].astype(np.uint32)
    return Shingles(shingle_doc[pick].astype(np.int64), hashes)


def batches(char_lengths: np.ndarray, budget: int) -> Iterator[tuple[int, int]]:
    """[start, stop) document ranges of about `budget` characters each (at least one document)."""
    total = len(char_lengths)
    ends = np.cumsum(char_lengths)
    start = 0
    while start < total:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + budget, side="right"))
        stop = max(stop, start + 1)
        yield start, stop
        start = stop
