"""The executor interface: map a picklable function over items, yield results as they finish."""

from __future__ import annotations

import abc
from typing import Any, Callable, Iterator, Sequence


class Executor(abc.ABC):
    workers: int

    @abc.abstractmethod
    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """Yield `(index, fn(items[index]))` in completion order; a task's exception is raised."""

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
