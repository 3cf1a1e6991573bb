"""The manifest of a finished output directory: its fingerprint, shards and stats.

A directory whose manifest carries the expected fingerprint is complete; downstream stages
read only manifests and the shards they list, never caring which executor wrote them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import fsspec

from corpusforge.io.files import read_json, write_json

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ShardInfo:
    name: str
    rows: int
    bytes: int
    checksum: str


@dataclass
class Manifest:
    fingerprint: str
    kind: str = "shards"  # "shards" for Arrow/Parquet documents, "artefact" for models and tokenizers
    shards: list[ShardInfo] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    # The same accounting per task (one per input shard or file part), in task order.
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    def write(self, fs: fsspec.AbstractFileSystem, directory: str) -> None:
        body = asdict(self)
        body["shards"] = [asdict(s) for s in sorted(self.shards, key=lambda s: s.name)]
        write_json(fs, f"{directory}/{MANIFEST}", body)

    @classmethod
    def read(cls, fs: fsspec.AbstractFileSystem, directory: str) -> Manifest | None:
        body = read_json(fs, f"{directory}/{MANIFEST}")
        if body is None:
            return None
        body["shards"] = [ShardInfo(**s) for s in body.get("shards", [])]
        return cls(**body)
