"""Periodic columns: fixed tables the verifier evaluates itself (docs/proofs.md#circuits gadgets).

A periodic column repeats a table of ``period`` values down the trace: row i holds
table[i mod period]. Its polynomial is P(x) = Q(x^(n/period)), with Q of degree < period
interpolating the table on ⟨ω_period⟩, so P has degree < n and the verifier evaluates it
at z from the table alone (O(period) work). Round constants and round selectors of the
Poseidon2 gadget are periodic columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rppsim.prover.reference.field import (
    GENERATOR,
    P64,
    Ext,
    P,
    bit_reverse_indices,
    ext_mul_tuple,
    root_of_unity,
)
from rppsim.prover.reference.ntt import interpolate


def periodic_coefficients(table: np.ndarray) -> np.ndarray:
    """(columns, period) coefficients of Q for each column of a (columns, period) table."""
    return interpolate(np.asarray(table, dtype=np.uint64))


def periodic_at(coeffs: np.ndarray, point: Ext, rows_log2: int) -> list[Ext]:
    """Each periodic column's polynomial at an extension point: Q(point^(n/period))."""
    if coeffs.shape[0] == 0:
        return []
    period = coeffs.shape[1]
    y = (point ** ((1 << rows_log2) // period)).c
    out = []
    for row in coeffs:
        acc = (0, 0, 0, 0)
        for c in reversed(row.tolist()):  # Horner on coordinate tuples (verifier hot path)
            a0, a1, a2, a3 = ext_mul_tuple(acc, y)
            acc = ((a0 + c) % P, a1, a2, a3)
        out.append(Ext(*acc))
    return out


def periodic_rows(table: np.ndarray, rows: int) -> np.ndarray:
    """The table repeated over ``rows`` trace rows: (columns, rows)."""
    period = table.shape[1] if table.shape[0] else 1
    return np.tile(np.asarray(table, dtype=np.uint64), (1, rows // period))


def periodic_lde(table: np.ndarray, rows_log2: int, log_blowup: int, count: int) -> np.ndarray:
    """Periodic polynomials at the first ``count`` positions of the bit-reversed LDE.

    At position j the LDE point is x = g·ω_N^i with i = rev(j); x^(n/period) =
    s·ω_(B·period)^(i mod B·period) with s = g^(n/period), so Q is evaluated on that small
    coset once and gathered.
    """
    if table.shape[0] == 0:
        return np.zeros((0, count), dtype=np.uint64)
    period = table.shape[1]
    small = period << log_blowup
    shift = pow(GENERATOR, (1 << rows_log2) // period, P)
    omega = root_of_unity(small.bit_length() - 1)
    points = np.array([shift * pow(omega, t, P) % P for t in range(small)], dtype=np.uint64)
    coeffs = periodic_coefficients(table)
    values = np.zeros((table.shape[0], small), dtype=np.uint64)
    for c in range(coeffs.shape[1] - 1, -1, -1):  # Horner, all columns and points at once
        values = (values * points[None, :] + coeffs[:, c : c + 1]) % P64
    index = bit_reverse_indices(rows_log2 + log_blowup)[:count] % small
    return values[:, index]


def table_of(columns: Sequence[Sequence[int]]) -> np.ndarray:
    """A (columns, period) uint64 table from nested sequences (empty → (0, 1))."""
    if not columns:
        return np.zeros((0, 1), dtype=np.uint64)
    return np.array([[v % P for v in col] for col in columns], dtype=np.uint64)
