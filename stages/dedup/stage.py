"""`dedup`: exact, URL and MinHash-LSH near-duplicate removal over the whole input.

Phases (shard-parallel unless noted; see phases.py):
1. host_lines, host_lines_count (only with host_lines): find host boilerplate lines.
2. signatures: per input unit, exact/URL keys and the LSH band keys of two MinHash signatures
   (mixed char/word n-grams, and character n-grams of every script), hash-partitioned.
3. candidates: per partition, the pairs sharing a key (memory bounded by the partition).
4. verify (only with verify): true Jaccard (either signature's shingles) or edit similarity of
   the band candidates, pages of two Han scripts kept apart, in chunks.
5. driver: connected components of the edge list (scipy) and the kept document of each.
6. filter (emit): each unit's rows, kept with `dup_cluster`/`dup_cluster_size`, or rejected with
   `reason` (exact, url or near) and `duplicate_of`, the id of the kept representative.
Every ordering follows the input order, so results do not depend on the executor or workers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from corpusforge.records import ID, REASON
from corpusforge.stage import GlobalContext, GlobalStage
from stages.dedup.components import components, representatives
from stages.dedup.params import DedupParams
from stages.dedup.phases import (
    BAND,
    DUPLICATE_OF,
    EXACT,
    URL_KEY,
    Candidates,
    CollectLines,
    CountLines,
    Filter,
    Signatures,
    Verify,
    ROW_MASK,
)
from stages.dedup.scratch import Workspace, read_table, write_table

# Candidate pairs per verification task: ~100k pairs read a few thousand shingle sets.
VERIFY_CHUNK = 100_000


class Dedup(GlobalStage):
    name = "dedup"
    Params = DedupParams
    version = "2"

    def run(self, ctx: GlobalContext) -> None:
        p = self.params
        units = [unit for source in ctx.inputs for unit in source.units]
        if not units:
            return
        work = Workspace(ctx.work_dir)
        items = list(enumerate(units))
        partitions = list(range(p.partitions))
        if p.host_lines:
            ctx.map("host_lines", CollectLines(p, work, len(units)), items)
            repeated = ctx.map("host_lines_count", CountLines(p, work, len(units)), partitions)
            self.count("host_line_keys_repeated", sum(repeated))
        ctx.map("signatures", Signatures(p, work, len(units)), items)
        ctx.map("candidates", Candidates(p, work, len(units)), partitions)
        a, b, kind = self._edges(ctx, work)
        if p.verify:
            a, b, kind = self._verified(ctx, work, len(units), a, b, kind)
        clustered = self._decide(ctx, work, a, b, kind)
        ctx.emit("filter", Filter(p, work, len(units)), [(i, unit, i in clustered) for i, unit in items])

    def _edges(self, ctx: GlobalContext, work: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pairs, each once, with the strongest kind found for it (exact < url < near)."""
        tables = [read_table(ctx.fs, work.path("edges", i)) for i in range(self.params.partitions)]
        edges = pa.concat_tables(tables)
        a, b, kind = (edges.column(c).to_numpy() for c in ("a", "b", "kind"))
        order = np.lexsort((kind, b, a))
        a, b, kind = a[order], b[order], kind[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b, kind = a[first], b[first], kind[first]
        for k, name in ((EXACT, "exact"), (URL_KEY, "url"), (BAND, "near_candidate")):
            self.count(f"{name}_pairs", int(np.count_nonzero(kind == k)))
        return a, b, kind

    def _verified(self, ctx: GlobalContext, work: Workspace, units: int, a, b, kind):
        """Drop the band candidates whose true Jaccard is below the threshold."""
        near = kind == BAND
        candidates = pa.table({"a": a[near], "b": b[near]})
        write_table(ctx.fs, f"{work.root}/candidates.arrow", candidates)
        chunks = [(c, start, min(start + VERIFY_CHUNK, candidates.num_rows)) for c, start in enumerate(range(0, candidates.num_rows, VERIFY_CHUNK))]
        ctx.map("verify", Verify(self.params, work, units), chunks)
        ok = np.concatenate([read_table(ctx.fs, work.path("verified", c)).column("ok").to_numpy(zero_copy_only=False) for c, _, _ in chunks] + [np.zeros(0, bool)])
        self.count("near_pairs_verified", int(ok.sum()))
        keep = ~near
        keep[np.flatnonzero(near)[ok]] = True
        return a[keep], b[keep], kind[keep]

    def _decide(self, ctx: GlobalContext, work: Workspace, a, b, kind) -> set[int]:
        """Cluster the pairs, pick each cluster's kept document, and write per-unit decisions."""
        nodes, labels = components(a, b)
        if len(nodes) == 0:
            return set()
        attrs = self._node_attrs(ctx, work, nodes)
        keeper = representatives(labels, attrs["rank"], nodes)
        sizes = np.bincount(labels)[labels] if len(labels) else np.zeros(0, np.int64)
        self.count("clusters", int(len(np.unique(labels))))
        ids = attrs[ID]
        same_text = attrs["present"] & (attrs["hi"] == attrs["hi"][keeper]) & (attrs["lo"] == attrs["lo"][keeper])
        same_url = attrs["url_present"] & (attrs["url_hi"] == attrs["url_hi"][keeper]) & (attrs["url_lo"] == attrs["url_lo"][keeper])
        reason = np.where(same_text, "exact", np.where(same_url, "url", "near"))
        is_kept = keeper == np.arange(len(nodes))
        duplicate_of = ids.take(pa.array(keeper)).to_numpy(zero_copy_only=False).astype(object)
        duplicate_of[is_kept] = None
        reasons = reason.astype(object)
        reasons[is_kept] = None
        unit_of = nodes >> np.int64(32)
        clustered = set()
        for unit in np.unique(unit_of).tolist():
            at = np.flatnonzero(unit_of == unit)
            decisions = pa.table({
                "row": nodes[at] & ROW_MASK,
                "cluster": ids.take(pa.array(keeper[at])),
                "size": sizes[at],
                DUPLICATE_OF: pa.array(duplicate_of[at], pa.string()),
                REASON: pa.array(reasons[at], pa.string()),
            })
            write_table(ctx.fs, work.path("decisions", unit), decisions)
            clustered.add(unit)
        return clustered

    def _node_attrs(self, ctx: GlobalContext, work: Workspace, nodes: np.ndarray) -> dict:
        """The nodes-file columns of each node, aligned with `nodes` (sorted gids)."""
        parts = []
        unit_of = nodes >> np.int64(32)
        for unit in np.unique(unit_of).tolist():
            table = read_table(ctx.fs, work.path("nodes", unit))
            rows = nodes[unit_of == unit] & ROW_MASK
            parts.append(table.take(pa.array(rows)))
        columns = ("gid", ID, "rank", "hi", "lo", "present", "url_hi", "url_lo", "url_present")
        table = pa.concat_tables(parts)
        attrs = {c: table.column(c).to_numpy() for c in columns if c != ID}
        attrs[ID] = table.column(ID).combine_chunks()
        return attrs
