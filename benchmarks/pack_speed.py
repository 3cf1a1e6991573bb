"""Packing speed: `pack` against a bare `tokenizers` encode_batch of the same text.

Builds a corpus from the development crawl's text (../shared/corpus/crawl/docs.jsonl.gz,
repeated `--copies` times with distinct ids, in benchmarks/_data/pack/; never copied into the
repo), trains the tokenizer once through the pipeline (untimed), then times two fresh processes:

  bare:  `python -c`: pyarrow.json reads each file, `Tokenizer.encode_batch` encodes its texts
         (the library's own thread pool, as many threads as cores); nothing is written;
  ours:  `corpusforge run --target pack`: the JSONL reader, encoding in worker processes,
         EOS, the train/val split, rows of seq_len + 1 with document segments and ids, Arrow
         shards, index.json, manifests and the report.

Both are pinned to the same `--cores` (default one: tokens/s per core, measured directly) and
start with the input in the page cache; runs alternate (bare, ours, ...) so that load from other
processes hits both alike; best of `--repeats`. Prints tokens/s per core for both, their CPU
seconds where a cgroup can count them, and the ratios (target: ours / bare <= 1.2).
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEV_DOCS = REPO.parent / "shared" / "corpus" / "crawl" / "docs.jsonl.gz"

BARE = """
import sys
import pyarrow.json as pj
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file(sys.argv[1])
tokens = 0
for path in sys.argv[2:]:
    texts = pj.read_json(path).column("text").to_pylist()
    tokens += sum(len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False))
print(tokens)
"""

CONFIG = """
output: {out}
sources:
  docs: {{paths: ["{data}/*.jsonl"], format: jsonl}}
stages:
  - {{id: tokenizer, stage: tokenizer, inputs: [docs], params: {{vocab_size: {vocab}, sample_chars: 3000000}}}}
  - {{id: pack, stage: pack, inputs: [docs], uses: {{tokenizer: tokenizer}}, params: {{seq_len: 2048, val_fraction: 0.01}}}}
"""


def generate(directory: Path, copies: int, files: int) -> list[Path]:
    stamp = directory / "done"
    paths = [directory / f"docs-{i:02d}.jsonl" for i in range(files)]
    if stamp.exists() and stamp.read_text() == f"{copies} {files}":
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    docs = [json.loads(line) for line in gzip.open(DEV_DOCS, "rt", encoding="utf-8")]
    outs = [open(p, "w", encoding="utf-8") for p in paths]
    n = 0
    for copy in range(copies):
        for doc in docs:
            outs[n % files].write(json.dumps({"id": f"{doc['id']}#{copy}", "text": doc["text"]}, ensure_ascii=False) + "\n")
            n += 1
    for f in outs:
        f.close()
    stamp.write_text(f"{copies} {files}")
    return paths


class CpuMeter:
    """CPU seconds of a command and every process it starts (workers included), from a cgroup
    made for it (v1 cpuacct or v2, needs root); None where none can be made. Wall time on a
    shared machine measures the neighbours as much as the code; CPU time much less so."""

    def __init__(self):
        self.group = None
        for root, usage, procs in (("/sys/fs/cgroup/cpuacct", "cpuacct.usage", "tasks"), ("/sys/fs/cgroup", "cpu.stat", "cgroup.procs")):
            group = Path(root) / f"corpusforge-bench-{os.getpid()}"
            try:
                group.mkdir(exist_ok=True)
                (group / procs).stat()
            except OSError:
                continue
            self.group, self.usage, self.procs = group, usage, procs
            return

    def read(self) -> float:
        text = (self.group / self.usage).read_text()
        if self.usage == "cpu.stat":
            return int(text.split("usage_usec")[1].split()[0]) / 1e6
        return int(text) / 1e9

    def join(self) -> None:
        (self.group / self.procs).write_text(str(os.getpid()))

    def close(self) -> None:
        if self.group is not None:
            try:
                self.group.rmdir()
            except OSError:
                pass


METER = CpuMeter()
atexit.register(METER.close)


def timed(command: list[str], cores: list[int], env: dict) -> tuple[float, float | None, str]:
    """Wall seconds, CPU seconds (None without a cgroup) and stdout of `command`."""
    before = METER.read() if METER.group else None
    start = time.perf_counter()
    result = subprocess.run(["taskset", "-c", ",".join(map(str, cores)), *command], cwd=REPO, env=env, capture_output=True, text=True,
                            preexec_fn=METER.join if METER.group else None)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-2000:]}")
    cpu = METER.read() - before if METER.group else None
    return elapsed, cpu, result.stdout


def summary(name: str, runs: list[tuple[float, float | None]], tokens: int | None, cores: int) -> tuple[float, float | None]:
    """Print the best wall and CPU time of `runs` (and tokens/s per core); return them."""
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs) if runs[0][1] is not None else None
    rate = f"  {tokens / wall / cores:10,.0f} tokens/s/core" if tokens else ""
    cpu_text = f"  CPU {cpu:7.2f} s" + (f"  {tokens / cpu:10,.0f} tokens/CPU-s" if tokens else "") if cpu is not None else ""
    print(f"{name:20s} wall {wall:7.2f} s{rate}{cpu_text}   (walls: {', '.join(f'{r[0]:.1f}' for r in runs)})")
    return wall, cpu


def ratios(bare: tuple[float, float | None], ours: tuple[float, float | None]) -> None:
    cpu = f", CPU {ours[1] / bare[1]:.3f}" if bare[1] else ""
    print(f"ratio ours / bare: wall {ours[0] / bare[0]:.3f}{cpu}  (target <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6, help="copies of the dev crawl text (~8.6 MB each)")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=16000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=1, help="cores both sides are pinned to (ours: one worker each)")
    args = parser.parse_args()
    if not DEV_DOCS.exists():
        sys.exit(f"needs the development crawl at {DEV_DOCS}")
    work = HERE / "_data" / "pack"
    paths = generate(work / "docs", args.copies, args.files)
    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    env = dict(os.environ)
    if len(cores) == 1:  # one core: the library's thread pool would only add switching
        env["TOKENIZERS_PARALLELISM"] = "false"
    config = work / "pack.yaml"
    out = work / "out"
    config.write_text(CONFIG.format(out=out, data=work / "docs", vocab=args.vocab))
    ours_cmd = [sys.executable, "-m", "corpusforge", "run", str(config), "--no-progress", "--workers", str(len(cores))]
    timed([*ours_cmd, "--target", "tokenizer"], cores, env)
    tokenizer = out / "tokenizer" / "tokenizer.json"
    bare_cmd = [sys.executable, "-c", BARE, str(tokenizer), *map(str, paths)]
    for path in paths:  # into the page cache
        path.read_bytes()
    bare_runs, ours_runs, bare_tokens = [], [], 0
    for _ in range(args.repeats):
        elapsed, cpu, stdout = timed(bare_cmd, cores, env)
        bare_runs.append((elapsed, cpu))
        bare_tokens = int(stdout.strip())
        shutil.rmtree(out / "pack", ignore_errors=True)
        elapsed, cpu, _ = timed([*ours_cmd, "--target", "pack"], cores, env)
        ours_runs.append((elapsed, cpu))
    index = json.loads((out / "pack" / "index.json").read_text())
    documents = index["documents_in"]
    # Ours also appends one EOS per document; compare the same text's tokens.
    assert index["tokens_in"] == bare_tokens + documents, (index["tokens_in"], bare_tokens, documents)
    mb = sum(p.stat().st_size for p in paths) / 2**20
    print(f"corpus: {mb:.0f} MB JSONL, {documents:,} documents, {bare_tokens:,} tokens (vocab {args.vocab}), {len(cores)} cores")
    ratios(summary("bare encode_batch", bare_runs, bare_tokens, len(cores)), summary("corpusforge pack", ours_runs, bare_tokens, len(cores)))


if __name__ == "__main__":
    main()
