"""The stage API: what a stage author writes.

- `MapStage.process(table) -> table` and `FilterStage.keep(table) -> (mask, reasons)` work on
  one shard's Arrow table. Consecutive shard stages are fused into one task per shard.
- `GlobalStage.run(ctx)` is a few shard-parallel phases (`ctx.map`, `ctx.emit`) plus small
  reductions on the driver, so it runs unchanged on every executor.
- `SourceReader` turns one unit of an input file into a table with the core columns.

Stages never see executors. Heavy state (models) loads in `setup()`, once per worker process,
and is never pickled: a stage travels to workers as its name and params only.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from corpusforge import stats
from corpusforge.records import REASON

if TYPE_CHECKING:
    import fsspec


class Params(BaseModel):
    """Base of every stage's parameters: unknown keys are config errors, not silent no-ops."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(abc.ABC):
    """Common base. Subclasses set `name` (the YAML `stage:` value) and `Params`."""

    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params
    # Bump when a change to the code changes the output, so finished outputs are recomputed.
    version: ClassVar[str] = "1"
    # What this stage reads under `uses:`: {use name: the `name` of the stage that must fill it}.
    # The config is checked against it before any work.
    uses_stages: ClassVar[dict[str, str]] = {}

    def __init__(self, params: Params | None = None, uses: dict[str, str] | None = None):
        self.params = params if params is not None else self.Params()
        # Output directories of the stages named under `uses:` in the config (models, tokenizers).
        self.uses = uses or {}
        self._ready = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            from corpusforge.registry import register_stage

            register_stage(cls)

    def __reduce__(self):
        # A stage travels as its class, params and resources; the receiving process reuses the
        # instance it already built (and set up) for the same stage, so models load once.
        return (built_stage, (type(self), self.params.model_dump(mode="json"), self.uses))

    def setup(self) -> None:
        """Load heavy resources. Called once per worker process, before the first shard."""

    def files_read(self) -> list[str]:
        """Files named in this stage's params that it reads (a given tokenizer, a word list):
        their stamps join its fingerprint, so a changed file re-runs it and what follows."""
        return []

    def check_uses(self, used: dict[str, Stage]) -> None:
        """Check this stage's params against the stages it uses (their params: nothing has run
        yet), before any work. Raise ValueError("params.field: what is wrong")."""

    def ensure_setup(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    @staticmethod
    def count(key: str, n: int = 1) -> None:
        """Add `n` to a named counter of this stage in the run report."""
        stats.count(key, n)

    @staticmethod
    def bad_record(reason: str, location: str, detail: str = "", n: int = 1) -> None:
        """Count and log unreadable records with where they were; the run goes on."""
        stats.bad_record(reason, location, detail, n)


_built: dict[tuple, Stage] = {}


def built_stage(cls: type[Stage], params: dict[str, Any], uses: dict[str, str]) -> Stage:
    """This process's instance of a stage, built on first use and then reused."""
    key = (cls.__module__, cls.__qualname__, json.dumps(params, sort_keys=True, default=str), tuple(sorted(uses.items())))
    stage = _built.get(key)
    if stage is None:
        stage = _built[key] = cls(cls.Params.model_validate(params), uses)
    return stage


class ShardStage(Stage):
    """A stage that sees one shard at a time and returns (kept, rejected-with-reason)."""

    @abc.abstractmethod
    def apply(self, table: pa.Table) -> tuple[pa.Table, pa.Table | None]: ...


class MapStage(ShardStage):
    """Transform a shard: add or rewrite columns. Rows may not be dropped silently."""

    @abc.abstractmethod
    def process(self, table: pa.Table) -> pa.Table: ...

    def apply(self, table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
        return self.process(table), None


class FilterStage(ShardStage):
    """Keep or drop whole documents; every dropped row carries a reason."""

    def annotate(self, table: pa.Table) -> pa.Table:
        """Add score columns before `keep` looks at them (kept and rejected rows both get them)."""
        return table

    @abc.abstractmethod
    def keep(self, table: pa.Table) -> tuple[np.ndarray | pa.Array, Sequence[str | None] | pa.Array]:
        """Return a boolean keep mask and, per row, the reason for dropping it (None if kept)."""

    def apply(self, table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
        table = self.annotate(table)
        mask, reasons = self.keep(table)
        return split_by_mask(table, mask, reasons)


def split_by_mask(
    table: pa.Table, mask: np.ndarray | pa.Array, reasons: Sequence[str | None] | pa.Array
) -> tuple[pa.Table, pa.Table]:
    """Kept rows, and dropped rows with a `reason` column."""
    import pyarrow.compute as pc  # here, not at the top: a run without filters never pays for it

    mask = pa.array(np.asarray(mask, dtype=bool)) if not isinstance(mask, (pa.Array, pa.ChunkedArray)) else mask
    reasons = reasons if isinstance(reasons, (pa.Array, pa.ChunkedArray)) else pa.array(reasons, pa.string())
    dropped_mask = pc.invert(mask)
    rejected = table.filter(dropped_mask).append_column(REASON, reasons.filter(dropped_mask))
    return table.filter(mask), rejected


class GlobalStage(Stage):
    """A stage that needs all of its input at once (dedup, mixture, tokenizer training)."""

    # A global stage whose output is a file (model, tokenizer) rather than document shards.
    produces_artefact: ClassVar[bool] = False

    @abc.abstractmethod
    def run(self, ctx: GlobalContext) -> None: ...


@dataclass(frozen=True)
class InputUnit:
    """One readable piece of a stage's input: a part of a source file, or a finished shard.

    It is small and picklable, so phase functions can be handed units and read them in workers.
    """

    shard: str | None = None
    reader: tuple[str, dict[str, Any]] | None = None  # reader name and params, for a source unit
    unit: ReadUnit | None = None

    def describe(self) -> str:
        """Where the unit is, for the report: a shard path, or a file with its part."""
        if self.unit is None:
            return self.shard
        return self.unit.path if self.unit.part is None else f"{self.unit.path} {self.unit.part}"

    def read(self) -> pa.Table:
        from corpusforge.io import read_shard, url_to_fs
        from corpusforge.registry import reader_class

        if self.unit is not None:
            name, params = self.reader
            reader = built_stage(reader_class(name), params, {})
            reader.ensure_setup()
            return reader.read(url_to_fs(self.unit.path)[0], self.unit)
        fs, path = url_to_fs(self.shard)
        return read_shard(fs, path)


@dataclass(frozen=True)
class StageInput:
    """One input of a global stage: a source or an upstream stage's finished output."""

    id: str
    units: list[InputUnit]  # in a deterministic order


class GlobalContext(abc.ABC):
    """What the runner offers a global stage: its inputs, scratch space and the executor."""

    fs: fsspec.AbstractFileSystem
    inputs: list[StageInput]
    output_dir: str  # where an artefact stage writes its files
    work_dir: str  # scratch space for phase files, kept until the stage completes

    @abc.abstractmethod
    def map(self, phase: str, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Run `fn` over `items` on the executor; results (JSON-serialisable) come back in order.

        Finished items are remembered under `phase`, so a resumed run does not redo them.
        """

    @abc.abstractmethod
    def emit(self, phase: str, fn: Callable[[Any], tuple[pa.Table, pa.Table | None]], items: Sequence[Any]) -> None:
        """Run `fn` over `items`; item i's kept and rejected tables become this stage's shard i."""


@dataclass(frozen=True)
class ReadUnit:
    """A piece of an input file that one task reads."""

    source: str  # the source's name in the config; becomes the `source` column
    path: str  # the file, as fsspec understands it
    key: str  # the file's stable identity (source name + path relative to the source), for ids
    part: Any = None  # reader-specific: a byte range, a row group, ...


class SourceReader(Stage):
    """Reads one unit (a file, or a part of one) of a source into rows with the core columns."""

    # File name endings this reader claims when a source says `format: auto`.
    extensions: ClassVar[tuple[str, ...]] = ()

    def find_files(self, patterns: list[str]) -> list[str]:
        """The inputs the source's `paths` name, in a deterministic order. Default: the files
        they match (globs allowed); a pattern matching nothing raises FileNotFoundError."""
        from corpusforge.io.files import expand_paths

        return expand_paths(patterns)

    def stamp(self, fs: fsspec.AbstractFileSystem, path: str) -> Any:
        """What changes when the input at `path` changes (part of the source's fingerprint)."""
        from corpusforge.io.files import file_stamp

        return file_stamp(fs, path)

    def parts(self, fs: fsspec.AbstractFileSystem, path: str) -> list[Any]:
        """Split one file into independently readable parts. Default: the whole file."""
        return [None]

    @abc.abstractmethod
    def read(self, fs: fsspec.AbstractFileSystem, unit: ReadUnit) -> pa.Table:
        """The rows of `unit`, with at least the core columns (see `records.conform`)."""
