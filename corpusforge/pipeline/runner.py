"""Drives a plan on an executor: segment by segment, skipping what is finished."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import pyarrow as pa

from corpusforge.executors import Executor
from corpusforge.io import Manifest, ShardFormat, ShardInfo, read_json, url_to_fs, write_json
from corpusforge.pipeline import report
from corpusforge.pipeline.config import Pipeline
from corpusforge.pipeline.dag import Plan, Segment, make_plan
from corpusforge.pipeline.fingerprint import digest, file_keys
from corpusforge.stage import GlobalContext, InputUnit, ReadUnit, StageInput, built_stage
from corpusforge import registry
from corpusforge.pipeline.tasks import (
    EmitTask,
    Layout,
    MapTask,
    SegmentTask,
    StageSpec,
    run_emit_task,
    run_map_task,
    run_segment_task,
)
from corpusforge.stats import StageStats, collecting

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger("corpusforge")

# A file holding the output fingerprint a directory's contents were made for, so a changed
# config clears stale files first, while a resumed run keeps what the same config finished.
FINGERPRINT_FILE = ".fingerprint"


class ProgressReporter:
    """One progress bar per stage (or phase) on a terminal, drawn by rich on `console` (a console
    on stderr by default); one plain line each elsewhere."""

    def __init__(self, console: Console | None, enabled: bool):
        self.console = console
        self.enabled = enabled

    def terminal_console(self) -> Console:
        if self.console is None:
            from rich.console import Console

            self.console = Console(stderr=True)
        return self.console

    def track(self, label: str, total: int, skipped: int):
        return _Bar(self, label, total, skipped)


class _Bar:
    def __init__(self, owner: ProgressReporter, label: str, total: int, skipped: int):
        self.owner, self.label, self.total, self.skipped = owner, label, total, skipped
        self.start = time.perf_counter()
        self.progress = None

    def __enter__(self):
        if self.owner.enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=self.owner.terminal_console(), transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=self.total, completed=self.skipped)
        return self

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
        elif self.owner.enabled:
            resumed = f", {self.skipped} already done" if self.skipped else ""
            print(f"{self.label}: {self.total} tasks{resumed} in {time.perf_counter() - self.start:.1f}s", file=sys.stderr)


@dataclass
class RunResult:
    plan: Plan
    stats: dict[str, StageStats] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


class Runner:
    def __init__(self, pipeline: Pipeline, executor: Executor, output: str | None = None, console: Console | None = None, progress: bool = True):
        self.pipeline = pipeline
        self.executor = executor
        self.output = (output or pipeline.config.output).rstrip("/")
        self.fs, root = url_to_fs(self.output)
        if "://" not in self.output:
            self.output = root
        io = pipeline.config.io
        self.layout = Layout(
            self.output,
            ShardFormat(io.format, io.compression, int(io.shard_size_mb * 2**20)),
        )
        self.progress = ProgressReporter(console, progress)

    # --- planning ------------------------------------------------------------------------

    def plan(self, targets: list[str] | None = None) -> Plan:
        return make_plan(self.pipeline, self.output, targets)

    def spec(self, stage_id: str, plan: Plan) -> StageSpec:
        stage = self.pipeline.stages[stage_id]
        return StageSpec(
            id=stage_id,
            stage=stage.config.stage,
            params=stage.params.model_dump(mode="json"),
            uses={k: self.layout.stage_dir(v) for k, v in stage.config.uses.items()},
            save=stage_id in plan.materialized,
            keep_rejected=self.pipeline.keep_rejected(stage_id),
        )

    # --- running -------------------------------------------------------------------------

    def run(self, targets: list[str] | None = None) -> RunResult:
        started = time.time()
        plan = self.plan(targets)
        result = RunResult(plan)
        for segment in plan.segments:
            if segment.is_global:
                self._run_global(segment, plan, result)
            else:
                self._run_segment(segment, plan, result)
        result.report = report.build(self, plan, started)
        write_json(self.fs, f"{self.output}/report.json", result.report)
        report.write_html(self.fs, self.output, result.report)
        return result

    def _prepare_dirs(self, stage_id: str, plan: Plan) -> None:
        """Clear what a different config left in this stage's directories; keep our own."""
        directory = self.layout.stage_dir(stage_id)
        stamp = f"{directory}/{FINGERPRINT_FILE}"
        current = None
        if self.fs.exists(stamp):
            with self.fs.open(stamp, "r") as f:
                current = f.read().strip()
        if current != plan.output_fp[stage_id]:
            for path in (directory, self.layout.rejected_dir(stage_id)):
                if self.fs.exists(path):
                    self.fs.rm(path, recursive=True)
            self.fs.makedirs(directory, exist_ok=True)
            with self.fs.open(stamp, "w") as f:
                f.write(plan.output_fp[stage_id])

    def stage_input(self, name: str) -> StageInput:
        """A source or finished stage, cut into units: source file parts or upstream shards."""
        units: list[InputUnit] = []
        if name in self.pipeline.sources:
            source = self.pipeline.sources[name]
            params = source.params.model_dump(mode="json")
            reader = built_stage(registry.reader_class(source.reader), params, {})
            for path, key in file_keys(source.files).items():
                fs, root = url_to_fs(path)
                for part in reader.parts(fs, root):
                    units.append(InputUnit(reader=(source.reader, params), unit=ReadUnit(name, path, f"{name}/{key}", part)))
        else:
            directory = self.layout.stage_dir(name)
            manifest = Manifest.read(self.fs, directory)
            units.extend(InputUnit(shard=f"{directory}/{s.name}") for s in manifest.shards)
        return StageInput(name, units)

    def _run_segment(self, segment: Segment, plan: Plan, result: RunResult) -> None:
        for stage_id in segment.stages:
            self._prepare_dirs(stage_id, plan)
        specs = tuple(self.spec(s, plan) for s in segment.stages)
        state = f"{self.output}/_state/{digest([plan.output_fp[s] for s in segment.stages] + [s.save for s in specs])[:20]}"
        tasks = [
            SegmentTask(index=i, stages=specs, layout=self.layout, marker=f"{state}/{i:06d}.json", input=unit)
            for i, unit in enumerate(u for name in segment.inputs for u in self.stage_input(name).units)
        ]
        outcomes: list[dict[str, Any] | None] = [read_json(self.fs, t.marker) for t in tasks]
        pending = [t for t, o in zip(tasks, outcomes) if o is None]
        label = " + ".join(segment.stages)
        with self.progress.track(label, len(tasks), len(tasks) - len(pending)) as bar:
            for position, outcome in self.executor.map_unordered(run_segment_task, pending):
                outcomes[pending[position].index] = outcome
                bar.advance()
        for spec in specs:
            stats = StageStats()
            shards: list[ShardInfo] = []
            per_task = []
            for task, outcome in zip(tasks, outcomes):
                part = outcome["stages"][spec.id]
                stats.merge(StageStats.from_dict(part["stats"]))
                shards.extend(ShardInfo(**s) for s in part["shards"])
                per_task.append(_task_entry(task.index, task.input.describe(), part["shards"], part["stats"]))
            kind = "shards" if spec.save else "fused"
            manifest = Manifest(plan.output_fp[spec.id], kind, shards, stats.to_dict(), per_task)
            manifest.write(self.fs, self.layout.stage_dir(spec.id))
            result.stats[spec.id] = stats
        if self.fs.exists(state):
            self.fs.rm(state, recursive=True)
        if self.fs.exists(f"{self.output}/_state") and not self.fs.ls(f"{self.output}/_state"):
            self.fs.rm(f"{self.output}/_state", recursive=True)

    def _run_global(self, segment: Segment, plan: Plan, result: RunResult) -> None:
        (stage_id,) = segment.stages
        self._prepare_dirs(stage_id, plan)
        spec = self.spec(stage_id, plan)
        stage = spec.build()
        work_dir = f"{self.output}/_work/{stage_id}-{plan.output_fp[stage_id][:20]}"
        ctx = RunnerContext(self, spec, plan, work_dir, [self.stage_input(name) for name in segment.inputs])
        stats = StageStats()
        start = time.perf_counter()
        with collecting(stats):
            stage.ensure_setup()
            stage.run(ctx)
        stats.merge(ctx.emitted)
        if not any(name in self.pipeline.sources for name in segment.inputs):
            # What came in is what the upstream stages put out, not what this stage emitted
            # (kept plus rejected): a mixture repeats documents, an artefact stage emits none.
            upstream = [Manifest.read(self.fs, self.layout.stage_dir(name)).stats for name in segment.inputs]
            stats.docs_in = sum(u.get("docs_out", 0) for u in upstream)
            stats.bytes_in = sum(u.get("bytes_out", 0) for u in upstream)
        stats.wall_s = time.perf_counter() - start
        if stage.produces_artefact:
            kind, shards = "artefact", ctx.artefact_files()
        else:
            kind, shards = "shards", ctx.shards
        manifest = Manifest(plan.output_fp[stage_id], kind, shards, stats.to_dict(), ctx.per_task)
        manifest.write(self.fs, self.layout.stage_dir(stage_id))
        result.stats[stage_id] = stats
        if self.fs.exists(work_dir):
            self.fs.rm(work_dir, recursive=True)
        if self.fs.exists(f"{self.output}/_work") and not self.fs.ls(f"{self.output}/_work"):
            self.fs.rm(f"{self.output}/_work", recursive=True)


def _task_entry(index: int, source: str, shards: list[dict[str, Any]], stats: dict[str, Any]) -> dict[str, Any]:
    """One task's line in the report: what it read, what it wrote, and its accounting."""
    counts = {k: v for k, v in stats.items() if k != "error_samples"}
    return {"task": index, "input": source, "shards": [s["name"] for s in shards], **counts}


class RunnerContext(GlobalContext):
    """A global stage's view of the run: inputs, directories, and phases on the executor."""

    def __init__(self, runner: Runner, spec: StageSpec, plan: Plan, work_dir: str, inputs: list[StageInput]):
        self.runner = runner
        self.spec = spec
        self.fs = runner.fs
        self.inputs = inputs
        self.output_dir = runner.layout.stage_dir(spec.id)
        self.work_dir = work_dir
        self.emitted = StageStats()
        self.shards: list[ShardInfo] = []
        self.per_task: list[dict[str, Any]] = []

    def _phase(self, phase: str, label: str, run: Callable[[Any], dict[str, Any]], tasks: Sequence[Any]) -> list[dict[str, Any]]:
        outcomes: list[dict[str, Any] | None] = [read_json(self.fs, t.marker) for t in tasks]
        pending = [i for i, o in enumerate(outcomes) if o is None]
        with self.runner.progress.track(f"{self.spec.id}: {label}", len(tasks), len(tasks) - len(pending)) as bar:
            for position, outcome in self.runner.executor.map_unordered(run, [tasks[i] for i in pending]):
                outcomes[pending[position]] = outcome
                bar.advance()
        return outcomes

    def map(self, phase: str, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        base = f"{self.work_dir}/{phase}/_markers"
        tasks = [MapTask(fn, item, f"{base}/{i:06d}.json") for i, item in enumerate(items)]
        outcomes = self._phase(phase, phase, run_map_task, tasks)
        for outcome in outcomes:
            self.emitted.merge(StageStats.from_dict(outcome["stats"]))
        return [outcome["value"] for outcome in outcomes]

    def emit(self, phase: str, fn: Callable[[Any], tuple[pa.Table, pa.Table | None]], items: Sequence[Any]) -> None:
        base = f"{self.work_dir}/{phase}/_markers"
        tasks = [
            EmitTask(fn, item, i, self.spec, self.runner.layout, f"{base}/{i:06d}.json") for i, item in enumerate(items)
        ]
        for task, outcome in zip(tasks, self._phase(phase, phase, run_emit_task, tasks)):
            self.emitted.merge(StageStats.from_dict(outcome["stats"]))
            self.shards.extend(ShardInfo(**s) for s in outcome["shards"])
            self.per_task.append(_task_entry(task.index, f"{phase}[{task.index}]", outcome["shards"], outcome["stats"]))

    def artefact_files(self) -> list[ShardInfo]:
        """The files an artefact stage wrote, with sizes and checksums, for its manifest."""
        import xxhash

        infos = []
        for path in sorted(self.fs.find(self.output_dir)):
            name = path[len(self.output_dir) + 1 :]
            if name.startswith(".") or name == "manifest.json":
                continue
            with self.fs.open(path, "rb") as f:
                data = f.read()
            infos.append(ShardInfo(name=name, rows=0, bytes=len(data), checksum=xxhash.xxh3_64_hexdigest(data)))
        return infos
