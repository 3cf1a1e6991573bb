"""The DAG of a pipeline: order, targets, what is finished, and how shard stages fuse.

A chain of shard stages in which each stage feeds only the next one runs as one task per input
shard, with nothing written in between unless a stage says `save: true`. Global stages, and
stages read by more than one consumer, break chains: their output is always materialised.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field

import fsspec

from corpusforge.io import Manifest
from corpusforge.pipeline.config import Pipeline
from corpusforge.pipeline.fingerprint import fingerprints


def topological_order(pipeline: Pipeline) -> list[str]:
    """Stage ids, dependencies first; ties keep config order, so plans read like the config."""
    position = {sid: i for i, sid in enumerate(pipeline.stages)}
    sorter = graphlib.TopologicalSorter()
    for sid, stage in pipeline.stages.items():
        deps = [d for d in (*stage.config.inputs, *stage.config.uses.values()) if d in pipeline.stages]
        sorter.add(sid, *deps)
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def ancestors(pipeline: Pipeline, targets: list[str]) -> set[str]:
    """The targets and every stage they need."""
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        sid = stack.pop()
        if sid in seen or sid not in pipeline.stages:
            continue
        seen.add(sid)
        stage = pipeline.stages[sid].config
        stack.extend(stage.inputs)
        stack.extend(stage.uses.values())
    return seen


@dataclass
class Segment:
    """Stages run together: one fused chain of shard stages, or one global stage."""

    stages: list[str]
    inputs: list[str]  # sources or finished stages the head stage reads
    is_global: bool = False


@dataclass
class Plan:
    order: list[str]  # needed stages, topological
    targets: list[str]
    content_fp: dict[str, str]
    output_fp: dict[str, str]
    materialized: set[str]  # stages whose rows are written to OUTPUT/<id>/
    done: set[str]
    segments: list[Segment] = field(default_factory=list)

    def status(self, stage_id: str) -> str:
        return "skip" if stage_id in self.done else "run"


def make_plan(pipeline: Pipeline, output: str, targets: list[str] | None = None) -> Plan:
    order_all = topological_order(pipeline)
    sinks = [sid for sid in order_all if not any(
        sid in s.config.inputs or sid in s.config.uses.values() for s in pipeline.stages.values()
    )]
    targets = list(targets) if targets else sinks
    needed = ancestors(pipeline, targets)
    order = [sid for sid in order_all if sid in needed]
    content_fp, output_fp = fingerprints(pipeline, order)

    consumers: dict[str, list[str]] = {sid: [] for sid in order}
    used_as_resource: set[str] = set()
    for sid in order:
        config = pipeline.stages[sid].config
        for name in config.inputs:
            if name in consumers:
                consumers[name].append(sid)
        used_as_resource.update(config.uses.values())

    def fuses_into(sid: str) -> str | None:
        """The consumer `sid` feeds inside one fused task, if the chain allows it."""
        stage = pipeline.stages[sid]
        if stage.is_global or sid in targets or sid in used_as_resource or len(consumers[sid]) != 1:
            return None
        (consumer,) = consumers[sid]
        consumer_stage = pipeline.stages[consumer]
        if consumer_stage.is_global or consumer_stage.config.inputs != [sid]:
            return None
        return consumer

    materialized = {sid for sid in order if pipeline.stages[sid].config.save or fuses_into(sid) is None}

    fs, root = fsspec.core.url_to_fs(output)
    done: set[str] = set()
    for sid in reversed(order):
        manifest = Manifest.read(fs, f"{root}/{sid}")
        if manifest is None or manifest.fingerprint != output_fp[sid]:
            continue
        # An unsaved stage's rows exist only inside its consumer's task: it is finished only
        # if that consumer is.
        if sid in materialized or fuses_into(sid) in done:
            done.add(sid)

    plan = Plan(order, targets, content_fp, output_fp, materialized, done)
    open_segment: dict[str, Segment] = {}
    for sid in order:
        if sid in done:
            continue
        stage = pipeline.stages[sid]
        inputs = stage.config.inputs
        upstream = inputs[0] if len(inputs) == 1 else None
        if not stage.is_global and upstream in open_segment and fuses_into(upstream) == sid:
            segment = open_segment.pop(upstream)
            segment.stages.append(sid)
        else:
            segment = Segment([sid], list(inputs), is_global=stage.is_global)
            plan.segments.append(segment)
        if not stage.is_global:
            open_segment[sid] = segment
    return plan
