"""Shard files on any fsspec filesystem: atomic writes, completion markers, manifests."""

from corpusforge.io.files import atomic_write, read_json, url_to_fs, write_json
from corpusforge.io.manifest import Manifest, ShardInfo
from corpusforge.io.shards import ShardFormat, list_shards, read_shard, write_shards

__all__ = [
    "Manifest",
    "ShardFormat",
    "ShardInfo",
    "atomic_write",
    "list_shards",
    "read_json",
    "read_shard",
    "url_to_fs",
    "write_json",
    "write_shards",
]
