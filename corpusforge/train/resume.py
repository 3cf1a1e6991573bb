"""Where an alignment run starts: the checkpoint it initializes from, or its own latest
checkpoint when re-run on the same output, and the per-step seeds that make a resume exact."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from corpusforge.train.checkpoint import CheckpointDir, checkpoint_path, load_checkpoint
from corpusforge.train.errors import CheckpointError
from corpusforge.train.pretrain import check_resume

log = logging.getLogger(__name__)


def load_start(path: str, field: str, kinds: tuple[str, ...]) -> tuple[dict, Path]:
    where = checkpoint_path(path, field)
    payload = load_checkpoint(where)
    if payload.get("kind") not in kinds:
        raise CheckpointError(f"{field}: {where} is a {payload.get('kind')!r} checkpoint, expected {' or '.join(kinds)}")
    return payload, where


def resolve_run(config, model_config: dict, out: Path, world_size: int) -> tuple[dict, int, CheckpointDir, dict | None]:
    """The config as this run computes it (the model resolved, the LR decay length fixed, the
    world size), its decay steps, the run's checkpoint directory and its latest checkpoint."""
    resolved = config.model_dump()
    resolved["model"] = model_config
    resolved["optim"]["decay_steps"] = decay_steps = config.optim.decay_steps or config.train.max_steps
    resolved["world_size"] = world_size
    return (resolved, decay_steps, *latest_own(out, resolved, config.checkpoint.keep_last))


def latest_own(out: Path, resolved: dict, keep_last: int) -> tuple[CheckpointDir, dict | None]:
    """The run's checkpoint directory and, when it has one, its latest checkpoint (checked
    against the current config)."""
    checkpoints = CheckpointDir(out / "checkpoints", keep_last)
    latest = checkpoints.latest()
    if latest is None:
        return checkpoints, None
    payload = load_checkpoint(latest)
    check_resume(payload, resolved, latest)
    log.info("resuming from %s (step %d)", latest, payload["step"])
    return checkpoints, payload


def step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of one step on one rank (dropout, sampling): a resumed run, on every DDP rank,
    draws what the uninterrupted run drew, with no RNG state to carry in the checkpoint."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])
