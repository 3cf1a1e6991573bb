"""One machine: a pool of worker processes, one per core by default.

Starting a worker must not cost an interpreter start and half a second of imports per process,
which on a small machine is a large part of a short run. So:

- where it is safe, workers are forked from this process when the executor is made: before
  any stage has run, while the only other threads are the allocator's and BLAS's (both of
  which prepare for fork); they start with the engine and the run's stage modules imported;
- otherwise (other Python threads running, torch loaded, or no fork on this platform) they
  come from a fork server, a clean process that imports the engine once; it is started at
  once, so its imports overlap the caller's planning. Without a fork server they are spawned.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterator, Sequence

from corpusforge.executors.base import Executor

# What a fork server imports for every worker: the task runner and, through it, the engine.
PRELOAD = ["corpusforge.pipeline.tasks"]


def fork_is_safe() -> bool:
    """Whether forking this process now gives children in a sane state."""
    methods = multiprocessing.get_all_start_methods()
    # Another Python thread may hold a lock the child would inherit held. An OpenMP pool that
    # torch may have started does not survive a fork either.
    return "fork" in methods and threading.active_count() == 1 and "torch" not in sys.modules


def _server_context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _start_worker(threads: int, environ: dict[str, str] | None) -> None:
    # The pool already runs one worker per core: pyarrow's own thread pool in every worker
    # would put several threads on each core, so each worker gets its share of the cores.
    import pyarrow

    pyarrow.set_cpu_count(threads)
    if environ is not None:
        # A fork server's children have the server's environment; give them the caller's, as
        # a spawned or forked worker would have it.
        os.environ.clear()
        os.environ.update(environ)


class LocalExecutor(Executor):
    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        if self.workers == 1:
            return
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        if fork_is_safe():
            # The workers are forked with every object that exists now out of their collector's
            # reach, so their garbage collections never write to (and so copy) the pages they
            # share with this process; this process takes its objects back once they are forked.
            gc.freeze()
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker, initargs=(threads, None)
            )
            self._pool.submit(int)  # a fork pool starts all its workers on the first submit: now
            gc.unfreeze()
            return
        context = _server_context()
        if context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_start_worker, initargs=(threads, dict(os.environ))
        )

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        if self._pool is None or len(items) <= 1:
            # No pool for serial work: the same function, in this process.
            for index, item in enumerate(items):
                yield index, fn(item)
            return
        pending: dict[Future, int] = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
