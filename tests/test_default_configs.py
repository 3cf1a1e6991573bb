"""The bundled configs run on a fresh clone."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]


def _run(config: str, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "corpusforge", "run", config, "--output", str(out), "--workers", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((out / "report.json").read_text())


def test_zh_web_runs_on_the_bundled_sample(tmp_path):
    report = _run("configs/zh_web.yaml", tmp_path / "out")
    stages = report["stages"]
    # `lm` needs only the reference source, so it may run anywhere before `perplexity`.
    order = report["order"]
    assert [s for s in order if s != "lm"][:6] == ["ingest", "normalize", "langid", "clean", "quality", "perplexity"]
    assert order.index("lm") < order.index("perplexity")
    assert report["order"][-3:] == ["mix", "tokenizer", "pack"]
    assert stages["ingest"]["counters"].get("skipped:redirect", 0) >= 1
    assert any(r.startswith("lang:") for r in stages["langid"]["dropped"]), "the sample has non-Chinese pages"
    assert stages["quality"]["dropped"], "the sample has spam pages"
    kept = pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((tmp_path / "out" / "quality").glob("*.arrow")))
    assert kept.num_rows == stages["quality"]["docs_out"] > 20
    assert set(kept.column("lang").to_pylist()) == {"zh"}
    assert "Hant" in kept.column("script").to_pylist()
    scored = pa.concat_tables(pa.ipc.open_file(str(p)).read_all() for p in sorted((tmp_path / "out" / "perplexity").glob("*.arrow")))
    assert scored.num_rows == kept.num_rows and scored.column("ppl").null_count == 0
    assert set(scored.column("bucket").to_pylist()) == {"head", "middle", "tail"}
    assert order.index("perplexity") < order.index("dedup") < order.index("mix")
    assert stages["dedup"]["dropped"].get("exact") and stages["dedup"]["dropped"].get("near"), "the sample has copied pages"
    packed = json.loads((tmp_path / "out" / "pack" / "index.json").read_text())
    assert packed["splits"]["train"]["rows"] > 0 and packed["splits"]["val"]["rows"] > 0
    assert packed["tokens_in"] == packed["splits"]["train"]["tokens"] + packed["splits"]["val"]["tokens"] + packed["truncated_tokens"]
    assert stages["mix"]["counters"]["tokens_realized:Hant"] > stages["mix"]["counters"]["tokens_available:Hant"], "Hant is upsampled"
    # A global stage's documents in are its upstream's documents out, whatever it emits.
    for upstream, stage in (("quality", "perplexity"), ("perplexity", "dedup"), ("dedup", "mix"), ("mix", "tokenizer"), ("mix", "pack")):
        assert stages[stage]["docs_in"] == stages[upstream]["docs_out"], stage


def test_jsonl_example_runs(tmp_path):
    report = _run("configs/examples/jsonl_to_arrow.yaml", tmp_path / "out")
    assert report["stages"]["write"]["docs_out"] == 5
    (shard,) = (tmp_path / "out" / "write").glob("*.arrow")
    assert pa.ipc.open_file(str(shard)).read_all().column("id").to_pylist()[0] == "ex-0"
