"""What a tokenizer costs on text: fertility (tokens per Chinese character) and compression."""

from __future__ import annotations

import re
from typing import Iterable

from tokenizers import Tokenizer

# Han ideographs (CJK Unified Ideographs, extension A, compatibility ideographs).
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def evaluate(tokenizer: Tokenizer, batches: Iterable[list[str]], max_chars: int) -> dict[str, float | int]:
    """Counts and ratios over `batches` of texts, up to the batch that reaches `max_chars`.

    - `fertility`: tokens per Han character, encoding only the documents' runs of Han characters
      (what a Chinese tokenizer is judged by; 1.0 means one token per character);
    - `bytes_per_token`: UTF-8 bytes per token over the whole text (compression);
    - `chars_per_token`: characters per token over the whole text.
    """
    docs = chars = utf8 = tokens = han_chars = han_tokens = 0
    for texts in batches:
        if chars >= max_chars:
            break
        docs += len(texts)
        chars += sum(map(len, texts))
        utf8 += sum(len(t.encode("utf-8")) for t in texts)
        tokens += sum(len(e.ids) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False))
        runs = [run for t in texts for run in HAN_RUN.findall(t)]
        han_chars += sum(map(len, runs))
        han_tokens += sum(len(e.ids) for e in tokenizer.encode_batch_fast(runs, add_special_tokens=False))
    return {
        "eval_docs": docs,
        "eval_chars": chars,
        "eval_tokens": tokens,
        "eval_han_chars": han_chars,
        "fertility": round(han_tokens / han_chars, 4) if han_chars else None,
        "bytes_per_token": round(utf8 / tokens, 4) if tokens else None,
        "chars_per_token": round(chars / tokens, 4) if tokens else None,
    }
