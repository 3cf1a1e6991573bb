"""Loading and validating a pipeline config: YAML, `--set` overrides, then pydantic models.

Everything is checked before any work starts. Every problem is a `ConfigError` whose message
is one line naming the field, e.g. `stages[quality].params.min_chars: Input should be ...`.
"""

from __future__ import annotations

import graphlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from corpusforge import registry
from corpusforge.io.files import expand_paths
from corpusforge.raw_config import apply_override, load_raw
from corpusforge.stage import GlobalStage, Params, ShardStage


class ConfigError(Exception):
    """A problem with the config, found before any work started."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(BaseModel):
    # Reader options (text_field, ...) sit beside `paths` and are checked against the reader.
    model_config = ConfigDict(extra="allow")

    paths: list[str] = []  # a reader may find its input otherwise (the `hf` reader's `dataset`)
    format: str = "auto"

    @field_validator("paths", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StageConfig(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    stage: str
    inputs: list[str] = []
    # Stages whose output directory this stage reads as a resource (a model, a tokenizer).
    uses: dict[str, str] = {}
    params: dict[str, Any] = {}
    save: bool = False
    keep_rejected: bool | None = None

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class IOConfig(_Strict):
    format: Literal["arrow", "parquet"] = "arrow"
    compression: Literal["zstd", "lz4"] | None = None
    shard_size_mb: float = Field(256.0, gt=0)
    keep_rejected: bool = True


class ExecutorConfig(_Strict):
    type: Literal["local", "dask"] = "local"
    workers: int | None = Field(None, ge=1)
    address: str | None = None


class PipelineConfig(_Strict):
    output: str = "output"
    sources: dict[str, SourceConfig] = {}
    stages: list[StageConfig]
    io: IOConfig = IOConfig()
    executor: ExecutorConfig = ExecutorConfig()


class ResolvedStage:
    """A stage config with its class and validated params."""

    def __init__(self, config: StageConfig, cls: type, params: Params):
        self.config = config
        self.cls = cls
        self.params = params

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def is_global(self) -> bool:
        return issubclass(self.cls, GlobalStage)

    @property
    def produces_artefact(self) -> bool:
        return self.is_global and self.cls.produces_artefact


class ResolvedSource:
    def __init__(self, name: str, config: SourceConfig, reader: str, files: list[str], params: Params):
        self.name = name
        self.config = config
        self.reader = reader
        self.files = files
        self.params = params


class Pipeline:
    """A validated config: sources with their files found, stages with their classes."""

    def __init__(self, config: PipelineConfig, sources: dict[str, ResolvedSource], stages: dict[str, ResolvedStage]):
        self.config = config
        self.sources = sources
        self.stages = stages  # in config order

    def keep_rejected(self, stage_id: str) -> bool:
        own = self.stages[stage_id].config.keep_rejected
        return self.config.io.keep_rejected if own is None else own


# --- loading ----------------------------------------------------------------------------------


def _location(raw: dict[str, Any], loc: tuple) -> str:
    """`stages.2.params.x` -> `stages[quality].params.x`: name stages by id, not position."""
    out = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            label = part
            if isinstance(node, list) and part < len(node) and isinstance(node[part], dict) and "id" in node[part]:
                label = node[part]["id"]
            out += f"[{label}]"
        else:
            out += f".{part}" if out else str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _first_error(error: ValidationError, raw: dict[str, Any], prefix: str = "") -> str:
    first = error.errors()[0]
    where = _location(raw, tuple(first["loc"])) if not prefix else prefix + "".join(
        f".{p}" if isinstance(p, str) else f"[{p}]" for p in first["loc"]
    )
    return f"{where}: {first['msg']}" if where else first["msg"]


def _find_files(patterns: list[str], find, where: str) -> list[str]:
    """A source's inputs, or the config error naming the pattern that matched nothing."""
    try:
        files = find(patterns)
    except FileNotFoundError as e:
        index = patterns.index(str(e.args[0])) if str(e.args[0]) in patterns else 0
        raise ConfigError(f"{where}.paths[{index}]: no such file: {e.args[0]}") from None
    except ValueError as e:
        raise ConfigError(f"{where}.paths: {e}") from None
    if not files:
        raise ConfigError(f"{where}.paths: no input named")
    return files


def load(path: str | Path, overrides: list[str] = ()) -> Pipeline:
    """Read, override and validate a config file."""
    raw = load_raw(path, ConfigError)
    for assignment in overrides:
        apply_override(raw, assignment, ConfigError)
    return validate(raw)


def validate(raw: dict[str, Any]) -> Pipeline:
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_first_error(e, raw)) from None

    sources: dict[str, ResolvedSource] = {}
    for name, source in config.sources.items():
        where = f"sources.{name}"
        fmt = source.format
        try:
            if fmt == "auto":
                files = _find_files(source.paths, expand_paths, where)
                fmt = registry.reader_for_path(files[0])
                if fmt is None:
                    raise ConfigError(f"{where}.format: cannot tell the format of {files[0]}; set format explicitly")
            reader = registry.reader_class(fmt)
        except KeyError as e:
            raise ConfigError(f"{where}.format: {e.args[0]}") from None
        try:
            params = reader.Params.model_validate(source.options)
        except ValidationError as e:
            raise ConfigError(_first_error(e, raw, where)) from None
        files = _find_files(source.paths, reader(params).find_files, where)
        sources[name] = ResolvedSource(name, source, fmt, files, params)

    stages: dict[str, ResolvedStage] = {}
    for stage in config.stages:
        where = f"stages[{stage.id}]"
        if stage.id in stages or stage.id in sources:
            raise ConfigError(f"{where}.id: duplicate id {stage.id!r}")
        try:
            cls = registry.stage_class(stage.stage)
        except KeyError as e:
            raise ConfigError(f"{where}.stage: {e.args[0]}") from None
        if not (issubclass(cls, (ShardStage, GlobalStage))):
            raise ConfigError(f"{where}.stage: {stage.stage!r} is not a stage")
        try:
            params = cls.Params.model_validate(stage.params)
        except ValidationError as e:
            raise ConfigError(_first_error(e, raw, f"{where}.params")) from None
        stages[stage.id] = ResolvedStage(stage, cls, params)

    for stage in stages.values():
        where = f"stages[{stage.id}]"
        if not stage.config.inputs:
            raise ConfigError(f"{where}.inputs: a stage needs at least one input")
        for i, name in enumerate(stage.config.inputs):
            if name not in sources and name not in stages:
                raise ConfigError(f"{where}.inputs[{i}]: unknown source or stage {name!r}")
            if name in stages and stages[name].produces_artefact:
                raise ConfigError(f"{where}.inputs[{i}]: {name!r} produces an artefact, not documents; name it under uses")
        for use, name in stage.config.uses.items():
            if use not in stage.cls.uses_stages:
                wanted = ", ".join(stage.cls.uses_stages) or "nothing"
                raise ConfigError(f"{where}.uses.{use}: {stage.config.stage!r} uses {wanted}")
            if name not in stages:
                raise ConfigError(f"{where}.uses.{use}: unknown stage {name!r}")
            if stages[name].cls.name != stage.cls.uses_stages[use]:
                raise ConfigError(
                    f"{where}.uses.{use}: {name!r} is a {stages[name].cls.name!r} stage, not {stage.cls.uses_stages[use]!r}"
                )
        for use, kind in stage.cls.uses_stages.items():
            if use not in stage.config.uses:
                raise ConfigError(f"{where}.uses.{use}: missing; name the {kind!r} stage it reads (uses: {{{use}: <stage id>}})")
        used = {use: stages[name].cls(stages[name].params) for use, name in stage.config.uses.items()}
        try:
            stage.cls(stage.params).check_uses(used)
        except ValueError as e:
            raise ConfigError(f"{where}.{e}") from None

    graph = {sid: set(s.config.inputs) | set(s.config.uses.values()) for sid, s in stages.items()}
    try:
        tuple(graphlib.TopologicalSorter({k: v & stages.keys() for k, v in graph.items()}).static_order())
    except graphlib.CycleError as e:
        cycle = " -> ".join(e.args[1])
        raise ConfigError(f"stages: cycle {cycle}") from None
    return Pipeline(config, sources, stages)
