"""A trained reference LM (SentencePiece + KenLM, as `train_lm` writes them): loading and scoring.

Scoring is cc_net's: each paragraph (a non-blank line) is normalized, cut into SentencePiece
pieces and scored by KenLM with sentence boundaries; a document's perplexity is
`10 ** (-sum(log10 p) / sum(pieces + 1))` over its paragraphs (the +1 is `</s>`). Paragraphs
longer than the model's `max_line_chars` are scored in pieces of that length, as the LM was
trained. A document with no paragraph (empty, blank, only control characters) has no
perplexity (null); any other text, Chinese or not, gets one.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.io import url_to_fs
from corpusforge.io.files import is_local
from stages.perplexity.normalize import normalize_all, normalize_array
from stages.perplexity.reference import paragraphs

SP_MODEL, KENLM_MODEL, META = "sp.model", "lm.binary", "meta.json"
# Paragraph characters normalized and scored at a time.
BATCH_CHARS = 1 << 20
FORMAT = 1


class ModelError(RuntimeError):
    """The LM directory is missing a file, or a file is not a valid model."""


def perplexity(log10_prob: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """cc_net's pp(): 10^(-log10 p / length), NaN where there is nothing to score."""
    log10_prob = np.asarray(log10_prob, dtype=np.float64)
    tokens = np.asarray(tokens, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tokens > 0, 10.0 ** (-log10_prob / np.where(tokens > 0, tokens, 1.0)), np.nan)


def chunks(lines: pa.Array, rows: np.ndarray, max_chars: int) -> tuple[list[str], np.ndarray]:
    """The lines as str, those longer than `max_chars` cut into pieces of that length; empty lines dropped."""
    lengths = pc.utf8_length(lines).to_numpy(zero_copy_only=False)
    texts = lines.to_pylist()
    if len(lengths) == 0 or (lengths.min() > 0 and lengths.max() <= max_chars):
        return texts, rows
    counts = -(-lengths // max_chars)  # pieces per line, 0 for an empty one
    out: list[str] = []
    previous = 0
    for i in np.flatnonzero(counts > 1).tolist():  # only the long lines cost a Python step
        out.extend(itertools.compress(texts[previous:i], counts[previous:i]))
        out.extend(texts[i][start : start + max_chars] for start in range(0, lengths[i], max_chars))
        previous = i + 1
    out.extend(itertools.compress(texts[previous:], counts[previous:]))
    return out, np.repeat(rows, counts)


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

    def normalize_array(self, lines: pa.Array) -> pa.Array:
        return normalize_array(lines, **self.normalization)

    def score_lines(self, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(log10 probability, pieces + 1) of each normalized, non-empty line."""
        pieces = self.sp.encode(lines, out_type=str, num_threads=1)
        log10_prob = np.fromiter(map(self.lm.score, map(" ".join, pieces)), dtype=np.float64, count=len(pieces))
        tokens = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)) + 1
        return log10_prob, tokens

    def score_texts(self, texts: pa.Array) -> Scores:
        """Each document's summed log10 probability and length over its paragraphs.

        Paragraphs go through in batches of about BATCH_CHARS characters, which bounds the
        memory of the normalization arrays and of the piece lists.
        """
        lines, rows = paragraphs(pa.table({"text": texts}))
        lengths = pc.utf8_length(lines).to_numpy(zero_copy_only=False)
        batch = (np.cumsum(lengths) - lengths) // BATCH_CHARS
        edges = [0, *(np.flatnonzero(np.diff(batch)) + 1).tolist(), len(lines)]
        log10_prob, tokens, scored_rows = [np.zeros(0)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for start, stop in zip(edges[:-1], edges[1:]):
            normalized = self.normalize_array(lines.slice(start, stop - start))
            normalized, batch_rows = chunks(normalized, rows[start:stop], self.max_line_chars)
            if normalized:
                batch_log10_prob, batch_tokens = self.score_lines(normalized)
                log10_prob.append(batch_log10_prob)
                tokens.append(batch_tokens)
                scored_rows.append(batch_rows)
        at = np.concatenate(scored_rows)
        n = len(texts)
        return Scores(
            np.bincount(at, weights=np.concatenate(log10_prob), minlength=n),
            np.bincount(at, weights=np.concatenate(tokens), minlength=n).astype(np.int64),
            np.bincount(at, minlength=n),
        )
