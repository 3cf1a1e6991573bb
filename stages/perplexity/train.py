"""`train_lm`: a SentencePiece unigram model and a pruned KenLM n-gram trie from a reference corpus.

cc_net's recipe (its Makefile `lm` target): text normalized (normalize.py), SentencePiece
unigram with character coverage 0.9995, the normalized text cut into pieces, `lmplz -o 5
--discount_fallback`, then `build_binary`. Here the n-grams are pruned (`prune`, lmplz's
count thresholds per order) and the binary is a trie, several times smaller than cc_net's
probing tables for the same ARPA file.

Phases (shard-parallel, in input order):
1. prepare: per input unit, the paragraphs to train on (reference.py; `reference: corpus` or
   `bootstrap`), normalized, with a 64-bit hash of each, to lines/<unit>.arrow.
2. driver: exact duplicates dropped (first occurrence kept, in input order), to keep/<unit>.arrow;
   SentencePiece trained on the kept lines (a fixed seed and thread count: same bytes anywhere).
3. tokenize: per unit, the kept lines as space-separated pieces, to tokens/<unit>.txt.
4. driver: lmplz over the token files in order, build_binary; the output directory gets
   sp.model, lm.binary and meta.json (what the `perplexity` stage needs to score the same way).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import pyarrow as pa
import xxhash
from pydantic import Field, field_validator, model_validator

from corpusforge.io import atomic_write
from corpusforge.stage import GlobalContext, GlobalStage, InputUnit, Params
from stages.perplexity.kenlm_tools import find_tools
from stages.perplexity.model import FORMAT, KENLM_MODEL, META, SP_MODEL, chunks
from stages.perplexity.normalize import normalize_array
from stages.perplexity.reference import bootstrap_paragraphs, paragraphs
from stages.perplexity.scratch import Workspace

# cc_net's normalization for its LMs; recorded in meta.json, so scoring repeats it.
NORMALIZATION = {"numbers": True, "punct": True, "accents": True, "case": True}
SEED = 0


class TrainLMParams(Params):
    # corpus: the inputs are a reference corpus (text, JSONL, Arrow), every line a paragraph.
    # bootstrap: the inputs are crawl documents; only strict prose trains (see reference.py).
    reference: Literal["corpus", "bootstrap"] = "corpus"
    # SentencePiece: cc_net's 65536 pieces, unigram, coverage 0.9995 (zh needs it: the long tail
    # of rare Han characters becomes <unk> rather than thousands of single-use pieces). The size
    # is a soft limit, so a small reference corpus gets a smaller vocabulary rather than an error.
    vocab_size: int = Field(65536, ge=64)
    character_coverage: float = Field(0.9995, gt=0, le=1)
    sp_max_lines: int = Field(2_000_000, ge=1)  # SentencePiece trains on a (seeded) sample of this many lines
    # Fixed, not the core count, so the model is the same on every machine.
    threads: int = Field(4, ge=1)
    # KenLM: cc_net's 5-grams; lmplz's --prune: n-grams seen at most this often are dropped,
    # per order from unigrams (which are never pruned); the last value holds for higher orders.
    order: int = Field(5, ge=2, le=6)
    prune: list[int] = Field(default_factory=lambda: [0, 0, 1])
    quantize_bits: int | None = Field(None, ge=2, le=25)  # build_binary -q/-b: smaller, slightly coarser
    memory: str = Field("1G", pattern=r"^\d+(\.\d+)?[%bKMGTPEZY]?$")  # lmplz/build_binary -S
    # Longer paragraphs are cut into pieces of this many characters (scoring does the same).
    max_line_chars: int = Field(2000, ge=16)
    dedup: bool = True  # drop exact duplicate paragraphs (after normalization)
    # bootstrap only
    min_paragraph_chars: int = Field(20, ge=1)
    min_han_ratio: float = Field(0.5, ge=0, le=1)
    min_lang_score: float = Field(0.8, ge=0, le=1)
    min_prose_share: float = Field(0.5, ge=0, le=1)  # of a document's characters, in prose paragraphs

    @field_validator("prune")
    @classmethod
    def _lmplz_prune(cls, value: list[int]) -> list[int]:
        if not value or value[0] != 0:
            raise ValueError("lmplz cannot prune unigrams: the first threshold must be 0")
        if any(b < a for a, b in zip(value, value[1:])):
            raise ValueError("thresholds must not decrease with the order")
        if any(v < 0 for v in value):
            raise ValueError("thresholds are counts, >= 0")
        return value

    @model_validator(mode="after")
    def _prune_within_order(self):
        if len(self.prune) > self.order:
            raise ValueError(f"prune: {len(self.prune)} thresholds for a {self.order}-gram model")
        return self


@dataclass(frozen=True)
class Prepare:
    """Per unit: the normalized paragraphs to train on and their hashes, to lines/<unit>."""

    params: TrainLMParams
    work: Workspace

    def __call__(self, item: tuple[int, InputUnit]) -> dict[str, int]:
        index, unit = item
        p = self.params
        table = unit.read()
        if p.reference == "bootstrap":
            lines, docs_used = bootstrap_paragraphs(table, p.min_paragraph_chars, p.min_han_ratio, p.min_lang_score, p.min_prose_share)
        else:
            lines, rows = paragraphs(table)
            docs_used = len(np.unique(rows))
        normalized, _ = chunks(normalize_array(lines, **NORMALIZATION), np.zeros(len(lines), np.int64), p.max_line_chars)
        hashes = np.fromiter((xxhash.xxh3_64_intdigest(s.encode("utf-8")) for s in normalized), dtype=np.uint64, count=len(normalized))
        self.work.write("lines", index, pa.table({"line": pa.array(normalized, pa.string()), "hash": hashes}))
        return {"docs": table.num_rows, "docs_used": docs_used, "lines": len(normalized)}


@dataclass(frozen=True)
class Tokenize:
    """Per unit: the kept lines as space-separated SentencePiece pieces, lmplz's input."""

    work: Workspace

    def __call__(self, index: int) -> int:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_proto=self.work.fs.cat_file(f"{self.work.root}/{SP_MODEL}"))
        pieces = sp.encode(kept_lines(self.work, index), out_type=str, num_threads=1)
        body = "".join(" ".join(p) + "\n" for p in pieces)
        atomic_write(self.work.fs, self.work.path("tokens", index, "txt"), body.encode("utf-8"))
        return sum(len(p) for p in pieces)


def kept_lines(work: Workspace, index: int) -> list[str]:
    lines = work.read("lines", index).column("line")
    keep = work.read("keep", index).column("keep")
    return lines.filter(keep).to_pylist()


class TrainLM(GlobalStage):
    name = "train_lm"
    Params = TrainLMParams
    version = "1"
    produces_artefact = True

    def run(self, ctx: GlobalContext) -> None:
        p = self.params
        tools = find_tools()  # a missing toolchain fails here, before any work
        units = [unit for source in ctx.inputs for unit in source.units]
        work = Workspace(ctx.work_dir)
        prepared = ctx.map("prepare", Prepare(p, work), list(enumerate(units)))
        self.count("docs_read", sum(r["docs"] for r in prepared))
        self.count("docs_used", sum(r["docs_used"] for r in prepared))
        kept = self._dedup(ctx, work, len(units))
        self.count("paragraphs", sum(r["lines"] for r in prepared))
        self.count("paragraphs_trained", kept)
        if kept == 0:
            raise RuntimeError(f"train_lm: the {p.reference} reference gave no paragraph to train on ({', '.join(s.id for s in ctx.inputs)})")
        with tempfile.TemporaryDirectory(prefix="corpusforge-lm-") as tmp:
            sp_model = self._train_sentencepiece(work, len(units))
            atomic_write(ctx.fs, f"{work.root}/{SP_MODEL}", sp_model)
            pieces = ctx.map("tokenize", Tokenize(work), list(range(len(units))))
            self.count("pieces", sum(pieces))
            ngrams = self._train_kenlm(ctx, work, len(units), tools, tmp)
            atomic_write(ctx.fs, f"{ctx.output_dir}/{SP_MODEL}", sp_model)
            ctx.fs.put_file(f"{tmp}/{KENLM_MODEL}", f"{ctx.output_dir}/{KENLM_MODEL}")
        meta = {
            "format": FORMAT,
            "normalization": NORMALIZATION,
            "max_line_chars": p.max_line_chars,
            "order": p.order,
            "ngrams": ngrams,
            "reference": p.reference,
            "paragraphs": kept,
            "params": p.model_dump(mode="json"),
        }
        atomic_write(ctx.fs, f"{ctx.output_dir}/{META}", json.dumps(meta, indent=1, sort_keys=True).encode())

    def _dedup(self, ctx: GlobalContext, work: Workspace, units: int) -> int:
        """Per unit, which lines train: all, or each distinct line's first occurrence."""
        hashes = [work.read("lines", i).column("hash").to_numpy() for i in range(units)]
        sizes = [len(h) for h in hashes]
        if self.params.dedup and sum(sizes):
            flat = np.concatenate(hashes)
            _, first = np.unique(flat, return_index=True)
            keep = np.zeros(len(flat), dtype=bool)
            keep[first] = True
        else:
            keep = np.ones(sum(sizes), dtype=bool)
        bounds = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        for i in range(units):
            work.write("keep", i, pa.table({"keep": keep[bounds[i] : bounds[i + 1]]}))
        self.count("paragraphs_duplicate", int(len(keep) - keep.sum()))
        return int(keep.sum())

    def _train_sentencepiece(self, work: Workspace, units: int) -> bytes:
        import sentencepiece as spm

        p = self.params

        def lines() -> Iterator[str]:
            for i in range(units):
                yield from kept_lines(work, i)

        spm.set_random_generator_seed(SEED)
        # Written to memory: a file's path would be recorded in the model, which would then
        # differ from run to run.
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=lines(), model_writer=model, model_type="unigram", vocab_size=p.vocab_size,
                hard_vocab_limit=False, character_coverage=p.character_coverage, input_sentence_size=p.sp_max_lines,
                shuffle_input_sentence=True, num_threads=p.threads, max_sentence_length=4 * p.max_line_chars,
                minloglevel=2,
            )
        except RuntimeError as e:
            raise RuntimeError(f"train_lm: SentencePiece training failed: {e}") from None
        return model.getvalue()

    def _train_kenlm(self, ctx: GlobalContext, work: Workspace, units: int, tools: dict, tmp: str) -> dict[str, int]:
        """lmplz over the token files, in unit order, then a binary trie; the n-gram counts."""
        p = self.params
        arpa = os.path.join(tmp, "lm.arpa")
        lmplz = [
            str(tools["lmplz"]), "-o", str(p.order), "--prune", *map(str, p.prune), "-S", p.memory, "-T", os.path.join(tmp, "lmplz-"),
            "--discount_fallback", "--skip_symbols",
        ]
        log_path = os.path.join(tmp, "lmplz.log")
        with open(arpa, "wb") as out, open(log_path, "wb") as log:
            proc = subprocess.Popen(lmplz, stdin=subprocess.PIPE, stdout=out, stderr=log)
            try:
                for i in range(units):
                    with ctx.fs.open(work.path("tokens", i, "txt"), "rb") as f:
                        shutil.copyfileobj(f, proc.stdin, 1 << 20)
            except BrokenPipeError:
                pass  # lmplz stopped early: its exit status and log say why
            finally:
                proc.stdin.close()
            proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"train_lm: lmplz failed ({proc.returncode}): {_tail(log_path)}")
        binary = [str(tools["build_binary"]), "-S", p.memory, "-T", os.path.join(tmp, "build-")]
        if p.quantize_bits:
            binary += ["-q", str(p.quantize_bits), "-b", str(p.quantize_bits)]
        result = subprocess.run([*binary, "trie", arpa, os.path.join(tmp, KENLM_MODEL)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"train_lm: build_binary failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
        return _ngram_counts(arpa)


def _tail(path: str, lines: int = 15) -> str:
    with open(path, "rb") as f:
        return "\n".join(f.read().decode("utf-8", "replace").strip().splitlines()[-lines:])


def _ngram_counts(arpa: str) -> dict[str, int]:
    """The `ngram N=count` lines of an ARPA file's header."""
    counts = {}
    with open(arpa, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("ngram "):
                order, _, n = line[6:].partition("=")
                counts[order.strip()] = int(n)
            elif line.startswith("\\1-grams:"):
                break
    return counts
