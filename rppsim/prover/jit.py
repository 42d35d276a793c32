"""The one place for numba options (STYLE.md §11): integers only, fastmath off, cached.

Every kernel in ``rppsim.prover`` is decorated with :func:`kernel` or :func:`inline_kernel`,
so the flags cannot drift between files. ``cache=True`` writes the compiled code next to
the sources, so a second process loads it instead of recompiling. ``fastmath`` stays off:
it would only matter for floats, which the prover never uses, and off is the
deterministic choice. ``error_model="numpy"`` drops Python's division-by-zero checks
from the hot loops (no kernel divides by a value that can be zero).

Kernels are serial: the targets are one-core figures, and on a shared 2-core machine a
``prange`` region measured slower than the serial loop (its worker spins while waiting),
so output never depends on the thread count (NUMBA_NUM_THREADS) at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])

JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "fastmath": False,
    "nogil": True,
    "error_model": "numpy",
}


def kernel(func: F) -> F:
    """Compile ``func`` as a serial numba kernel with the project's options."""
    return numba.njit(**JIT_OPTIONS)(func)  # type: ignore[no-any-return]


def inline_kernel(func: F) -> F:
    """A small helper inlined into its callers at the numba IR level."""
    return numba.njit(inline="always", **JIT_OPTIONS)(func)  # type: ignore[no-any-return]
