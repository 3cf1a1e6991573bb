"""Reward model training on preference pairs: `corpusforge train rm CONFIG [--output DIR]`.

The model is a GPT backbone (from `init_from`, usually the SFT run) with a scalar head read at
the last token of prompt + response (its closing <|endoftext|>). The loss is the Bradley-Terry
one of InstructGPT, -log sigmoid(r_chosen - r_rejected), averaged over all pairs of a step
(every micro-batch, every rank); the run reports pairwise accuracy (r_chosen > r_rejected) on a
held-out split. Checkpoints hold the backbone under `model` and the head under `head`; the final
model exports as a Hugging Face GPT2ForSequenceClassification (num_labels=1).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from corpusforge.train.alignment_config import RMConfig
from corpusforge.train.errors import DataError
from corpusforge.train.export import export_hf
from corpusforge.train.metrics import run_metrics
from corpusforge.train.optim import lr_at, make_optimizer
from corpusforge.train.resume import load_start, resolve_run, step_seed
from corpusforge.train.rlhf_data import EpochSampler, PackedIndex, PreferencePairs, load_pairs, right_pad
from corpusforge.train.runtime import Runtime, run_training
from corpusforge.train.scalar_head import ScalarHeadGPT
from corpusforge.train.sft import model_config_for

log = logging.getLogger(__name__)

METRICS_COLUMNS = ["step", "loss", "val_accuracy", "val_loss", "accuracy", "lr"]


def pairwise_loss(chosen: torch.Tensor, rejected: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """-log sigmoid(r_chosen - r_rejected)."""
    losses = -F.logsigmoid(chosen - rejected)
    return losses.sum() if reduction == "sum" else losses.mean()


def pairwise_accuracy(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """The fraction of pairs the model ranks right; a tie counts as wrong."""
    return (chosen > rejected).float().mean()


def score_pairs(model: torch.nn.Module, pairs: PreferencePairs, rows: np.ndarray, pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(r_chosen, r_rejected) of the given pairs, scored in one forward pass."""
    seqs = [np.concatenate([pairs.prompts[i], pairs.chosen[i]]) for i in rows]
    seqs += [np.concatenate([pairs.prompts[i], pairs.rejected[i]]) for i in rows]
    tokens, lengths = right_pad(seqs, pad_id)
    # The scalar at each row's last token; causal attention keeps the right padding out of it.
    scores = model(tokens.to(device))[torch.arange(len(seqs), device=device), lengths.to(device) - 1]
    return scores[: len(rows)], scores[len(rows) :]


def split_pairs(index: PackedIndex, max_len: int, val_fraction: float, seed: int) -> tuple[PreferencePairs, PreferencePairs]:
    """The train and val pairs: the data's val split, or else a seeded held-out part of train."""
    train = load_pairs(index, "train", max_len)
    if index.has_split("val"):
        return train, load_pairs(index, "val", max_len)
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = max(1, int(round(len(train) * val_fraction)))

    def subset(rows):
        return PreferencePairs([train.ids[i] for i in rows], [train.prompts[i] for i in rows],
                               [train.chosen[i] for i in rows], [train.rejected[i] for i in rows], train.skipped)

    log.info("no val split in %s: holding out %d of %d train pairs", index.path, n_val, len(train))
    return subset(np.sort(order[n_val:])), subset(np.sort(order[:n_val]))


@torch.no_grad()
def evaluate(model: ScalarHeadGPT, pairs: PreferencePairs, batch_size: int, pad_id: int, device, autocast) -> tuple[float, float]:
    """(accuracy, mean loss) over every pair."""
    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    for begin in range(0, len(pairs), batch_size):
        with autocast():
            c, r = score_pairs(model, pairs, np.arange(begin, min(begin + batch_size, len(pairs))), pad_id, device)
        chosen.append(c.float())
        rejected.append(r.float())
    model.train(was_training)
    c, r = torch.cat(chosen), torch.cat(rejected)
    return pairwise_accuracy(c, r).item(), pairwise_loss(c, r).item()


def train_rm(config: RMConfig, output: str | None = None) -> Path:
    return run_training(_train, config, output)


def _train(config: RMConfig, out: Path, rt: Runtime) -> Path:
    index = PackedIndex.open(config.data.path, "preference")
    start = load_start(config.init_from, "init_from", ("pretrain", "sft"))[0] if config.init_from else None
    model_config = model_config_for(config, start, index.vocab_size, index.seq_len)
    tc, oc = config.train, config.optim
    train_pairs, val_pairs = split_pairs(index, model_config.block_size, config.rm.val_fraction, tc.seed)
    if not len(val_pairs):
        raise DataError(f"{index.path}: no usable held-out pairs")
    resolved, decay_steps, checkpoints, payload = resolve_run(config, model_config.to_dict(), out, rt.world_size)

    torch.manual_seed(tc.seed)
    model = ScalarHeadGPT(model_config)
    if start is not None:
        model.backbone.load_state_dict(start["model"])
    model.to(rt.device)
    optimizer = make_optimizer(list(model.parameters()), oc, rt.device)
    sampler = EpochSampler(len(train_pairs), tc.batch_size * rt.world_size, tc.seed)
    step0 = 0
    if payload is not None:
        model.backbone.load_state_dict(payload["model"])
        model.head.load_state_dict(payload["head"])
        optimizer.load_state_dict(payload["optimizer"])
        sampler.load_state_dict(payload["data_state"])
        step0 = payload["step"]
    if rt.already_done(out, step0, tc.max_steps):
        return out

    train_model = rt.ddp(model)
    pad_id = index.special_tokens["pad"]
    tokenizer_json = index.tokenizer.read_text(encoding="utf-8") if index.tokenizer else None
    metrics = None
    if rt.is_main:
        metrics = run_metrics(out, METRICS_COLUMNS, config.log.tensorboard, step0)
        log.info("rm: %.2fM parameters, %d train pairs, %d val pairs, device %s",
                 sum(p.numel() for p in model.parameters()) / 1e6, len(train_pairs), len(val_pairs), rt.device)

    if step0 == 0:
        # The starting model (random head): the run is measured against this.
        val_accuracy, val_loss = evaluate(model, val_pairs, config.eval.batch_size or tc.batch_size, pad_id, rt.device, rt.autocast)
        if rt.is_main:
            metrics.log({"step": 0, "val_accuracy": val_accuracy, "val_loss": val_loss})
            log.info("step 0  val_accuracy %.3f  val_loss %.4f", val_accuracy, val_loss)

    mine = slice(rt.rank * tc.batch_size, (rt.rank + 1) * tc.batch_size)
    for step in range(step0, tc.max_steps):
        torch.manual_seed(step_seed(tc.seed, rt.rank, step))  # dropout
        lr = lr_at(step, oc, decay_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batches = [sampler.next_batch()[mine] for _ in range(tc.grad_accum)]
        scale = 1.0 / (tc.batch_size * tc.grad_accum)  # every micro-batch holds batch_size pairs; DDP averages ranks
        step_loss = torch.zeros((), device=rt.device)
        correct = torch.zeros((), device=rt.device)
        for i, rows in enumerate(batches):
            sync = i == len(batches) - 1 or not rt.distributed
            with (contextlib.nullcontext() if sync else train_model.no_sync()), rt.autocast():
                chosen, rejected = score_pairs(train_model, train_pairs, rows, pad_id, rt.device)
                loss = pairwise_loss(chosen.float(), rejected.float(), reduction="sum") * scale
            loss.backward()
            step_loss += loss.detach()
            correct += (chosen > rejected).sum().detach()
        if oc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), oc.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        last = done == tc.max_steps
        evaluate_now = done % config.eval.every == 0 or last
        val_accuracy = val_loss = None
        if evaluate_now or done % config.log.every == 0:
            loss_value = rt.all_reduce_mean(step_loss).item()
            accuracy = rt.all_reduce_mean(correct).item() * scale
            if evaluate_now:
                val_accuracy, val_loss = evaluate(model, val_pairs, config.eval.batch_size or tc.batch_size, pad_id, rt.device, rt.autocast)
            if rt.is_main:
                metrics.log({"step": done, "loss": loss_value, "val_accuracy": val_accuracy, "val_loss": val_loss,
                             "accuracy": accuracy, "lr": lr})
                log.info("step %d/%d  loss %.4f  accuracy %.3f%s  lr %.2e", done, tc.max_steps, loss_value, accuracy,
                         f"  val_accuracy {val_accuracy:.3f}  val_loss {val_loss:.4f}" if val_accuracy is not None else "", lr)
        if done % config.checkpoint.every == 0 or last:
            if rt.is_main:
                checkpoints.save({
                    "kind": "rm",
                    "step": done,
                    "model_config": model_config.to_dict(),
                    "model": model.backbone.state_dict(),
                    "head": model.head.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "data_state": sampler.state_dict(),
                    "config": resolved,
                    "tokenizer": tokenizer_json,
                    "special_tokens": index.special_tokens,
                    "world_size": rt.world_size,
                    "val_loss": val_loss,
                    "val_accuracy": val_accuracy,
                })
            rt.barrier()
    if metrics is not None:
        metrics.close()
    if rt.is_main and config.export_hf:
        export_reward_model(model, tokenizer_json, index.special_tokens, out / "hf")
    return out


def reward_model_from_checkpoint(payload: dict) -> ScalarHeadGPT:
    from corpusforge.train.model import GPTConfig

    model = ScalarHeadGPT(GPTConfig(**payload["model_config"]))
    model.backbone.load_state_dict(payload["model"])
    model.head.load_state_dict(payload["head"])
    return model


def export_reward_model(model: ScalarHeadGPT, tokenizer_json: str | None, specials: dict, directory: Path) -> Path:
    """GPT2ForSequenceClassification (num_labels=1): the backbone exported as GPT-2, its `score`
    layer our head. Given pad_token_id it reads the last non-pad token, as we do."""
    from transformers import GPT2ForSequenceClassification
    from transformers.utils import logging as hf_logging

    export_hf(model.backbone, tokenizer_json, specials, directory)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # it would report `score` as newly initialized: we set it next
    try:
        hf = GPT2ForSequenceClassification.from_pretrained(directory, num_labels=1)
    finally:
        hf_logging.set_verbosity(verbosity)
    with torch.no_grad():
        hf.score.weight.copy_(model.head.weight.detach().float().cpu())
    hf.save_pretrained(directory)
    log.info("exported %s", directory)
    return directory
