"""`corpusforge generate CKPT "prompt"`: sample a continuation from a checkpoint."""

from __future__ import annotations

import os

import torch

from corpusforge.train.checkpoint import model_from_checkpoint
from corpusforge.train.chat import chat_prompt, response_text
from corpusforge.train.errors import CheckpointError


def generate_text(
    checkpoint: str | os.PathLike,
    prompt: str,
    max_new_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 50,
    top_p: float | None = 0.95,
    seed: int = 0,
    device: str = "auto",
    chat: bool = False,
) -> str:
    """The prompt and its sampled continuation, decoded (stops at <|endoftext|>); with `chat`,
    the prompt is a user turn in the SFT chat template and only the assistant's answer returns."""
    from tokenizers import Tokenizer

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else "cpu" if device == "auto" else device)
    model, payload = model_from_checkpoint(checkpoint, map_location=dev)
    if not payload.get("tokenizer"):
        raise CheckpointError(f"{checkpoint}: holds no tokenizer, so it cannot encode a prompt")
    tokenizer = Tokenizer.from_str(payload["tokenizer"])
    model.to(dev).eval()
    specials = payload.get("special_tokens", {})
    if chat:
        if not {"user", "assistant", "eos"} <= specials.keys():
            raise CheckpointError(f"{checkpoint}: its tokenizer has no chat markers (<|user|>, <|assistant|>)")
        ids = chat_prompt(tokenizer, specials, prompt)
    else:
        ids = tokenizer.encode(prompt).ids or [specials["eos"]]
    idx = torch.tensor([ids[-model.config.block_size :]], dtype=torch.long, device=dev)
    generator = torch.Generator(device=dev).manual_seed(seed)
    out = model.generate(idx, max_new_tokens, temperature, top_k, top_p, specials.get("eos"), generator)
    if chat:
        return response_text(tokenizer, out[0, idx.shape[1] :].tolist(), specials["eos"])[0]
    return tokenizer.decode(out[0].tolist())
