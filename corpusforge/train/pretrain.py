"""GPT pretraining on packed shards: `corpusforge train pretrain CONFIG [--output DIR]`.

One optimizer step = `grad_accum` micro-batches per rank; the loss of the step is the summed
token loss of all of them (on all ranks) divided by their token count, so accumulation and DDP
give the gradient of one big batch. Re-running on the same output resumes from the latest
checkpoint: model, optimizer and data position are restored (dropout is seeded per step), and
the metrics rows after the checkpoint are dropped and recomputed, so an interrupted run logs
the losses of an uninterrupted one (bit for bit on CPU).
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import numpy as np
import torch

from corpusforge.train.checkpoint import CheckpointDir, config_differences, load_checkpoint
from corpusforge.train.config import RESUMABLE_CHANGES, PretrainConfig
from corpusforge.train.data import BatchLoader, PackedDataset, check_compatible
from corpusforge.train.errors import DataError, TrainConfigError
from corpusforge.train.metrics import SampleLog, run_metrics
from corpusforge.train.model import GPT, GPTConfig
from corpusforge.train.optim import lr_at, make_optimizer
from corpusforge.train.runtime import Runtime, gpu_peak_flops, run_training

log = logging.getLogger(__name__)

METRICS_COLUMNS = ["step", "loss", "val_loss", "lr", "tokens_per_s", "mfu"]


def resolved_config(config: PretrainConfig, train_data: list[PackedDataset], world_size: int) -> dict:
    """The config with data-derived defaults filled in; checked against the data and, on
    resume, against the checkpoint's."""
    first = train_data[0]
    if first.kind != "pretrain":
        raise DataError(f"{first.path}: kind {first.kind!r}; pretraining needs a pretrain pack")
    raw = config.model_dump()
    model = raw["model"]
    if model["vocab_size"] is not None and model["vocab_size"] != first.vocab_size:
        raise TrainConfigError(
            f"model.vocab_size: {model['vocab_size']}, but the shards of {first.path} have vocab_size {first.vocab_size}"
        )
    model["vocab_size"] = first.vocab_size
    if model["block_size"] is not None and model["block_size"] < first.seq_len:
        raise TrainConfigError(f"model.block_size: {model['block_size']} < the shards' seq_len {first.seq_len}")
    model["block_size"] = model["block_size"] or first.seq_len
    if model["n_embd"] % model["n_head"]:
        raise TrainConfigError(f"model.n_embd: {model['n_embd']} is not a multiple of model.n_head {model['n_head']}")
    raw["optim"]["decay_steps"] = raw["optim"]["decay_steps"] or raw["train"]["max_steps"]
    raw["world_size"] = world_size
    return raw


def _compared(config: dict) -> dict:
    """The part of a resolved config that must match for a resume (see RESUMABLE_CHANGES)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    for key in RESUMABLE_CHANGES:
        section, _, field = key.partition(".")
        if field:
            out.get(section, {}).pop(field, None)
        else:
            out.pop(section, None)
    return out


def check_resume(payload: dict, config: dict, path: Path) -> None:
    differences = config_differences(_compared(payload.get("config", {})), _compared(config))
    if any(d.startswith("optim.decay_steps") for d in differences):
        differences.append("optim.decay_steps defaults to train.max_steps: set it to keep the schedule of a longer run")
    if differences:
        raise TrainConfigError(
            f"cannot resume from {path}: it was made with another config ({'; '.join(differences)}); "
            "use another --output or the original config"
        )


class Evaluator:
    """Validation loss over the first `batches` val batches (the same ones every time), and
    sample continuations of the configured prompts."""

    def __init__(self, config: PretrainConfig, val_data: list[PackedDataset], runtime: Runtime, tokenizer_json: str | None, eos_id):
        self.config = config
        self.val_data = val_data
        self.runtime = runtime
        self.tokenizer = None
        if tokenizer_json is not None and config.eval.prompts:
            from tokenizers import Tokenizer

            self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.eos_id = eos_id

    @torch.no_grad()
    def val_loss(self, model: torch.nn.Module) -> float | None:
        if not self.val_data:
            return None
        rt, ev = self.runtime, self.config.eval
        loader = BatchLoader(
            self.val_data, ev.batch_size or self.config.train.batch_size, rank=rt.rank,
            world_size=rt.world_size, shuffle=False, document_mask=self.config.data.document_mask,
        )
        total = torch.zeros(2, device=rt.device)
        model.eval()
        for _ in range(ev.batches):
            batch = {k: v.to(rt.device, non_blocking=True) for k, v in loader.next_batch().items()}
            with rt.autocast():
                _, loss_sum = model(
                    batch["input_ids"], batch["targets"], batch.get("position_ids"), batch.get("segment_ids"), reduction="sum"
                )
            total += torch.stack([loss_sum.float(), (batch["targets"] != -1).sum().float()])
        model.train()
        total = rt.all_reduce_mean(total)
        return (total[0] / total[1]).item()

    @torch.no_grad()
    def samples(self, model: GPT, step: int) -> list[str]:
        if self.tokenizer is None:
            return []
        ev, out = self.config.eval, []
        generator = torch.Generator(device=self.runtime.device).manual_seed(self.config.train.seed + step)
        model.eval()
        for prompt in ev.prompts:
            ids = torch.tensor([self.tokenizer.encode(prompt).ids], dtype=torch.long, device=self.runtime.device)
            with self.runtime.autocast():
                result = model.generate(ids, ev.sample_tokens, ev.temperature, ev.top_k, ev.top_p, self.eos_id, generator)
            out.append(self.tokenizer.decode(result[0].tolist()))
        model.train()
        return out


def accumulate_gradients(model: torch.nn.Module, batches: list[dict], rt: Runtime) -> torch.Tensor:
    """Backward over the micro-batches of one step; returns this rank's share of the step loss.

    Each micro-batch's summed token loss is divided by the mean token count per rank of the
    whole step, so after DDP averages over ranks the gradient is that of the mean loss over all
    tokens of all micro-batches on all ranks, however they are split.
    """
    counted = torch.stack([(b["targets"] != -1).sum() for b in batches]).sum().float()
    scale = 1.0 / rt.all_reduce_mean(counted)
    step_loss = torch.zeros((), device=rt.device)
    for i, batch in enumerate(batches):
        sync = i == len(batches) - 1 or not rt.distributed  # DDP all-reduces on the last only
        with (contextlib.nullcontext() if sync else model.no_sync()), rt.autocast():
            _, loss_sum = model(
                batch["input_ids"], batch["targets"], batch.get("position_ids"), batch.get("segment_ids"), reduction="sum"
            )
        loss = loss_sum * scale
        loss.backward()
        step_loss += loss.detach()
    return step_loss


def pretrain(config: PretrainConfig, output: str | None = None) -> Path:
    """Train (or resume) and return the output directory."""
    return run_training(_train, config, output)


def _train(config: PretrainConfig, out: Path, rt: Runtime) -> Path:
    sources = config.data.sources()
    train_data = [PackedDataset(s.path, "train") for s in sources]
    check_compatible(train_data)
    val_data = [
        PackedDataset(s.path, "val") for s, d in zip(sources, train_data) if d.index["splits"].get("val", {}).get("files")
    ]
    resolved = resolved_config(config, train_data, rt.world_size)
    model_config = GPTConfig(**resolved["model"])
    tc, oc = config.train, config.optim
    decay_steps = resolved["optim"]["decay_steps"]

    checkpoints = CheckpointDir(out / "checkpoints", config.checkpoint.keep_last)
    latest = checkpoints.latest()
    payload = None
    if latest is not None:
        payload = load_checkpoint(latest)
        check_resume(payload, resolved, latest)

    torch.manual_seed(tc.seed)
    model = GPT(model_config).to(rt.device)
    optimizer = make_optimizer(model.parameter_groups(oc.weight_decay), oc, rt.device)
    loader = BatchLoader(
        train_data, tc.batch_size, tc.seed, [s.weight for s in sources], rt.rank, rt.world_size,
        shuffle=True, document_mask=config.data.document_mask,
    )
    start = 0
    if payload is not None:
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        loader.load_state_dict(payload["data_state"])
        start = payload["step"]
        if rt.is_main:
            log.info("resuming from %s (step %d)", latest, start)
    if rt.already_done(out, start, tc.max_steps):
        return out

    compiled = torch.compile(model) if (tc.compile if tc.compile is not None else rt.device.type == "cuda") else model
    train_model = rt.ddp(compiled)
    tokenizer_json = train_data[0].tokenizer_json
    evaluator = Evaluator(config, val_data, rt, tokenizer_json, train_data[0].special_tokens.get("eos"))
    metrics = None
    if rt.is_main:
        metrics = run_metrics(out, METRICS_COLUMNS, config.log.tensorboard, start)
        samples = SampleLog(out / "samples.jsonl", config.eval.prompts)
        samples.truncate_after(start)
        log.info(
            "model: %.2fM parameters, %d layers, context %d; %d train rows%s; device %s%s",
            model.num_params() / 1e6, model_config.n_layer, model_config.block_size, sum(len(d) for d in train_data),
            f", {sum(len(d) for d in val_data)} val rows" if val_data else ", no val split",
            rt.device, " bf16" if rt.bf16 else " fp32",
        )

    peak = tc.peak_flops or (gpu_peak_flops(rt.device) if rt.device.type == "cuda" else None)
    flops_per_token = model.flops_per_token(train_data[0].seq_len)
    tokens_per_step = tc.batch_size * tc.grad_accum * rt.world_size * train_data[0].seq_len
    if start == 0:  # the untrained model's val loss: the baseline the curve starts from
        initial = evaluator.val_loss(compiled)
        if rt.is_main and initial is not None:
            metrics.log({"step": 0, "val_loss": initial})
            log.info("step 0  val_loss %.4f", initial)
    interval_start, interval_steps = time.perf_counter(), 0

    for step in range(start, tc.max_steps):
        # Dropout draws from a seed of (seed, rank, step): a resumed run draws what it would have.
        torch.manual_seed(int(np.random.SeedSequence([tc.seed, rt.rank, step]).generate_state(1)[0]))
        lr = lr_at(step, oc, decay_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batches = [
            {k: v.to(rt.device, non_blocking=True) for k, v in loader.next_batch().items()} for _ in range(tc.grad_accum)
        ]
        step_loss = accumulate_gradients(train_model, batches, rt)
        if oc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), oc.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        interval_steps += 1

        last = done == tc.max_steps
        evaluate = done % config.eval.every == 0 or last
        val_loss = None
        if evaluate or done % config.log.every == 0:
            loss_value = rt.all_reduce_mean(step_loss).item()  # the global mean token loss
            if rt.device.type == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - interval_start
            tokens_per_s = interval_steps * tokens_per_step / elapsed
            mfu = flops_per_token * tokens_per_s / rt.world_size / peak if peak else None
            val_loss = evaluator.val_loss(compiled) if evaluate else None
            if rt.is_main:
                metrics.log({
                    "step": done, "loss": loss_value, "val_loss": val_loss, "lr": lr,
                    "tokens_per_s": round(tokens_per_s, 1), "mfu": None if mfu is None else round(mfu, 4),
                })
                log.info(
                    "step %d/%d  loss %.4f%s  lr %.2e  %s tok/s%s", done, tc.max_steps, loss_value,
                    f"  val_loss {val_loss:.4f}" if val_loss is not None else "", lr, f"{tokens_per_s:,.0f}",
                    f"  mfu {mfu:.1%}" if mfu is not None else "",
                )
                if evaluate:
                    samples.log(done, evaluator.samples(model, done))
            interval_start, interval_steps = time.perf_counter(), 0  # eval is not training time

        if done % config.checkpoint.every == 0 or last:
            if rt.is_main:
                path = checkpoints.save({
                    "kind": "pretrain",
                    "step": done,
                    "model_config": model_config.to_dict(),
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "data_state": loader.state_dict(),
                    "config": resolved,
                    "tokenizer": tokenizer_json,
                    "special_tokens": train_data[0].special_tokens,
                    "world_size": rt.world_size,
                    "val_loss": val_loss,
                })
                log.debug("saved %s", path)
            rt.barrier()
            interval_start = time.perf_counter()  # saving is not training time
    if metrics is not None:
        metrics.close()
    return out
