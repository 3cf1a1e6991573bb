"""A GPT backbone with a scalar head: the reward model, and the PPO critic that starts from it.

The head is a bias-free Linear(n_embd, 1) on the final hidden states, the layout of Hugging
Face's GPT2ForSequenceClassification (`score`, num_labels=1), so a reward model exports to it.
"""

from __future__ import annotations

import torch
from torch import nn

from corpusforge.train.model import GPT, GPTConfig


class ScalarHeadGPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.backbone = GPT(config)
        self.head = nn.Linear(config.n_embd, 1, bias=False)
        nn.init.normal_(self.head.weight, std=1.0 / (config.n_embd + 1) ** 0.5)

    def forward(self, idx: torch.Tensor, position_ids=None, segment_ids=None) -> torch.Tensor:
        """One scalar per token, (B, T)."""
        return self.head(self.backbone.forward_hidden(idx, position_ids, segment_ids)).squeeze(-1)
