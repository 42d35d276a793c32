"""Constraint composition on the LDE with numba (same values as reference/composition.py).

The AIR's own kernel writes constraint values block by block; ``_combine`` folds them
into H = Σ αⁱ·Cᵢ·(1/Z_d(i)) with the zerofier inverses precomputed per domain.
"""

from __future__ import annotations

import numpy as np

from rppsim.prover.airs.base import ALL_ROWS, ROW, TRANSITION, Air
from rppsim.prover.fast.field import P_, batch_inverse, ext_powers_into, lazy_add, mulm
from rppsim.prover.jit import kernel
from rppsim.prover.reference.domain import coset_points, next_positions
from rppsim.prover.reference.field import GENERATOR, Ext, P, bit_reverse, inv, root_of_unity
from rppsim.prover.reference.periodic import periodic_lde

BLOCK = 2048


def zerofier_inverses(air: Air, rows_log2: int, log_blowup: int, count: int) -> np.ndarray:
    """1/Z_d(x) for each domain at the first ``count`` LDE positions: (domains, count)."""
    n = 1 << rows_log2
    points = coset_points(rows_log2 + log_blowup)[:count]
    omega_big = root_of_unity(rows_log2 + log_blowup)
    g_n = pow(GENERATOR, n, P)
    inv_all = np.empty(count, dtype=np.uint64)
    for block in range(count // n):  # xⁿ is constant on a block: g^n·ω_N^(a·n)
        a = bit_reverse(block, log_blowup)
        inv_all[block * n : (block + 1) * n] = inv((g_n * pow(omega_big, a * n, P) - 1) % P)
    omega = root_of_unity(rows_log2)
    out = np.empty((len(air.domains(n)), count), dtype=np.uint64)
    for d, (kind, row) in enumerate(air.domains(n)):
        if kind == ALL_ROWS:
            out[d] = inv_all
        elif kind == TRANSITION:
            out[d] = (points + np.uint64(P - pow(omega, n - 1, P))) % P_ * inv_all % P_
        elif kind == ROW:
            batch_inverse((points + np.uint64(P - pow(omega, row, P))) % P_, out[d])
        else:
            raise ValueError(f"unknown constraint domain {kind!r}")
    return out


@kernel
def _combine(
    values: np.ndarray,
    alpha_pows: np.ndarray,
    dom: np.ndarray,
    inv_z: np.ndarray,
    lo: int,
    out: np.ndarray,
) -> None:
    """out[:, lo + k] = Σ_i α^i·values[k, i]·inv_z[dom[i], lo + k]."""
    width, m = values.shape
    domains = inv_z.shape[0]
    acc = np.zeros((domains, 4), dtype=np.uint64)
    for k in range(width):
        acc[:, :] = 0
        for i in range(m):
            v = np.uint64(values[k, i])
            d = dom[i]
            for c in range(4):
                acc[d, c] = lazy_add(acc[d, c], alpha_pows[i, c], v)
        for c in range(4):
            total = np.uint64(0)
            for d in range(domains):
                total += mulm(acc[d, c] % P_, inv_z[d, lo + k])
            out[c, lo + k] = total % P_


def alpha_powers(alpha: Ext, count: int) -> np.ndarray:
    """(count, 4) coordinates of α⁰ … α^(count−1)."""
    out = np.empty((count, 4), dtype=np.uint64)
    ext_powers_into(np.array(alpha.c, dtype=np.uint64), out)
    return out


def constraint_values(
    air: Air,
    trace: np.ndarray,
    periodic: np.ndarray,
    nx: np.ndarray,
    consts: tuple[int, ...],
    count: int,
) -> np.ndarray:
    """Every constraint at positions 0..count−1 via the AIR kernel: (m, count)."""
    out = np.empty((count, len(air.constraints)), dtype=np.int64)
    air.kernel(trace, periodic, nx, 0, count, np.array(consts, dtype=np.int64), out)
    return out.T.astype(np.uint64)


def composition(
    air: Air, lde: np.ndarray, consts: tuple[int, ...], alpha: Ext, rows_log2: int, log_blowup: int
) -> np.ndarray:
    """H on the first Q·n positions of the LDE: (4, Q·n)."""
    n = 1 << rows_log2
    count = air.num_chunks * n
    nx = next_positions(rows_log2, log_blowup)
    inv_z = zerofier_inverses(air, rows_log2, log_blowup, count)
    pows = alpha_powers(alpha, len(air.constraints))
    dom = air.domain_indices(n)
    consts_arr = np.array(consts, dtype=np.int64)
    periodic = periodic_lde(air.periodic_table, rows_log2, log_blowup, count)
    out = np.empty((4, count), dtype=np.uint64)
    values = np.empty((min(BLOCK, count), len(air.constraints)), dtype=np.int64)
    for lo in range(0, count, BLOCK):
        hi = min(lo + BLOCK, count)
        block = values[: hi - lo]
        air.kernel(lde, periodic, nx, lo, hi, consts_arr, block)
        _combine(block, pows, dom, inv_z, lo, out)
    return out
