"""Parameters of the `tokenizer` stage."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from corpusforge.stage import Params

EOS, PAD, SYSTEM, USER, ASSISTANT = "<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"
# Roles of the special tokens in the packed-shard contract (index.json `special_tokens`).
ROLES = {"eos": EOS, "pad": PAD, "system": SYSTEM, "user": USER, "assistant": ASSISTANT}


class TokenizerParams(Params):
    # "hf": HF tokenizers BPE; "sentencepiece": sentencepiece BPE or unigram (always with byte
    # fallback), also converted to tokenizer.json so every consumer loads one format.
    backend: Literal["hf", "sentencepiece"] = "hf"
    model: Literal["bpe", "unigram"] = "bpe"  # unigram: sentencepiece only
    # HF BPE only: "byte_level" (GPT-2: every byte is a symbol, nothing is unknown) or
    # "byte_fallback" (Llama: characters are symbols, unseen ones become <0xXX> byte tokens).
    bytes: Literal["byte_level", "byte_fallback"] = "byte_level"
    vocab_size: int = Field(32000, ge=300)  # specials, bytes and learned pieces together
    # Always the first ids, in this order; the first five roles of the packed-shard contract.
    special_tokens: list[str] = [EOS, PAD, SYSTEM, USER, ASSISTANT]
    split_digits: bool = True  # every digit its own token (Llama, DeepSeek): better arithmetic
    min_frequency: int = Field(2, ge=1)  # HF BPE: a merge must occur this often
    # Byte-fallback BPE and sentencepiece: characters kept as symbols; rarer ones fall back to bytes.
    character_coverage: float = Field(0.9995, gt=0.0, le=1.0)
    # The training sample: documents drawn by id hash until about this many characters.
    sample_chars: int = Field(100_000_000, ge=1)
    # Fertility and compression are measured on about this many further characters (held out
    # from the sample); on an input smaller than the sample, on the sample's first ones. 100k
    # characters pin fertility to about 1% and cost well under a second of encoding (2M cost
    # 10 s on one core, half the training time of a 16k vocabulary on 3M characters).
    eval_chars: int = Field(100_000, ge=1)
    seed: int = 0
    text_column: str = "text"
    threads: int | None = Field(None, ge=1)  # sentencepiece training threads (default: all cores)
    # An existing tokenizer.json to use instead of training one (e.g. a finished zh_web run's):
    # it is copied, checked for the special tokens, and evaluated on the input.
    path: str | None = None

    @field_validator("path")
    @classmethod
    def _exists(cls, path: str | None) -> str | None:
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"no such file: {path} (a finished run's tokenizer/tokenizer.json)")
        return path

    @model_validator(mode="after")
    def _consistent(self) -> TokenizerParams:
        if self.model == "unigram" and self.backend != "sentencepiece":
            raise ValueError("model 'unigram' needs backend 'sentencepiece'")
        missing = [t for t in ROLES.values() if t not in self.special_tokens]
        if missing:
            raise ValueError(f"special_tokens must include {', '.join(missing)} (the packed-shard roles)")
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise ValueError("special_tokens has duplicates")
        return self
