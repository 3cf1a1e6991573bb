"""Trainer configs: YAML, `--set dotted.key=value` overrides, validated by pydantic.

The trainer sits beside the pipeline and does not import it; reading the YAML and the overrides
come from corpusforge/raw_config.py (floor 1), so both read configs alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from corpusforge.raw_config import apply_override, load_raw
from corpusforge.train.errors import TrainConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(Section):
    n_layer: int = Field(12, ge=1)
    n_head: int = Field(12, ge=1)
    n_embd: int = Field(768, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    bias: bool = True
    block_size: int | None = Field(None, ge=1, description="default: the data's seq_len")
    vocab_size: int | None = Field(None, ge=1, description="default: the data's; must equal it")


class DataSource(Section):
    path: str
    weight: float = Field(1.0, gt=0)


class DataSection(Section):
    path: str | None = None
    blend: list[DataSource] | None = None
    document_mask: bool = True  # attention stays within a document, positions restart per document

    @model_validator(mode="after")
    def _one_of(self):
        if (self.path is None) == (self.blend is None):
            raise ValueError("give exactly one of data.path or data.blend")
        return self

    def sources(self) -> list[DataSource]:
        return self.blend if self.blend is not None else [DataSource(path=self.path)]


class OptimSection(Section):
    lr: float = Field(6e-4, gt=0)
    min_lr: float = Field(6e-5, ge=0)
    warmup_steps: int = Field(100, ge=0)
    decay_steps: int | None = Field(None, ge=1, description="cosine length; default train.max_steps")
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, gt=0, lt=1)
    beta2: float = Field(0.95, gt=0, lt=1)
    eps: float = Field(1e-8, gt=0)
    grad_clip: float | None = Field(1.0, gt=0)


class TrainSection(Section):
    max_steps: int = Field(ge=1)
    batch_size: int = Field(8, ge=1, description="sequences per micro-batch per rank")
    grad_accum: int = Field(1, ge=1)
    seed: int = 1337
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    compile: bool | None = None  # default: on CUDA only
    threads: int | None = Field(None, ge=1, description="CPU intra-op threads; default: torch's (one per core)")
    peak_flops: float | None = Field(None, gt=0, description="for mfu; default: the GPU's bf16 peak")


class EvalSection(Section):
    every: int = Field(100, ge=1)
    batches: int = Field(20, ge=1)
    batch_size: int | None = Field(None, ge=1, description="default: train.batch_size")
    prompts: list[str] = []
    sample_tokens: int = Field(64, ge=1)
    temperature: float = Field(0.8, ge=0)
    top_k: int | None = Field(50, ge=1)
    top_p: float | None = Field(0.95, gt=0, le=1)


class CheckpointSection(Section):
    every: int = Field(500, ge=1)
    keep_last: int = Field(2, ge=1)


class LogSection(Section):
    every: int = Field(10, ge=1)
    tensorboard: bool = False


class TrainConfig(Section):
    """Sections every trainer shares; SFT/RM/PPO configs subclass it and add their own."""

    output: str | None = None
    model: ModelSection = ModelSection()
    data: DataSection
    optim: OptimSection = OptimSection()
    train: TrainSection
    eval: EvalSection = EvalSection()
    checkpoint: CheckpointSection = CheckpointSection()
    log: LogSection = LogSection()


class PretrainConfig(TrainConfig):
    pass


# Keys that bound or watch a run without changing what it computes: they may differ on resume.
RESUMABLE_CHANGES = {"output", "train.max_steps", "eval", "log", "checkpoint", "train.compile", "train.threads"}


def load_config(path: str | Path, overrides: list[str] = (), schema: type[TrainConfig] = PretrainConfig) -> TrainConfig:
    """Read a YAML config, apply overrides, validate against `schema`."""
    raw = load_raw(path, TrainConfigError)
    for assignment in overrides:
        apply_override(raw, assignment, TrainConfigError)
    try:
        return schema.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TrainConfigError(f"{where}: {first['msg']}" if where else first["msg"]) from None
