"""Checkpoints: one `torch.save` dict per file, written atomically, loaded with weights_only=True.

A checkpoint holds only tensors, numbers, strings, lists and dicts, so loading it never runs
pickled code. Its keys:

    format        "corpusforge.checkpoint/1"
    kind          what trained it ("pretrain", "sft", ...)
    step          optimizer steps done
    model_config  GPTConfig as a dict
    model         the model's state_dict
    config        the resolved run config (checked on resume)
    tokenizer     the HF-tokenizers JSON text, so a checkpoint generates and exports on its own
    special_tokens {"eos": id, ...}
    optimizer, data_state, world_size, val_loss   (resume state; optional for other kinds)

A run's checkpoints live in OUTPUT/checkpoints/: step-00000100.pt, ... (the last `keep_last`)
and best.pt (lowest val_loss so far, recorded in best.json).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch

from corpusforge.train.errors import CheckpointError
from corpusforge.train.model import GPT, GPTConfig

FORMAT = "corpusforge.checkpoint/1"
_STEP_FILE = re.compile(r"step-(\d+)\.pt")


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write atomically: a reader (or a crash) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, pickle.UnpicklingError) or reason.startswith("Weights only load failed"):
            reason = "not a torch checkpoint, or it holds more than tensors and plain data"
        raise CheckpointError(f"{path}: corrupt or not a checkpoint ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a corpusforge checkpoint (expected format {FORMAT!r})")
    return payload


def model_from_checkpoint(
    payload_or_path: dict[str, Any] | str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[GPT, dict[str, Any]]:
    """The GPT a checkpoint (a payload, a .pt file or a run directory) holds, its weights loaded,
    and the checkpoint itself."""
    if isinstance(payload_or_path, dict):
        payload = payload_or_path
    else:
        payload = load_checkpoint(checkpoint_path(str(payload_or_path), "checkpoint"), map_location)
    try:
        model = GPT(GPTConfig(**payload["model_config"]))
        model.load_state_dict(payload["model"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint model does not load: {str(e).splitlines()[0]}") from None
    return model, payload


def config_differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """`key: saved -> current` for every dotted key whose value differs."""
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved:
                out.append(f"{where}: absent in the checkpoint, {current[key]!r} now")
            elif key not in current:
                out.append(f"{where}: {saved[key]!r} in the checkpoint, absent now")
            else:
                out.extend(config_differences(saved[key], current[key], where))
        return out
    if isinstance(saved, tuple):
        saved = list(saved)
    if isinstance(current, tuple):
        current = list(current)
    return [] if saved == current else [f"{prefix}: {saved!r} in the checkpoint, {current!r} now"]


class CheckpointDir:
    """OUTPUT/checkpoints: numbered step files (the last `keep_last` kept) and best.pt."""

    def __init__(self, directory: str | os.PathLike, keep_last: int = 2):
        self.directory = Path(directory)
        self.keep_last = keep_last

    @property
    def best(self) -> Path:
        return self.directory / "best.pt"

    def steps(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _STEP_FILE.fullmatch(p.name))]
        return [p for _, p in sorted(found)]

    def latest(self) -> Path | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def save(self, payload: dict[str, Any]) -> Path:
        """Save as step-N.pt, refresh best.pt if its val_loss is the lowest, drop old ones."""
        path = self.directory / f"step-{payload['step']:08d}.pt"
        save_checkpoint(path, payload)
        val_loss = payload.get("val_loss")
        if val_loss is not None and val_loss <= self._best_val_loss():
            tmp = self.best.with_name(".best.pt.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, self.best)
            (self.directory / "best.json").write_text(json.dumps({"step": payload["step"], "val_loss": val_loss}))
        for old in self.steps()[: -self.keep_last] if self.keep_last > 0 else []:
            old.unlink()
        return path

    def _best_val_loss(self) -> float:
        # best.json records best.pt's step and val_loss, so nobody loads best.pt to compare.
        try:
            return float(json.loads((self.directory / "best.json").read_text())["val_loss"])
        except (OSError, ValueError, KeyError):
            return float("inf")


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
