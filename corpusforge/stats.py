"""Per-stage accounting: documents and bytes in and out, drops by reason, bad records, timings.

Stage code counts through `Stage.count` and `Stage.bad_record`, which write to the stats of the
task the current thread is running; the runner merges task stats into the stage's report.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

log = logging.getLogger("corpusforge")

# Enough locations to find the bad input again without letting a broken file bloat the report.
MAX_ERROR_SAMPLES = 20


@dataclass
class StageStats:
    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    error_samples: list[dict[str, str]] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)
    wall_s: float = 0.0

    def merge(self, other: StageStats) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.dropped.update(other.dropped)
        self.errors.update(other.errors)
        room = MAX_ERROR_SAMPLES - len(self.error_samples)
        self.error_samples.extend(other.error_samples[: max(room, 0)])
        self.counters.update(other.counters)
        self.wall_s += other.wall_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "dropped": dict(sorted(self.dropped.items())),
            "errors": dict(sorted(self.errors.items())),
            "error_samples": self.error_samples,
            "counters": dict(sorted(self.counters.items())),
            "wall_s": round(self.wall_s, 4),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageStats:
        return cls(
            docs_in=d["docs_in"],
            docs_out=d["docs_out"],
            bytes_in=d["bytes_in"],
            bytes_out=d["bytes_out"],
            dropped=Counter(d["dropped"]),
            errors=Counter(d["errors"]),
            error_samples=list(d["error_samples"]),
            counters=Counter(d["counters"]),
            wall_s=d["wall_s"],
        )


_current = threading.local()


@contextmanager
def collecting(stats: StageStats, log_bad_records: bool = True) -> Iterator[StageStats]:
    """Route `count` and `bad_record` calls made by this thread into `stats`. A phase that reads
    input a second time passes `log_bad_records=False`: its bad records were logged the first time."""
    previous = getattr(_current, "stats", None), getattr(_current, "log_bad_records", True)
    _current.stats, _current.log_bad_records = stats, log_bad_records
    try:
        yield stats
    finally:
        _current.stats, _current.log_bad_records = previous


def _stats() -> StageStats:
    stats = getattr(_current, "stats", None)
    # Outside a task (a stage called directly, as tests do) counts go to a throwaway object.
    return stats if stats is not None else StageStats()


def count(key: str, n: int = 1) -> None:
    _stats().counters[key] += n


def bad_record(reason: str, location: str, detail: str = "", n: int = 1) -> None:
    """Count `n` records that could not be read, and log where they were; the run goes on."""
    stats = _stats()
    stats.errors[reason] += n
    if len(stats.error_samples) < MAX_ERROR_SAMPLES:
        stats.error_samples.append({"reason": reason, "location": location, "detail": detail[:200]})
    if getattr(_current, "log_bad_records", True):
        log.warning("bad record (%s) at %s%s", reason, location, f": {detail[:200]}" if detail else "")
