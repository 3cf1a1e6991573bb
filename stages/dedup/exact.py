"""Exact keys: 128-bit hashes of the normalised text, and of the normalised URL.

Two documents are exact duplicates when their `normalize.key_text` is equal, i.e. when they
differ only in case, Unicode compatibility forms, punctuation and whitespace. A document whose
key text is empty has no key: empty pages must not all collapse into one cluster.
"""

from __future__ import annotations

from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from stages.dedup.normalize import key_text

# Query parameters that track a visit rather than name a page: Google Analytics (utm_*),
# Facebook, Google Ads and Microsoft Ads click ids, and Alibaba's spm.
TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "msclkid", "spm"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def utf8_items(strings: pa.Array | pa.ChunkedArray) -> Iterator[bytes]:
    """The UTF-8 bytes of each string (null as empty), straight from the Arrow buffers."""
    if isinstance(strings, pa.ChunkedArray):
        for chunk in strings.chunks:
            yield from utf8_items(chunk)
        return
    if len(strings) == 0:
        return
    offset_type = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], dtype=offset_type)[strings.offset : strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    raw = bytes(memoryview(data)[offsets[0] : offsets[-1]]) if data is not None else b""
    starts = (offsets[:-1] - offsets[0]).tolist()
    ends = (offsets[1:] - offsets[0]).tolist()
    valid = np.asarray(strings.is_valid()).tolist()
    for start, end, ok in zip(starts, ends, valid):
        yield raw[start:end] if ok else b""


def hash128(strings: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(high, low, present): the xxh3-128 of each string as two uint64; empty strings are absent."""
    items = list(utf8_items(strings))
    digests = b"".join([xxhash.xxh3_128_digest(item) for item in items])
    words = np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    present = np.fromiter((len(item) > 0 for item in items), dtype=bool, count=len(items))
    return words[:, 0].copy(), words[:, 1].copy(), present


def text_keys(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact-duplicate keys of documents (see `hash128`)."""
    return hash128(key_text(texts))


def normalize_url(url: str) -> str:
    """A URL with its scheme and host lowercased, default port, fragment and tracking parameters dropped."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower().startswith(TRACKING_PREFIXES) or k.lower() in TRACKING_PARAMS)
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def url_keys(urls: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """URL-duplicate keys; documents without a URL have none."""
    normalized = pa.array([normalize_url(u) if u else "" for u in urls.to_pylist()], pa.string())
    return hash128(normalized)


def lengths(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Characters per document (null as 0), for the `longest` keep rule."""
    return np.asarray(pc.utf8_length(pc.fill_null(texts, "")), dtype=np.float64)
