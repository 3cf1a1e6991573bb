"""Throughput of the document chain against datatrove's equivalent steps, on the same WARC files.

Ours:  `warc` reader -> ingest (`extract`) -> normalize -> langid -> clean -> quality, with the
       params of configs/zh_web.yaml, run in this process (or one pinned worker per core).
Peer:  datatrove 0.10.1 WarcReader -> Trafilatura -> LanguageFilter -> GopherRepetitionFilter
       -> GopherQualityFilter, in datatrove's LocalPipelineExecutor, run by the python of a venv
       that has datatrove (`--peer-python`). Its steps are set up for Chinese the way FineWeb-2
       runs cmn_Hani: `LanguageFilter(languages=["zh"])`, Gopher filters with `language="zh"`
       (spaCy + jieba words) and Chinese stop words; the fastText model is the same lid.176.ftz
       file that our `langid` loads (datatrove would download lid.176.bin, and nothing is
       downloaded here).

Both sides get the same files and the same CPU cores: the whole benchmark process is pinned to
`--cores` cores with sched_setaffinity before anything runs, and every process either side starts
(our workers, datatrove's tasks and the extractor sandbox process it runs trafilatura in)
inherits that set. Throughput is MB/s per core: the HTTP payload bytes of every `response`
record in the files (the bytes both readers take in), divided by wall seconds and by cores. CPU
seconds (process and children) are printed beside it.

datatrove 0.10.1 breaks on xxhash 4; install it in its own venv outside the repository:

    python -m venv /work/venvs/datatrove
    /work/venvs/datatrove/bin/pip install "datatrove[processing]==0.10.1" "xxhash<4" \
        warcio faust-cchardet python-magic lxml_html_clean spacy jieba aiohttp

usage: python benchmarks/doc_chain_speed.py [--warc GLOB] [--cores N] [--repeat N] [--peer-python PATH | --no-peer]

This file also serves as the peer's runner (`--as-peer`), so only the standard library is
imported at module level: the peer's venv has neither pyarrow nor corpusforge.
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WARC = str(REPO.parent / "shared" / "corpus" / "crawl" / "warc" / "*.warc.gz")
DEFAULT_PEER_PYTHON = os.environ.get("DATATROVE_PYTHON", "/work/venvs/datatrove/bin/python")
# FineWeb-2's cmn_Hani repetition thresholds (word n-grams): top 2/3/4-gram 0.256/0.201/0.171,
# duplicate 5..10-grams from 0.198 down to 0.127 (the steps in between interpolated).
CMN_TOP_NGRAMS = ((2, 0.256), (3, 0.201), (4, 0.171))
CMN_DUP_NGRAMS = ((5, 0.198), (6, 0.184), (7, 0.170), (8, 0.155), (9, 0.141), (10, 0.127))
# Stop words for Gopher's stop-word rule, which counts English ones by default: common Chinese
# function words that jieba emits as single tokens.
ZH_STOP_WORDS = ["的", "了", "是", "在", "和", "有", "我", "不", "这", "也", "就", "人", "都", "一个", "上", "他"]


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# --- ours -------------------------------------------------------------------------------------


@functools.cache
def _our_stages():
    """The chain of configs/zh_web.yaml, built and set up once per process (forked workers
    inherit it, as the engine's workers keep theirs)."""
    import yaml

    import stages  # noqa: F401  (registers the stages)
    from corpusforge.registry import stage_class

    config = yaml.safe_load((REPO / "configs" / "zh_web.yaml").read_text(encoding="utf-8"))
    chain = []
    for spec in config["stages"]:
        if spec["id"] not in ("ingest", "normalize", "langid", "clean", "quality"):
            continue
        cls = stage_class(spec["stage"])
        stage = cls(cls.Params(**(spec.get("params") or {})))
        stage.ensure_setup()
        chain.append((spec["id"], stage))
    return config["sources"]["crawl"], chain


def _run_ours_unit(unit) -> dict:
    """One read unit through the whole chain; per-step seconds and the documents kept."""
    import fsspec

    from corpusforge.stats import StageStats, collecting
    from stages.ingest.warc import WarcParams, WarcReader

    source, chain = _our_stages()
    reader = WarcReader(WarcParams(**{k: v for k, v in source.items() if k in WarcParams.model_fields}))
    fs = fsspec.filesystem("file")
    seconds: dict[str, float] = {}
    with collecting(StageStats()):
        start = time.perf_counter()
        table = reader.read(fs, unit)
        seconds["read"] = time.perf_counter() - start
        for name, stage in chain:
            start = time.perf_counter()
            table, _ = stage.apply(table)
            seconds[name] = time.perf_counter() - start
    return {"seconds": seconds, "kept": table.num_rows}


def _our_units(paths: list[str]):
    import fsspec

    from corpusforge.stage import ReadUnit
    from stages.ingest.warc import WarcReader

    fs = fsspec.filesystem("file")
    reader = WarcReader()
    return [ReadUnit("crawl", p, f"crawl/{Path(p).name}", part) for p in paths for part in reader.parts(fs, p)]


def run_ours(paths: list[str], cores: int) -> dict:
    units = _our_units(paths)
    # Outside the clock: imports and model loads (fastText, trafilatura), once per process, as
    # the peer's imports and jieba dictionary are.
    _our_stages()
    cpu0, start = _cpu_seconds(), time.perf_counter()
    if cores == 1:
        results = [_run_ours_unit(u) for u in units]
    else:
        import multiprocessing

        # Largest units first, so the tail of the run is short.
        units = sorted(units, key=lambda u: -(u.part[1] - u.part[0]) if u.part else 0)
        with multiprocessing.get_context("fork").Pool(cores) as pool:
            results = pool.map(_run_ours_unit, units, chunksize=1)
    wall = time.perf_counter() - start
    steps: dict[str, float] = {}
    for r in results:
        for k, v in r["seconds"].items():
            steps[k] = steps.get(k, 0.0) + v
    return {"wall_s": wall, "cpu_s": _cpu_seconds() - cpu0, "kept": sum(r["kept"] for r in results), "steps": steps}


# --- the peer (runs in datatrove's venv) ------------------------------------------------------


def run_peer_inside(paths: list[str], cores: int, model: str, workdir: str) -> dict:
    """datatrove's chain over `paths` with `cores` workers; called with --as-peer."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.io import cached_assets_path, strip_protocol
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.utils.lid import FT176LID
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    # The same lid.176 model file as ours, placed where datatrove's FT176LID looks for its
    # download (marked complete), in an assets cache of this run's own: HF_ASSETS_CACHE is set by
    # run_peer, so the executor's worker processes find it too and never download.
    folder_of_model = cached_assets_path(library_name="datatrove", namespace="lid", subfolder="ft176")
    target = os.path.join(folder_of_model, strip_protocol(FT176LID.MODEL_URL).replace("/", "_"))
    if not os.path.exists(target):
        os.symlink(model, target)
    open(f"{target}.completed", "w").close()
    load_word_tokenizer("zh").word_tokenize("预热分词器。")  # jieba builds its dictionary once, outside the clock
    folder = os.path.dirname(paths[0])
    names = [os.path.basename(p) for p in paths]
    paths_file = os.path.join(workdir, "paths.txt")
    with open(paths_file, "w") as f:
        f.write("\n".join(names) + "\n")
    pipeline = [
        WarcReader(folder, paths_file=paths_file),
        Trafilatura(favour_precision=True, timeout=10.0),
        LanguageFilter(languages=["zh"]),
        GopherRepetitionFilter(
            language="zh", dup_line_frac=0.287, top_n_grams=CMN_TOP_NGRAMS, dup_n_grams=CMN_DUP_NGRAMS
        ),
        # Gopher's lower bound on the mean word length (3 characters) rejects every Chinese page:
        # jieba words are 1-4 characters. The upper bound (10) stays for the Latin-heavy pages.
        GopherQualityFilter(language="zh", min_avg_word_length=1, stop_words=ZH_STOP_WORDS),
    ]
    executor = LocalPipelineExecutor(
        pipeline=pipeline, tasks=len(paths), workers=cores, logging_dir=os.path.join(workdir, "logs"), skip_completed=False
    )
    cpu0, start = _cpu_seconds(), time.perf_counter()
    stats = executor.run()
    wall = time.perf_counter() - start
    steps, kept = {}, None
    for step in stats.stats:
        data = step.to_dict() if hasattr(step, "to_dict") else {}
        name = getattr(step, "name", str(step))
        total = data.get("time_stats", {}).get("total") if isinstance(data.get("time_stats"), dict) else None
        steps[name] = total
        forwarded = data.get("stats", {}).get("forwarded", 0)
        # The last step's forwarded count is what the chain keeps (absent when it kept none).
        kept = forwarded.get("total", forwarded) if isinstance(forwarded, dict) else forwarded
    # With more than one worker, datatrove's tasks run under a forkserver that this process
    # never waits for, so their CPU time is not in its rusage: not reported then.
    cpu = _cpu_seconds() - cpu0 if cores == 1 else None
    return {"wall_s": wall, "cpu_s": cpu, "kept": kept, "steps": steps}


def run_peer(python: str, paths: list[str], cores: int) -> dict:
    from stages.langid import bundled_model

    with tempfile.TemporaryDirectory(prefix="datatrove-bench-") as workdir:
        command = [python, __file__, "--as-peer", "--cores", str(cores), "--model", bundled_model(), "--workdir", workdir, *paths]
        env = {**os.environ, "HF_ASSETS_CACHE": os.path.join(workdir, "assets")}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            sys.exit(f"the datatrove run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


# --- shared -----------------------------------------------------------------------------------


def payload_bytes(paths: list[str]) -> tuple[int, int]:
    """HTTP payload bytes and count of every response record: what both readers take in."""
    from warcio.archiveiterator import ArchiveIterator

    total = records = 0
    for path in paths:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    total += len(record.content_stream().read())
                    records += 1
    return total, records


def pin(cores: int) -> list[int]:
    available = sorted(os.sched_getaffinity(0))
    if cores > len(available):
        sys.exit(f"--cores {cores}: only {len(available)} cores are available to this process")
    chosen = available[:cores]
    os.sched_setaffinity(0, chosen)
    return chosen


def _line(name: str, result: dict, mb: float, cores: int) -> str:
    per_core = mb / result["wall_s"] / cores
    cpu = result["cpu_s"]
    cpu_text = f"{cpu:8.2f} s CPU  {mb / cpu:6.3f} MB/s per CPU second" if cpu else "     n/a CPU (forkserver workers)"
    return f"{name:10s} {result['wall_s']:8.2f} s wall  {cpu_text}  {per_core:6.3f} MB/s per core (wall)  kept {result['kept']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warc", default=DEFAULT_WARC, help="glob of .warc.gz files (default: the dev crawl)")
    parser.add_argument("--cores", type=int, default=1, help="cores both sides are pinned to (default 1)")
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON,
                        help="python of a venv with datatrove 0.10.1 (default $DATATROVE_PYTHON or /work/venvs/datatrove/bin/python)")
    parser.add_argument("--no-peer", action="store_true", help="measure ours only")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each side; the fastest is reported (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--as-peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.as_peer:
        pin(args.cores)
        print(json.dumps(run_peer_inside(args.paths, args.cores, args.model, args.workdir)))
        return

    paths = sorted(glob.glob(args.warc))
    if not paths:
        sys.exit(f"no WARC files match {args.warc}")
    peer = None if args.no_peer else args.peer_python
    if peer and not (os.path.exists(peer) and subprocess.run([peer, "-c", "import datatrove"], capture_output=True).returncode == 0):
        sys.exit(
            f"no python with datatrove at {peer}. Install it in its own venv (datatrove 0.10.1 breaks on xxhash 4):\n"
            "  python -m venv /work/venvs/datatrove\n"
            '  /work/venvs/datatrove/bin/pip install "datatrove[processing]==0.10.1" "xxhash<4" '
            "warcio faust-cchardet python-magic lxml_html_clean spacy jieba aiohttp\n"
            "then pass --peer-python /work/venvs/datatrove/bin/python (or set DATATROVE_PYTHON), or --no-peer."
        )
    chosen = pin(args.cores)
    size, records = payload_bytes(paths)
    mb = size / 1e6
    print(f"{len(paths)} WARC files, {records} response records, {mb:.2f} MB of payload; cores {chosen}")
    # Interleaved (ours, peer, ours, peer, ...) so that load from other processes on the machine
    # falls on both sides alike; the fastest run of each side is reported.
    runs: dict[str, list[dict]] = {"ours": [], "datatrove": []}
    for i in range(max(args.repeat, 1)):
        runs["ours"].append(run_ours(paths, args.cores))
        line = f"  run {i + 1}: ours {runs['ours'][-1]['wall_s']:.2f} s"
        if peer:
            runs["datatrove"].append(run_peer(peer, paths, args.cores))
            line += f", datatrove {runs['datatrove'][-1]['wall_s']:.2f} s"
        print(line, flush=True)
    ours = min(runs["ours"], key=lambda r: r["wall_s"])
    print(_line("ours", ours, mb, args.cores))
    print("  steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in ours["steps"].items()))
    figures = {"payload_mb": mb, "cores": args.cores, "runs": runs, "ours": ours}
    if peer:
        theirs = min(runs["datatrove"], key=lambda r: r["wall_s"])
        print(_line("datatrove", theirs, mb, args.cores))
        print("  steps (s): " + ", ".join(f"{k} {v:.2f}" if isinstance(v, (int, float)) else f"{k} ?" for k, v in theirs["steps"].items()))
        ratio = f"ours / datatrove throughput: {theirs['wall_s'] / ours['wall_s']:.2f}x (wall)"
        if theirs["cpu_s"]:
            ratio += f", {theirs['cpu_s'] / ours['cpu_s']:.2f}x (CPU seconds)"
        print(ratio)
        figures["datatrove"] = theirs
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
