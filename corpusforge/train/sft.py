"""Supervised fine-tuning on SFT packs: `corpusforge train sft CONFIG [--output DIR]`.

Rows pack whole (prompt, response) samples; the document mask keeps each sample's attention
inside itself and restarts its positions, so a packed sample trains exactly as it would alone.
Only response tokens are predicted (the loss mask, the closing <|endoftext|> included, so the
model learns to stop). One step's loss is the summed loss of all its micro-batches (on all
ranks) over their supervised-token count: a micro-batch of long responses weighs what its tokens
weigh, as in one big batch. With `lora`, only the adapters train; checkpoints hold the merged
model under `model` (what generate, export-hf and the next stage load) and the adapter state
for resume. Re-running on the same output resumes exactly, as pretraining does.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch

from corpusforge.train.alignment_config import SFTConfig
from corpusforge.train.chat import response_text
from corpusforge.train.data import BatchLoader, PackedDataset
from corpusforge.train.errors import DataError, TrainConfigError
from corpusforge.train.export import export_hf
from corpusforge.train.lora import apply_lora, merged_state_dict
from corpusforge.train.metrics import SampleLog, run_metrics
from corpusforge.train.model import GPT, GPTConfig
from corpusforge.train.optim import lr_at, make_optimizer
from corpusforge.train.pretrain import Evaluator
from corpusforge.train.resume import load_start, resolve_run, step_seed
from corpusforge.train.runtime import Runtime, run_training

log = logging.getLogger(__name__)

METRICS_COLUMNS = ["step", "loss", "val_loss", "lr", "supervised_tokens"]


def model_config_for(config, start: dict | None, vocab_size: int, seq_len: int | None) -> GPTConfig:
    """The starting checkpoint's model, or the `model` section sized to the data; either must
    fit the data's vocabulary and row length."""
    if start is not None:
        model_config = GPTConfig(**start["model_config"])
    else:
        m = config.model
        if not (m.block_size or seq_len):
            raise TrainConfigError("model.block_size: needed to train from scratch on data without a seq_len")
        model_config = GPTConfig(
            vocab_size=m.vocab_size or vocab_size, block_size=m.block_size or seq_len, n_layer=m.n_layer,
            n_head=m.n_head, n_embd=m.n_embd, dropout=m.dropout, bias=m.bias,
        )
    if model_config.vocab_size != vocab_size:
        raise TrainConfigError(f"model.vocab_size: the model has {model_config.vocab_size}, the data {vocab_size}")
    if seq_len is not None and model_config.block_size < seq_len:
        raise TrainConfigError(f"model.block_size: {model_config.block_size} < the data's seq_len {seq_len}")
    return model_config


def sft(config: SFTConfig, output: str | None = None) -> Path:
    return run_training(_train, config, output)


def _train(config: SFTConfig, out: Path, rt: Runtime) -> Path:
    train_data = PackedDataset(config.data.path, "train")
    if train_data.kind != "sft":
        raise DataError(f"{train_data.path}: kind {train_data.kind!r}; SFT needs an sft pack (with loss_mask)")
    val_data = [PackedDataset(config.data.path, "val")] if train_data.index["splits"].get("val", {}).get("files") else []
    start = load_start(config.init_from, "init_from", ("pretrain", "sft"))[0] if config.init_from else None
    model_config = model_config_for(config, start, train_data.vocab_size, train_data.seq_len)
    tc, oc = config.train, config.optim
    resolved, decay_steps, checkpoints, payload = resolve_run(config, model_config.to_dict(), out, rt.world_size)

    torch.manual_seed(tc.seed)
    model = GPT(model_config)
    if start is not None:
        model.load_state_dict(start["model"])
    if config.lora is not None:
        lc = config.lora
        apply_lora(model, lc.rank, lc.alpha, lc.targets, lc.dropout)
    model.to(rt.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, oc, rt.device)
    loader = BatchLoader([train_data], tc.batch_size, tc.seed, None, rt.rank, rt.world_size, document_mask=config.data.document_mask)
    step0 = 0
    if payload is not None:
        model.load_state_dict(payload["lora_state"] if config.lora is not None else payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        loader.load_state_dict(payload["data_state"])
        step0 = payload["step"]
    if rt.already_done(out, step0, tc.max_steps):
        return out

    train_model = rt.ddp(model)
    tokenizer_json = train_data.tokenizer_json
    specials = train_data.special_tokens
    evaluator = Evaluator(config, val_data, rt, None, specials.get("eos"))
    metrics = None
    if rt.is_main:
        metrics = run_metrics(out, METRICS_COLUMNS, config.log.tensorboard, step0)
        samples = SampleLog(out / "samples.jsonl", config.eval.prompts)
        samples.truncate_after(step0)
        log.info(
            "sft: %.2fM parameters (%d trainable%s), %d train rows, %d val rows, device %s",
            sum(p.numel() for p in model.parameters()) / 1e6,
            sum(p.numel() for p in trainable), ", LoRA" if config.lora else "", len(train_data),
            sum(len(d) for d in val_data), rt.device,
        )

    if step0 == 0 and val_data:
        # The starting model's held-out response loss: what the run is measured against.
        val_loss = evaluator.val_loss(model)
        if rt.is_main:
            metrics.log({"step": 0, "val_loss": val_loss})
            log.info("step 0  val_loss %.4f", val_loss)

    for step in range(step0, tc.max_steps):
        torch.manual_seed(step_seed(tc.seed, rt.rank, step))  # dropout
        lr = lr_at(step, oc, decay_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batches = [{k: v.to(rt.device) for k, v in loader.next_batch().items()} for _ in range(tc.grad_accum)]
        # Normalise by the supervised tokens of the whole step on all ranks (DDP averages ranks).
        counted = torch.stack([(b["targets"] != -1).sum() for b in batches]).sum().float()
        global_count = (rt.all_reduce_mean(counted) * rt.world_size).clamp(min=1)
        scale = rt.world_size / global_count
        step_loss = torch.zeros((), device=rt.device)
        for i, batch in enumerate(batches):
            sync = i == len(batches) - 1 or not rt.distributed
            with (contextlib.nullcontext() if sync else train_model.no_sync()), rt.autocast():
                _, loss_sum = train_model(batch["input_ids"], batch["targets"], batch.get("position_ids"), batch.get("segment_ids"), reduction="sum")
            loss = loss_sum * scale
            loss.backward()
            step_loss += loss.detach()
        if oc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(trainable, oc.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        last = done == tc.max_steps
        evaluate = done % config.eval.every == 0 or last
        val_loss = None
        if evaluate or done % config.log.every == 0:
            loss_value = rt.all_reduce_mean(step_loss).item()
            val_loss = evaluator.val_loss(model) if evaluate else None
            if rt.is_main:
                metrics.log({"step": done, "loss": loss_value, "val_loss": val_loss, "lr": lr, "supervised_tokens": int(global_count.item())})
                log.info("step %d/%d  loss %.4f%s  lr %.2e", done, tc.max_steps, loss_value,
                         f"  val_loss {val_loss:.4f}" if val_loss is not None else "", lr)
                if evaluate and tokenizer_json is not None and config.eval.prompts:
                    samples.log(done, answers(model, config, tokenizer_json, specials, rt, done))
        if done % config.checkpoint.every == 0 or last:
            if rt.is_main:
                checkpoints.save({
                    "kind": "sft",
                    "step": done,
                    "model_config": model_config.to_dict(),
                    "model": merged_state_dict(model),
                    "lora_state": model.state_dict() if config.lora is not None else None,
                    "optimizer": optimizer.state_dict(),
                    "data_state": loader.state_dict(),
                    "config": resolved,
                    "tokenizer": tokenizer_json,
                    "special_tokens": specials,
                    "world_size": rt.world_size,
                    "val_loss": val_loss,
                })
            rt.barrier()
    if metrics is not None:
        metrics.close()
    if rt.is_main and config.export_hf:
        export_merged(model, tokenizer_json, specials, out / "hf")
    return out


def export_merged(model: torch.nn.Module, tokenizer_json: str | None, specials: dict, directory: Path) -> Path:
    """HF export of a (possibly LoRA-wrapped) GPT with its adapters merged in."""
    plain = GPT(model.config)
    plain.load_state_dict(merged_state_dict(model))
    path = export_hf(plain, tokenizer_json, specials, directory)
    log.info("exported %s", path)
    return path


@torch.no_grad()
def answers(model: GPT, config: SFTConfig, tokenizer_json: str, specials: dict, rt: Runtime, step: int) -> list[str]:
    """The model's answers to the eval prompts, asked through the chat template."""
    from tokenizers import Tokenizer

    from corpusforge.train.chat import chat_prompt
    from corpusforge.train.rollout import generate

    tokenizer = Tokenizer.from_str(tokenizer_json)
    ev = config.eval
    prompts = [np.array(chat_prompt(tokenizer, specials, p)) for p in ev.prompts]
    new_tokens = min(ev.sample_tokens, model.config.block_size - max(len(p) for p in prompts))
    if new_tokens < 1:
        return ["[no room to answer within block_size]"] * len(prompts)
    generator = torch.Generator(device=rt.device).manual_seed(config.train.seed + step)
    with rt.autocast():
        rollout = generate(model, prompts, new_tokens, specials["eos"], specials["pad"], ev.temperature, ev.top_k, ev.top_p, generator)
    texts = []
    for tokens in rollout.responses.tolist():
        text, ended = response_text(tokenizer, tokens, specials["eos"])
        texts.append(text if ended else text + " [no eos]")
    return texts
