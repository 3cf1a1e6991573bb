"""RLHF with PPO: `corpusforge train ppo CONFIG [--output DIR]` (InstructGPT's third stage).

Four models: the actor (from `actor_from`, the SFT run; optionally LoRA-adapted), a frozen
reference (the same SFT weights; with LoRA, the actor with its adapters switched off), the frozen
reward model (`reward_from`) and the critic, a value head that starts as a copy of the reward
model. Each step:

1. rollout: sample a response to `ppo.rollout_batch_size` prompts (a response that never emits
   EOS is cut at max_new_tokens, flagged, and optionally penalized);
2. score: the RM's scalar at the last response token (a NaN stops the run, see RewardNaNError),
   clipped; per-token rewards -beta * (log p_actor - log p_ref) plus that score at the last token;
3. advantages by GAE(gamma, lambda) on the critic's values, whitened;
4. `ppo.epochs` passes over the rollout in minibatches of `train.batch_size`: the clipped policy
   loss (plus ptx_coef * the pretraining loss on `ppo.ptx_data`) for the actor, the clipped value
   loss for the critic; optionally an EMA of the actor's weights.

Logged to metrics.csv: reward_mean (the raw RM score of the rollouts), kl (per sequence, summed
over its tokens), policy_loss, value_loss, entropy, clip fractions, response length, the share
of truncated responses, and val_reward_mean (the RM score of answers to the val prompts, sampled
with a fixed seed) at eval steps. Checkpoints and resume work as in the other trainers.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch

from corpusforge.train.alignment_config import PPOConfig
from corpusforge.train.data import BatchLoader, PackedDataset
from corpusforge.train.errors import DataError, TrainConfigError
from corpusforge.train.lora import adapters_disabled, apply_lora, merged_state_dict
from corpusforge.train.metrics import run_metrics
from corpusforge.train.model import GPT, GPTConfig
from corpusforge.train.optim import lr_at, make_optimizer
from corpusforge.train.ppo_loss import (
    entropy_from_logits,
    gae,
    kl_penalized_rewards,
    masked_mean,
    masked_whiten,
    policy_loss,
    token_logprobs,
    value_loss,
)
from corpusforge.train.resume import load_start, resolve_run, step_seed
from corpusforge.train.reward import reward_model_from_checkpoint
from corpusforge.train.rlhf_data import EpochSampler, PackedIndex, load_prompts
from corpusforge.train.rollout import Rollout, generate
from corpusforge.train.runtime import Runtime, run_training
from corpusforge.train.sft import export_merged

log = logging.getLogger(__name__)

METRICS_COLUMNS = [
    "step", "reward_mean", "kl", "policy_loss", "value_loss", "entropy", "policy_clip_fraction",
    "value_clip_fraction", "response_length", "truncated_fraction", "ptx_loss", "val_reward_mean", "lr",
]


class RewardNaNError(RuntimeError):
    """The reward model (or a loss) produced NaN: the run stops before any update uses it."""


def ppo(config: PPOConfig, output: str | None = None) -> Path:
    return run_training(_train, config, output)


def _frozen(model: torch.nn.Module) -> torch.nn.Module:
    for p in model.parameters():
        p.requires_grad = False
    return model.eval()


def response_slice(rollout: Rollout) -> slice:
    """Columns whose outputs predict (logits) or evaluate (values) the response tokens."""
    return slice(rollout.prompt_width - 1, rollout.tokens.size(1) - 1)


def forward_logits(model, rollout: Rollout, rows=slice(None)) -> torch.Tensor:
    logits, _ = model(rollout.tokens[rows], position_ids=rollout.position_ids[rows], segment_ids=rollout.segment_ids[rows])
    return logits[:, response_slice(rollout)]


def forward_values(model, rollout: Rollout, rows=slice(None)) -> torch.Tensor:
    values = model(rollout.tokens[rows], position_ids=rollout.position_ids[rows], segment_ids=rollout.segment_ids[rows])
    return values[:, response_slice(rollout)]


@torch.no_grad()
def score(reward_model, rollout: Rollout) -> torch.Tensor:
    """The reward model's scalar at each response's last token."""
    values = reward_model(rollout.tokens, position_ids=rollout.position_ids, segment_ids=rollout.segment_ids)
    last = rollout.prompt_width + rollout.response_lengths - 1
    return values[torch.arange(values.size(0), device=values.device), last].float()


def _check_finite(value: torch.Tensor, what: str, step: int, checkpoints) -> None:
    bad = int((~torch.isfinite(value)).sum())
    if bad:
        latest = checkpoints.latest()
        raise RewardNaNError(
            f"ppo step {step}: {what} is NaN/inf ({bad} of {value.numel()} values); stopped before updating the model. "
            + (f"The last good checkpoint is {latest}." if latest else "No checkpoint was written yet.")
        )


def _train(config: PPOConfig, out: Path, rt: Runtime) -> Path:
    pc, tc, oc = config.ppo, config.train, config.optim
    index = PackedIndex.open(config.data.path, "prompt")
    actor_start, _ = load_start(config.actor_from, "actor_from", ("sft", "pretrain", "ppo"))
    rm_start, _ = load_start(config.reward_from, "reward_from", ("rm",))
    model_config = GPTConfig(**actor_start["model_config"])
    for name, vocab in (("actor_from", model_config.vocab_size), ("reward_from", rm_start["model_config"]["vocab_size"])):
        if vocab != index.vocab_size:
            raise TrainConfigError(f"{name}: the model has vocab_size {vocab}, the prompts {index.vocab_size}")
    context = min(model_config.block_size, rm_start["model_config"]["block_size"])
    if pc.max_new_tokens >= context:
        raise TrainConfigError(f"ppo.max_new_tokens: {pc.max_new_tokens} leaves no room for a prompt in a context of {context}")
    max_prompt = context - pc.max_new_tokens
    _, prompts, _ = load_prompts(index, "train", max_prompt)
    val_prompts = load_prompts(index, "val", max_prompt)[1] if index.has_split("val") else []
    if pc.rollout_batch_size % tc.batch_size:
        raise TrainConfigError(f"train.batch_size: {tc.batch_size} does not divide ppo.rollout_batch_size {pc.rollout_batch_size}")
    if pc.ptx_coef > 0 and not pc.ptx_data:
        raise TrainConfigError("ppo.ptx_data: needed when ppo.ptx_coef > 0")
    resolved, decay_steps, checkpoints, payload = resolve_run(config, model_config.to_dict(), out, rt.world_size)

    torch.manual_seed(tc.seed)
    actor = GPT(model_config)
    actor.load_state_dict(actor_start["model"])
    reference = None
    if config.lora is not None:
        apply_lora(actor, config.lora.rank, config.lora.alpha, config.lora.targets, config.lora.dropout)
    else:
        reference = _frozen(copy.deepcopy(actor)).to(rt.device)
    actor.to(rt.device)
    reward_model = _frozen(reward_model_from_checkpoint(rm_start)).to(rt.device)
    critic = reward_model_from_checkpoint(rm_start).to(rt.device)
    actor_params = [p for p in actor.parameters() if p.requires_grad]
    actor_opt = make_optimizer(actor_params, oc, rt.device)
    critic_opt = make_optimizer(list(critic.parameters()), oc, rt.device)
    critic_scale = (pc.critic_lr or oc.lr) / oc.lr
    ema = {n: p.detach().clone() for n, p in actor.named_parameters() if p.requires_grad} if pc.ema_decay else None
    ptx_loader = None
    if pc.ptx_coef > 0:
        ptx_data = PackedDataset(pc.ptx_data, "train")
        if ptx_data.vocab_size != model_config.vocab_size:
            raise DataError(f"ppo.ptx_data: {pc.ptx_data} has vocab_size {ptx_data.vocab_size}, the actor {model_config.vocab_size}")
        ptx_loader = BatchLoader([ptx_data], tc.batch_size, tc.seed, None, rt.rank, rt.world_size)
    sampler = EpochSampler(len(prompts), pc.rollout_batch_size * rt.world_size, tc.seed)
    generator = torch.Generator(device=rt.device)
    step0 = 0
    if payload is not None:
        actor.load_state_dict(payload["lora_state"] if config.lora is not None else payload["model"])
        critic.backbone.load_state_dict(payload["critic"]["model"])
        critic.head.load_state_dict(payload["critic"]["head"])
        actor_opt.load_state_dict(payload["optimizer"])
        critic_opt.load_state_dict(payload["critic_optimizer"])
        sampler.load_state_dict(payload["data_state"])
        if ptx_loader is not None:
            ptx_loader.load_state_dict(payload["ptx_state"])
        if ema is not None:
            ema = {n: t.to(rt.device) for n, t in payload["ema"].items()}
        step0 = payload["step"]
    if rt.already_done(out, step0, tc.max_steps):
        return out

    # Dropout off throughout (as TRL does): the rollout's log-probs and values are then exactly
    # what the first update recomputes, so ratio = 1 and KL = 0 before any step.
    actor.eval()
    critic.eval()
    actor_train, critic_train = rt.ddp(actor), rt.ddp(critic)
    specials = index.special_tokens
    eos, pad = specials["eos"], specials["pad"]
    tokenizer_json = index.tokenizer.read_text(encoding="utf-8") if index.tokenizer else None
    metrics = None
    if rt.is_main:
        metrics = run_metrics(out, METRICS_COLUMNS, config.log.tensorboard, step0)
        log.info("ppo: actor %.2fM parameters (%d trainable%s), %d train prompts, %d val prompts, device %s",
                 sum(p.numel() for p in actor.parameters()) / 1e6, sum(p.numel() for p in actor_params),
                 ", LoRA" if config.lora else "", len(prompts), len(val_prompts), rt.device)

    def sample(batch_prompts, gen):
        with rt.autocast():
            return generate(actor, batch_prompts, pc.max_new_tokens, eos, pad, pc.temperature, pc.top_k, pc.top_p, gen)

    if step0 == 0 and val_prompts:
        # The SFT actor's reward on the val prompts: what PPO is measured against.
        val_reward = _val_reward(actor, reward_model, val_prompts, sample, pc, tc.seed, rt)
        if rt.is_main:
            metrics.log({"step": 0, "val_reward_mean": val_reward})
            log.info("step 0  val_reward %.4f", val_reward)

    mine = slice(rt.rank * pc.rollout_batch_size, (rt.rank + 1) * pc.rollout_batch_size)
    for step in range(step0, tc.max_steps):
        generator.manual_seed(step_seed(tc.seed, rt.rank, step))  # rollout sampling, minibatch order
        done = step + 1
        lr = lr_at(step, oc, decay_steps)
        for group in actor_opt.param_groups:
            group["lr"] = lr
        for group in critic_opt.param_groups:
            group["lr"] = lr * critic_scale
        rollout = sample([prompts[i] for i in sampler.next_batch()[mine]], generator)
        mask = rollout.response_mask
        responses = rollout.responses
        with torch.no_grad(), rt.autocast():
            old_logprobs = token_logprobs(forward_logits(actor, rollout), responses)
            if reference is None:
                with adapters_disabled(actor):
                    ref_logprobs = token_logprobs(forward_logits(actor, rollout), responses)
            else:
                ref_logprobs = token_logprobs(forward_logits(reference, rollout), responses)
            old_values = forward_values(critic, rollout).float() * mask
            scores = score(reward_model, rollout)
        _check_finite(scores, "the reward model's score", done, checkpoints)
        raw_scores = scores
        if pc.missing_eos_penalty is not None:
            scores = scores - pc.missing_eos_penalty * rollout.truncated.float()
        rewards, kl = kl_penalized_rewards(scores, old_logprobs, ref_logprobs, mask, pc.kl_coef, pc.clip_reward)
        advantages, returns = gae(rewards, old_values, mask, pc.gamma, pc.lam)
        if pc.whiten_advantages:
            advantages = masked_whiten(advantages, mask)

        sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "policy_clip_fraction": 0.0, "value_clip_fraction": 0.0, "ptx_loss": 0.0}
        updates = 0
        for _ in range(pc.epochs):
            order = torch.randperm(rollout.tokens.size(0), generator=generator, device=rt.device)
            for begin in range(0, len(order), tc.batch_size):
                rows = order[begin : begin + tc.batch_size]
                m = mask[rows]
                with rt.autocast():
                    logits = forward_logits(actor_train, rollout, rows)
                    logprobs = token_logprobs(logits, responses[rows])
                    pg_loss, pg_clip = policy_loss(logprobs, old_logprobs[rows], advantages[rows], m, pc.clip_range)
                    entropy = masked_mean(entropy_from_logits(logits.float()).detach(), m)
                    actor_loss = pg_loss
                    if ptx_loader is not None:
                        batch = {k: v.to(rt.device) for k, v in ptx_loader.next_batch().items()}
                        _, ptx_loss = actor_train(batch["input_ids"], batch["targets"], batch.get("position_ids"), batch.get("segment_ids"))
                        actor_loss = actor_loss + pc.ptx_coef * ptx_loss
                        sums["ptx_loss"] += ptx_loss.item()
                    values = forward_values(critic_train, rollout, rows).float()
                    vf_loss, vf_clip = value_loss(values, old_values[rows], returns[rows], m, pc.value_clip_range)
                _check_finite(torch.stack([actor_loss.detach().float(), vf_loss.detach()]), "the policy or value loss", done, checkpoints)
                actor_opt.zero_grad(set_to_none=True)
                actor_loss.backward()
                if oc.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(actor_params, oc.grad_clip)
                actor_opt.step()
                critic_opt.zero_grad(set_to_none=True)
                vf_loss.backward()
                if oc.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(critic.parameters(), oc.grad_clip)
                critic_opt.step()
                if ema is not None:
                    with torch.no_grad():
                        for name, p in actor.named_parameters():
                            if name in ema:
                                ema[name].mul_(pc.ema_decay).add_(p.detach(), alpha=1 - pc.ema_decay)
                for key, value in (("policy_loss", pg_loss), ("value_loss", vf_loss), ("entropy", entropy),
                                   ("policy_clip_fraction", pg_clip), ("value_clip_fraction", vf_clip)):
                    sums[key] += value.item()
                updates += 1

        last = done == tc.max_steps
        evaluate_now = (done % config.eval.every == 0 or last) and bool(val_prompts)
        if evaluate_now or done % config.log.every == 0:
            row = {key: value / updates for key, value in sums.items()}
            row["ptx_loss"] = row["ptx_loss"] if ptx_loader is not None else None
            stats = rt.all_reduce_mean(torch.stack([
                raw_scores.mean(), kl.sum(dim=1).mean(), mask.sum(dim=1).mean(), rollout.truncated.float().mean(),
            ]).float())
            row.update(step=done, reward_mean=stats[0].item(), kl=stats[1].item(), response_length=stats[2].item(),
                       truncated_fraction=stats[3].item(), lr=lr)
            row["val_reward_mean"] = _val_reward(actor, reward_model, val_prompts, sample, pc, tc.seed, rt) if evaluate_now else None
            if rt.is_main:
                metrics.log(row)
                log.info("step %d/%d  reward %.4f  kl %.4f  policy %.4f  value %.4f  entropy %.3f  clip %.3f/%.3f  len %.1f  truncated %.2f%s",
                         done, tc.max_steps, row["reward_mean"], row["kl"], row["policy_loss"], row["value_loss"], row["entropy"],
                         row["policy_clip_fraction"], row["value_clip_fraction"], row["response_length"], row["truncated_fraction"],
                         f"  val_reward {row['val_reward_mean']:.4f}" if row["val_reward_mean"] is not None else "")
        if done % config.checkpoint.every == 0 or last:
            if rt.is_main:
                checkpoints.save({
                    "kind": "ppo",
                    "step": done,
                    "model_config": model_config.to_dict(),
                    "model": merged_state_dict(actor),
                    "lora_state": actor.state_dict() if config.lora is not None else None,
                    "critic": {"model": critic.backbone.state_dict(), "head": critic.head.state_dict()},
                    "optimizer": actor_opt.state_dict(),
                    "critic_optimizer": critic_opt.state_dict(),
                    "data_state": sampler.state_dict(),
                    "ptx_state": ptx_loader.state_dict() if ptx_loader is not None else None,
                    "ema": ema,
                    "config": resolved,
                    "tokenizer": tokenizer_json,
                    "special_tokens": specials,
                    "world_size": rt.world_size,
                })
            rt.barrier()
    if metrics is not None:
        metrics.close()
    if rt.is_main and config.export_hf:
        export_merged(actor, tokenizer_json, specials, out / "hf")
        if ema is not None:
            ema_actor = copy.deepcopy(actor)
            with torch.no_grad():
                for name, p in ema_actor.named_parameters():
                    if name in ema:
                        p.copy_(ema[name])
            export_merged(ema_actor, tokenizer_json, specials, out / "hf_ema")
    return out


@torch.no_grad()
def _val_reward(actor, reward_model, val_prompts, sample, pc, seed: int, rt: Runtime) -> float:
    """Mean RM score of answers to every val prompt, sampled with the same seed each time, so
    successive evaluations differ only by the actor."""
    generator = torch.Generator(device=rt.device).manual_seed(seed)
    total = 0.0
    for begin in range(0, len(val_prompts), pc.rollout_batch_size):
        rollout = sample(val_prompts[begin : begin + pc.rollout_batch_size], generator)
        with rt.autocast():
            total += score(reward_model, rollout).sum().item()
    return total / len(val_prompts)
