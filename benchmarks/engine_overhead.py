"""Engine overhead: a passthrough pipeline against a bare pyarrow read and write of the same data.

Generates a JSONL corpus (1 GB by default, in benchmarks/_data/, reused across runs), then times
two commands that turn it into Arrow IPC files:

  bare:   `python -c` running pyarrow.json.read_json + pyarrow.ipc.new_file(...).write_table,
          file by file, with pyarrow's own thread pool (as many threads as cores);
  ours:   `python -m corpusforge run` of a one-stage passthrough config (local executor, as
          many worker processes as cores), which also gives every row an id and a `source`
          column, validates UTF-8, writes completion markers, manifests and report.json.

Both are fresh processes (so both pay interpreter start-up and imports), both are pinned to the
same cores, both start with the input in the page cache and an empty output directory, and each
run's output is counted and deleted as soon as it finishes, so that no run is slowed by the kernel
writing an earlier run's files back to disk. The runs alternate (bare, ours, bare, ours, ...) so
that load from other processes on a shared machine hits both alike, and the best of `--repeats`
is reported for each, then the median of the per-round ratios. Prints both figures and the ratio
(target: ours / bare <= 1.2), and each side's CPU seconds (user + system), which other load on a
shared machine disturbs far less than wall time.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corpusforge.io.utf8 import validator

HERE = Path(__file__).resolve().parent
SENTENCES = ["今天的天气非常好，我们去公园散步。", "数据清洗是训练语言模型之前的重要步骤。", "The quick brown fox jumps over the lazy dog.",
             "北京是中国的首都，也是一座历史悠久的城市。", "机器学习需要大量高质量的训练数据。"]

BARE = """
import sys
from pathlib import Path
import pyarrow as pa
import pyarrow.json as pj
out = Path(sys.argv[1])
for path in sys.argv[2:]:
    table = pj.read_json(path)
    with pa.ipc.new_file(out / (Path(path).stem + ".arrow"), table.schema) as writer:
        writer.write_table(table)
"""


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


def timed(command: list[str], cores: set[int]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, its threads and child processes included)
    of one command, pinned to `cores`. On a shared machine the CPU figure is the steadier one:
    other processes stretch the wall time but not the work the command itself does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   preexec_fn=lambda: os.sched_setaffinity(0, cores))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bare(paths: list[Path], out: Path, cores: set[int]) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return timed([sys.executable, "-c", BARE, str(out), *map(str, paths)], cores)


def ours(paths: list[Path], out: Path, cores: set[int]) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    config = out.parent / "engine_overhead.yaml"
    config.write_text(json.dumps({
        "sources": {"docs": {"paths": [str(p) for p in paths], "block_size_mb": 64}},
        "stages": [{"id": "write", "stage": "passthrough", "inputs": ["docs"]}],
    }))
    command = [sys.executable, "-m", "corpusforge", "run", str(config), "-o", str(out), "--workers", str(len(cores)), "--no-progress"]
    return timed(command, cores)


def rows_written(side: str, paths: list[Path], out: Path) -> int:
    """Documents one side wrote (guards against timing a run that silently did less)."""
    import pyarrow as pa

    if side == "bare":
        return sum(pa.ipc.open_file(pa.memory_map(str(out / (p.stem + ".arrow")))).read_all().num_rows for p in paths)
    return json.loads((out / "report.json").read_text())["stages"]["write"]["docs_out"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="cores given to each side")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each side; the best is reported")
    parser.add_argument("--data", type=Path, default=HERE / "_data" / "engine_overhead")
    args = parser.parse_args()
    cores = set(sorted(os.sched_getaffinity(0))[: args.workers])
    # Bytecode for our own modules, as pip writes it for every installed package (pyarrow's
    # included): under PYTHONDONTWRITEBYTECODE an editable checkout would otherwise recompile
    # the engine's sources in every run, about 35 ms that no installed copy pays.
    for package in ("corpusforge", "stages"):
        compileall.compile_dir(HERE.parent / package, quiet=1)
    paths = generate(args.data / "in", args.size_mb, args.files)
    mb = sum(p.stat().st_size for p in paths) / 2**20
    for p in paths:  # into the page cache, so neither side pays for the first read from disk
        with open(p, "rb") as f:
            while f.read(64 * 2**20):
                pass
    runs: dict[str, list[float]] = {"bare": [], "ours": []}
    cpu: dict[str, list[float]] = {"bare": [], "ours": []}
    rows: dict[str, set[int]] = {"bare": set(), "ours": set()}
    for i in range(args.repeats):
        for side, run in (("bare", bare), ("ours", ours)):
            out = args.data / side
            wall, seconds = run(paths, out, cores)
            runs[side].append(wall)
            cpu[side].append(seconds)
            rows[side].add(rows_written(side, paths, out))
            # Deleted at once, so the kernel drops its pages instead of writing them back to disk
            # during the other side's next run: neither side pays for the other's output.
            shutil.rmtree(out)
        print(f"run {i + 1}: bare {runs['bare'][-1]:.2f} s, ours {runs['ours'][-1]:.2f} s", file=sys.stderr)
    if len(rows["bare"] | rows["ours"]) != 1:
        raise SystemExit(f"row counts differ: bare {sorted(rows['bare'])}, ours {sorted(rows['ours'])}")
    (documents,) = rows["bare"]
    t_bare, t_ours = min(runs["bare"]), min(runs["ours"])
    print(f"input: {mb:.0f} MB JSONL in {len(paths)} files, {documents:,} documents; {len(cores)} cores for each side; best of {args.repeats} interleaved runs")
    print(f"our UTF-8 check         : {validator()} (bare pyarrow does none)")
    print(f"bare pyarrow read+write : {t_bare:7.2f} s  {mb / t_bare:7.1f} MB/s")
    print(f"corpusforge passthrough : {t_ours:7.2f} s  {mb / t_ours:7.1f} MB/s")
    print(f"ratio ours/bare         : {t_ours / t_bare:7.2f}x   (target <= 1.2x)")
    # Each round's two runs are back to back, so their ratio sees the same machine load.
    paired = sorted(o / b for b, o in zip(runs["bare"], runs["ours"]))
    print(f"per-round ratios        : median {statistics.median(paired):.2f}x, range {paired[0]:.2f}x-{paired[-1]:.2f}x")
    c_bare, c_ours = min(cpu["bare"]), min(cpu["ours"])
    print(f"CPU seconds (user+sys)  : bare {c_bare:.2f}, ours {c_ours:.2f}, ratio {c_ours / c_bare:.2f}x   (best of each)")


if __name__ == "__main__":
    main()
