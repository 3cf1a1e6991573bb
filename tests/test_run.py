"""Running pipelines: outputs, rejected rows, accounting, skipping finished work, fingerprints."""

import json
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import run_config, shard_digests


def _raw(docs_dir, stages, **extra):
    return {"sources": {"docs": {"paths": str(docs_dir / "*.jsonl")}}, "stages": stages, **extra}


CHAIN = [
    {"id": "a", "stage": "passthrough", "inputs": ["docs"], "save": True},
    {"id": "b", "stage": "teststages:MinChars", "inputs": ["a"], "params": {"min_chars": 20}},
    {"id": "c", "stage": "teststages:Upper", "inputs": ["b"]},
]


def test_passthrough_shards_are_readable_by_pyarrow_and_datasets(tmp_path, docs_dir):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out"
    run_config(_raw(docs_dir, [{"id": "write", "stage": "passthrough", "inputs": ["docs"]}]), out)
    shards = sorted((out / "write").glob("*.arrow"))
    assert len(shards) == 3
    total = 0
    for shard in shards:
        table = pa.ipc.open_file(pa.memory_map(str(shard))).read_all()
        assert table.column_names[:4] == ["id", "text", "url", "source"]
        assert set(table.column("source").to_pylist()) == {"docs"}
        hf = datasets.Dataset.from_file(str(shard))
        assert hf.num_rows == table.num_rows and hf[0]["text"] == table.column("text")[0].as_py()
        total += table.num_rows
    assert total == 180
    manifest = json.loads((out / "write" / "manifest.json").read_text())
    assert sum(s["rows"] for s in manifest["shards"]) == 180
    assert manifest["stats"]["docs_in"] == manifest["stats"]["docs_out"] == 180


def test_ids_are_unique_and_stable(tmp_path, docs_dir):
    stages = [{"id": "write", "stage": "passthrough", "inputs": ["docs"]}]
    ids = []
    for run in range(2):
        out = tmp_path / f"out{run}"
        run_config(_raw(docs_dir, stages), out)
        ids.append([i for s in sorted((out / "write").glob("*.arrow")) for i in pa.ipc.open_file(str(s)).read_all().column("id").to_pylist()])
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 180


def test_rejected_rows_keep_columns_and_reason(tmp_path, docs_dir):
    out = tmp_path / "out"
    result = run_config(_raw(docs_dir, CHAIN), out)
    rejected = pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((out / "_rejected" / "b").glob("*.arrow")))
    kept = pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((out / "c").glob("*.arrow")))
    assert set(rejected.column("reason").to_pylist()) == {"too_short"}
    assert rejected.column_names == ["id", "text", "url", "source", "reason"]
    assert rejected.num_rows + kept.num_rows == 180
    stats = result.stats["b"]
    assert stats.dropped == {"too_short": rejected.num_rows}
    assert stats.docs_in == 180 and stats.docs_out == kept.num_rows
    assert all(t == t.upper() for t in kept.column("text").to_pylist())
    # `b` ran fused inside the task of `c`: no shards of its own.
    assert not list((out / "b").glob("*.arrow"))
    report = json.loads((out / "report.json").read_text())
    assert report["stages"]["b"]["dropped"] == {"too_short": rejected.num_rows}
    assert (out / "report.html").exists()
    # The same accounting per task (here one per input file), with what it read and wrote.
    tasks = report["stages"]["b"]["tasks"]
    sizes = [(docs_dir / f"part{f}.jsonl").stat().st_size for f in range(3)]
    assert [t["input"] for t in tasks] == [f"{docs_dir / f'part{f}.jsonl'} (0, {sizes[f]})" for f in range(3)]
    assert sum(t["docs_in"] for t in tasks) == 180 and sum(t["dropped"].get("too_short", 0) for t in tasks) == rejected.num_rows
    assert all(t["wall_s"] >= 0 and t["bytes_in"] > 0 and t["shards"] == [] for t in tasks)
    assert [len(t["shards"]) for t in report["stages"]["c"]["tasks"]] == [1, 1, 1]


def test_rerun_does_no_work(tmp_path, docs_dir):
    out = tmp_path / "out"
    run_config(_raw(docs_dir, CHAIN), out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.arrow")}
    result = run_config(_raw(docs_dir, CHAIN), out)
    assert result.plan.segments == []
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.arrow")} == before
    assert {s["status"] for s in result.report["stages"].values()} == {"skipped"}


def test_changed_param_reruns_that_stage_and_downstream_only(tmp_path, docs_dir):
    out = tmp_path / "out"
    run_config(_raw(docs_dir, CHAIN), out)
    a_before = shard_digests(out / "a")
    a_mtimes = {p: p.stat().st_mtime_ns for p in (out / "a").glob("*.arrow")}
    changed = json.loads(json.dumps(CHAIN))
    changed[1]["params"]["min_chars"] = 30
    result = run_config(_raw(docs_dir, changed), out)
    status = {k: v["status"] for k, v in result.report["stages"].items()}
    assert status == {"a": "skipped", "b": "ran", "c": "ran"}
    assert {p: p.stat().st_mtime_ns for p in (out / "a").glob("*.arrow")} == a_mtimes
    assert shard_digests(out / "a") == a_before
    # The new output is the one a fresh run with the new config gives.
    fresh = tmp_path / "fresh"
    run_config(_raw(docs_dir, changed), fresh)
    assert shard_digests(out / "c") == shard_digests(fresh / "c")
    assert shard_digests(out / "_rejected" / "b") == shard_digests(fresh / "_rejected" / "b")


def test_changed_input_file_reruns_everything(tmp_path, docs_dir):
    out = tmp_path / "out"
    run_config(_raw(docs_dir, CHAIN), out)
    with open(docs_dir / "part0.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"text": "新加的一篇足够长的文档，用来改变输入文件的指纹。"}) + "\n")
    result = run_config(_raw(docs_dir, CHAIN), out)
    assert {v["status"] for v in result.report["stages"].values()} == {"ran"}


def test_target_runs_only_needed_stages(tmp_path, docs_dir):
    out = tmp_path / "out"
    result = run_config(_raw(docs_dir, CHAIN), out, targets=["b"])
    assert list(result.report["stages"]) == ["a", "b"]
    assert list((out / "b").glob("*.arrow")), "a target is always saved"
    assert not (out / "c").exists()


def test_heavy_state_is_set_up_once_per_worker(tmp_path, docs_dir):
    out = tmp_path / "out"
    run_config(_raw(docs_dir, [{"id": "s", "stage": "teststages:CountSetups", "inputs": ["docs"]}]), out)
    counts = {n for p in (out / "s").glob("*.arrow") for n in pa.ipc.open_file(str(p)).read_all().column("setups").to_pylist()}
    assert counts == {1}


def test_parquet_output_and_shard_size(tmp_path, docs_dir):
    out = tmp_path / "out"
    raw = _raw(docs_dir, [{"id": "write", "stage": "passthrough", "inputs": ["docs"]}], io={"format": "parquet", "shard_size_mb": 0.002})
    run_config(raw, out)
    import pyarrow.parquet as pq

    files = sorted((out / "write").glob("*.parquet"))
    assert len(files) > 3  # each input file was split to respect the target size
    assert sum(pq.read_table(f).num_rows for f in files) == 180


def test_inspect_prints_rows_schema_and_first_rows(tmp_path, docs_dir):
    from click.testing import CliRunner

    from corpusforge.cli import main

    out = tmp_path / "out"
    run_config(_raw(docs_dir, [{"id": "write", "stage": "passthrough", "inputs": ["docs"]}]), out)
    result = CliRunner().invoke(main, ["inspect", str(out / "write"), "-n", "1"])
    assert result.exit_code == 0, result.output
    assert "3 shards" in result.output and "rows: 180" in result.output
    assert "  text: string" in result.output and "row 0:" in result.output and "row 1:" not in result.output


def test_bytes_in_count_raw_pages_before_extraction(tmp_path):
    # A crawl's rows carry the page (`html`) and no text yet: MB in is the pages' bytes.
    crawl = Path(__file__).parents[1] / "data" / "sample" / "sample-crawl.warc.gz"
    raw = {"sources": {"crawl": {"paths": str(crawl)}}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["crawl"]}]}
    stats = run_config(raw, tmp_path / "out").stats["w"]
    (shard,) = (tmp_path / "out" / "w").glob("*.arrow")
    pages = pa.ipc.open_file(str(shard)).read_all().column("html")
    assert stats.bytes_in == stats.bytes_out == sum(len(p) for p in pages.to_pylist()) > 0


@pytest.mark.parametrize("users_value", [None, "0"])
def test_cli_sets_the_allocators_purge_delay_before_pyarrow_loads(users_value):
    import os
    import subprocess
    import sys

    # mimalloc reads MIMALLOC_PURGE_DELAY when pyarrow loads it: the CLI module must set it
    # without importing pyarrow itself, and leave a value the user chose alone.
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    if users_value is not None:
        env["MIMALLOC_PURGE_DELAY"] = users_value
    probe = "import os, sys, corpusforge.cli; print('pyarrow' in sys.modules, os.environ['MIMALLOC_PURGE_DELAY'])"
    out = subprocess.run([sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True).stdout.split()
    assert out == ["False", users_value or "1000"]


def test_summary_table_has_a_row_per_stage_in_aligned_columns(tmp_path, docs_dir):
    from corpusforge.pipeline.report import summary_text

    raw = {
        "sources": {"docs": {"paths": str(docs_dir / "*.jsonl")}},
        "stages": [
            {"id": "short", "stage": "teststages:MinChars", "inputs": ["docs"], "params": {"min_chars": 20}},
            {"id": "write", "stage": "passthrough", "inputs": ["short"]},
        ],
    }
    result = run_config(raw, tmp_path / "out")
    title, header, rule, *rows = summary_text(result.report).splitlines()
    assert title == f"corpusforge run: {tmp_path / 'out'}"
    assert [r.split()[0] for r in rows] == ["short", "write"]
    stats = result.report["stages"]["short"]
    assert rows[0].split()[2:6] == [f"{stats['docs_in']:,}", f"{stats['docs_out']:,}", f"{sum(stats['dropped'].values()):,}", "0"]
    # Sizes in a unit that keeps a small sample's figures readable (not all 0.0 MB).
    assert stats["bytes_in"] < 2**20 and not rows[0].split()[6].startswith("0.0")
    assert rows[0].split()[7] in ("B", "KB")
    # Figures are right-aligned under their headings: each column ends where its heading ends.
    ends = [header.index(name) + len(name) for name in ("docs in", "docs out", "bytes in", "seconds")]
    for row in rows:
        assert all(row[end - 1] != " " and (end == len(row) or row[end] == " ") for end in ends)
