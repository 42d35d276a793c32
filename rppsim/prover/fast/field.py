"""Field arithmetic inside numba kernels: uint64 scalars with values < p.

Every constant is a ``np.uint64`` so no expression mixes signed and unsigned integers
(numba would turn that into a float). Products of two reduced values are < 2⁶², so
``(a * b) % P_`` never overflows. The NTT uses Montgomery multiplication by twiddles kept
in Montgomery form (R = 2³²); data stays in canonical form throughout.
"""

from __future__ import annotations

import numpy as np

from rppsim.prover.jit import inline_kernel, kernel
from rppsim.prover.reference.field import P, W

P_ = np.uint64(P)
ZERO = np.uint64(0)
ONE = np.uint64(1)
W_ = np.uint64(W)
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
P_NEG_INV = np.uint64((-pow(P, -1, 1 << 32)) % (1 << 32))  # −p⁻¹ mod 2³²
R_MOD_P = (1 << 32) % P


@inline_kernel
def mulm(a: np.uint64, b: np.uint64) -> np.uint64:
    """a·b mod p."""
    return (a * b) % P_


@inline_kernel
def addm(a: np.uint64, b: np.uint64) -> np.uint64:
    """a + b mod p."""
    s = a + b
    return s - P_ if s >= P_ else s


@inline_kernel
def subm(a: np.uint64, b: np.uint64) -> np.uint64:
    """a − b mod p."""
    return a + P_ - b if a < b else a - b


@inline_kernel
def mont_mul(a: np.uint64, b_mont: np.uint64) -> np.uint64:
    """a·b mod p for b given in Montgomery form (b·2³² mod p)."""
    t = a * b_mont
    m = ((t & MASK32) * P_NEG_INV) & MASK32
    u = (t + m * P_) >> SHIFT32
    return u - P_ if u >= P_ else u


LAZY_LIMIT = np.uint64(1 << 63)
LAZY_K = np.uint64(P * ((1 << 63) // P))  # a multiple of p just below 2⁶³


@inline_kernel
def lazy_add(acc: np.uint64, a: np.uint64, b: np.uint64) -> np.uint64:
    """acc + a·b kept below 2⁶³ + 2⁶² by subtracting a multiple of p (reduce with % later)."""
    s = acc + a * b
    return s - LAZY_K if s >= LAZY_LIMIT else s


@kernel
def powm(a: np.uint64, e: int) -> np.uint64:
    """a^e mod p for e ≥ 0."""
    result = ONE
    base = a % P_
    while e > 0:
        if e & 1:
            result = (result * base) % P_
        base = (base * base) % P_
        e >>= 1
    return result


@kernel
def invm(a: np.uint64) -> np.uint64:
    """a⁻¹ mod p (a ≠ 0)."""
    return powm(a, P - 2)


@inline_kernel
def ext_mul(
    a0: np.uint64, a1: np.uint64, a2: np.uint64, a3: np.uint64,
    b0: np.uint64, b1: np.uint64, b2: np.uint64, b3: np.uint64,
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:  # fmt: skip
    """Product in F_p[X]/(X⁴ − 11)."""
    c0 = (mulm(a0, b0) + W_ * ((mulm(a1, b3) + mulm(a2, b2) + mulm(a3, b1)) % P_)) % P_
    c1 = (mulm(a0, b1) + mulm(a1, b0) + W_ * ((mulm(a2, b3) + mulm(a3, b2)) % P_)) % P_
    c2 = (mulm(a0, b2) + mulm(a1, b1) + mulm(a2, b0) + W_ * mulm(a3, b3)) % P_
    c3 = (mulm(a0, b3) + mulm(a1, b2) + mulm(a2, b1) + mulm(a3, b0)) % P_
    return c0, c1, c2, c3


@kernel
def batch_inverse(values: np.ndarray, out: np.ndarray) -> None:
    """out[i] = 1/values[i] for non-zero base elements (Montgomery's trick)."""
    n = values.shape[0]
    if n == 0:
        return
    acc = ONE
    for i in range(n):
        out[i] = acc
        acc = mulm(acc, values[i])
    inv_acc = invm(acc)
    for i in range(n - 1, -1, -1):
        out[i] = mulm(out[i], inv_acc)
        inv_acc = mulm(inv_acc, values[i])


@kernel
def powers_into(base: np.uint64, out: np.ndarray) -> None:
    """out[i] = base^i."""
    acc = ONE
    for i in range(out.shape[0]):
        out[i] = acc
        acc = mulm(acc, base)


@kernel
def ext_powers_into(base: np.ndarray, out: np.ndarray) -> None:
    """out[i] = base^i for an extension element given as 4 coordinates; out is (count, 4)."""
    a0, a1, a2, a3 = ONE, ZERO, ZERO, ZERO
    for i in range(out.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = a0, a1, a2, a3
        a0, a1, a2, a3 = ext_mul(a0, a1, a2, a3, base[0], base[1], base[2], base[3])


@kernel
def ext_dot(a: np.ndarray, b: np.ndarray) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    """Σ_i a[i]·b[i] for two (count, 4) arrays of extension elements."""
    s0, s1, s2, s3 = ZERO, ZERO, ZERO, ZERO
    for i in range(a.shape[0]):
        t0, t1, t2, t3 = ext_mul(
            a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[i, 0], b[i, 1], b[i, 2], b[i, 3]
        )
        s0, s1, s2, s3 = addm(s0, t0), addm(s1, t1), addm(s2, t2), addm(s3, t3)
    return s0, s1, s2, s3
