"""The same config gives byte-identical shards on every executor and worker count."""

from conftest import run_config, shard_digests

STAGES = [
    {"id": "short", "stage": "teststages:MinChars", "inputs": ["docs"], "params": {"min_chars": 20}},
    {"id": "upper", "stage": "teststages:Upper", "inputs": ["short"]},
]


def _raw(docs_dir):
    # Small byte ranges so each file is several tasks and the pool really runs them in parallel.
    return {"sources": {"docs": {"paths": str(docs_dir / "*.jsonl"), "block_size_mb": 0.002}}, "stages": STAGES}


def test_local_workers_and_dask_give_identical_bytes(tmp_path, docs_dir):
    outputs = {
        "local1": run_config(_raw(docs_dir), tmp_path / "local1", "local", 1),
        "local2": run_config(_raw(docs_dir), tmp_path / "local2", "local", 2),
        "dask2": run_config(_raw(docs_dir), tmp_path / "dask2", "dask", 2),
    }
    digests = {name: shard_digests(tmp_path / name / "upper") for name in outputs}
    rejected = {name: shard_digests(tmp_path / name / "_rejected" / "short") for name in outputs}
    assert len(digests["local1"]) > 3
    assert digests["local1"] == digests["local2"] == digests["dask2"]
    assert rejected["local1"] == rejected["local2"] == rejected["dask2"]
    assert outputs["dask2"].report["executor"] == "DaskExecutor"


def test_local_pool_forks_only_when_safe_and_serves_the_same_results(tmp_path, docs_dir, monkeypatch):
    import threading

    from corpusforge.executors.local import LocalExecutor, fork_is_safe

    monkeypatch.setenv("CORPUSFORGE_TEST_MARK", "from-the-driver")
    safe = fork_is_safe()  # in a full test session other tests may have loaded torch
    with LocalExecutor(2) as forked:
        assert (forked._pool._mp_context.get_start_method() == "fork") == safe
        forked_results = sorted(forked.map_unordered(_probe, list(range(6))))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()  # another thread running: forking now could copy a lock it holds
    try:
        with LocalExecutor(2) as served:
            assert served._pool._mp_context.get_start_method() in ("forkserver", "spawn")
            served_results = sorted(served.map_unordered(_probe, list(range(6))))
    finally:
        stop.set()
        other.join()
    # Workers see the driver's environment either way, and return the same results.
    assert [r[1] for r in forked_results] == [r[1] for r in served_results] == [(i * i, "from-the-driver") for i in range(6)]


def _probe(i):
    import os

    return i * i, os.environ.get("CORPUSFORGE_TEST_MARK")



FROZEN_PROBE = """
import gc, json
from corpusforge.executors.local import LocalExecutor

def frozen(_):
    return gc.get_freeze_count()

if __name__ == "__main__":
    with LocalExecutor(2) as pool:
        start = pool._pool._mp_context.get_start_method()
        in_workers = [count for _, count in pool.map_unordered(frozen, [0, 1, 2, 3])]
    print(json.dumps({"start": start, "workers": in_workers, "driver": gc.get_freeze_count()}))
"""


def test_forked_workers_start_with_the_drivers_objects_frozen(tmp_path):
    import json
    import subprocess
    import sys

    # A fresh interpreter: in this test session other tests may have started threads or loaded
    # torch, and then the pool is (rightly) not forked.
    script = tmp_path / "probe.py"
    script.write_text(FROZEN_PROBE)
    seen = json.loads(subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True).stdout)
    assert seen["start"] == "fork"
    assert min(seen["workers"]) > 1000  # the engine's objects are out of the workers' collector's reach
    assert seen["driver"] == 0  # the driver collects its own objects as before
