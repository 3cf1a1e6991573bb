"""A run killed part-way finishes only what is missing, and ends with the same bytes."""

import os
import signal
import subprocess
import sys
import time

import yaml

from conftest import shard_digests, write_jsonl


def test_killed_run_resumes_to_same_bytes(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for f in range(12):
        write_jsonl(docs / f"p{f:02d}.jsonl", [{"text": f"文档{f}-{i}" * (i + 1)} for i in range(20)])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "sources": {"docs": {"paths": str(docs / "*.jsonl")}},
        "stages": [
            {"id": "slow", "stage": "teststages:Slow", "inputs": ["docs"], "params": {"seconds": 0.4}},
            {"id": "write", "stage": "passthrough", "inputs": ["slow"]},
        ],
    }))
    command = [sys.executable, "-m", "corpusforge", "run", str(config), "--workers", "2"]
    out = tmp_path / "out"

    victim = subprocess.Popen([*command, "--output", str(out)], start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("_state/*/*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    finished_before = len(list(out.glob("_state/*/*.json")))
    assert 3 <= finished_before < 12, "the kill should land mid-run"
    assert not (out / "write" / "manifest.json").exists()

    resumed = subprocess.run([*command, "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{finished_before} already done" in resumed.stderr

    clean = subprocess.run([*command, "--output", str(tmp_path / "clean")], capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert shard_digests(out / "write") == shard_digests(tmp_path / "clean" / "write")
    assert len(shard_digests(out / "write")) == 12
    assert not list((out / "write").glob(".tmp-*")), "no temporary files left under final names"
