"""`mix`: weights and targets met, repetition, rehydration, buckets, determinism, the report."""

import random
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import run_config, shard_digests, write_jsonl

from corpusforge.pipeline.config import ConfigError, validate


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """`big`: 200 documents of 20-60 characters; `small`: 20 documents, with scores and cluster sizes."""
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("mix")
    write_jsonl(root / "big.jsonl", [{"id": f"b{i}", "text": "大" * rng.randint(20, 60), "score": rng.random(), "dup_cluster_size": 1} for i in range(200)])
    write_jsonl(root / "small.jsonl", [{"id": f"s{i}", "text": "小" * rng.randint(20, 60), "score": rng.random(), "dup_cluster_size": 3 if i < 10 else 1} for i in range(20)])
    return root


def config(root: Path, **params) -> dict:
    return {
        "sources": {"big": {"paths": str(root / "big.jsonl")}, "small": {"paths": str(root / "small.jsonl")}},
        "stages": [{"id": "mix", "stage": "mix", "inputs": ["big", "small"], "params": {"partitions": 3, **params}}],
    }


def output(out: Path) -> pa.Table:
    return pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((out / "mix").glob("*.arrow")))


def test_relative_weights_are_met_by_repetition_and_thinning(sources, tmp_path):
    result = run_config(config(sources, weights={"big": 1, "small": 1}), tmp_path / "out")
    counters = result.stats["mix"].counters
    available = counters["tokens_available:big"] + counters["tokens_available:small"]
    assert counters["tokens_requested:big"] == counters["tokens_requested:small"] == available // 2
    table = output(tmp_path / "out")
    chars = {g: sum(len(t) for t, s in zip(table["text"].to_pylist(), table["mix_group"].to_pylist()) if s == g) for g in ("big", "small")}
    assert chars == {"big": counters["tokens_realized:big"], "small": counters["tokens_realized:small"]}
    for g in ("big", "small"):  # within a few documents of the target
        assert abs(chars[g] - counters[f"tokens_requested:{g}"]) < 4 * 60
    small_copies = [c for c, g in zip(table["mix_copy"].to_pylist(), table["mix_group"].to_pylist()) if g == "small"]
    assert max(small_copies) >= 4  # about 5x upsampled
    assert sum(result.stats["mix"].dropped.values()) == result.stats["mix"].dropped["mix_not_drawn"] > 0
    # Shuffled: the two sources interleave instead of following each other.
    groups = table["mix_group"].to_pylist()
    assert sum(a != b for a, b in zip(groups, groups[1:])) > 20


def test_target_tokens_and_exclusion(sources, tmp_path):
    result = run_config(config(sources, tokens={"small": 3000}), tmp_path / "out")
    table = output(tmp_path / "out")
    assert set(table["mix_group"].to_pylist()) == {"small"}
    assert abs(sum(map(len, table["text"].to_pylist())) - 3000) < 60
    assert result.stats["mix"].dropped["mix_not_in_mixture"] == 200


def test_rehydration_repeats_documents_that_had_duplicates(sources, tmp_path):
    run_config(config(sources, tokens={"small": 4000}, rehydrate={1: 1.0, 3: 3.0}), tmp_path / "out")
    ids = output(tmp_path / "out")["id"].to_pylist()
    clustered = sum(ids.count(f"s{i}") for i in range(10))
    single = sum(ids.count(f"s{i}") for i in range(10, 20))
    assert 2.2 < clustered / single < 3.8


def test_buckets_of_a_value_column(sources, tmp_path):
    result = run_config(config(sources, by="score", edges=[0.5], weights={"-inf..0.5": 3, "0.5..inf": 1}), tmp_path / "out")
    counters = result.stats["mix"].counters
    assert 700_000 < counters["share_realized_ppm:-inf..0.5"] < 800_000
    table = output(tmp_path / "out")
    low = [s < 0.5 for s in table["score"].to_pylist()]
    assert sum(low) > 2 * (len(low) - sum(low))


def test_same_bytes_whatever_the_worker_count_and_a_seed_changes_them(sources, tmp_path):
    params = {"weights": {"big": 2, "small": 1}}
    run_config(config(sources, **params), tmp_path / "one", workers=1)
    run_config(config(sources, **params), tmp_path / "two", workers=2)
    assert shard_digests(tmp_path / "one" / "mix") == shard_digests(tmp_path / "two" / "mix")
    run_config(config(sources, seed=5, **params), tmp_path / "seed")
    assert shard_digests(tmp_path / "seed" / "mix") != shard_digests(tmp_path / "one" / "mix")


@pytest.mark.parametrize("params,message", [
    ({}, "either weights"),
    ({"weights": {"a": 1}, "tokens": {"a": 1}}, "either weights"),
    ({"tokens": {"a": 1}, "total_tokens": 5}, "total_tokens goes with weights"),
    ({"weights": {"a": -1}}, "non-negative"),
    ({"weights": {"a": 1}, "edges": [2, 1]}, "increasing"),
])
def test_config_errors(sources, params, message):
    with pytest.raises(ConfigError, match=r"stages\[mix\]\.params.*" + message):
        validate(config(sources, **params))


def test_a_bad_record_read_by_two_phases_is_counted_and_logged_once(sources, tmp_path, caplog):
    # `mix` reads each input unit twice (measure, then draw); its bad records belong to the
    # first reading alone.
    good = (sources / "big.jsonl").read_text(encoding="utf-8").splitlines()[:50]
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(good[:20] + ['{"text": "unterminated'] + good[20:]) + "\n", encoding="utf-8")
    raw = {"sources": {"docs": {"paths": str(path)}}, "stages": [{"id": "mix", "stage": "mix", "inputs": ["docs"], "params": {"partitions": 2, "weights": {"docs": 1}}}]}
    with caplog.at_level("WARNING", logger="corpusforge"):
        result = run_config(raw, tmp_path / "out")
    assert result.stats["mix"].errors == {"malformed_json": 1}
    warnings = [r.getMessage() for r in caplog.records if "bad record" in r.getMessage()]
    assert len(warnings) == 1 and "broken.jsonl:21" in warnings[0]
