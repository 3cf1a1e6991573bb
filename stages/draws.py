"""Deterministic per-document random draws: a uniform number in [0, 1) from (seed, id).

Sampling (mix), tokenizer training samples and the pack train/val split all decide per document
from its id, never from its position or from a shared random state, so the decision is the same
whatever the shard layout, the executor or the worker count.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash

_SCALE = 1.0 / 2**53


def uniform(ids: pa.Array | pa.ChunkedArray | list[str], seed: int, salt: str = "") -> np.ndarray:
    """One float64 in [0, 1) per id; `salt` separates independent draws for the same ids."""
    values = ids.to_pylist() if isinstance(ids, (pa.Array, pa.ChunkedArray)) else ids
    prefix = f"{salt}\x00".encode("utf-8")
    hashes = np.fromiter(
        (xxhash.xxh3_64_intdigest(prefix + str(v).encode("utf-8"), seed=seed) for v in values),
        dtype=np.uint64,
        count=len(values),
    )
    # The top 53 bits fit a float64 exactly, so the result is never rounded up to 1.0.
    return (hashes >> np.uint64(11)).astype(np.float64) * _SCALE
