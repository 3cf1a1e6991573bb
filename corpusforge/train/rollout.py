"""Batched sampling of responses to prompts of different lengths, the rollouts of PPO.

Prompts are left-padded to a common length; the padding is a segment of its own (it attends
only to itself) and positions restart at the prompt, so every prompt is seen exactly as it would
be alone, and one forward pass serves the whole batch. After a row emits EOS its later tokens
are padding outside the response mask. A row that never emits EOS within max_new_tokens is
truncated there and flagged, for the caller to penalize.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from corpusforge.train.model import GPT, sample_next


@dataclass
class Rollout:
    tokens: torch.Tensor  # (B, P + R): left-padded prompt, then response, right-padded
    position_ids: torch.Tensor  # (B, P + R)
    segment_ids: torch.Tensor  # (B, P + R): 0 = left padding, 1 = prompt and response
    prompt_width: int  # P: response token j sits at column P + j
    response_mask: torch.Tensor  # (B, R) float: 1 on generated tokens up to and including EOS
    truncated: torch.Tensor  # (B,) bool: no EOS within max_new_tokens

    @property
    def responses(self) -> torch.Tensor:
        return self.tokens[:, self.prompt_width :]

    @property
    def response_lengths(self) -> torch.Tensor:
        return self.response_mask.sum(dim=1).long()


def left_pad(prompts: list[np.ndarray], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    tokens = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    for i, p in enumerate(prompts):
        tokens[i, width - len(p) :] = torch.from_numpy(np.asarray(p, dtype=np.int64))
    pad_lens = torch.tensor([width - len(p) for p in prompts])
    return tokens.to(device), pad_lens.to(device)


def layout(pad_lens: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(position_ids, segment_ids) of rows that are pad_lens[b] padding tokens, then content."""
    columns = torch.arange(width, device=pad_lens.device).unsqueeze(0)
    content = columns >= pad_lens.unsqueeze(1)
    positions = torch.where(content, columns - pad_lens.unsqueeze(1), columns)
    return positions, content.long()


@torch.no_grad()
def generate(
    model: GPT,
    prompts: list[np.ndarray],
    max_new_tokens: int,
    eos_id: int,
    pad_id: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Rollout:
    device = next(model.parameters()).device
    tokens, pad_lens = left_pad(prompts, pad_id, device)
    prompt_width = tokens.size(1)
    if prompt_width + max_new_tokens > model.config.block_size:
        raise ValueError(f"prompt ({prompt_width}) + max_new_tokens ({max_new_tokens}) > block_size {model.config.block_size}")
    was_training = model.training
    model.eval()
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    mask_columns = []
    for _ in range(max_new_tokens):
        positions, segments = layout(pad_lens, tokens.size(1))
        logits, _ = model(tokens, position_ids=positions, segment_ids=segments)
        next_token = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)
        mask_columns.append(~done)
        next_token = torch.where(done, torch.full_like(next_token, pad_id), next_token)
        done = done | (next_token == eos_id)
        tokens = torch.cat([tokens, next_token.unsqueeze(1)], dim=1)
        if bool(done.all()):
            break
    model.train(was_training)
    positions, segments = layout(pad_lens, tokens.size(1))
    response_mask = torch.stack(mask_columns, dim=1).float()
    return Rollout(tokens, positions, segments, prompt_width, response_mask, ~done)
