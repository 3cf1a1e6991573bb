"""Pretraining end to end on a generated pack: learning, exact resume, checkpoints, bad input,
export to transformers, the CLI and DDP."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models: extra threads only contend for the shared cores
pytest.importorskip("tokenizers")

from click.testing import CliRunner  # noqa: E402
from pretrain_fixtures import write_pretrain_pack  # noqa: E402

import corpusforge.train.pretrain as pretrain_module  # noqa: E402
from corpusforge.cli import main  # noqa: E402
from corpusforge.train.checkpoint import CheckpointDir, load_checkpoint, model_from_checkpoint, save_checkpoint  # noqa: E402
from corpusforge.train.config import load_config  # noqa: E402
from corpusforge.train.errors import CheckpointError, TrainConfigError  # noqa: E402
from corpusforge.train.pretrain import pretrain  # noqa: E402


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    return write_pretrain_pack(tmp_path_factory.mktemp("pack"), seq_len=32)


@pytest.fixture
def config_file(tmp_path, pack):
    config = {
        "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "dropout": 0.1},
        "data": {"path": str(pack)},
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 4, "decay_steps": 24},
        "train": {"max_steps": 24, "batch_size": 4, "grad_accum": 2, "seed": 3},
        "eval": {"every": 8, "batches": 2, "prompts": ["小猫"], "sample_tokens": 8},
        "checkpoint": {"every": 8, "keep_last": 2},
        "log": {"every": 1},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


class NotPlainData:
    """Something a weights_only load must refuse."""


def run(config_file, output, *overrides):
    return pretrain(load_config(config_file, list(overrides)), str(output))


def metrics(output) -> list[dict]:
    with open(Path(output) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def losses(output) -> list[tuple[str, str, str]]:
    return [(r["step"], r["loss"], r["lr"]) for r in metrics(output)]


def test_training_lowers_val_loss_and_writes_metrics_samples_checkpoints(config_file, tmp_path):
    out = run(config_file, tmp_path / "run")
    rows = metrics(out)
    assert list(rows[0]) == ["step", "loss", "val_loss", "lr", "tokens_per_s", "mfu"]
    assert [int(r["step"]) for r in rows] == list(range(0, 25))
    assert rows[0]["loss"] == ""  # step 0: the untrained model's val loss only
    val = [float(r["val_loss"]) for r in rows if r["val_loss"]]
    assert len(val) == 4 and val[-1] < val[0] - 0.5
    assert float(rows[-1]["tokens_per_s"]) > 0 and rows[-1]["mfu"] == ""  # no peak FLOP/s known on CPU
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [s["step"] for s in samples] == [8, 16, 24] and all(s["text"].startswith("小猫") for s in samples)
    ckpts = CheckpointDir(out / "checkpoints")
    assert [p.name for p in ckpts.steps()] == ["step-00000016.pt", "step-00000024.pt"]
    best = load_checkpoint(ckpts.best)
    assert best["val_loss"] == min(val[1:]) and best["step"] == 24
    model, _ = model_from_checkpoint(ckpts.best)
    assert model.config.vocab_size == 120 and model.config.block_size == 32


def test_stopped_and_resumed_or_killed_and_resumed_logs_the_same_losses(config_file, tmp_path, monkeypatch):
    reference = losses(run(config_file, tmp_path / "straight"))

    run(config_file, tmp_path / "extended", "train.max_steps=12")
    assert len(losses(tmp_path / "extended")) == 13  # steps 0..12
    run(config_file, tmp_path / "extended")  # same command to 2N steps resumes
    assert losses(tmp_path / "extended") == reference

    real_lr_at = pretrain_module.lr_at

    def dies_at_step_19(step, *args):
        if step == 19:
            raise KeyboardInterrupt
        return real_lr_at(step, *args)

    monkeypatch.setattr(pretrain_module, "lr_at", dies_at_step_19)
    with pytest.raises(KeyboardInterrupt):
        run(config_file, tmp_path / "killed")
    assert len(losses(tmp_path / "killed")) == 20  # steps 0..19: logged past its last checkpoint (16)
    monkeypatch.setattr(pretrain_module, "lr_at", real_lr_at)
    run(config_file, tmp_path / "killed")
    assert losses(tmp_path / "killed") == reference
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "samples.jsonl").read_text().splitlines()]
    assert steps == [8, 16, 24]


def test_gradient_accumulation_matches_one_big_batch(config_file, tmp_path):
    run(config_file, tmp_path / "accum", "train.max_steps=3", "model.dropout=0")  # same math, not same dropout draws
    run(config_file, tmp_path / "big", "train.max_steps=3", "model.dropout=0", "train.batch_size=8", "train.grad_accum=1")
    for a, b in zip(metrics(tmp_path / "accum")[1:], metrics(tmp_path / "big")[1:], strict=True):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), abs=1e-5)


def test_vocab_mismatch_fails_before_training(config_file, tmp_path):
    with pytest.raises(TrainConfigError, match="model.vocab_size: 99, but the shards .* vocab_size 120"):
        run(config_file, tmp_path / "bad", "model.vocab_size=99")
    assert not (tmp_path / "bad").exists()


def test_resume_with_another_config_names_the_difference(config_file, tmp_path):
    run(config_file, tmp_path / "run", "train.max_steps=8")
    with pytest.raises(TrainConfigError, match=r"optim\.lr: 0\.003 in the checkpoint, 0\.001 now"):
        run(config_file, tmp_path / "run", "optim.lr=0.001")
    run(config_file, tmp_path / "run", "train.max_steps=9", "log.every=3")  # bounds and logging may change


def test_corrupt_and_unsafe_checkpoints_are_clear_errors(config_file, tmp_path):
    out = run(config_file, tmp_path / "run", "train.max_steps=8")
    latest = CheckpointDir(out / "checkpoints").latest()
    latest.write_bytes(latest.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt or not a checkpoint"):
        run(config_file, out, "train.max_steps=16")

    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "corpusforge.checkpoint/1", "x": NotPlainData()}, unsafe)
    with pytest.raises(CheckpointError, match="more than tensors and plain data"):
        load_checkpoint(unsafe)
    save_checkpoint(tmp_path / "other.pt", {"step": 1})
    with pytest.raises(CheckpointError, match="does not load"):
        model_from_checkpoint(tmp_path / "other.pt")


def test_export_hf_logits_match_and_cli(config_file, tmp_path):
    transformers = pytest.importorskip("transformers")
    runner = CliRunner()
    result = runner.invoke(main, ["train", "pretrain", str(config_file), "-o", str(tmp_path / "run"), "--set", "train.max_steps=8"])
    assert result.exit_code == 0, result.output
    ckpt = tmp_path / "run" / "checkpoints" / "best.pt"
    result = runner.invoke(main, ["generate", str(ckpt), "小猫", "-n", "5", "--seed", "1"])
    assert result.exit_code == 0 and result.output.startswith("小猫")
    result = runner.invoke(main, ["export-hf", str(ckpt), str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output

    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    ours, _ = model_from_checkpoint(ckpt)
    ids = torch.tensor([tokenizer.encode("老师喜欢音乐。小猫看见河流。")])
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, ours.eval()(ids)[0], atol=1e-4, rtol=1e-4)
    assert tokenizer.eos_token == "<|endoftext|>" and hf.config.eos_token_id == 0

    result = runner.invoke(main, ["train", "pretrain", str(config_file), "-o", str(tmp_path / "x"), "--set", "model.vocab_size=7"])
    assert result.exit_code == 2 and "model.vocab_size: 7" in result.output


def test_pipeline_commands_do_not_import_torch():
    code = "import sys, corpusforge.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_ddp_two_ranks_match_one_process(config_file, tmp_path):
    run(config_file, tmp_path / "single", "train.max_steps=4", "model.dropout=0", "train.batch_size=8", "train.grad_accum=1")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29571",
        "-m", "corpusforge", "train", "pretrain", str(config_file), "-o", str(tmp_path / "ddp"),
        "--set", "train.max_steps=4", "--set", "model.dropout=0", "--set", "train.batch_size=4", "--set", "train.grad_accum=1",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    for a, b in zip(metrics(tmp_path / "single")[1:], metrics(tmp_path / "ddp")[1:], strict=True):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), abs=1e-5)
    assert load_checkpoint(CheckpointDir(tmp_path / "ddp" / "checkpoints").latest())["world_size"] == 2


@pytest.mark.parametrize("name", ["gpt_tiny", "gpt_124m"])
def test_bundled_train_configs_validate(name):
    config = load_config(Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml")
    assert config.data.path == "output/zh_web/pack" and config.optim.decay_steps == config.train.max_steps


def test_mfu_uses_the_peak_flops(config_file, tmp_path, monkeypatch):
    from corpusforge.train import runtime

    for name, peak in [("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H100 PCIe", 756e12), ("NVIDIA A100-SXM4-80GB", 312e12)]:
        monkeypatch.setattr(runtime.torch.cuda, "get_device_name", lambda device, name=name: name)
        assert runtime.gpu_peak_flops(None) == peak
    out = run(config_file, tmp_path / "run", "train.max_steps=4", "train.peak_flops=1e9")
    model, _ = model_from_checkpoint(CheckpointDir(out / "checkpoints").latest())
    for row in metrics(out)[1:]:
        expected = model.flops_per_token(32) * float(row["tokens_per_s"]) / 1e9
        assert float(row["mfu"]) == pytest.approx(expected, abs=1e-4)
