"""The shard-parallel phases of `dedup`; each is a picklable callable run by ctx.map / ctx.emit.

Documents are named by a global id, `gid = unit index << 32 | row`, which depends only on the
input order, never on how the work was split. Phase files (see scratch.Workspace):
- host_lines/<unit>: (line key, document key) pairs, partitioned by line key;
- repeated/<partition>: the line keys that are host boilerplate;
- keys/<unit>: (kind, key, gid) rows, partitioned by key: one exact key, one URL key and one
  key per LSH band of each document;
- nodes/<unit>: per document, what the driver needs to pick and describe representatives;
- sets/<unit>: the distinct shingle hashes (and the key text) of each document, for verification;
- edges/<partition>: duplicate pairs (a, b, kind); verified/<chunk>: verification outcome;
- decisions/<unit>: cluster, size and the kept representative of each clustered document.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.io import url_to_fs
from corpusforge.records import ID, REASON, TEXT, URL, with_column
from corpusforge.stage import InputUnit
from corpusforge.stats import count
from stages.dedup.exact import hash128, lengths, text_keys, url_keys
from stages.dedup.lines import HostLines
from stages.dedup.lsh import band_keys, group_pairs
from stages.dedup.minhash import Permutations, signatures
from stages.dedup.normalize import key_text
from stages.dedup.params import DedupParams
from corpusforge.io.partitions import read_partition, write_partitioned
from stages.dedup.scratch import Workspace, read_table, write_table
from stages.dedup.shingles import ShingleText, batches
from stages.dedup.similarity import NO_SCRIPT, edit_similarity, han_scripts, jaccard, other_scripts

EXACT, URL_KEY, BAND = 0, 1, 2
DUP_CLUSTER, DUP_CLUSTER_SIZE, DUPLICATE_OF = "dup_cluster", "dup_cluster_size", "duplicate_of"
# Characters shingled per batch: bounds the per-batch arrays (~60 bytes per character).
BATCH_CHARS = 1 << 20
# Rows per record batch of a sets file: the unit of random access during verification.
SET_ROWS = 4096
ROW_MASK = np.int64(0xFFFFFFFF)
# The sets-file columns of the signatures' distinct shingle hashes, in DedupParams.signature_specs order.
SET_COLUMNS = ("hashes", "char_hashes")



def _gids(unit_index: int, rows: int) -> np.ndarray:
    return (np.int64(unit_index) << np.int64(32)) | np.arange(rows, dtype=np.int64)


def _partition(hi: np.ndarray, lo: np.ndarray, partitions: int) -> np.ndarray:
    return ((hi ^ lo) % np.uint64(partitions)).astype(np.int64)


def _keys_table(kind: int, hi: np.ndarray, lo: np.ndarray, gid: np.ndarray) -> pa.Table:
    return pa.table({"kind": pa.array(np.full(len(gid), kind, np.int8)), "hi": hi, "lo": lo, "gid": gid})


@dataclass(frozen=True)
class Phase:
    params: DedupParams
    work: Workspace
    units: int

    @property
    def fs(self):
        return url_to_fs(self.work.root)[0]

    def repeated_lines(self) -> np.ndarray:
        """The sorted boilerplate line keys found by the host_lines phases."""
        parts = [read_table(self.fs, self.work.path("repeated", p)).column("key").to_numpy() for p in range(self.params.partitions)]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)

    def texts(self, table: pa.Table, repeated: np.ndarray | None) -> tuple[pa.Array, int]:
        """The documents' text, with host boilerplate lines removed when that is on."""
        texts = table.column(TEXT)
        if repeated is None:
            return texts, 0
        return HostLines(texts, table.column(URL)).without(repeated)


@dataclass(frozen=True)
class CollectLines(Phase):
    """Per unit: the distinct (host line, document) pairs, partitioned by line key."""

    def __call__(self, item: tuple[int, InputUnit]) -> int:
        index, unit = item
        table = unit.read()
        hi, lo, _ = text_keys(table.column(TEXT))
        line, doc = HostLines(table.column(TEXT), table.column(URL)).per_document(hi ^ lo)
        out = pa.table({"line": line, "doc": doc})
        write_partitioned(self.fs, self.work.path("host_lines", index), out, (line % np.uint64(self.params.partitions)).astype(np.int64), self.params.partitions)
        return len(line)


@dataclass(frozen=True)
class CountLines(Phase):
    """Per partition: the line keys found in at least host_line_min_docs distinct documents."""

    def __call__(self, partition: int) -> int:
        pieces = [read_partition(self.fs, self.work.path("host_lines", i), partition) for i in range(self.units)]
        table = pa.concat_tables(pieces) if pieces else pa.table({"line": pa.array([], pa.uint64()), "doc": pa.array([], pa.uint64())})
        pairs = np.unique(np.stack([table.column("line").to_numpy(), table.column("doc").to_numpy()], axis=1), axis=0) if table.num_rows else np.zeros((0, 2), np.uint64)
        keys, docs = np.unique(pairs[:, 0], return_counts=True)
        repeated = keys[docs >= self.params.host_line_min_docs]
        write_table(self.fs, self.work.path("repeated", partition), pa.table({"key": pa.array(repeated, pa.uint64())}))
        return len(repeated)


@dataclass(frozen=True)
class Signatures(Phase):
    """Per unit: exact/URL/band keys, the nodes file and (for verification) the shingle sets."""

    def __call__(self, item: tuple[int, InputUnit]) -> int:
        index, unit = item
        p = self.params
        table = unit.read()
        # Exact keys come from the text as read: a page copied to another host loses different
        # boilerplate lines there, and must still match its original exactly.
        keys_text = key_text(table.column(TEXT))
        texts, _ = self.texts(table, self.repeated_lines() if p.host_lines else None)
        rows = table.num_rows
        gid = _gids(index, rows)
        hi, lo, present = hash128(keys_text)
        url_hi, url_lo, url_present = url_keys(table.column(URL)) if p.url else (hi, lo, np.zeros(rows, bool))
        if p.keep == "longest":
            rank = lengths(texts)
        elif p.keep == "score":
            rank = np.asarray(pc.fill_null(table.column(p.score_column).cast(pa.float64()), -np.inf), dtype=np.float64)
        else:
            rank = np.zeros(rows)
        nodes = pa.table({
            "gid": gid, ID: table.column(ID), "rank": rank,
            "hi": hi, "lo": lo, "present": present, "url_hi": url_hi, "url_lo": url_lo, "url_present": url_present,
        })
        write_table(self.fs, self.work.path("nodes", index), nodes)

        keys = []
        if p.exact:
            keys.append(_keys_table(EXACT, hi[present], lo[present], gid[present]))
        if p.url:
            keys.append(_keys_table(URL_KEY, url_hi[url_present], url_lo[url_present], gid[url_present]))
        if p.near:
            # The edit similarity compares the text that was shingled (boilerplate lines removed).
            keys.append(self._bands(index, texts, key_text(texts) if p.host_lines else keys_text, gid))
        keys = pa.concat_tables(keys)
        partition = _partition(keys.column("hi").to_numpy(), keys.column("lo").to_numpy(), p.partitions)
        write_partitioned(self.fs, self.work.path("keys", index), keys, partition, p.partitions)
        return rows

    def _bands(self, index: int, texts: pa.Array, keys_text: pa.Array, gid: np.ndarray) -> pa.Table:
        p = self.params
        specs = p.signature_specs()
        permutations = [Permutations(s.num_perm, s.seed, p.scheme) for s in specs]
        char_lengths = np.asarray(pc.utf8_length(texts).fill_null(0), dtype=np.int64)
        truncated = int(np.count_nonzero(char_lengths > p.max_doc_chars))
        if truncated:
            count("docs_truncated_for_shingles", truncated)
            texts = pc.utf8_slice_codeunits(texts, 0, p.max_doc_chars)
            char_lengths = np.minimum(char_lengths, p.max_doc_chars)
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
        band_tables = []
        set_offsets = [[np.zeros(1, np.int64)] for _ in specs]
        set_values: list[list[np.ndarray]] = [[] for _ in specs]
        for start, stop in batches(char_lengths, BATCH_CHARS):
            # Folded (NFKC, lowercase) by ShingleText itself: the same code points as folded_text.
            text = ShingleText(texts.slice(start, stop - start), fold=True)
            without = np.ones(stop - start, dtype=bool)
            banded = np.zeros(stop - start, dtype=bool)
            for k, (spec, perms) in enumerate(zip(specs, permutations)):
                shingles = text.shingles(spec.ngram, p.shingle_hash, spec.tokens)
                per_doc = np.bincount(shingles.doc, minlength=stop - start)
                without &= per_doc == 0
                has = per_doc >= p.min_shingles
                banded |= has
                # Documents without (enough) shingles get no band keys: an empty signature matches nothing.
                keys = band_keys(signatures(shingles, stop - start, perms)[has], spec.bands, spec.rows, salt=k)
                owners = np.repeat(gid[start:stop][has], spec.bands)
                band_tables.append(_keys_table(BAND, np.zeros(len(owners), np.uint64), keys.reshape(-1), owners))
                if p.verify:
                    distinct = shingles.distinct()
                    set_offsets[k].append(set_offsets[k][-1][-1] + np.cumsum(np.bincount(distinct.doc, minlength=stop - start)))
                    set_values[k].append(distinct.hash)
            count("docs_without_shingles", int(np.count_nonzero(without)))
            count("docs_below_min_shingles", int(np.count_nonzero(~banded & ~without)))
        if p.verify:
            sets = {}
            for k, name in enumerate(SET_COLUMNS[: len(specs)]):
                offsets = pa.array(np.concatenate(set_offsets[k]), pa.int64())
                sets[name] = pa.LargeListArray.from_arrays(offsets, pa.array(np.concatenate(set_values[k] + [np.zeros(0, np.uint32)])))
            if p.edit_threshold is not None or p.same_script:
                sets["key"] = pc.utf8_slice_codeunits(keys_text, 0, p.edit_chars)
            rows = np.arange(len(gid), dtype=np.int64)
            write_partitioned(self.fs, self.work.path("sets", index), pa.table(sets), rows // SET_ROWS, max(1, -(-len(gid) // SET_ROWS)))
        if not band_tables:
            return _keys_table(BAND, np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64))
        return pa.concat_tables(band_tables)


@dataclass(frozen=True)
class Candidates(Phase):
    """Per partition: the pairs that share an exact key, a URL key or an LSH band."""

    def __call__(self, partition: int) -> int:
        p = self.params
        pieces = [read_partition(self.fs, self.work.path("keys", i), partition) for i in range(self.units)]
        table = pa.concat_tables(pieces)
        kind = table.column("kind").to_numpy()
        hi, lo, gid = (table.column(c).to_numpy() for c in ("hi", "lo", "gid"))
        firsts, seconds, kinds = [], [], []
        for k in (EXACT, URL_KEY, BAND):
            at = kind == k
            # Exact and URL groups need only connect; band buckets give every pair to verify.
            all_pairs = p.max_bucket_pairs if (k == BAND and p.verify) else 2
            a, b, chained = group_pairs([hi[at], lo[at]], gid[at], all_pairs)
            if k == BAND and p.verify and chained:
                count("near_buckets_chained", chained)
            firsts.append(a)
            seconds.append(b)
            kinds.append(np.full(len(a), k, np.int8))
        edges = pa.table({"a": np.concatenate(firsts), "b": np.concatenate(seconds), "kind": np.concatenate(kinds)})
        write_table(self.fs, self.work.path("edges", partition), edges)
        return edges.num_rows


@dataclass(frozen=True)
class Verify(Phase):
    """Per chunk of candidate pairs: whether each pair's Jaccard (or edit similarity) passes."""

    def __call__(self, item: tuple[int, int, int]) -> int:
        chunk, start, stop = item
        p = self.params
        pairs = read_table(self.fs, f"{self.work.root}/candidates.arrow").slice(start, stop - start)
        a, b = pairs.column("a").to_numpy(), pairs.column("b").to_numpy()
        sets, keys, scripts = self._sets(np.unique(np.concatenate((a, b))))
        thresholds = (p.threshold, p.char_threshold)[: len(sets)]
        ok = np.zeros(len(a), dtype=bool)
        edited = other_script = 0
        for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
            if p.same_script and other_scripts(scripts[x], scripts[y]):
                other_script += 1
                continue
            ok[i] = any(jaccard(s[x], s[y]) >= t for s, t in zip(sets, thresholds))
            if not ok[i] and p.edit_threshold is not None:
                shorter, longer = sorted((len(keys[x]), len(keys[y])))
                # LCS <= the shorter length, so a pair this unequal cannot reach the threshold.
                if shorter >= p.edit_threshold * longer:
                    edited += 1
                    ok[i] = edit_similarity(keys[x], keys[y]) >= p.edit_threshold
        count("near_pairs_edit_compared", edited)
        count("near_pairs_other_script", other_script)
        write_table(self.fs, self.work.path("verified", chunk), pa.table({"ok": ok}))
        return int(ok.sum())

    def _sets(self, gids: np.ndarray) -> tuple[list[dict[int, np.ndarray]], dict[int, str], dict[int, int]]:
        """Per signature the shingle hashes of each document, its key text and its Han script."""
        hashes: list[dict[int, np.ndarray]] = [{} for _ in self.params.signature_specs()]
        keys: dict[int, str] = {}
        units, rows = gids >> np.int64(32), gids & ROW_MASK
        for unit in np.unique(units).tolist():
            wanted = rows[units == unit]
            for batch in np.unique(wanted // SET_ROWS).tolist():
                table = read_partition(self.fs, self.work.path("sets", unit), batch)
                columns = []
                for name in SET_COLUMNS[: len(hashes)]:
                    column = table.column(name).combine_chunks()
                    columns.append((column.offsets.to_numpy(), column.values.to_numpy()))
                texts = table.column("key") if "key" in table.column_names else None
                for row in wanted[wanted // SET_ROWS == batch].tolist():
                    r = row - batch * SET_ROWS
                    gid = (unit << 32) | row
                    for found, (offsets, values) in zip(hashes, columns):
                        found[gid] = values[offsets[r] : offsets[r + 1]]
                    if texts is not None:
                        keys[gid] = texts[r].as_py()
        scripts = dict.fromkeys(gids.tolist(), NO_SCRIPT)
        if self.params.same_script and keys:
            ids = list(keys)
            scripts.update(zip(ids, han_scripts(pa.array([keys[g] for g in ids], pa.string())).tolist()))
        return hashes, keys, scripts


@dataclass(frozen=True)
class Filter(Phase):
    """Per unit: kept rows with their cluster, dropped rows with reason and duplicate_of."""

    def __call__(self, item: tuple[int, InputUnit, bool]) -> tuple[pa.Table, pa.Table]:
        index, unit, clustered = item
        table = unit.read()
        if self.params.host_lines:
            texts, removed = self.texts(table, self.repeated_lines())
            count("host_lines_removed", removed)
            table = with_column(table, TEXT, texts)
        ids = table.column(ID).combine_chunks() if table.num_rows else pa.array([], pa.string())
        rows = table.num_rows
        cluster, size = ids, np.ones(rows, dtype=np.int64)
        dropped = np.zeros(rows, dtype=bool)
        duplicate_of = pa.nulls(rows, pa.string())
        reason = pa.nulls(rows, pa.string())
        if clustered:
            decisions = read_table(self.fs, self.work.path("decisions", index))
            at = decisions.column("row").to_numpy()
            mask = np.zeros(rows, dtype=bool)
            mask[at] = True
            cluster = pc.replace_with_mask(ids, pa.array(mask), decisions.column("cluster").combine_chunks())
            size[at] = decisions.column("size").to_numpy()
            duplicate_of = pc.replace_with_mask(duplicate_of, pa.array(mask), decisions.column(DUPLICATE_OF).combine_chunks())
            reason = pc.replace_with_mask(reason, pa.array(mask), decisions.column(REASON).combine_chunks())
            dropped = np.asarray(pc.is_valid(duplicate_of), dtype=bool)
        table = with_column(with_column(table, DUP_CLUSTER, cluster), DUP_CLUSTER_SIZE, pa.array(size))
        keep = pa.array(~dropped)
        rejected = table.filter(pc.invert(keep))
        rejected = with_column(rejected, DUPLICATE_OF, duplicate_of.filter(pc.invert(keep)))
        rejected = with_column(rejected, REASON, reason.filter(pc.invert(keep)))
        return table.filter(keep), rejected
