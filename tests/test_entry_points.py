"""A third-party stage plugs in through the `corpusforge.stages` entry-point group."""

import os
import subprocess
import sys
import textwrap

import pyarrow as pa
import yaml

from conftest import write_jsonl


def test_entry_point_stage_runs(tmp_path):
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "reverse_stage.py").write_text(textwrap.dedent('''
        import pyarrow as pa
        from corpusforge.stage import MapStage

        class Reverse(MapStage):
            def process(self, table):
                texts = [t[::-1] for t in table.column("text").to_pylist()]
                return table.set_column(table.column_names.index("text"), "text", pa.array(texts, pa.string()))
    '''))
    dist = plugin / "reverse_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: reverse-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[corpusforge.stages]\nreverse = reverse_stage:Reverse\n")

    write_jsonl(tmp_path / "in.jsonl", [{"text": "甲乙丙"}, {"text": "abc"}])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "sources": {"docs": {"paths": str(tmp_path / "in.jsonl")}},
        "stages": [{"id": "rev", "stage": "reverse", "inputs": ["docs"]}],
    }))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "corpusforge", "run", str(config), "--output", str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (shard,) = (tmp_path / "out" / "rev").glob("*.arrow")
    assert pa.ipc.open_file(str(shard)).read_all().column("text").to_pylist() == ["丙乙甲", "cba"]
