"""Fingerprints decide what is finished: same config, inputs and code version, same fingerprint.

A stage's *content* fingerprint covers what its rows are (stage, code version, params, the
content fingerprints of its inputs and resources, the shard layout); it flows downstream, so a
changed param re-runs that stage and everything after it and nothing before. Its *output*
fingerprint adds what only changes its own directory (whether rejected rows are kept).
"""

from __future__ import annotations

import json
import os
from typing import Any

import fsspec
import xxhash

import corpusforge
from corpusforge import registry
from corpusforge.pipeline.config import Pipeline
from corpusforge.io.files import file_stamp
from corpusforge.stage import built_stage


def digest(obj: Any) -> str:
    return xxhash.xxh3_128_hexdigest(json.dumps(obj, sort_keys=True, default=str).encode("utf-8"))


def file_keys(files: list[str]) -> dict[str, str]:
    """Each file's path relative to the source's common directory: its identity for doc ids."""
    if len(files) == 1:
        return {files[0]: files[0].rsplit("/", 1)[-1]}
    common = os.path.commonpath(files)
    return {f: os.path.relpath(f, common) if "://" not in f else f[len(common) + 1 :] for f in files}


def source_fingerprint(pipeline: Pipeline, name: str) -> str:
    source = pipeline.sources[name]
    reader = built_stage(registry.reader_class(source.reader), source.params.model_dump(mode="json"), {})
    stamps = []
    for path, key in file_keys(source.files).items():
        fs, root = fsspec.core.url_to_fs(path)
        stamps.append([key, reader.stamp(fs, root)])
    version = [type(reader).version, corpusforge.__version__]
    return digest(
        {"reader": source.reader, "version": version, "params": source.params.model_dump(mode="json"), "files": stamps, "name": name}
    )


def fingerprints(pipeline: Pipeline, order: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(content, output) fingerprints of every source and stage; `order` is topological."""
    content = {name: source_fingerprint(pipeline, name) for name in pipeline.sources}
    output: dict[str, str] = {}
    io = pipeline.config.io.model_dump(mode="json", exclude={"keep_rejected"})
    for stage_id in order:
        stage = pipeline.stages[stage_id]
        content[stage_id] = digest(
            {
                "stage": stage.config.stage,
                "version": [stage.cls.version, corpusforge.__version__],
                "params": stage.params.model_dump(mode="json"),
                "inputs": [content[i] for i in stage.config.inputs],
                "uses": {k: content[v] for k, v in sorted(stage.config.uses.items())},
                "files": [[path, file_stamp(*fsspec.core.url_to_fs(path))] for path in stage.cls(stage.params).files_read()],
                "io": io,
            }
        )
        output[stage_id] = digest([content[stage_id], pipeline.keep_rejected(stage_id)])
    return content, output
