"""Batched sampling of responses to prompts of different lengths, the rollouts of PPO.

Prompts are left-padded to a common length; the padding is a segment of its own (it attends
only to itself) and positions restart at the prompt, so every prompt is seen exactly as it would
be alone, and one forward pass serves the whole batch. Decoding keeps each layer's keys and
values (a KV cache), so a new token costs one position, not the whole sequence again. After a
row emits EOS its later tokens are padding outside the response mask. A row that never emits EOS
within max_new_tokens is truncated there and flagged, for the caller to penalize.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from corpusforge.train.model import GPT, document_mask, sample_next


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


def _cached_forward(model: GPT, idx, position_ids, attn_mask, cache: list | None):
    """Logits of the last position of idx, given the keys/values of the positions before it.
    The same computation as GPT.forward in eval mode, one layer at a time; returns the cache
    extended by idx's positions."""
    t = model.transformer
    x = t.wte(idx) + t.wpe(position_ids)
    new_cache = []
    for i, block in enumerate(t.h):
        attn = block.attn
        B, T, C = x.size()
        q, k, v = attn.c_attn(block.ln_1(x)).split(attn.n_embd, dim=2)
        q, k, v = (z.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[i][0], k], dim=2)
            v = torch.cat([cache[i][1], v], dim=2)
        new_cache.append((k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + attn.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(t.ln_f(x[:, -1:, :]))[:, 0, :], new_cache


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
    positions, segments = layout(pad_lens, prompt_width)
    logits, cache = _cached_forward(model, tokens, positions, document_mask(segments), None)
    next_position = positions[:, -1:] + 1
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    mask_columns = []
    for _ in range(max_new_tokens):
        next_token = sample_next(logits, temperature, top_k, top_p, generator)
        mask_columns.append(~done)
        next_token = torch.where(done, torch.full_like(next_token, pad_id), next_token)
        done = done | (next_token == eos_id)
        tokens = torch.cat([tokens, next_token.unsqueeze(1)], dim=1)
        if bool(done.all()) or len(mask_columns) == max_new_tokens:
            break
        # The new token sees its row's prompt and response, not the left padding.
        sees = (torch.arange(tokens.size(1), device=device).unsqueeze(0) >= pad_lens.unsqueeze(1))[:, None, None, :]
        logits, cache = _cached_forward(model, next_token.unsqueeze(1), next_position, sees, cache)
        next_position = next_position + 1
    model.train(was_training)
    positions, segments = layout(pad_lens, tokens.size(1))
    response_mask = torch.stack(mask_columns, dim=1).float()
    return Rollout(tokens, positions, segments, prompt_width, response_mask, ~done)
