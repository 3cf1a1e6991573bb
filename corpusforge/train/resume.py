"""Where an alignment run starts: the checkpoint it initializes from, or its own latest
checkpoint when re-run on the same output, and the RNG state that makes a resume exact."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from corpusforge.train.checkpoint import CheckpointDir, load_checkpoint
from corpusforge.train.errors import CheckpointError
from corpusforge.train.pretrain import check_resume

log = logging.getLogger(__name__)


def checkpoint_path(path: str, field: str) -> Path:
    """A .pt file as is; a run directory -> its best checkpoint, else its latest."""
    p = Path(path)
    if p.is_file():
        return p
    for directory in (p / "checkpoints", p):
        ckpts = CheckpointDir(directory)
        if ckpts.best.is_file():
            return ckpts.best
        if ckpts.latest() is not None:
            return ckpts.latest()
    raise CheckpointError(f"{field}: {path} is neither a checkpoint file nor a run directory with checkpoints")


def load_start(path: str, field: str, kinds: tuple[str, ...]) -> tuple[dict, Path]:
    where = checkpoint_path(path, field)
    payload = load_checkpoint(where)
    if payload.get("kind") not in kinds:
        raise CheckpointError(f"{field}: {where} is a {payload.get('kind')!r} checkpoint, expected {' or '.join(kinds)}")
    return payload, where


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


def rng_state(device: torch.device, generator: torch.Generator | None = None) -> dict:
    state = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else []}
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def restore_rng(state: dict, device: torch.device, generator: torch.Generator | None = None) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda"):
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
