"""A trained reference LM (SentencePiece + KenLM, as `train_lm` writes them): loading and scoring.

Scoring is cc_net's: each paragraph (a non-blank line) is normalized, cut into SentencePiece
pieces and scored by KenLM with sentence boundaries; a document's perplexity is
`10 ** (-sum(log10 p) / sum(pieces + 1))` over its paragraphs (the +1 is `</s>`). Paragraphs
longer than the model's `max_line_chars` are scored in pieces of that length, as the LM was
trained. A document with no paragraph (empty, blank, only control characters) has no
perplexity (null); any other text, Chinese or not, gets one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from corpusforge.io import url_to_fs
from corpusforge.io.files import is_local
from stages.perplexity.normalize import normalize_all
from stages.perplexity.reference import paragraphs

SP_MODEL, KENLM_MODEL, META = "sp.model", "lm.binary", "meta.json"
FORMAT = 1


class ModelError(RuntimeError):
    """The LM directory is missing a file, or a file is not a valid model."""


def perplexity(log10_prob: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """cc_net's pp(): 10^(-log10 p / length), NaN where there is nothing to score."""
    log10_prob = np.asarray(log10_prob, dtype=np.float64)
    tokens = np.asarray(tokens, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tokens > 0, 10.0 ** (-log10_prob / np.where(tokens > 0, tokens, 1.0)), np.nan)


def chunks(lines: list[str], rows: np.ndarray, max_chars: int) -> tuple[list[str], np.ndarray]:
    """Lines longer than `max_chars` cut into pieces of that length; empty lines dropped."""
    if all(0 < len(line) <= max_chars for line in lines):
        return lines, rows
    out, out_rows = [], []
    for line, row in zip(lines, rows.tolist()):
        for start in range(0, len(line), max_chars):
            out.append(line[start : start + max_chars])
            out_rows.append(row)
    return out, np.asarray(out_rows, dtype=np.int64)


@dataclass
class Scores:
    log10_prob: np.ndarray  # per document, float64
    tokens: np.ndarray  # per document: pieces + one end of sentence per scored paragraph
    paragraphs: np.ndarray  # per document: paragraphs (or pieces of long ones) scored

    @property
    def ppl(self) -> np.ndarray:
        return perplexity(self.log10_prob, self.tokens)


class LanguageModel:
    """A `train_lm` output directory, loaded: raises ModelError naming the bad file."""

    def __init__(self, directory: str):
        import kenlm
        import sentencepiece as spm

        fs, root = url_to_fs(directory)
        self.directory = root
        for name in (META, SP_MODEL, KENLM_MODEL):
            if not fs.exists(f"{root}/{name}"):
                raise ModelError(f"{root}/{name}: missing (the train_lm stage writes it; is `uses` pointing at a finished train_lm stage?)")
        try:
            self.meta = json.loads(fs.cat_file(f"{root}/{META}"))
            self.normalization = dict(self.meta["normalization"])
            self.max_line_chars = int(self.meta["max_line_chars"])
            order = int(self.meta["order"])
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"{root}/{META}: not a train_lm metadata file ({e})") from None
        if self.meta.get("format") != FORMAT:
            raise ModelError(f"{root}/{META}: model format {self.meta.get('format')!r}, this code reads {FORMAT}; retrain")
        try:
            self.sp = spm.SentencePieceProcessor(model_proto=fs.cat_file(f"{root}/{SP_MODEL}"))
        except (RuntimeError, OSError) as e:
            raise ModelError(f"{root}/{SP_MODEL}: not a SentencePiece model ({e})") from None
        path = f"{root}/{KENLM_MODEL}"
        if not is_local(fs):
            # KenLM memory-maps a local file: fetch a remote model once per process.
            local = os.path.join(tempfile.mkdtemp(prefix="corpusforge-lm-"), KENLM_MODEL)
            fs.get_file(path, local)
            path = local
        try:
            self.lm = kenlm.Model(path)  # memory-mapped, pages populated (KenLM's default)
        except (OSError, RuntimeError) as e:
            raise ModelError(f"{root}/{KENLM_MODEL}: not a KenLM model ({e})") from None
        if self.lm.order != order:
            raise ModelError(f"{root}/{KENLM_MODEL}: a {self.lm.order}-gram model, but {META} says {order}")

    def normalize(self, lines: list[str]) -> list[str]:
        return normalize_all(lines, **self.normalization)

    def score_lines(self, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(log10 probability, pieces + 1) of each normalized, non-empty line."""
        pieces = self.sp.encode(lines, out_type=str, num_threads=1)
        score = self.lm.score
        log10_prob = np.fromiter((score(" ".join(p)) for p in pieces), dtype=np.float64, count=len(pieces))
        tokens = np.fromiter((len(p) + 1 for p in pieces), dtype=np.int64, count=len(pieces))
        return log10_prob, tokens

    def score_texts(self, texts: pa.Array) -> Scores:
        """Each document's summed log10 probability and length over its paragraphs."""
        lines, rows = paragraphs(pa.table({"text": texts}))
        normalized = self.normalize(lines.to_pylist())
        normalized, rows = chunks(normalized, rows, self.max_line_chars)
        log10_prob, tokens = self.score_lines(normalized) if normalized else (np.zeros(0), np.zeros(0, np.int64))
        n = len(texts)
        return Scores(
            np.bincount(rows, weights=log10_prob, minlength=n),
            np.bincount(rows, weights=tokens, minlength=n).astype(np.int64),
            np.bincount(rows, minlength=n),
        )
