"""`tokenizer`: HF BPE or sentencepiece training on a deterministic sample, with fertility metrics."""

from stages.tokenizer.stage import Tokenizer

__all__ = ["Tokenizer"]
