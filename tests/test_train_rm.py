import math

import numpy as np
import torch

import alignment_fixtures as fx
from alignment_fixtures import one_torch_thread, read_metrics, rm_raw, write_preference  # noqa: F401
from corpusforge.train.alignment_config import RMConfig
from corpusforge.train.checkpoint import CheckpointDir, load_checkpoint
from corpusforge.train.reward import pairwise_accuracy, pairwise_loss, reward_model_from_checkpoint, train_rm
from corpusforge.train.rlhf_data import PackedIndex, load_pairs, right_pad


def test_pairwise_loss_and_accuracy_by_hand():
    chosen, rejected = torch.tensor([2.0, 0.0, 1.0]), torch.tensor([0.0, 0.0, 3.0])
    expected = (math.log1p(math.exp(-2)) + math.log(2) + math.log1p(math.exp(2))) / 3
    assert math.isclose(pairwise_loss(chosen, rejected).item(), expected, rel_tol=1e-6)
    assert math.isclose(pairwise_loss(chosen, rejected, reduction="sum").item(), 3 * expected, rel_tol=1e-6)
    assert math.isclose(pairwise_accuracy(chosen, rejected).item(), 1 / 3, rel_tol=1e-6)  # the tie counts as wrong


def test_bad_pairs_are_skipped_with_a_count(tmp_path):
    eos = fx.SPECIAL_IDS["eos"]
    prompt = fx.prompt_tokens(["g1"])
    bad = [
        {"id": "same", "prompt": prompt, "chosen": [7, eos], "rejected": [7, eos]},
        {"id": "empty", "prompt": prompt, "chosen": [eos], "rejected": [7, eos]},
        {"id": "long", "prompt": prompt * 10, "chosen": [7, eos], "rejected": [8, eos]},
    ]
    data = write_preference(tmp_path / "pref", n_train=10, extra_train_rows=bad)
    pairs = load_pairs(PackedIndex.open(data, "preference"), "train", max_len=32)
    assert len(pairs) == 10
    assert dict(pairs.skipped) == {"identical_pair": 1, "empty_response": 1, "too_long": 1}


def test_reward_model_ranks_held_out_pairs_resumes_exactly_and_exports(tmp_path):
    data = write_preference(tmp_path / "pref")
    raw = rm_raw(data, None, train={"max_steps": 40}, optim={"decay_steps": 40}, eval={"every": 20}, log={"every": 5}, export_hf=True)
    train_rm(RMConfig.model_validate(raw), str(tmp_path / "run"))
    rows = read_metrics(tmp_path / "run")
    assert rows[0]["step"] == 0 and rows[0]["loss"] is None  # the untrained head, on the same 40 pairs
    assert rows[-1]["val_accuracy"] >= 0.9, rows  # 40 held-out pairs, chance is 0.5
    assert rows[-1]["val_loss"] < math.log(2)

    # stopped at 20 and resumed to 40: the same rows
    half = {**raw, "train": {**raw["train"], "max_steps": 20}, "export_hf": False}
    train_rm(RMConfig.model_validate(half), str(tmp_path / "resumed"))
    train_rm(RMConfig.model_validate({**raw, "export_hf": False}), str(tmp_path / "resumed"))
    assert read_metrics(tmp_path / "resumed") == rows

    # transformers' GPT2ForSequenceClassification reads the same score at the last non-pad token
    from transformers import GPT2ForSequenceClassification

    payload = load_checkpoint(CheckpointDir(tmp_path / "run" / "checkpoints").latest())
    ours = reward_model_from_checkpoint(payload).eval()
    hf = GPT2ForSequenceClassification.from_pretrained(tmp_path / "run" / "hf").eval()
    seqs = [np.array(fx.prompt_tokens(["g1", "g2"]) + fx.encode(["g1", "g2"]) + [0]), np.array(fx.prompt_tokens(["g3"]) + [0])]
    tokens, lengths = right_pad(seqs, fx.SPECIAL_IDS["pad"])
    with torch.no_grad():
        expected = ours(tokens)[torch.arange(2), lengths - 1]
        torch.testing.assert_close(hf(tokens).logits.squeeze(-1), expected, rtol=1e-4, atol=1e-4)
