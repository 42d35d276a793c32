"""FRI folding and out-of-domain evaluation with numba (same values as the reference)."""

from __future__ import annotations

import numpy as np

from rppsim.prover.fast.field import P_, addm, batch_inverse, ext_mul, lazy_add, mulm, subm
from rppsim.prover.jit import kernel
from rppsim.prover.reference.domain import coset_points
from rppsim.prover.reference.field import INV2, Ext

INV2_ = np.uint64(INV2)


@kernel
def _fold(values: np.ndarray, beta: np.ndarray, inv_x: np.ndarray, out: np.ndarray) -> None:
    """out[:, j] = (a + b)/2 + β·(a − b)/(2x) for a, b at positions 2j, 2j+1."""
    d = np.empty(4, dtype=np.uint64)
    for j in range(out.shape[1]):
        scale = mulm(inv_x[j], INV2_)
        for c in range(4):
            a = values[c, 2 * j]
            b = values[c, 2 * j + 1]
            out[c, j] = mulm(addm(a, b), INV2_)
            d[c] = mulm(subm(a, b), scale)
        e0, e1, e2, e3 = ext_mul(d[0], d[1], d[2], d[3], beta[0], beta[1], beta[2], beta[3])
        out[0, j] = addm(out[0, j], e0)
        out[1, j] = addm(out[1, j], e1)
        out[2, j] = addm(out[2, j], e2)
        out[3, j] = addm(out[3, j], e3)


def fold(values: np.ndarray, beta: Ext, log_size: int, shift_log: int) -> np.ndarray:
    """One binary fold of a (4, M) bit-reversed codeword."""
    x = np.ascontiguousarray(coset_points(log_size, shift_log)[0::2])
    inv_x = np.empty_like(x)
    batch_inverse(x, inv_x)
    out = np.empty((4, values.shape[1] // 2), dtype=np.uint64)
    _fold(values, np.array(beta.c, dtype=np.uint64), inv_x, out)
    return out


@kernel
def _evaluate(coeffs: np.ndarray, point: np.ndarray, out: np.ndarray) -> None:
    """out[col] = Σ_i coeffs[col, i]·point^i (extension point, base coefficients)."""
    m = coeffs.shape[1]
    pows = np.empty((4, m), dtype=np.uint64)
    a0, a1, a2, a3 = np.uint64(1), np.uint64(0), np.uint64(0), np.uint64(0)
    for i in range(m):
        pows[0, i], pows[1, i], pows[2, i], pows[3, i] = a0, a1, a2, a3
        a0, a1, a2, a3 = ext_mul(a0, a1, a2, a3, point[0], point[1], point[2], point[3])
    for col in range(coeffs.shape[0]):
        t0 = t1 = t2 = t3 = np.uint64(0)
        for i in range(m):
            v = coeffs[col, i]
            t0 = lazy_add(t0, v, pows[0, i])
            t1 = lazy_add(t1, v, pows[1, i])
            t2 = lazy_add(t2, v, pows[2, i])
            t3 = lazy_add(t3, v, pows[3, i])
        out[col, 0], out[col, 1], out[col, 2], out[col, 3] = t0 % P_, t1 % P_, t2 % P_, t3 % P_


def evaluate_at(coeffs: np.ndarray, point: Ext) -> list[Ext]:
    """Each column polynomial at an extension point."""
    out = np.empty((coeffs.shape[0], 4), dtype=np.uint64)
    _evaluate(coeffs, np.array(point.c, dtype=np.uint64), out)
    return [Ext(*(int(v) for v in row)) for row in out]
