"""`perplexity`: cc_net's document perplexity under a reference LM, and head/middle/tail buckets.

Columns `ppl` (float64; null for a document with no text to score) and `bucket` (`head`,
`middle`, `tail`; null with `ppl`). As in cc_net, a document is `head` below the first cutoff,
`middle` below the second, `tail` otherwise. The cutoffs are fixed (`cutoffs`) or percentiles
(`percentiles`, cc_net's 30 and 60) of the perplexities of a sample of the input itself: the
`sample_size` documents with the smallest hash of their id, which depends on neither the
executor nor how the input is split. `keep_buckets` drops the other buckets (reason
`ppl_<bucket>`, `ppl_unscored` for null). The bucket can weight mixture sampling downstream.

Phases (with percentile cutoffs): score (per unit: every document's perplexity to a scratch
file, plus the unit's `sample_size` smallest-hash scored documents), then the driver's cutoffs
(written to `cutoffs.json` in the output directory), then bucket (per unit, emitted). With fixed
cutoffs one emitted phase scores and buckets. The model (`uses: {lm: <train_lm stage>}`) loads
once per process in setup(): on the driver before any work, which fails on a missing or corrupt
model file, and in each worker on its first task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field, model_validator

from corpusforge.io import atomic_write
from corpusforge.records import ID, TEXT, with_column
from corpusforge.stage import GlobalContext, GlobalStage, InputUnit, Params, split_by_mask
from corpusforge.stats import StageStats, collecting
from stages.perplexity.model import LanguageModel, ModelError
from stages.perplexity.scratch import Workspace

PPL, BUCKET = "ppl", "bucket"
BUCKETS = ("head", "middle", "tail")
BucketName = Literal["head", "middle", "tail"]


class PerplexityParams(Params):
    # Percentiles of the input's own perplexities, head/middle and middle/tail (cc_net: 30, 60).
    percentiles: tuple[float, float] = (30.0, 60.0)
    # Fixed perplexity cutoffs instead (e.g. those a previous run wrote to cutoffs.json).
    cutoffs: tuple[float, float] | None = None
    # Documents the percentiles are computed on (cc_net computed them on a sample too).
    sample_size: int = Field(20_000, ge=1)
    # Keep only these buckets (None: keep all, buckets are then a column to weight by).
    keep_buckets: list[BucketName] | None = None

    @model_validator(mode="after")
    def _ordered(self):
        low, high = self.percentiles
        if not 0 <= low <= high <= 100:
            raise ValueError("percentiles: need 0 <= head <= tail <= 100")
        if self.cutoffs is not None and not 0 < self.cutoffs[0] <= self.cutoffs[1]:
            raise ValueError("cutoffs: need 0 < head <= tail")
        return self


def sample_keys(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A 64-bit hash of each document id: the sample is the documents with the smallest."""
    return np.fromiter((xxhash.xxh3_64_intdigest(i.encode("utf-8")) for i in ids.to_pylist()), dtype=np.uint64, count=len(ids))


def bucket_of(ppl: np.ndarray, cutoffs: tuple[float, float]) -> pa.Array:
    """cc_net's rule: head below the first cutoff, middle below the second, tail above; null for NaN."""
    index = np.searchsorted(np.asarray(cutoffs, dtype=np.float64), ppl, side="right")
    names = np.asarray(BUCKETS, dtype=object)[np.minimum(index, 2)]
    names[np.isnan(ppl)] = None
    return pa.array(names, pa.string())


class Perplexity(GlobalStage):
    name = "perplexity"
    Params = PerplexityParams
    version = "1"
    uses_stages = {"lm": "train_lm"}

    def setup(self) -> None:
        if "lm" not in self.uses:
            raise ModelError("perplexity: name the language model under `uses: {lm: <train_lm stage id>}`")
        self.model = LanguageModel(self.uses["lm"])

    def score(self, table: pa.Table) -> np.ndarray:
        """Each document's perplexity (NaN: nothing to score)."""
        self.ensure_setup()
        texts = table.column(TEXT).combine_chunks() if table.num_rows else pa.array([], pa.string())
        scores = self.model.score_texts(texts)
        ppl = scores.ppl
        self.count("docs_scored", int(np.count_nonzero(~np.isnan(ppl))))
        self.count("docs_unscored", int(np.count_nonzero(np.isnan(ppl))))
        self.count("paragraphs_scored", int(scores.paragraphs.sum()))
        return ppl

    def bucketed(self, table: pa.Table, ppl: np.ndarray, cutoffs: tuple[float, float]) -> tuple[pa.Table, pa.Table | None]:
        buckets = bucket_of(ppl, cutoffs)
        for name, n in zip(*np.unique(buckets.fill_null("unscored").to_numpy(zero_copy_only=False), return_counts=True)):
            self.count(f"bucket:{name}", int(n))
        table = with_column(with_column(table, PPL, pa.array(ppl, pa.float64(), from_pandas=True)), BUCKET, buckets)
        keep = self.params.keep_buckets
        if keep is None:
            return table, None
        mask = pc.fill_null(pc.is_in(buckets, pa.array(keep, pa.string())), False)
        reasons = pc.binary_join_element_wise("ppl_", buckets.fill_null("unscored"), "")
        return split_by_mask(table, mask, reasons)

    def run(self, ctx: GlobalContext) -> None:
        units = [unit for source in ctx.inputs for unit in source.units]
        items = list(enumerate(units))
        work = Workspace(ctx.work_dir)
        if self.params.cutoffs is not None:
            ctx.emit("score", ScoreAndBucket(self, tuple(self.params.cutoffs)), items)
            return
        ctx.map("score", Score(self, work), items)
        cutoffs, sampled = self._cutoffs(work, len(units))
        atomic_write(ctx.fs, f"{ctx.output_dir}/cutoffs.json", json.dumps(
            {"percentiles": list(self.params.percentiles), "cutoffs": list(cutoffs), "sample_docs": sampled}, indent=1
        ).encode())
        self.count("sample_docs", sampled)
        ctx.emit("bucket", Bucket(self, work, cutoffs), items)

    def _cutoffs(self, work: Workspace, units: int) -> tuple[tuple[float, float], int]:
        """Percentiles of the global sample: the `sample_size` smallest keys over all units' samples."""
        k = self.params.sample_size
        keys, ppl = np.zeros(0, np.uint64), np.zeros(0, np.float64)
        for i in range(units):
            sample = work.read("sample", i)
            keys = np.concatenate([keys, sample.column("key").to_numpy()])
            ppl = np.concatenate([ppl, sample.column(PPL).to_numpy()])
            if len(keys) > 2 * k:
                keys, ppl = _smallest(keys, ppl, k)
        keys, ppl = _smallest(keys, ppl, k)
        if len(ppl) == 0:
            # Nothing could be scored: every document is unscored, any cutoffs do.
            return (float("inf"), float("inf")), 0
        low, high = np.percentile(ppl, self.params.percentiles)
        return (float(low), float(high)), int(len(ppl))


def _smallest(keys: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k entries with the smallest keys, ordered by key (ties by value: fully deterministic)."""
    order = np.lexsort((values, keys))[:k]
    return keys[order], values[order]


@dataclass(frozen=True)
class Score:
    """Per unit: all perplexities to ppl/<unit>, the unit's sample to sample/<unit>."""

    stage: Perplexity
    work: Workspace

    def __call__(self, item: tuple[int, InputUnit]) -> int:
        index, unit = item
        table = unit.read()
        ppl = self.stage.score(table)
        self.work.write("ppl", index, pa.table({PPL: pa.array(ppl, pa.float64(), from_pandas=True)}))
        scored = ~np.isnan(ppl)
        keys, values = _smallest(sample_keys(table.column(ID))[scored], ppl[scored], self.stage.params.sample_size)
        self.work.write("sample", index, pa.table({"key": keys, PPL: values}))
        return table.num_rows


@dataclass(frozen=True)
class Bucket:
    """Per unit: the rows with `ppl` (from the score phase) and `bucket`."""

    stage: Perplexity
    work: Workspace
    cutoffs: tuple[float, float]

    def __call__(self, item: tuple[int, InputUnit]) -> tuple[pa.Table, pa.Table]:
        index, unit = item
        with collecting(StageStats(), log_bad_records=False):
            table = unit.read()  # read a second time: its bad records were counted and logged by the score phase
        ppl = self.work.read("ppl", index).column(PPL).to_numpy(zero_copy_only=False)
        return self.stage.bucketed(table, np.asarray(ppl, dtype=np.float64), self.cutoffs)


@dataclass(frozen=True)
class ScoreAndBucket:
    """Per unit, with fixed cutoffs: score and bucket in one pass."""

    stage: Perplexity
    cutoffs: tuple[float, float]

    def __call__(self, item: tuple[int, InputUnit]) -> tuple[pa.Table, pa.Table]:
        _, unit = item
        table = unit.read()
        return self.stage.bucketed(table, self.stage.score(table), self.cutoffs)
