import numpy as np
import pytest
import torch

import alignment_fixtures as fx
from alignment_fixtures import one_torch_thread, ppo_raw, read_metrics, rm_raw, sft_raw  # noqa: F401
from corpusforge.train.alignment_config import PPOConfig, RMConfig, SFTConfig
from corpusforge.train.checkpoint import CheckpointDir, load_checkpoint, model_from_checkpoint, save_checkpoint
from corpusforge.train.ppo import RewardNaNError, ppo
from corpusforge.train.reward import train_rm
from corpusforge.train.sft import sft


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A barely trained SFT actor (it still emits many "bad" words) and an RM that punishes them."""
    root = tmp_path_factory.mktemp("chain")
    torch.set_num_threads(1)
    sft_data = fx.write_sft(root / "sft_data")
    raw = sft_raw(sft_data, model={"dropout": 0.1}, train={"max_steps": 20}, eval={"every": 20})
    sft(SFTConfig.model_validate(raw), str(root / "sft"))
    pref = fx.write_preference(root / "pref_data")
    train_rm(RMConfig.model_validate(rm_raw(pref, root / "sft")), str(root / "rm"))
    return {"root": root, "sft_data": sft_data, "prompts": fx.write_prompts(root / "prompt_data"), "sft": root / "sft", "rm": root / "rm"}


def run(raw, out):
    return ppo(PPOConfig.model_validate(raw), str(out))


def test_ppo_raises_the_reward_while_kl_stays_bounded(chain, tmp_path):
    raw = ppo_raw(chain["prompts"], chain["sft"], chain["rm"], train={"max_steps": 16}, eval={"every": 8})
    run(raw, tmp_path / "run")
    rows = read_metrics(tmp_path / "run")
    assert list(rows[0])[:5] == ["step", "reward_mean", "kl", "policy_loss", "value_loss"]
    assert rows[0]["step"] == 0 and rows[0]["reward_mean"] is None  # step 0: the SFT actor's val reward only
    val = [r["val_reward_mean"] for r in rows if r["val_reward_mean"] is not None]
    rows = rows[1:]
    first, last = np.mean([r["reward_mean"] for r in rows[:4]]), np.mean([r["reward_mean"] for r in rows[-4:]])
    assert last > first + 1.0, (first, last)
    assert rows[0]["kl"] == pytest.approx(0, abs=1e-5)  # the actor starts as the reference (dropout is off)
    assert len(val) == 3 and val[-1] > val[0], val
    assert max(abs(r["kl"]) for r in rows) < 10  # nats per response
    for r in rows:
        assert 0 <= r["policy_clip_fraction"] <= 1 and 0 <= r["value_clip_fraction"] <= 1 and r["entropy"] > 0


def test_ppo_resumes_exactly(chain, tmp_path):
    raw = ppo_raw(chain["prompts"], chain["sft"], chain["rm"], train={"max_steps": 4}, optim={"decay_steps": 4}, eval={"every": 2})
    run(raw, tmp_path / "straight")
    run({**raw, "train": {**raw["train"], "max_steps": 2}}, tmp_path / "resumed")
    run(raw, tmp_path / "resumed")
    assert read_metrics(tmp_path / "straight") == read_metrics(tmp_path / "resumed")


def test_a_reward_nan_stops_the_run_and_keeps_the_last_good_checkpoint(chain, tmp_path):
    rm_file = tmp_path / "rm.pt"
    rm_payload = load_checkpoint(CheckpointDir(chain["rm"] / "checkpoints").latest())
    save_checkpoint(rm_file, rm_payload)
    raw = ppo_raw(chain["prompts"], chain["sft"], rm_file, train={"max_steps": 4}, optim={"decay_steps": 4})
    run({**raw, "train": {**raw["train"], "max_steps": 2}}, tmp_path / "run")
    good = CheckpointDir(tmp_path / "run" / "checkpoints").latest()
    good_bytes = good.read_bytes()
    rm_payload["head"]["weight"] = torch.full_like(rm_payload["head"]["weight"], float("nan"))
    save_checkpoint(rm_file, rm_payload)  # the reward model goes bad between two sessions
    with pytest.raises(RewardNaNError, match=r"ppo step 3: the reward model's score is NaN.*last good checkpoint is .*step-00000002\.pt"):
        run(raw, tmp_path / "run")
    assert CheckpointDir(tmp_path / "run" / "checkpoints").latest() == good and good.read_bytes() == good_bytes
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [0, 1, 2]


def test_lora_actor_with_ema_and_ptx_exports_both_actors(chain, tmp_path):
    raw = ppo_raw(
        chain["prompts"], chain["sft"], chain["rm"], train={"max_steps": 2}, export_hf=True,
        lora={"rank": 4, "alpha": 8, "targets": ["attn.c_attn"]},
        ppo={"ema_decay": 0.5, "ptx_coef": 0.5, "ptx_data": str(chain["sft_data"])},
    )
    run(raw, tmp_path / "run")
    rows = read_metrics(tmp_path / "run")[1:]
    assert all(r["ptx_loss"] > 0 for r in rows) and rows[0]["kl"] == pytest.approx(0, abs=1e-5)  # reference = base model
    payload = load_checkpoint(CheckpointDir(tmp_path / "run" / "checkpoints").latest())
    start = load_checkpoint(CheckpointDir(chain["sft"] / "checkpoints").latest())["model"]
    key = "transformer.h.0.mlp.c_fc.weight"  # not adapted: unchanged
    torch.testing.assert_close(payload["model"][key], start[key])
    assert not torch.equal(payload["model"]["transformer.h.0.attn.c_attn.weight"], start["transformer.h.0.attn.c_attn.weight"])
    assert set(payload["ema"]) == {f"transformer.h.{i}.attn.c_attn.lora_{m}" for i in range(2) for m in "AB"}
    from transformers import GPT2LMHeadModel

    actor, _ = model_from_checkpoint(payload)
    idx = torch.tensor([[3, 5, 9, 4, 9]])
    torch.testing.assert_close(GPT2LMHeadModel.from_pretrained(tmp_path / "run" / "hf").eval()(idx).logits, actor.eval()(idx)[0], rtol=1e-4, atol=1e-4)
    assert (tmp_path / "run" / "hf_ema" / "model.safetensors").is_file()


def test_cli_runs_the_tiny_configs_with_overrides_and_a_nan_exits_1(chain, tmp_path):
    from click.testing import CliRunner

    from corpusforge.cli import main

    common = ["--set", "train.max_steps=1", "--set", "export_hf=false", "--set", "eval.every=1"]
    sft_out, rm_out, ppo_out = (str(tmp_path / n) for n in ("sft", "rm", "ppo"))
    result = CliRunner().invoke(main, ["train", "sft", "configs/sft_tiny.yaml", "-o", sft_out, "--set", f"init_from={chain['sft']}",
                                       "--set", f"data.path={chain['sft_data']}", *common])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["train", "rm", "configs/rm_tiny.yaml", "-o", rm_out, "--set", f"init_from={sft_out}",
                                       "--set", f"data.path={chain['root'] / 'pref_data'}", *common])
    assert result.exit_code == 0, result.output
    assert fx.read_metrics(tmp_path / "rm")[0]["val_accuracy"] is not None
    payload = load_checkpoint(CheckpointDir(tmp_path / "rm" / "checkpoints").latest())
    payload["head"]["weight"].fill_(float("nan"))
    save_checkpoint(tmp_path / "nan_rm.pt", payload)
    result = CliRunner().invoke(main, ["train", "ppo", "configs/ppo_tiny.yaml", "-o", ppo_out, "--set", f"actor_from={sft_out}",
                                       "--set", f"reward_from={tmp_path / 'nan_rm.pt'}", "--set", f"data.path={chain['prompts']}",
                                       "--set", "ppo.max_new_tokens=8", *common])
    assert result.exit_code == 1 and "the reward model's score is NaN" in result.output, result.output
    result = CliRunner().invoke(main, ["train", "ppo", "configs/ppo_tiny.yaml", "-o", ppo_out, "--set", "ppo.max_new_tokens=oops"])
    assert result.exit_code == 2 and "ppo.max_new_tokens" in result.output
