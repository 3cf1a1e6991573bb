"""Every config error stops the run before any work: exit code 2, one line naming the field."""

from pathlib import Path

import yaml
from click.testing import CliRunner

from corpusforge.cli import main


def _config(docs_dir: Path, **changes) -> dict:
    raw = {
        "output": "unused",
        "sources": {"docs": {"paths": str(docs_dir / "*.jsonl")}},
        "stages": [
            {"id": "short", "stage": "teststages:MinChars", "inputs": ["docs"], "params": {"min_chars": 5}},
            {"id": "write", "stage": "passthrough", "inputs": ["short"]},
        ],
    }
    raw.update(changes)
    return raw


def _validate(tmp_path: Path, raw: dict, *extra: str):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return CliRunner().invoke(main, ["validate", str(path), *extra])


def _assert_config_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("corpusforge: config error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_valid_config_passes(tmp_path, docs_dir):
    result = _validate(tmp_path, _config(docs_dir))
    assert result.exit_code == 0, result.output
    assert "1 sources, 2 stages" in result.output


def test_unknown_stage(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][1]["stage"] = "no_such_stage"
    _assert_config_error(_validate(tmp_path, raw), "stages[write].stage", "unknown stage 'no_such_stage'")


def test_bad_param_type(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][0]["params"] = {"min_chars": "many"}
    _assert_config_error(_validate(tmp_path, raw), "stages[short].params.min_chars", "integer")


def test_unknown_param(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][0]["params"] = {"min_char": 3}
    _assert_config_error(_validate(tmp_path, raw), "stages[short].params.min_char", "Extra inputs")


def test_bad_param_value(tmp_path, docs_dir):
    raw = _config(docs_dir, io={"shard_size_mb": -1})
    _assert_config_error(_validate(tmp_path, raw), "io.shard_size_mb", "greater than 0")


def test_missing_input_path(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["sources"]["docs"]["paths"] = [str(docs_dir / "part0.jsonl"), str(tmp_path / "nope.jsonl")]
    _assert_config_error(_validate(tmp_path, raw), "sources.docs.paths[1]", "no such file")


def test_glob_matching_nothing(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["sources"]["docs"]["paths"] = str(tmp_path / "*.parquet")
    _assert_config_error(_validate(tmp_path, raw), "sources.docs.paths[0]")


def test_cycle(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][0]["inputs"] = ["write"]
    _assert_config_error(_validate(tmp_path, raw), "cycle", "short", "write")


def test_duplicate_id(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][1]["id"] = "short"
    _assert_config_error(_validate(tmp_path, raw), "stages[short].id", "duplicate id")


def test_unknown_top_level_key(tmp_path, docs_dir):
    raw = _config(docs_dir, outptu="typo")
    _assert_config_error(_validate(tmp_path, raw), "outptu", "Extra inputs")


def test_unknown_stage_key(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][1]["sav"] = True
    _assert_config_error(_validate(tmp_path, raw), "stages[write].sav")


def test_unknown_input(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][1]["inputs"] = ["shrot"]
    _assert_config_error(_validate(tmp_path, raw), "stages[write].inputs[0]", "'shrot'")


def _uses_config(docs_dir: Path, uses: dict, user: str = "pack", used: str = "tokenizer", **params) -> dict:
    return _config(docs_dir, stages=[
        {"id": "tok", "stage": used, "inputs": ["docs"]},
        {"id": "out", "stage": user, "inputs": ["docs"], "uses": uses, "params": params},
    ])


def test_uses_is_checked_before_any_work(tmp_path, docs_dir):
    _assert_config_error(_validate(tmp_path, _uses_config(docs_dir, {})), "stages[out].uses.tokenizer: missing", "'tokenizer' stage")
    _assert_config_error(_validate(tmp_path, _uses_config(docs_dir, {"tokenizer": "tokk"})), "stages[out].uses.tokenizer", "unknown stage 'tokk'")
    _assert_config_error(_validate(tmp_path, _uses_config(docs_dir, {"tokenizer": "tok", "lm": "tok"})), "stages[out].uses.lm", "'pack' uses tokenizer")
    wrong_kind = _uses_config(docs_dir, {"lm": "tok"}, user="perplexity", used="dedup")
    _assert_config_error(_validate(tmp_path, wrong_kind), "stages[out].uses.lm", "'tok' is a 'dedup' stage, not 'train_lm'")
    assert _validate(tmp_path, _uses_config(docs_dir, {"tokenizer": "tok"})).exit_code == 0


def test_vocab_too_large_for_the_dtype_is_a_config_error(tmp_path, docs_dir):
    too_big = _uses_config(docs_dir, {"tokenizer": "tok"}, dtype="uint16")
    too_big["stages"][0]["params"] = {"vocab_size": 70_000}
    _assert_config_error(_validate(tmp_path, too_big), "stages[out].params.dtype", "vocab size 70000 does not fit uint16")
    too_big["stages"][1]["params"] = {"dtype": "auto"}
    assert _validate(tmp_path, too_big).exit_code == 0


def test_unknown_reader_option(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["sources"]["docs"]["txt_field"] = "body"
    _assert_config_error(_validate(tmp_path, raw), "sources.docs.txt_field")


def test_invalid_yaml(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("stages: [\n  - id: a\n")
    _assert_config_error(CliRunner().invoke(main, ["validate", str(path)]), "invalid YAML")


def test_set_override_by_stage_id_and_glob(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["sources"]["docs"]["paths"] = [str(tmp_path / "missing.jsonl")]
    result = _validate(
        tmp_path, raw, "--set", f"sources.docs.paths={docs_dir}/part*.jsonl", "--set", "stages.short.params.min_chars=7"
    )
    assert result.exit_code == 0, result.output


def test_set_override_is_validated(tmp_path, docs_dir):
    result = _validate(tmp_path, _config(docs_dir), "--set", "stages.short.params.min_chars=abc")
    _assert_config_error(result, "stages[short].params.min_chars")


def test_run_stops_before_work(tmp_path, docs_dir):
    raw = _config(docs_dir)
    raw["stages"][0]["params"] = {"min_chars": "many"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["run", str(path), "--output", str(tmp_path / "out")])
    _assert_config_error(result, "stages[short].params.min_chars")
    assert not (tmp_path / "out").exists()


def test_unknown_target(tmp_path, docs_dir):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_config(docs_dir)))
    result = CliRunner().invoke(main, ["run", str(path), "--output", str(tmp_path / "out"), "--target", "nope"])
    _assert_config_error(result, "--target nope")


def test_declared_reader_extensions_match_the_reader_classes():
    import stages
    from corpusforge import registry

    for name, extensions in stages.READER_EXTENSIONS.items():
        assert registry.reader_class(name).extensions == extensions, name
    assert registry.reader_for_path("/x/a.jsonl.zst") == "jsonl"
    assert registry.reader_for_path("/x/a.warc.wet.gz") == "wet"
    assert registry.reader_for_path("/x/a.unknown") is None
