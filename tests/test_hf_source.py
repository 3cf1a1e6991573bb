"""The `hf` reader as a source of a run: save_to_disk directories and load_dataset specs."""

import json

import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

from conftest import run_config
from corpusforge.cli import main

datasets = pytest.importorskip("datasets")

ROWS = {"content": [f"第{i}篇文档" for i in range(7)], "link": [f"http://h.test/{i}" for i in range(7)]}


def _texts(directory):
    tables = [pa.ipc.open_file(str(p)).read_all() for p in sorted(directory.glob("*.arrow"))]
    return [t for table in tables for t in table.column("text").to_pylist()]


def _passthrough(source: dict) -> dict:
    return {"sources": {"docs": {"format": "hf", **source}}, "stages": [{"id": "w", "stage": "passthrough", "inputs": ["docs"]}]}


def test_save_to_disk_directories_are_sources(tmp_path):
    whole = datasets.DatasetDict({"train": datasets.Dataset.from_dict(ROWS), "test": datasets.Dataset.from_dict({k: v[:2] for k, v in ROWS.items()})})
    whole.save_to_disk(str(tmp_path / "dsdict"))
    datasets.Dataset.from_dict({k: v[5:] for k, v in ROWS.items()}).save_to_disk(str(tmp_path / "single"))
    fields = {"text_field": "content", "url_field": "link", "rows_per_part": 3}

    result = run_config(_passthrough({"paths": str(tmp_path / "dsdict"), **fields}), tmp_path / "out")
    assert _texts(tmp_path / "out" / "w") == ROWS["content"]
    assert result.stats["w"].docs_out == 7 and result.stats["w"].bytes_in == sum(len(t.encode()) for t in ROWS["content"])
    assert len(list((tmp_path / "out" / "w").glob("*.arrow"))) == 3  # rows_per_part 3: three tasks

    # A split of a DatasetDict, and a glob over several saved directories.
    run_config(_passthrough({"paths": str(tmp_path / "dsdict"), "split": "test", **fields}), tmp_path / "test")
    assert _texts(tmp_path / "test" / "w") == ROWS["content"][:2]
    run_config(_passthrough({"paths": str(tmp_path / "s*"), **fields}), tmp_path / "glob")
    assert _texts(tmp_path / "glob" / "w") == ROWS["content"][5:]

    # A re-run does no work; re-saved data with other rows is a changed input.
    again = run_config(_passthrough({"paths": str(tmp_path / "dsdict"), **fields}), tmp_path / "out")
    assert again.plan.done == {"w"}
    datasets.Dataset.from_dict({k: v[:4] for k, v in ROWS.items()}).save_to_disk(str(tmp_path / "dsdict2"))
    (tmp_path / "dsdict").rename(tmp_path / "old")
    (tmp_path / "dsdict2").rename(tmp_path / "dsdict")
    changed = run_config(_passthrough({"paths": str(tmp_path / "dsdict"), **fields}), tmp_path / "out")
    assert changed.plan.done == set() and _texts(tmp_path / "out" / "w") == ROWS["content"][:4]


def test_load_dataset_spec_is_a_source(tmp_path):
    data_file = tmp_path / "rows.jsonl"
    data_file.write_text("".join(json.dumps({"text": t, "id": f"doc-{i}"}, ensure_ascii=False) + "\n" for i, t in enumerate(ROWS["content"])))
    spec = {"dataset": "json", "data_files": str(data_file), "cache_dir": str(tmp_path / "cache")}
    run_config(_passthrough(spec), tmp_path / "out", workers=2)
    table = pa.ipc.open_file(str(next((tmp_path / "out" / "w").glob("*.arrow")))).read_all()
    assert table.column("id").to_pylist() == [f"doc-{i}" for i in range(7)]
    assert table.column("text").to_pylist() == ROWS["content"]
    assert run_config(_passthrough(spec), tmp_path / "out").plan.done == {"w"}


def test_hf_source_config_errors(tmp_path):
    (tmp_path / "plain").mkdir()
    for source, fragment in [
        ({"paths": str(tmp_path / "missing")}, "sources.docs.paths[0]: no such file"),
        ({"paths": str(tmp_path / "plain")}, "sources.docs.paths[0]: no such file"),
        ({"paths": str(tmp_path / "plain"), "dataset": "json"}, "sources.docs.paths: a source with `dataset`"),
        ({}, "sources.docs.paths: no input named"),
    ]:
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(_passthrough(source)))
        result = CliRunner().invoke(main, ["validate", str(config)])
        assert result.exit_code == 2, result.output
        assert fragment in result.output, result.output
