"""Executors: where a sweep's runs execute, behind one interface (docs/sweeps.md#executors).

``local`` runs them in spawned worker processes of this machine (in this process with one
job); ``dask`` on a Dask distributed cluster: a ``LocalCluster`` it starts, or an existing
one joined by its scheduler address. An executor takes every task at once and hands back
results as they finish (``wait_some``), so the caller can record each one, update its
progress bar and notice a stop signal between results. A run's result depends only on its
task, so the executor changes wall time, never the table.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from multiprocessing import TimeoutError as PoolTimeout
from multiprocessing import get_context
from typing import Any, Protocol

from rppsim.errors import UserError

__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "LocalExecutor", "build_executor"]

EXECUTORS = ("local", "dask")


class Executor(Protocol):
    """Runs ``fn(task)`` for every submitted task; results in completion order."""

    def submit(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> None:
        """Start every task."""

    def wait_some(self, timeout: float) -> list[Any]:
        """The results finished since the last call (waiting up to ``timeout`` s for one)."""

    def close(self) -> None:
        """Stop: unfinished tasks are dropped, workers end."""


def _ignore_sigint() -> None:
    """A worker leaves SIGINT to the sweep's own process (which stops the sweep)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalExecutor:
    """Spawned worker processes (spawned, not forked: a fork would copy numba's and the BLAS
    threads' state); with one job, the tasks run here, one per ``wait_some``."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: Any = None
        self._results: Any = None
        self._queue: list[Any] = []
        self._fn: Callable[[Any], Any] | None = None

    def submit(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> None:
        """Start every task."""
        if self.jobs <= 1:
            self._fn, self._queue = fn, list(tasks)
            return
        self._pool = get_context("spawn").Pool(self.jobs, initializer=_ignore_sigint)
        self._results = self._pool.imap_unordered(fn, tasks, chunksize=1)

    def wait_some(self, timeout: float) -> list[Any]:
        """The next finished result (an empty list when none came within ``timeout``)."""
        if self._pool is None:
            assert self._fn is not None
            return [self._fn(self._queue.pop(0))] if self._queue else []
        try:
            return [self._results.next(timeout)]
        except PoolTimeout:
            return []
        except StopIteration:
            return []

    def close(self) -> None:
        """End the workers (a running task is dropped)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


class DaskExecutor:
    """A Dask distributed cluster: a ``LocalCluster`` of ``jobs`` single-threaded worker
    processes, or the cluster whose scheduler is at ``scheduler``."""

    def __init__(self, jobs: int, scheduler: str | None) -> None:
        from distributed import Client, LocalCluster

        self._cluster: Any = None
        if scheduler is None:
            self._cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as error:
                raise UserError(
                    "rppsim sweep", "--scheduler", "the address of a running Dask scheduler",
                    f"{scheduler!r} ({type(error).__name__}: {error})",
                ) from None  # fmt: skip
        self._pending: list[Any] = []

    def submit(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> None:
        """Start every task (``pure=False``: each is its own run, never deduplicated)."""
        self._pending = list(self.client.map(fn, tasks, pure=False)) if tasks else []

    def wait_some(self, timeout: float) -> list[Any]:
        """The results finished since the last call."""
        from distributed import wait

        if not self._pending:
            return []
        try:
            done, _ = wait(self._pending, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        finished = [f for f in self._pending if f in done]
        self._pending = [f for f in self._pending if f not in done]
        return [f.result() for f in finished]

    def close(self) -> None:
        """Cancel what is left; close the client (and the cluster it started)."""
        if self._pending:
            self.client.cancel(self._pending)
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def build_executor(name: str, jobs: int | None, scheduler: str | None) -> Executor:
    """The executor ``name`` with ``jobs`` workers (default: every core)."""
    if name not in EXECUTORS:
        raise UserError("rppsim sweep", "--executor", " or ".join(EXECUTORS), repr(name))
    if scheduler is not None and name != "dask":
        raise UserError("rppsim sweep", "--scheduler", "--executor dask with it", name)
    count = jobs if jobs is not None else (os.cpu_count() or 1)
    if count < 1:
        raise UserError("rppsim sweep", "--jobs", "an integer ≥ 1", str(count))
    if name == "dask":
        return DaskExecutor(count, scheduler)
    return LocalExecutor(count)
