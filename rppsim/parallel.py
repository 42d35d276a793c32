"""Independent runs in worker processes, results in call order (``explore``, the library)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any


def map_in_order(
    jobs: int, fn: Callable[..., Any], calls: Sequence[tuple], done: Callable[[Any], None]
) -> list[Any]:
    """``fn(*call)`` for every call, in a process pool when ``jobs`` > 1; results in call
    order whatever the completion order (``done`` sees each result as it completes).

    Workers are spawned, not forked: a fork would copy numba's and the BLAS threads' state.
    A run's result depends only on its arguments, so the pool changes wall time, never output.
    """
    if jobs <= 1 or len(calls) <= 1:
        out = []
        for call in calls:
            out.append(fn(*call))
            done(out[-1])
        return out
    results: list[Any] = [None] * len(calls)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures: dict[Future, int] = {pool.submit(fn, *call): k for k, call in enumerate(calls)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done(results[futures[future]])
    return results
