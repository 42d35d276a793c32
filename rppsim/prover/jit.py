"""The one place for numba options (docs/architecture.md#code-style): integers only, fastmath off,
cached.

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

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])
COMPILE_RUN_MS = 12_000
"""Simulated ms of ``compile_ahead``'s run: long enough for blocks, votes and proofs."""

JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "fastmath": False,
    "nogil": True,
    "error_model": "numpy",
}


def kernel(func: F) -> F:
    """Compile ``func`` as a serial numba kernel with the project's options."""
    return numba.njit(**JIT_OPTIONS)(func)


def inline_kernel(func: F) -> F:
    """A small helper inlined into its callers at the numba IR level."""
    return numba.njit(inline="always", **JIT_OPTIONS)(func)


def find_kernel_sources(root: Path | None = None) -> list[Path]:
    """The package's source files that define numba kernels (``@kernel``, ``@inline_kernel``,
    ``njit(...)``), below ``root`` (default: the ``rppsim`` package)."""
    root = Path(__file__).resolve().parents[1] if root is None else root
    markers = ("@kernel", "@inline_kernel", "njit(")
    return [
        path
        for path in sorted(root.rglob("*.py"))
        if path.name != "jit.py" and any(m in path.read_text(encoding="utf-8") for m in markers)
    ]


def is_compile_cached(root: Path | None = None) -> bool:
    """Whether numba's on-disk cache holds every kernel source's compiled code: an index file
    (``__pycache__/<module>.<function>-<line>.py<ver>.nbi``) at least as new as the source
    (numba recompiles a source newer than its index). Under ``NUMBA_CACHE_DIR`` the cache
    lives elsewhere and it is taken as cached (no notice rather than a wrong one)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return True
    for source in find_kernel_sources(root):
        indexes = (source.parent / "__pycache__").glob(f"{source.stem}.*.nbi")
        if not any(i.stat().st_mtime >= source.stat().st_mtime for i in indexes):
            return False
    return True
