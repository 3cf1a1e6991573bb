"""AdamW and the learning-rate schedule: linear warmup, then cosine decay to min_lr."""

from __future__ import annotations

import math

import torch

from corpusforge.train.config import OptimSection


def make_optimizer(params, optim: OptimSection, device: torch.device) -> torch.optim.AdamW:
    """AdamW over `params`: parameter groups, or plain parameters (then decay applies only to
    those of two or more dimensions: matrices and embeddings, not biases or norms)."""
    params = list(params)
    if params and not isinstance(params[0], dict):
        params = [
            {"params": [p for p in params if p.requires_grad and p.dim() >= 2], "weight_decay": optim.weight_decay},
            {"params": [p for p in params if p.requires_grad and p.dim() < 2], "weight_decay": 0.0},
        ]
    return torch.optim.AdamW(
        params, lr=optim.lr, betas=(optim.beta1, optim.beta2), eps=optim.eps, fused=device.type == "cuda"
    )


def lr_at(step: int, optim: OptimSection, decay_steps: int) -> float:
    """Learning rate for optimizer step `step` (0-based)."""
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    if step >= decay_steps:
        return optim.min_lr
    progress = (step - optim.warmup_steps) / max(1, decay_steps - optim.warmup_steps)
    return optim.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (optim.lr - optim.min_lr)
