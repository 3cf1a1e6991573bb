"""Reading a packed directory back in tests (the format: stages/pack/contract.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa


def index(directory: Path) -> dict:
    return json.loads((directory / "index.json").read_text())


def split_table(directory: Path, split: str) -> pa.Table | None:
    files = index(directory)["splits"][split]["files"]
    tables = [pa.ipc.open_file(pa.memory_map(str(directory / f))).read_all() for f in files]
    return pa.concat_tables(tables) if tables else None


def digests(directory: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".")}
