"""`mix`: a weighted mixture of several inputs or buckets, with repetition and a global shuffle.

Documents are grouped by `by`: `input` (the config input they came from, a source or a stage),
or a column (`source`, a perplexity `bucket`, any value column; numeric columns cut at `edges`).
Each group gets a target size, from relative `weights` (shares of `total_tokens`, by default the
input's size) or absolute `tokens`. Sizes are counted in `unit`: characters (about one token per
Chinese character before a tokenizer exists), UTF-8 bytes, or an integer column of token counts.

A group's documents are repeated (upsampling) or thinned (downsampling) by the factor f that
meets its target: document d expects e_d = f w_d copies (w_d = 1, or with `rehydrate` a weight
by its dedup cluster size, FineWeb-2's rehydration: documents that had duplicates are repeated
more, the group's target still met). Copies are drawn by systematic sampling along the group's
documents in input order: with C_d the running sum of e plus one random offset per group (from
the seed), d gets floor(C_d) - floor(C_d - e_d) copies, i.e. floor(e_d) or one more, and the
group's total is its expectation to within one document. Every copy then gets a random key; phase `scatter` hash-partitions the
copies by key, phase `shuffle` sorts each partition, so sources interleave in the output and
copies of a document land apart. Documents drawn zero times are rejected with a reason.

Counters (the mixture report): `tokens_available:<g>`, `tokens_requested:<g>`,
`tokens_realized:<g>`, `docs_realized:<g>`, and `share_requested_ppm:<g>`/`share_realized_ppm:<g>`
(parts per million of the mixture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from corpusforge.io import url_to_fs
from corpusforge.io.partitions import read_partition, write_partitioned
from corpusforge.records import ID, REASON, TEXT
from corpusforge.stage import GlobalContext, GlobalStage, InputUnit, Params
from corpusforge.stats import StageStats, collecting
from stages.draws import uniform

GROUP, COPY, KEY = "mix_group", "mix_copy", "_mix_key"
INPUT = "input"
NOT_IN_MIXTURE, NOT_DRAWN = "mix_not_in_mixture", "mix_not_drawn"


class MixParams(Params):
    by: str = INPUT  # "input", or a column whose values (or buckets, with edges) are the groups
    edges: list[float] | None = None  # cut a numeric `by` column: groups "lo..hi"
    weights: dict[str, float] | None = None  # relative shares of the mixture, per group
    total_tokens: float | None = Field(None, gt=0)  # with weights: the mixture's size (default: the input's)
    tokens: dict[str, float] | None = None  # or: the target size of each group
    unit: str = "chars"  # "chars", "bytes", or an integer column of token counts
    # Rehydration: {min cluster size: weight}; a document weighs the value of the largest key at
    # most its `dup_cluster_size`, e.g. {1: 1, 2: 2, 5: 3, 100: 1} (big clusters are templates).
    rehydrate: dict[int, float] | None = None
    cluster_size_column: str = "dup_cluster_size"
    partitions: int = Field(16, ge=1)  # output shards; the shuffle's unit of work
    seed: int = 0

    @model_validator(mode="after")
    def _one_target(self) -> MixParams:
        if (self.weights is None) == (self.tokens is None):
            raise ValueError("give either weights (relative) or tokens (target sizes)")
        sizes = self.weights if self.weights is not None else self.tokens
        if not sizes or any(v < 0 for v in sizes.values()):
            raise ValueError("group sizes must be non-negative, and at least one given")
        if self.total_tokens is not None and self.weights is None:
            raise ValueError("total_tokens goes with weights")
        if self.edges is not None and sorted(self.edges) != list(self.edges):
            raise ValueError("edges must be increasing")
        if self.rehydrate is not None and (not self.rehydrate or min(self.rehydrate) < 1 or min(self.rehydrate.values()) < 0):
            raise ValueError("rehydrate maps cluster sizes >= 1 to non-negative weights")
        return self


def _edge_name(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"


@dataclass(frozen=True)
class Groups:
    """Group, size and rehydration weight of each document of a unit."""

    params: MixParams

    def of(self, table: pa.Table, input_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.params
        n = table.num_rows
        if p.by == INPUT:
            groups = np.full(n, input_id, dtype=object)
        elif p.edges is not None:
            values = np.asarray(pc.fill_null(table.column(p.by).cast(pa.float64()), np.nan), dtype=np.float64)
            bounds = [-math.inf, *p.edges, math.inf]
            names = np.array([f"{_edge_name(lo)}..{_edge_name(hi)}" for lo, hi in zip(bounds[:-1], bounds[1:])] + [""], dtype=object)
            at = np.searchsorted(np.asarray(p.edges), values, side="right")
            at[np.isnan(values)] = len(names) - 1
            groups = names[at]
        else:
            groups = np.array(["" if v is None else str(v) for v in table.column(p.by).to_pylist()], dtype=object)
        if p.unit == "chars":
            sizes = np.asarray(pc.fill_null(pc.utf8_length(table.column(TEXT)), 0), dtype=np.float64)
        elif p.unit == "bytes":
            sizes = np.asarray(pc.fill_null(pc.binary_length(table.column(TEXT)), 0), dtype=np.float64)
        else:
            sizes = np.asarray(pc.fill_null(table.column(p.unit), 0), dtype=np.float64)
        weights = np.ones(n)
        if p.rehydrate is not None:
            keys = np.array(sorted(p.rehydrate))
            values = np.array([p.rehydrate[k] for k in keys])
            cluster = np.asarray(pc.fill_null(table.column(p.cluster_size_column), 1), dtype=np.int64) if p.cluster_size_column in table.column_names else np.ones(n, np.int64)
            at = np.searchsorted(keys, cluster, side="right") - 1
            weights = np.where(at >= 0, values[np.maximum(at, 0)], 1.0)
        return groups, sizes, weights


def _per_group(groups: np.ndarray, values: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in np.unique(groups).tolist() if len(groups) else []:
        out[name] = float(values[groups == name].sum())
    return out


@dataclass(frozen=True)
class Measure:
    groups: Groups

    def __call__(self, item: tuple[str, InputUnit]) -> dict[str, dict[str, float]]:
        input_id, unit = item
        groups, sizes, weights = self.groups.of(unit.read(), input_id)
        return {
            "tokens": _per_group(groups, sizes),
            "weighted": _per_group(groups, sizes * weights),
            "weights": _per_group(groups, weights),
            "docs": _per_group(groups, np.ones(len(sizes))),
        }


@dataclass(frozen=True)
class Scatter:
    """Per unit: each document's copies, keyed at random and partitioned by key."""

    groups: Groups
    factors: dict[str, float]  # group -> expected copies per unit of rehydration weight
    starts: list[dict[str, float]]  # per unit, per group: the running sum of e before the unit
    work_dir: str

    def path(self, kind: str, index: int) -> str:
        return f"{self.work_dir}/{kind}/{index:06d}.arrow"

    def __call__(self, item: tuple[int, str, InputUnit]) -> dict[str, dict[str, float]]:
        index, input_id, unit = item
        p = self.groups.params
        with collecting(StageStats(), log_bad_records=False):  # `measure` already counted and logged this unit's bad records
            table = unit.read()
        groups, sizes, weights = self.groups.of(table, input_id)
        factor = np.array([self.factors.get(g, 0.0) for g in groups.tolist()], dtype=np.float64)
        expected = factor * weights
        running = np.zeros(len(expected))
        for g in np.unique(groups).tolist() if len(groups) else []:
            at = groups == g
            running[at] = self.starts[index].get(g, 0.0) + np.cumsum(expected[at])
        copies = (np.floor(running) - np.floor(running - expected)).astype(np.int64)
        rows = np.repeat(np.arange(table.num_rows), copies)
        copy = np.arange(len(rows)) - np.repeat(np.cumsum(copies) - copies, copies)
        ids = table.column(ID).take(pa.array(rows)).to_pylist()
        keys = uniform([f"{i}\x00{c}" for i, c in zip(ids, copy.tolist())], p.seed, "mix-order")
        kept = table.take(pa.array(rows)).append_column(GROUP, pa.array(groups[rows].tolist(), pa.string()))
        kept = kept.append_column(COPY, pa.array(copy.astype(np.int32))).append_column(KEY, pa.array(keys))
        fs, _ = url_to_fs(self.work_dir)
        write_partitioned(fs, self.path("kept", index), kept, _partition_of(keys, p.partitions), p.partitions)
        dropped_rows = np.flatnonzero(copies == 0)
        dropped = table.take(pa.array(dropped_rows)).append_column(GROUP, pa.array(groups[dropped_rows].tolist(), pa.string()))
        reasons = [NOT_IN_MIXTURE if g not in self.factors else NOT_DRAWN for g in groups[dropped_rows].tolist()]
        dropped = dropped.append_column(REASON, pa.array(reasons, pa.string()))
        drop_keys = uniform(dropped.column(ID), p.seed, "mix-order")
        write_partitioned(fs, self.path("dropped", index), dropped, _partition_of(drop_keys, p.partitions), p.partitions)
        return {"tokens": _per_group(groups[rows], sizes[rows]), "docs": _per_group(groups[rows], np.ones(len(rows)))}


@dataclass(frozen=True)
class Shuffle:
    """Per partition: its copies from every unit, in key order (ties: input order)."""

    scatter: Scatter
    units: int

    def __call__(self, partition: int) -> tuple[pa.Table, pa.Table]:
        fs, _ = url_to_fs(self.scatter.work_dir)
        kept = _concat([read_partition(fs, self.scatter.path("kept", i), partition) for i in range(self.units)])
        order = np.argsort(kept.column(KEY).to_numpy(), kind="stable") if kept.num_rows else np.zeros(0, np.int64)
        kept = kept.take(pa.array(order)).drop_columns([KEY])
        dropped = _concat([read_partition(fs, self.scatter.path("dropped", i), partition) for i in range(self.units)])
        return kept, dropped


def _concat(tables: list[pa.Table]) -> pa.Table:
    # Inputs may differ in their extra columns; missing ones become nulls.
    return pa.concat_tables(tables, promote_options="default")


class Mix(GlobalStage):
    name = "mix"
    Params = MixParams
    version = "1"

    def run(self, ctx: GlobalContext) -> None:
        p = self.params
        items = [(source.id, unit) for source in ctx.inputs for unit in source.units]
        groups = Groups(p)
        measured = ctx.map("measure", Measure(groups), items)
        available, weighted = _sum(m["tokens"] for m in measured), _sum(m["weighted"] for m in measured)
        requested = self._targets(available)
        factors = {g: (requested[g] / weighted[g] if weighted.get(g) else 0.0) for g in requested}
        offsets = dict(zip(sorted(factors), uniform(sorted(factors), p.seed, "mix-offset").tolist()))
        starts, running = [], dict(offsets)
        for m in measured:
            starts.append(dict(running))
            for g, w in m["weights"].items():
                running[g] = running.get(g, 0.0) + factors.get(g, 0.0) * w
        scatter = Scatter(groups, factors, starts, ctx.work_dir)
        realized = ctx.map("scatter", scatter, [(i, input_id, unit) for i, (input_id, unit) in enumerate(items)])
        ctx.emit("shuffle", Shuffle(scatter, len(items)), list(range(p.partitions)))
        self._report(available, requested, _sum(r["tokens"] for r in realized), _sum(r["docs"] for r in realized))

    def _targets(self, available: dict[str, float]) -> dict[str, float]:
        p = self.params
        if p.tokens is not None:
            return dict(p.tokens)
        total = p.total_tokens if p.total_tokens is not None else sum(available.get(g, 0.0) for g in p.weights)
        norm = sum(p.weights.values())
        return {g: total * w / norm if norm else 0.0 for g, w in p.weights.items()}

    def _report(self, available: dict, requested: dict, realized: dict, docs: dict) -> None:
        total_requested, total_realized = sum(requested.values()), sum(realized.values())
        for g in sorted(set(available) | set(requested)):
            self.count(f"tokens_available:{g}", int(available.get(g, 0)))
            self.count(f"tokens_requested:{g}", int(round(requested.get(g, 0))))
            self.count(f"tokens_realized:{g}", int(realized.get(g, 0)))
            self.count(f"docs_realized:{g}", int(docs.get(g, 0)))
            if total_requested:
                self.count(f"share_requested_ppm:{g}", int(round(1e6 * requested.get(g, 0) / total_requested)))
            if total_realized:
                self.count(f"share_realized_ppm:{g}", int(round(1e6 * realized.get(g, 0) / total_realized)))
            if g in requested and not available.get(g):
                self.count("empty_groups")


def _sum(parts: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return out


def _partition_of(keys: np.ndarray, partitions: int) -> np.ndarray:
    """Uniform keys in [0, 1) -> partition floor(key * partitions)."""
    return np.minimum((keys * partitions).astype(np.int64), partitions - 1)
