"""The DEEP codeword with numba (same values as reference/deep.py).

1/(x − z) for base x is R_z(x)/M_z(x) (reference/deep.py ``conjugate_polynomials``), so
both terms of DEEP share one base-field batch inversion of M_z(x)·M_(ωz)(x) instead of
two extension inversions per point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rppsim.prover.fast.field import (
    P_,
    batch_inverse,
    ext_dot,
    ext_mul,
    ext_powers_into,
    lazy_add,
    mulm,
    subm,
)
from rppsim.prover.jit import inline_kernel, kernel
from rppsim.prover.reference.deep import conjugate_polynomials
from rppsim.prover.reference.domain import coset_points
from rppsim.prover.reference.field import Ext


@kernel
def _deep_kernel(
    trace: np.ndarray, comp: np.ndarray, g1: np.ndarray, g1c: np.ndarray, gw: np.ndarray,
    consts: np.ndarray, m1: np.ndarray, r1: np.ndarray, m2: np.ndarray, r2: np.ndarray,
    points: np.ndarray, out: np.ndarray,
) -> None:  # fmt: skip
    """out[:, j] = (S1 − c1)·R1(x)/M1(x) + (S2 − c2)·R2(x)/M2(x) at x = points[j].

    S1 = Σ γ^j·T_j + Σ γ^(2w+m)·C_m and S2 = γ^w·Σ γ^j·T_j (= Σ γ^(w+j)·T_j).
    """
    w, mc, size = trace.shape[0], comp.shape[0], trace.shape[1]
    denom = np.empty(size, dtype=np.uint64)
    for j in range(size):
        x = points[j]
        a = ((m1[4] * x + m1[3]) % P_ * x + m1[2]) % P_
        a = ((a * x + m1[1]) % P_ * x + m1[0]) % P_
        b = ((m2[4] * x + m2[3]) % P_ * x + m2[2]) % P_
        b = ((b * x + m2[1]) % P_ * x + m2[0]) % P_
        denom[j] = mulm(a, b)
        out[0, j], out[1, j] = a, b
    inverse = np.empty(size, dtype=np.uint64)
    batch_inverse(denom, inverse)
    for j in range(size):
        x = points[j]
        t0 = t1 = t2 = t3 = np.uint64(0)
        for col in range(w):
            v = trace[col, j]
            t0 = lazy_add(t0, g1[0, col], v)
            t1 = lazy_add(t1, g1[1, col], v)
            t2 = lazy_add(t2, g1[2, col], v)
            t3 = lazy_add(t3, g1[3, col], v)
        t0, t1, t2, t3 = t0 % P_, t1 % P_, t2 % P_, t3 % P_
        u0, u1, u2, u3 = ext_mul(t0, t1, t2, t3, gw[0], gw[1], gw[2], gw[3])
        for col in range(mc):
            v = comp[col, j]
            t0 = lazy_add(t0, g1c[0, col], v)
            t1 = lazy_add(t1, g1c[1, col], v)
            t2 = lazy_add(t2, g1c[2, col], v)
            t3 = lazy_add(t3, g1c[3, col], v)
        t0, t1 = subm(t0 % P_, consts[0]), subm(t1 % P_, consts[1])
        t2, t3 = subm(t2 % P_, consts[2]), subm(t3 % P_, consts[3])
        u0, u1 = subm(u0, consts[4]), subm(u1, consts[5])
        u2, u3 = subm(u2, consts[6]), subm(u3, consts[7])
        q0 = _horner3(r1[3, 0], r1[2, 0], r1[1, 0], r1[0, 0], x)
        q1 = _horner3(r1[3, 1], r1[2, 1], r1[1, 1], r1[0, 1], x)
        q2 = _horner3(r1[3, 2], r1[2, 2], r1[1, 2], r1[0, 2], x)
        q3 = _horner3(r1[3, 3], r1[2, 3], r1[1, 3], r1[0, 3], x)
        t0, t1, t2, t3 = ext_mul(t0, t1, t2, t3, q0, q1, q2, q3)
        q0 = _horner3(r2[3, 0], r2[2, 0], r2[1, 0], r2[0, 0], x)
        q1 = _horner3(r2[3, 1], r2[2, 1], r2[1, 1], r2[0, 1], x)
        q2 = _horner3(r2[3, 2], r2[2, 2], r2[1, 2], r2[0, 2], x)
        q3 = _horner3(r2[3, 3], r2[2, 3], r2[1, 3], r2[0, 3], x)
        u0, u1, u2, u3 = ext_mul(u0, u1, u2, u3, q0, q1, q2, q3)
        m1x, m2x, inv_j = out[0, j], out[1, j], inverse[j]
        out[0, j] = mulm((mulm(t0, m2x) + mulm(u0, m1x)) % P_, inv_j)
        out[1, j] = mulm((mulm(t1, m2x) + mulm(u1, m1x)) % P_, inv_j)
        out[2, j] = mulm((mulm(t2, m2x) + mulm(u2, m1x)) % P_, inv_j)
        out[3, j] = mulm((mulm(t3, m2x) + mulm(u3, m1x)) % P_, inv_j)


@inline_kernel
def _horner3(c3: np.uint64, c2: np.uint64, c1: np.uint64, c0: np.uint64, x: np.uint64) -> np.uint64:
    """c3·x³ + c2·x² + c1·x + c0 mod p."""
    return (((c3 * x + c2) % P_ * x + c1) % P_ * x + c0) % P_


def _coords(values: Sequence[Ext]) -> np.ndarray:
    """(4, len) coordinates."""
    return np.array([v.c for v in values], dtype=np.uint64).reshape(-1, 4).T.copy()


def deep_codeword(
    trace_lde: np.ndarray, comp_lde: np.ndarray, ood: Sequence[Ext], z: Ext, zw: Ext,
    gamma: Ext, log_size: int,
) -> np.ndarray:  # fmt: skip
    """DEEP(x) at every LDE position: (4, N)."""
    w, mc = trace_lde.shape[0], comp_lde.shape[0]
    g = np.empty((2 * w + mc, 4), dtype=np.uint64)
    ext_powers_into(np.array(gamma.c, dtype=np.uint64), g)
    values = np.array([v.c for v in ood], dtype=np.uint64)
    g1 = np.concatenate([g[:w], g[2 * w :]])
    c1 = Ext(*(int(v) for v in ext_dot(np.concatenate([values[:w], values[2 * w :]]), g1)))
    c2 = Ext(*(int(v) for v in ext_dot(values[w : 2 * w], g[w : 2 * w])))
    m1, r1 = conjugate_polynomials(z)
    m2, r2 = conjugate_polynomials(zw)
    out = np.empty((4, trace_lde.shape[1]), dtype=np.uint64)
    _deep_kernel(
        trace_lde, comp_lde, g[:w].T.copy(), g[2 * w :].T.copy(), g[w].copy(),
        np.array([*c1.c, *c2.c], dtype=np.uint64),
        np.array(m1, dtype=np.uint64), _coords(r1).T.copy(),
        np.array(m2, dtype=np.uint64), _coords(r2).T.copy(), coset_points(log_size), out,
    )  # fmt: skip
    return out
