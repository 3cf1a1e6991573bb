"""Host boilerplate: lines repeated across many documents of one host (cc_net-style).

cc_net removes paragraphs whose normalised hash recurs across a shard group. Here the scope is
one host, where templates repeat (navigation, footers, disclaimers): a line whose normalised
text appears in at least `min_docs` distinct documents of the same host is removed from all of
them. Documents are told apart by their exact key, so byte-identical copies of one page on the
same host count once and cannot make each other's content look like boilerplate.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from stages.dedup.exact import utf8_items
from stages.dedup.normalize import key_text

_HOST = r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/?#]*@)?(?P<host>[^/:?#]*)"


def hosts(urls: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lowercased host of each URL; empty when there is none."""
    if isinstance(urls, pa.ChunkedArray):
        urls = urls.combine_chunks() if urls.num_chunks else pa.array([], pa.string())
    found = pc.extract_regex(pc.fill_null(urls, ""), _HOST).field("host") if len(urls) else pa.array([], pa.string())
    return pc.utf8_lower(pc.fill_null(found, ""))


class HostLines:
    """The lines of a batch of documents with one key per (host, normalised line)."""

    def __init__(self, texts: pa.Array | pa.ChunkedArray, urls: pa.Array | pa.ChunkedArray):
        self.lines = pc.split_pattern(pc.fill_null(texts, ""), "\n")
        if isinstance(self.lines, pa.ChunkedArray):
            self.lines = self.lines.combine_chunks() if self.lines.num_chunks else pa.array([], pa.list_(pa.string()))
        flat = pc.list_flatten(self.lines)
        self.parent = np.asarray(pc.list_parent_indices(self.lines), dtype=np.int64)
        normalized = key_text(flat)
        # A line with nothing left after normalisation (blank, punctuation only) is never removed.
        self.present = np.asarray(pc.greater(pc.binary_length(normalized), 0), dtype=bool)
        joined = pc.binary_join_element_wise(pc.take(hosts(urls), pa.array(self.parent)), normalized, "\n")
        self.keys = np.fromiter((xxhash.xxh3_64_intdigest(item) for item in utf8_items(joined)), dtype=np.uint64, count=len(joined))

    def per_document(self, doc_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (line key, document key) pairs, for counting documents per line."""
        keys, docs = self.keys[self.present], doc_keys[self.parent[self.present]]
        pairs = np.unique(np.stack([keys, docs], axis=1), axis=0) if len(keys) else np.zeros((0, 2), np.uint64)
        return pairs[:, 0], pairs[:, 1]

    def without(self, repeated: np.ndarray) -> tuple[pa.Array, int]:
        """The texts with every line whose key is in `repeated` (sorted) removed, and how many were."""
        at = np.searchsorted(repeated, self.keys)
        hit = self.present & (at < len(repeated)) & (repeated[np.minimum(at, len(repeated) - 1)] == self.keys) if len(repeated) else np.zeros(len(self.keys), bool)
        kept_per_doc = np.bincount(self.parent[~hit], minlength=len(self.lines))
        offsets = np.concatenate(([0], np.cumsum(kept_per_doc))).astype(np.int32)
        flat = pc.list_flatten(self.lines).filter(pa.array(~hit))
        rebuilt = pa.ListArray.from_arrays(pa.array(offsets), flat)
        return pc.binary_join(rebuilt, "\n"), int(hit.sum())
