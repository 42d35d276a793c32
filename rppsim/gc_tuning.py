"""Garbage-collector thresholds for long event loops (a run, a cluster).

A run allocates millions of short-lived objects (messages, effect lists, records) over a
large heap of long-lived node state. With CPython's default thresholds (700, 10, 10) the
collector keeps re-scanning that state and finds little garbage: about 18 % of a run's wall
time (``rppsim bench sim`` part (b), 300 s: 10.4× with the defaults, 12.4× relaxed, 12.6×
with the collector off). Relaxed thresholds still collect every cycle, only less often; the
peak resident set of that run is unchanged (355 MiB either way).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

RELAXED_THRESHOLDS = (50_000, 20, 20)
"""Allocations before a young collection, and collections before each older one."""


@contextmanager
def relaxed_gc(thresholds: tuple[int, int, int] = RELAXED_THRESHOLDS) -> Iterator[None]:
    """Run the body with relaxed collector thresholds; the previous ones are restored after."""
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
