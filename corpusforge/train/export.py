"""`corpusforge export-hf CKPT DIR`: a checkpoint as a Hugging Face GPT2LMHeadModel + tokenizer.

Our module names are GPT-2's; the only change is that GPT-2 stores its projections as Conv1D,
whose weight is the transpose of nn.Linear's. A model trained without biases exports zero biases.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from corpusforge.train.checkpoint import model_from_checkpoint
from corpusforge.train.model import GPT

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_SPECIAL_STRINGS = {"eos": "<|endoftext|>", "pad": "<|pad|>"}


def export_hf(model: GPT, tokenizer_json: str | None, special_tokens: dict[str, int], out_dir: str | os.PathLike) -> Path:
    """Write an in-memory GPT (e.g. one with LoRA merged) to `out_dir` for transformers."""
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    c = model.config
    eos = special_tokens.get("eos")
    hf_config = GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer, n_head=c.n_head,
        activation_function="gelu_new", resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
        layer_norm_epsilon=1e-5, bos_token_id=eos, eos_token_id=eos, pad_token_id=special_tokens.get("pad"),
        tie_word_embeddings=True,
    )
    hf = GPT2LMHeadModel(hf_config)
    ours = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    theirs = hf.state_dict()
    with torch.no_grad():
        for name, target in theirs.items():
            if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
                continue  # causal-mask buffers of older transformers versions
            if name in ours:
                value = ours[name].t() if name.endswith(_CONV1D) else ours[name]
            elif name.endswith(".bias") and name[: -len("bias")] + "weight" in ours:
                value = torch.zeros_like(target)  # trained with bias=False
            else:
                raise KeyError(f"export-hf: no weight for {name}")
            target.copy_(value)
    out = Path(out_dir)
    hf.save_pretrained(out)
    if tokenizer_json is not None:
        from tokenizers import Tokenizer

        specials = {
            f"{name}_token": _SPECIAL_STRINGS[name] for name in _SPECIAL_STRINGS if name in special_tokens
        }
        tokenizer = PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_str(tokenizer_json), model_max_length=c.block_size, **specials
        )
        if "eos" in special_tokens:
            tokenizer.bos_token = _SPECIAL_STRINGS["eos"]
        tokenizer.save_pretrained(out)
    return out


def export_checkpoint(checkpoint: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    model, payload = model_from_checkpoint(checkpoint)
    return export_hf(model, payload.get("tokenizer"), payload.get("special_tokens", {}), out_dir)
