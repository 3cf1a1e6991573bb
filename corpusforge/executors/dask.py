"""A dask.distributed cluster: the one at `--address`, or a LocalCluster started for the run."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Sequence

from corpusforge.executors.base import Executor


class DaskExecutor(Executor):
    def __init__(self, workers: int | None = None, address: str | None = None):
        from dask.distributed import Client, LocalCluster

        if address:
            self._cluster = None
            self._client = Client(address)
            self.workers = max(len(self._client.scheduler_info().get("workers", {})), 1)
        else:
            self.workers = workers or os.cpu_count() or 1
            # One thread per worker process: stages hold per-process state such as models.
            self._cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = Client(self._cluster)

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        from dask.distributed import as_completed

        if not items:
            return
        futures = self._client.map(fn, list(items), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future, result in as_completed(futures, with_results=True):
                yield index[future.key], result
        finally:
            for future in futures:
                future.release()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
