"""Executors run a function over items (shards) and know nothing about stages."""

from corpusforge.executors.base import Executor


def make_executor(kind: str, workers: int | None = None, address: str | None = None) -> Executor:
    if kind == "local":
        from corpusforge.executors.local import LocalExecutor

        return LocalExecutor(workers)
    if kind == "dask":
        from corpusforge.executors.dask import DaskExecutor

        return DaskExecutor(workers, address)
    raise ValueError(f"unknown executor {kind!r}")


__all__ = ["Executor", "make_executor"]
