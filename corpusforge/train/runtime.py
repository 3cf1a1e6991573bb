"""Where training runs: device, precision, and DDP under torchrun (one process per GPU/rank)."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist

from corpusforge.train.errors import TrainConfigError

log = logging.getLogger(__name__)

# Dense bf16 tensor-core peak FLOP/s by GPU name (no sparsity), for MFU.
GPU_PEAK_BF16 = {
    "H200": 989e12,
    "H100 SXM": 989e12,
    "H100 NVL": 835e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "GH200": 989e12,
    "B200": 2250e12,
    "A100": 312e12,
    "A800": 312e12,
    "L40S": 362e12,
    "L40": 181e12,
    "L4": 121e12,
    "A10G": 70e12,
    "A10": 125e12,
    "RTX 4090": 165e12,
    "RTX 3090": 71e12,
}


def gpu_peak_flops(device: torch.device) -> float | None:
    name = torch.cuda.get_device_name(device)
    for key in sorted(GPU_PEAK_BF16, key=len, reverse=True):
        if key in name:
            return GPU_PEAK_BF16[key]
    return None


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    bf16: bool = False

    @classmethod
    def setup(cls, device: str = "auto", dtype: str = "auto", threads: int | None = None) -> "Runtime":
        """Start the process group when launched by torchrun, pick the device and precision."""
        if threads is not None:
            # On a busy machine fewer threads than cores can be many times faster: OpenMP workers
            # spin waiting for each other when the cores are taken.
            torch.set_num_threads(threads)
        distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
        rank = int(os.environ.get("RANK", 0))
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        world_size = int(os.environ.get("WORLD_SIZE", 1))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(device)
        if dev.type == "cuda" and distributed:
            dev = torch.device("cuda", local_rank)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        if distributed and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        bf16 = dtype == "bfloat16" or (dtype == "auto" and dev.type == "cuda")
        return cls(device=dev, rank=rank, local_rank=local_rank, world_size=world_size, bf16=bf16)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return dist.is_available() and dist.is_initialized()

    def autocast(self):
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def ddp(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[self.local_rank] if self.device.type == "cuda" else None)

    def all_reduce_mean(self, value: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            value = value.clone()
            dist.all_reduce(value, op=dist.ReduceOp.SUM)  # gloo has no AVG
            value /= self.world_size
        return value

    def already_done(self, out: Path, step: int, max_steps: int) -> bool:
        """Whether a resumed run is already at `train.max_steps` (said once, by the main rank)."""
        if step < max_steps:
            return False
        if self.is_main:
            log.info("nothing to do: %s is at step %d, train.max_steps is %d", out, step, max_steps)
        return True

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def shutdown(self) -> None:
        if self.distributed:
            dist.destroy_process_group()


def run_training(train: Callable[[Any, Path, Runtime], Path], config: Any, output: str | None) -> Path:
    """Resolve the output directory, set up the runtime, run `train(config, out, rt)`, and always
    shut the runtime (process group) down, whichever trainer it is."""
    out = output or config.output
    if not out:
        raise TrainConfigError("output: no output directory (give --output or set `output`)")
    rt = Runtime.setup(config.train.device, config.train.dtype, config.train.threads)
    try:
        return train(config, Path(out), rt)
    finally:
        rt.shutdown()
