"""Independent runs in worker processes, results in call order (``explore``, the library),
stopped gracefully on request (SIGINT / SIGTERM noted by the caller)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

POLL_S = 0.1
"""How often the parent looks at ``stop()`` while it waits for workers."""


class RunStoppedError(Exception):
    """A call gave up because its caller asked the calls to stop (its result is None)."""


def never() -> bool:
    """The ``stop`` of a call that nobody stops."""
    return False


_worker_stop: list[Callable[[], bool]] = [never]
"""In a worker process: whether the parent asked the calls to stop (set by ``_init_worker``)."""


def _init_worker(event: Any) -> None:
    """A worker ignores SIGINT and SIGTERM (the parent decides; a Ctrl-C reaches the whole
    process group) and stops its call when the parent sets ``event``."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    _worker_stop[0] = event.is_set


def _call_in_worker(fn: Callable[..., Any], call: tuple, stoppable: bool) -> Any:
    """``fn(*call)`` in a worker (``stoppable``: ``fn(*call, stop=...)``); a call the parent
    stopped before it began is not started."""
    if _worker_stop[0]():
        raise RunStoppedError
    return fn(*call, stop=_worker_stop[0]) if stoppable else fn(*call)


@contextmanager
def _ignoring_sigint() -> Iterator[None]:
    """SIGINT ignored while workers are spawned, so they inherit it (closing the moment before
    ``_init_worker`` runs); a no-op off the main thread."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def map_in_order(
    jobs: int,
    fn: Callable[..., Any],
    calls: Sequence[tuple],
    done: Callable[[Any], None],
    stop: Callable[[], bool] | None = None,
) -> list[Any]:
    """``fn(*call)`` for every call, in a process pool when ``jobs`` > 1; results in call
    order whatever the completion order (``done`` sees each result as it completes).

    With ``stop``, ``fn`` takes a keyword ``stop`` too (a callable it polls) and may raise
    ``RunStoppedError``; once ``stop()`` is true no further call starts, running calls see their
    ``stop`` turn true, and the calls that did not finish have None as their result (``done``
    does not see them). Workers ignore SIGINT and SIGTERM: the caller notes them and decides.

    Workers are spawned, not forked: a fork would copy numba's and the BLAS threads' state.
    A run's result depends only on its arguments, so the pool changes wall time, never output.
    """
    results: list[Any] = [None] * len(calls)
    if jobs <= 1 or len(calls) <= 1:
        for k, call in enumerate(calls):
            if stop is not None and stop():
                break
            try:
                results[k] = fn(*call) if stop is None else fn(*call, stop=stop)
            except RunStoppedError:
                break
            done(results[k])
        return results
    context = get_context("spawn")
    event = context.Event()
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(event,)
    ) as pool:
        with _ignoring_sigint():
            futures: dict[Future, int] = {
                pool.submit(_call_in_worker, fn, call, stop is not None): k
                for k, call in enumerate(calls)
            }
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=futures.__getitem__):
                    if future.cancelled():
                        continue
                    try:
                        results[futures[future]] = future.result()
                    except RunStoppedError:
                        continue
                    done(results[futures[future]])
                if stop is not None and stop() and not event.is_set():
                    _stop_calls(event, pending)
        except BaseException:  # a call raised: the others stop too, before it propagates
            _stop_calls(event, pending)
            raise
    return results


def _stop_calls(event: Any, pending: set[Future]) -> None:
    """Tell the running calls to stop (``event``) and cancel those not started."""
    event.set()
    for future in pending:
        future.cancel()
