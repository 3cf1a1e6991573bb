import json
import os
import sys
from pathlib import Path

import pytest

HELPERS = str(Path(__file__).parent / "helpers")
# Test-only stages live in tests/helpers; worker processes (spawned, or Dask's) inherit PYTHONPATH.
sys.path.insert(0, HELPERS)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (HELPERS, os.environ.get("PYTHONPATH")) if p)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """Three small JSONL files of Chinese-ish documents of varied length."""
    directory = tmp_path / "docs"
    directory.mkdir()
    for f in range(3):
        rows = [
            {"text": f"文件{f}第{i}篇。" + "内容" * ((i * 7 + f) % 40), "url": f"https://site{f}.test/{i}"}
            for i in range(60)
        ]
        write_jsonl(directory / f"part{f}.jsonl", rows)
    return directory


def run_config(raw: dict, output: Path, executor: str = "local", workers: int = 1, targets=None):
    """Validate `raw` and run it in-process; returns the RunResult."""
    from corpusforge.executors import make_executor
    from corpusforge.pipeline.config import validate
    from corpusforge.pipeline.runner import Runner

    pipeline = validate(raw)
    with make_executor(executor, workers) as ex:
        return Runner(pipeline, ex, str(output), progress=False).run(targets)


def shard_digests(directory: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.glob("*.arrow"))}
