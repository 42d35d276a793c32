"""Typed conversion of pandas scalars.

pandas-stubs types a cell, a reduction, a group key or an index label as any scalar (or as
``Hashable``), although the frames' schema (``rppsim.telemetry.frames``) fixes each column's
dtype. These helpers give such a value the Python type the schema promises. They are exactly
``int(value)`` and ``float(value)`` at run time (same results, same errors); only the checker's
view changes, in this one place instead of at every call site.
"""

from __future__ import annotations


def to_int(value: object) -> int:
    """``int(value)`` for a scalar of an integer (or integral float) column."""
    return int(value)  # type: ignore[call-overload]  # pandas-stubs: any scalar


def to_float(value: object) -> float:
    """``float(value)`` for a scalar of a numeric column."""
    return float(value)  # type: ignore[arg-type]  # pandas-stubs: any scalar
