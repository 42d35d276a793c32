"""Benchmarks run by ``rppsim bench NAME``: one module per NAME, each with ``main(argv)``.

Figures are measured here, never asserted in tests; each module prints a table and the
targets it is measured against.
"""

from __future__ import annotations

import pkgutil


def available() -> list[str]:
    """Names of the benchmark modules in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
