import math

import numpy as np
import pytest
import torch

from alignment_fixtures import SPECIAL_IDS, TINY_MODEL, VOCAB, one_torch_thread, read_metrics, sft_raw, write_sft  # noqa: F401
from corpusforge.train.alignment_config import SFTConfig
from corpusforge.train.checkpoint import CheckpointDir, load_checkpoint, model_from_checkpoint
from corpusforge.train.data import PackedDataset, make_batch
from corpusforge.train.model import GPT, GPTConfig
from corpusforge.train.rollout import generate
from corpusforge.train.sft import sft


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory):
    return write_sft(tmp_path_factory.mktemp("sft") / "data")


def run(raw, out):
    return sft(SFTConfig.model_validate(raw), str(out))


def test_packed_samples_train_as_if_alone_and_only_responses_count(sft_data):
    ds = PackedDataset(str(sft_data), "train")
    tokens, doc_lens, loss_mask = ds.rows(np.arange(4))
    batch = make_batch(tokens, doc_lens, loss_mask, document_mask=True)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(VOCAB), block_size=32, **TINY_MODEL))
    _, packed = model(batch["input_ids"], batch["targets"], batch["position_ids"], batch["segment_ids"], reduction="sum")
    alone, supervised = torch.zeros(()), 0
    for row in range(4):
        start = 0
        for length in doc_lens[row]:
            seg = torch.from_numpy(tokens[row, start : start + length])
            targets = seg[1:].clone()
            targets[torch.from_numpy(loss_mask[row, start + 1 : start + length] == 0)] = -1
            if length > 1:
                _, loss = model(seg[:-1].unsqueeze(0), targets.unsqueeze(0), reduction="sum")
                alone += loss
            supervised += int(loss_mask[row, start : start + length].sum())
            start += length
    assert (batch["targets"] != -1).sum() == supervised == loss_mask[:4].sum()  # the response tokens, eos included
    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-4)


def test_sft_lowers_held_out_response_loss_and_learns_to_stop(sft_data, tmp_path):
    run(sft_raw(sft_data, train={"max_steps": 120}, eval={"every": 30}), tmp_path / "run")
    rows = read_metrics(tmp_path / "run")
    val = [r["val_loss"] for r in rows if r["val_loss"] is not None]
    assert rows[0]["step"] == 0 and val[0] > 0.9 * math.log(len(VOCAB))  # the untrained model: about chance
    assert val[-1] < 0.4 * val[0] and val == sorted(val, reverse=True), val
    model, payload = model_from_checkpoint(CheckpointDir(tmp_path / "run" / "checkpoints").latest())
    assert payload["kind"] == "sft"
    import alignment_fixtures as fx

    prompts = [np.array(fx.prompt_tokens(words)) for _, words in fx.samples(20, seed=9)]
    out = generate(model, prompts, max_new_tokens=10, eos_id=SPECIAL_IDS["eos"], pad_id=SPECIAL_IDS["pad"], temperature=0)
    assert out.truncated.float().mean() <= 0.1  # it emits <|endoftext|> after its answer
    exact = [out.responses[i, : len(p) - 2].tolist() == [*p[2:-1], SPECIAL_IDS["eos"]] for i, p in enumerate(prompts)]
    assert sum(exact) >= 10, "it learned the task: copy the words after `copy`, then stop"
    # `corpusforge generate --chat` renders the same template and prints only the answer.
    from corpusforge.train.generate import generate_text

    asked = fx.samples(20, seed=9)
    answers = [generate_text(tmp_path / "run", " ".join(["copy", *words]), 10, temperature=0, chat=True) for _, words in asked]
    assert sum(answer.split() == words for answer, (_, words) in zip(answers, asked)) >= 10, answers


def test_loss_is_normalized_over_the_supervised_tokens_of_all_micro_batches(sft_data, tmp_path):
    one = sft_raw(sft_data, train={"max_steps": 2, "batch_size": 8, "grad_accum": 1}, log={"every": 1}, eval={"every": 2})
    two = sft_raw(sft_data, train={"max_steps": 2, "batch_size": 4, "grad_accum": 2}, log={"every": 1}, eval={"every": 2})
    run(one, tmp_path / "one")
    run(two, tmp_path / "two")
    a, b = read_metrics(tmp_path / "one")[1:], read_metrics(tmp_path / "two")[1:]  # after the step-0 eval
    # the same 8 rows per step; their micro-batches hold different numbers of response tokens
    for x, y in zip(a, b):
        assert math.isclose(x["loss"], y["loss"], rel_tol=1e-5) and x["supervised_tokens"] == y["supervised_tokens"]
    wa = load_checkpoint(CheckpointDir(tmp_path / "one" / "checkpoints").latest())["model"]
    wb = load_checkpoint(CheckpointDir(tmp_path / "two" / "checkpoints").latest())["model"]
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-4, atol=1e-5)


def test_resumed_run_logs_the_losses_of_an_uninterrupted_one(sft_data, tmp_path):
    raw = sft_raw(sft_data, model={"dropout": 0.1}, optim={"decay_steps": 6}, log={"every": 1},
                  eval={"every": 3, "prompts": ["copy g1 g2"]}, checkpoint={"every": 3})
    run({**raw, "train": {**raw["train"], "max_steps": 6}}, tmp_path / "straight")
    run({**raw, "train": {**raw["train"], "max_steps": 3}}, tmp_path / "resumed")
    run({**raw, "train": {**raw["train"], "max_steps": 6}}, tmp_path / "resumed")
    assert read_metrics(tmp_path / "straight") == read_metrics(tmp_path / "resumed")
    samples = (tmp_path / "straight" / "samples.jsonl").read_text()
    assert samples == (tmp_path / "resumed" / "samples.jsonl").read_text() and samples.count("\n") == 2


def test_lora_sft_trains_adapters_merges_and_exports_to_transformers(sft_data, tmp_path):
    run(sft_raw(sft_data, train={"max_steps": 10}, eval={"every": 10}), tmp_path / "base")
    base = load_checkpoint(CheckpointDir(tmp_path / "base" / "checkpoints").latest())
    lora = {"rank": 4, "alpha": 8, "targets": ["attn.c_attn", "mlp.c_fc"]}
    run(sft_raw(sft_data, init_from=str(tmp_path / "base"), lora=lora, train={"max_steps": 30}, eval={"every": 30},
                checkpoint={"every": 30}, export_hf=True), tmp_path / "lora")
    payload = load_checkpoint(CheckpointDir(tmp_path / "lora" / "checkpoints").latest())
    state = payload["lora_state"]
    torch.testing.assert_close(state["transformer.h.0.attn.c_attn.base.weight"], base["model"]["transformer.h.0.attn.c_attn.weight"])
    assert not torch.equal(payload["model"]["transformer.h.0.attn.c_attn.weight"], base["model"]["transformer.h.0.attn.c_attn.weight"])
    torch.testing.assert_close(payload["model"]["transformer.h.0.mlp.c_proj.weight"], base["model"]["transformer.h.0.mlp.c_proj.weight"])
    assert read_metrics(tmp_path / "lora")[-1]["val_loss"] < read_metrics(tmp_path / "base")[-1]["val_loss"]

    from transformers import GPT2LMHeadModel

    merged, _ = model_from_checkpoint(payload)
    hf = GPT2LMHeadModel.from_pretrained(tmp_path / "lora" / "hf").eval()
    idx = torch.tensor([[3, 5, 9, 10, 4, 9, 10, 0]])
    torch.testing.assert_close(hf(idx).logits, merged.eval()(idx)[0], rtol=1e-4, atol=1e-4)
