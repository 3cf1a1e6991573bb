"""`corpusforge inspect`: what is in a shard directory or file."""

from __future__ import annotations

import json


from corpusforge.io import Manifest, list_shards, read_shard, url_to_fs


def _shorten(value, width: int = 120):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def describe(path: str, rows: int = 3) -> str:
    fs, root = url_to_fs(path)
    if not fs.exists(root):
        raise FileNotFoundError(f"no such file or directory: {path}")
    total = None
    if fs.isdir(root):
        manifest = Manifest.read(fs, root)
        if manifest and manifest.kind == "shards":
            shards, total = [f"{root}/{s.name}" for s in manifest.shards], manifest.rows
        else:
            shards = list_shards(fs, root)
        header = f"{path}: {len(shards)} shards"
        if manifest is not None:
            header += f" ({manifest.kind}, fingerprint {manifest.fingerprint[:12]})"
    else:
        shards, header = [root], path
    if not shards:
        return header + "\n(no shards)"
    first = read_shard(fs, shards[0])
    if total is None:  # no manifest to count from: open every shard
        total = sum(read_shard(fs, s).num_rows for s in shards)
    lines = [header, f"rows: {total:,}", "schema:"]
    lines += [f"  {field.name}: {field.type}" for field in first.schema]
    for i, row in enumerate(first.slice(0, rows).to_pylist()):
        lines.append(f"row {i}:")
        lines += [f"  {k}: {_shorten(v)}" for k, v in row.items()]
    return "\n".join(lines)
