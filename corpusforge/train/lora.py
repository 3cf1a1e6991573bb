"""LoRA: low-rank adapters on chosen nn.Linear layers, mergeable into the base weights.

A wrapped layer computes  base(x) + (alpha / rank) * B(A(x))  with A: in -> rank, B: rank -> out.
B starts at zero, so a freshly wrapped model computes exactly what the base model did; only A and
B train. `merge_lora` folds B @ A into the base weight and puts the plain nn.Linear back, so a
merged model has the base model's module names and exports like any other.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        if rank < 1:
            raise ValueError(f"lora rank must be >= 1, got {rank}")
        self.base = base
        self.rank = rank
        self.scaling = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device, dtype=base.weight.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device, dtype=base.weight.dtype))
        # Kaiming-uniform A as in the LoRA paper's reference code (and nn.Linear's own init).
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if not self.enabled:
            return out
        return out + (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling

    def merged(self) -> nn.Linear:
        """The base layer with the adapter folded into its weight."""
        with torch.no_grad():
            self.base.weight += self.delta_weight().to(self.base.weight.dtype)
        return self.base


def _parent_and_attr(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, attr = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), attr


def apply_lora(model: nn.Module, rank: int, alpha: float, targets: list[str], dropout: float = 0.0) -> list[str]:
    """Wrap every nn.Linear whose name ends with one of `targets` (e.g. "attn.c_attn", "c_fc").

    Freezes every parameter of `model` except the adapters and returns the wrapped module names.
    A target that matches nothing, or a layer whose weight is shared with another module (the
    tied lm_head), is an error: merging into a tied weight would change the embedding too.
    """
    shared = _shared_weights(model)
    wrapped = []
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or not any(name == t or name.endswith("." + t) for t in targets):
            continue
        if id(module.weight) in shared:
            raise ValueError(f"lora target {name}: its weight is tied to another module, adapt the untied layers instead")
        parent, attr = _parent_and_attr(model, name)
        setattr(parent, attr, LoRALinear(module, rank, alpha, dropout))
        wrapped.append(name)
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in wrapped)]
    if missing:
        raise ValueError(f"lora.targets: {', '.join(missing)} match no nn.Linear of the model")
    for pname, param in model.named_parameters():
        param.requires_grad = ".lora_" in "." + pname
    return wrapped


def _shared_weights(model: nn.Module) -> set[int]:
    owners: dict[int, int] = {}
    for module in model.modules():
        for param in module.parameters(recurse=False):
            owners[id(param)] = owners.get(id(param), 0) + 1
    return {pid for pid, n in owners.items() if n > 1}


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and restore the plain nn.Linear layers, in place."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent, attr = _parent_and_attr(model, name)
            setattr(parent, attr, module.merged())
    for param in model.parameters():
        param.requires_grad = True
    return model


def merged_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict the model would have after merge_lora, leaving the model untouched."""
    adapters = {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}
    out = {}
    for key, value in model.state_dict().items():
        owner, _, leaf = key.rpartition(".")
        if leaf in ("lora_A", "lora_B"):
            continue
        layer, _, part = owner.rpartition(".")
        if part == "base" and layer in adapters:
            key = f"{layer}.{leaf}"
            if leaf == "weight":
                value = value + adapters[layer].delta_weight().detach().to(value.dtype)
        out[key] = value
    return out


@contextmanager
def adapters_disabled(model: nn.Module):
    """Run the base model: a LoRA actor doubles as its own frozen reference model this way."""
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    for layer in layers:
        layer.enabled = False
    try:
        yield model
    finally:
        for layer in layers:
            layer.enabled = True
