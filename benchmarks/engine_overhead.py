"""Engine overhead: a passthrough pipeline against a bare pyarrow read and write of the same data.

Generates a JSONL corpus (1 GB by default, in benchmarks/_data/, reused across runs), then times
  bare:   pyarrow.json.read_json + pyarrow.ipc file write, file by file, pyarrow's own threads;
  ours:   `corpusforge run` of a passthrough config (local executor, one worker per core),
and prints both and the ratio (target: ours / bare <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj

HERE = Path(__file__).resolve().parent
SENTENCES = ["今天的天气非常好，我们去公园散步。", "数据清洗是训练语言模型之前的重要步骤。", "The quick brown fox jumps over the lazy dog.",
             "北京是中国的首都，也是一座历史悠久的城市。", "机器学习需要大量高质量的训练数据。"]


def generate(directory: Path, total_mb: int, files: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"part-{i:03d}.jsonl" for i in range(files)]
    stamp = directory / f"done-{total_mb}-{files}"
    if stamp.exists():
        return paths
    rng = random.Random(0)
    per_file = total_mb * 2**20 // files
    for i, path in enumerate(paths):
        written, n = 0, 0
        with open(path, "w", encoding="utf-8") as f:
            while written < per_file:
                text = "".join(rng.choice(SENTENCES) for _ in range(rng.randint(5, 80)))
                line = json.dumps({"text": text, "url": f"https://site{i}.test/{n}"}, ensure_ascii=False) + "\n"
                f.write(line)
                written += len(line.encode("utf-8"))
                n += 1
    stamp.touch()
    return paths


def bare(paths: list[Path], out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    for path in paths:
        table = pj.read_json(path)
        with pa.ipc.new_file(out / (path.stem + ".arrow"), table.schema) as writer:
            writer.write_table(table)
    return time.perf_counter() - start


def ours(paths: list[Path], out: Path, workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    config = out.parent / "engine_overhead.yaml"
    config.write_text(json.dumps({
        "sources": {"docs": {"paths": [str(p) for p in paths], "block_size_mb": 64}},
        "stages": [{"id": "write", "stage": "passthrough", "inputs": ["docs"]}],
    }))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "corpusforge", "run", str(config), "-o", str(out), "--workers", str(workers), "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--data", type=Path, default=HERE / "_data" / "engine_overhead")
    args = parser.parse_args()
    paths = generate(args.data / "in", args.size_mb, args.files)
    mb = sum(p.stat().st_size for p in paths) / 2**20
    t_bare = bare(paths, args.data / "bare")
    t_ours = ours(paths, args.data / "ours", args.workers)
    print(f"input: {mb:.0f} MB JSONL in {len(paths)} files, {args.workers} workers")
    print(f"bare pyarrow read+write : {t_bare:7.2f} s  {mb / t_bare:7.1f} MB/s")
    print(f"corpusforge passthrough : {t_ours:7.2f} s  {mb / t_ours:7.1f} MB/s")
    print(f"ratio ours/bare         : {t_ours / t_bare:7.2f}x   (target <= 1.2x)")


if __name__ == "__main__":
    main()
