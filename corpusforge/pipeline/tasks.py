"""What runs inside a worker: one fused segment over one input unit, or one global-stage item.

Each task writes its shards atomically, then a completion marker with its stats. A task whose
marker exists is finished: a resumed run skips it, and the shards it names are complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa

from corpusforge import registry
from corpusforge.io import ShardFormat, read_json, url_to_fs, write_json, write_shards
from corpusforge.io.manifest import ShardInfo
from corpusforge.records import REASON, content_bytes
from corpusforge.stage import InputUnit, ShardStage, built_stage
from corpusforge.stats import StageStats, collecting


@dataclass(frozen=True)
class StageSpec:
    """Enough to rebuild a stage in a worker, and to say where its output goes."""

    id: str
    stage: str
    params: dict[str, Any]
    uses: dict[str, str]
    save: bool
    keep_rejected: bool

    def build(self):
        return built_stage(registry.stage_class(self.stage), self.params, self.uses)


@dataclass(frozen=True)
class Layout:
    """Where outputs go and in which format."""

    output: str
    fmt: ShardFormat

    def stage_dir(self, stage_id: str) -> str:
        return f"{self.output}/{stage_id}"

    def rejected_dir(self, stage_id: str) -> str:
        return f"{self.output}/_rejected/{stage_id}"


@dataclass(frozen=True)
class SegmentTask:
    index: int
    stages: tuple[StageSpec, ...]
    layout: Layout
    marker: str
    input: InputUnit

    @property
    def stem(self) -> str:
        return f"part-{self.index:06d}"


def _infos(infos: list[ShardInfo]) -> list[dict[str, Any]]:
    return [info.__dict__ for info in infos]


def _write_rejected(rejected: pa.Table, spec: StageSpec, task_stem: str, layout: Layout, fs, stats: StageStats) -> list[ShardInfo]:
    if rejected is None or rejected.num_rows == 0:
        return []
    counts = rejected.column(REASON).value_counts()
    for reason, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
        stats.dropped[reason or "unspecified"] += n
    if not spec.keep_rejected:
        return []
    return write_shards(rejected, fs, layout.rejected_dir(spec.id), task_stem, layout.fmt)


def apply_stage(stage: ShardStage, spec: StageSpec, table: pa.Table, stem: str, layout: Layout, fs, stats: StageStats) -> tuple[pa.Table, dict[str, Any]]:
    """Run one shard stage on one table: count, write rejected rows, write kept rows if saved."""
    start = time.perf_counter()
    stats.docs_in += table.num_rows
    stats.bytes_in += content_bytes(table)
    with collecting(stats):
        stage.ensure_setup()
        kept, rejected = stage.apply(table)
    rejected_files = _write_rejected(rejected, spec, stem, layout, fs, stats)
    stats.docs_out += kept.num_rows
    stats.bytes_out += content_bytes(kept)
    files = write_shards(kept, fs, layout.stage_dir(spec.id), stem, layout.fmt) if spec.save else []
    stats.wall_s += time.perf_counter() - start
    return kept, {"shards": _infos(files), "rejected": _infos(rejected_files), "stats": stats.to_dict()}


def run_segment_task(task: SegmentTask) -> dict[str, Any]:
    fs, _ = url_to_fs(task.layout.output)
    finished = read_json(fs, task.marker)
    if finished is not None:
        return finished
    head_stats = StageStats()
    start = time.perf_counter()
    with collecting(head_stats):
        table = task.input.read()
    head_stats.wall_s += time.perf_counter() - start
    result: dict[str, Any] = {"index": task.index, "stages": {}}
    for position, spec in enumerate(task.stages):
        stats = head_stats if position == 0 else StageStats()
        table, result["stages"][spec.id] = apply_stage(spec.build(), spec, table, task.stem, task.layout, fs, stats)
    write_json(fs, task.marker, result)
    return result


@dataclass(frozen=True)
class MapTask:
    """One item of a global stage's `ctx.map` phase."""

    fn: Callable[[Any], Any]
    item: Any
    marker: str


def run_map_task(task: MapTask) -> dict[str, Any]:
    fs, _ = url_to_fs(task.marker)
    finished = read_json(fs, task.marker)
    if finished is not None:
        return finished
    stats = StageStats()
    start = time.perf_counter()
    with collecting(stats):
        value = task.fn(task.item)
    stats.wall_s = time.perf_counter() - start
    result = {"value": value, "stats": stats.to_dict()}
    write_json(fs, task.marker, result)
    return result


@dataclass(frozen=True)
class EmitTask:
    """One item of a global stage's `ctx.emit` phase: its tables become the stage's shard i."""

    fn: Callable[[Any], tuple[pa.Table, pa.Table | None]]
    item: Any
    index: int
    spec: StageSpec
    layout: Layout
    marker: str


def run_emit_task(task: EmitTask) -> dict[str, Any]:
    fs, _ = url_to_fs(task.layout.output)
    finished = read_json(fs, task.marker)
    if finished is not None:
        return finished
    stats = StageStats()
    start = time.perf_counter()
    stem = f"part-{task.index:06d}"
    with collecting(stats):
        kept, rejected = task.fn(task.item)
    rejected_files = _write_rejected(rejected, task.spec, stem, task.layout, fs, stats)
    stats.docs_in += kept.num_rows + (rejected.num_rows if rejected is not None else 0)
    stats.bytes_in += content_bytes(kept) + (content_bytes(rejected) if rejected is not None else 0)
    stats.docs_out += kept.num_rows
    stats.bytes_out += content_bytes(kept)
    files = write_shards(kept, fs, task.layout.stage_dir(task.spec.id), stem, task.layout.fmt)
    stats.wall_s = time.perf_counter() - start
    result = {"shards": _infos(files), "rejected": _infos(rejected_files), "stats": stats.to_dict()}
    write_json(fs, task.marker, result)
    return result
