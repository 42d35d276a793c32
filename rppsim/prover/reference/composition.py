"""Constraint composition H = Σ αⁱ·Cᵢ/Zᵢ on Q·n points (docs/proofs.md#protocol step 3).

H has degree < Q·n for an honest trace, so the prover evaluates it only on the first Q·n
positions of the bit-reversed LDE, which are the bit-reversed coset g·⟨ω_(Qn)⟩, then
interpolates and splits it into Q chunks of degree < n: H(x) = Σ_i x^(i·n)·H_i(x).
"""

from __future__ import annotations

import numpy as np

from rppsim.prover.airs.base import ALL_ROWS, ROW, TRANSITION, Air
from rppsim.prover.reference.domain import coset_points, next_positions
from rppsim.prover.reference.field import P64, Ext, P, root_of_unity, vinv, vmul, vpow, vsub
from rppsim.prover.reference.periodic import periodic_lde


def zerofier_inverses(air: Air, rows_log2: int, points: np.ndarray) -> np.ndarray:
    """1/Z_d(x) for every constraint domain d at every point: shape (domains, points)."""
    n = 1 << rows_log2
    omega = root_of_unity(rows_log2)
    inv_all = vinv(vsub(vpow(points, n), np.ones_like(points)))
    rows = []
    for kind, row in air.domains(n):
        if kind == ALL_ROWS:
            rows.append(inv_all)
        elif kind == TRANSITION:
            last = np.full_like(points, pow(omega, n - 1, P))
            rows.append(vmul(vsub(points, last), inv_all))
        elif kind == ROW:
            rows.append(vinv(vsub(points, np.full_like(points, pow(omega, row, P)))))
        else:
            raise ValueError(f"unknown constraint domain {kind!r}")
    return np.stack(rows)


def constraint_values(
    air: Air,
    trace: np.ndarray,
    periodic: np.ndarray,
    nx: np.ndarray,
    consts: tuple[int, ...],
    count: int,
) -> np.ndarray:
    """Every constraint at positions 0..count−1 (Python evaluator): shape (m, count)."""
    out = np.zeros((len(air.constraints), count), dtype=np.uint64)
    for j in range(count):
        cur = [int(v) for v in trace[:, j]] + [int(v) for v in periodic[:, j]]
        nxt = [int(v) for v in trace[:, nx[j]]]
        out[:, j] = [v % P for v in air.evaluate(cur, nxt, consts)]
    return out


def combine(
    values: np.ndarray, alpha: Ext, domain_index: np.ndarray, inv_zerofiers: np.ndarray
) -> np.ndarray:
    """Σ_i α^i·C_i·(1/Z_d(i)) as a (4, points) extension array."""
    out = np.zeros((4, values.shape[1]), dtype=np.uint64)
    power = Ext(1)
    for i in range(values.shape[0]):
        quotient = vmul(values[i], inv_zerofiers[domain_index[i]])
        for c in range(4):
            out[c] = (out[c] + quotient * np.uint64(power.c[c]) % P64) % P64
        power = power * alpha
    return out


def composition(
    air: Air, lde: np.ndarray, consts: tuple[int, ...], alpha: Ext, rows_log2: int, log_blowup: int
) -> np.ndarray:
    """H on the first Q·n positions of the trace LDE (bit-reversed g·⟨ω_(Qn)⟩)."""
    n = 1 << rows_log2
    count = air.num_chunks * n
    points = coset_points(rows_log2 + log_blowup)[:count]
    nx = next_positions(rows_log2, log_blowup)
    periodic = periodic_lde(air.periodic_table, rows_log2, log_blowup, count)
    values = constraint_values(air, lde, periodic, nx, consts, count)
    inv_z = zerofier_inverses(air, rows_log2, points)
    return combine(values, alpha, air.domain_indices(n), inv_z)


def split_chunks(h_coeffs: np.ndarray, num_chunks: int, n: int) -> np.ndarray:
    """(4, Q·n) coefficients → (4Q, n): column 4i + c is coordinate c of chunk i."""
    return np.concatenate([h_coeffs[:, i * n : (i + 1) * n] for i in range(num_chunks)])
