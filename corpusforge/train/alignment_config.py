"""Configs of the alignment trainers (SFT, reward model, PPO): the shared trainer sections plus
where each run starts (`init_from`, or PPO's `actor_from` / `reward_from`) and its own section."""

from __future__ import annotations

from pydantic import Field

from corpusforge.train.config import Section, TrainConfig


class LoRASection(Section):
    rank: int = Field(8, ge=1)
    alpha: float = Field(16.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    # Suffixes of nn.Linear module names; the tied lm_head cannot be adapted.
    targets: list[str] = Field(["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"], min_length=1)


class SFTConfig(TrainConfig):
    # A checkpoint file or a run directory (its best checkpoint, else its latest). None trains
    # from scratch with the `model` section.
    init_from: str | None = None
    lora: LoRASection | None = None
    export_hf: bool = True  # write OUTPUT/hf (GPT2LMHeadModel, LoRA merged) at the end


class RMSection(Section):
    # Used only when the data has no val split: this fraction of the train pairs is held out.
    val_fraction: float = Field(0.1, gt=0, lt=1)


class RMConfig(TrainConfig):
    init_from: str | None = None
    rm: RMSection = RMSection()
    export_hf: bool = True  # write OUTPUT/hf (GPT2ForSequenceClassification, num_labels=1)


class PPOSection(Section):
    rollout_batch_size: int = Field(16, ge=1, description="prompts sampled per PPO step")
    max_new_tokens: int = Field(32, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    kl_coef: float = Field(0.05, ge=0, description="beta of the per-token KL penalty")
    clip_reward: float | None = Field(5.0, gt=0, description="the RM score is clipped to +-this")
    missing_eos_penalty: float | None = Field(None, ge=0, description="subtracted from the score of a response without EOS")
    gamma: float = Field(1.0, ge=0, le=1)
    lam: float = Field(0.95, ge=0, le=1)
    clip_range: float = Field(0.2, gt=0)
    value_clip_range: float = Field(0.2, gt=0)
    epochs: int = Field(1, ge=1, description="passes over each rollout batch")
    whiten_advantages: bool = True
    critic_lr: float | None = Field(None, gt=0, description="default: optim.lr")
    ptx_coef: float = Field(0.0, ge=0, description="weight of the pretraining loss mixed into the actor's")
    ptx_data: str | None = Field(None, description="a pretrain pack directory, needed when ptx_coef > 0")
    ema_decay: float | None = Field(None, gt=0, lt=1, description="keep an EMA of the actor's weights")


class PPOConfig(TrainConfig):
    actor_from: str  # the SFT run (or checkpoint); also the frozen reference model
    reward_from: str  # the RM run (or checkpoint); also the critic's starting point
    lora: LoRASection | None = None  # adapters on the actor; the reference is then the actor without them
    ppo: PPOSection = PPOSection()
    export_hf: bool = True  # write OUTPUT/hf: the actor (the EMA actor in OUTPUT/hf_ema when kept)
