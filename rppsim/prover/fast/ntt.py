"""numba radix-2 NTTs and the coset LDE (same results as reference/ntt.py).

Forward: Gentleman–Sande (DIF), natural input → bit-reversed output. Inverse:
Cooley–Tukey (DIT), bit-reversed input → natural output. Twiddles are kept per stage in
a "heap" layout (stage with half-size h at offsets h … 2h−1, contiguous) and in Montgomery
form. The LDE evaluates each of the B cosets g·ω_N^a·⟨ω_n⟩ with one size-n NTT and
writes it to block rev_B(a): exactly the bit-reversed order of g·⟨ω_N⟩.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rppsim.prover.fast.field import P_, addm, mont_mul, mulm, powers_into, subm
from rppsim.prover.jit import kernel
from rppsim.prover.reference.field import GENERATOR, P, bit_reverse_indices, inv, root_of_unity


@lru_cache(maxsize=64)
def twiddles(log_n: int, inverse: bool) -> np.ndarray:
    """Montgomery-form twiddles: tw[h + j] = ω_(2h)^(±j)·2³² mod p for h = 1, 2, …, n/2."""
    n = 1 << log_n
    out = np.zeros(max(n, 2), dtype=np.uint64)
    h = 1
    while h < n:
        root = root_of_unity(h.bit_length())  # ω_(2h)
        if inverse:
            root = inv(root)
        out[h : 2 * h] = _powers(root, h) * np.uint64((1 << 32) % P) % P_
        h <<= 1
    out.setflags(write=False)
    return out


def _powers(base: int, count: int) -> np.ndarray:
    """[base^0 … base^(count−1)] via the kernel."""
    out = np.empty(count, dtype=np.uint64)
    powers_into(np.uint64(base), out)
    return out


@kernel
def _dif(a: np.ndarray, tw: np.ndarray) -> None:
    """In-place forward NTT of one row: natural in, bit-reversed out.

    The last two stages (half 2 and 1) run as one radix-4 step: their twiddles are 1, 1
    and ω₄, so one multiplication serves four outputs.
    """
    n = a.shape[0]
    half = n >> 1
    while half >= 4:
        for start in range(0, n, 2 * half):
            for j in range(half):
                u = a[start + j]
                v = a[start + j + half]
                a[start + j] = addm(u, v)
                a[start + j + half] = mont_mul(u + P_ - v, tw[half + j])
        half >>= 1
    if n >= 4:
        w4 = tw[3]
        for s in range(0, n, 4):
            a0, a1, a2, a3 = a[s], a[s + 1], a[s + 2], a[s + 3]
            b0, b2 = addm(a0, a2), subm(a0, a2)
            b1, b3 = addm(a1, a3), mont_mul(a1 + P_ - a3, w4)
            a[s], a[s + 1] = addm(b0, b1), subm(b0, b1)
            a[s + 2], a[s + 3] = addm(b2, b3), subm(b2, b3)
    elif n == 2:
        u, v = a[0], a[1]
        a[0], a[1] = addm(u, v), subm(u, v)


@kernel
def _dit(a: np.ndarray, tw: np.ndarray) -> None:
    """In-place inverse NTT (no 1/n) of one row: bit-reversed in, natural out.

    The first two stages (half 1 and 2, twiddles 1, 1 and ω₄⁻¹) run as one radix-4 step.
    """
    n = a.shape[0]
    half = 1
    if n >= 4:
        w4 = tw[3]
        for s in range(0, n, 4):
            a0, a1, a2, a3 = a[s], a[s + 1], a[s + 2], a[s + 3]
            b0, b1 = addm(a0, a1), subm(a0, a1)
            b2, b3 = addm(a2, a3), mont_mul(a2 + P_ - a3, w4)
            a[s], a[s + 2] = addm(b0, b2), subm(b0, b2)
            a[s + 1], a[s + 3] = addm(b1, b3), subm(b1, b3)
        half = 4
    while half < n:
        for start in range(0, n, 2 * half):
            for j in range(half):
                u = a[start + j]
                v = mont_mul(a[start + j + half], tw[half + j])
                a[start + j] = addm(u, v)
                a[start + j + half] = subm(u, v)
        half <<= 1


@kernel
def _interpolate_rows(
    values: np.ndarray, rev: np.ndarray, tw: np.ndarray, scale: np.uint64, out: np.ndarray
) -> None:
    """out[c] = coefficients of values[c] (natural evaluations on ⟨ω_n⟩)."""
    n = values.shape[1]
    for c in range(values.shape[0]):
        row = out[c]
        for i in range(n):
            row[i] = values[c, rev[i]]
        _dit(row, tw)
        for i in range(n):
            row[i] = mulm(row[i], scale)


@kernel
def _coset_lde_rows(
    coeffs: np.ndarray, shifts: np.ndarray, blocks: np.ndarray, tw: np.ndarray, out: np.ndarray
) -> None:
    """out[c, block_a·n : (block_a+1)·n] = NTT_n(coeffs[c] · shifts[a])."""
    n = coeffs.shape[1]
    cosets = shifts.shape[0]
    for task in range(coeffs.shape[0] * cosets):
        c, a = task // cosets, task % cosets
        base = blocks[a] * n
        row = out[c, base : base + n]
        for i in range(n):
            row[i] = mulm(coeffs[c, i], shifts[a, i])
        _dif(row, tw)


@kernel
def _coset_interpolate_rows(
    evals: np.ndarray, tw: np.ndarray, unshift: np.ndarray, out: np.ndarray
) -> None:
    """out[c] = coefficients from bit-reversed coset values (unshift includes 1/M)."""
    m = evals.shape[1]
    for c in range(evals.shape[0]):
        row = out[c]
        for i in range(m):
            row[i] = evals[c, i]
        _dit(row, tw)
        for i in range(m):
            row[i] = mulm(row[i], unshift[i])


def interpolate(values: np.ndarray) -> np.ndarray:
    """(c, n) natural values on ⟨ω_n⟩ → (c, n) coefficients."""
    n = values.shape[1]
    log_n = n.bit_length() - 1
    out = np.empty_like(values, dtype=np.uint64)
    _interpolate_rows(
        values, bit_reverse_indices(log_n), twiddles(log_n, True), np.uint64(inv(n)), out
    )
    return out


@lru_cache(maxsize=32)
def _coset_shifts(log_n: int, log_blowup: int) -> np.ndarray:
    """Row a: (g·ω_N^a)^i for i < n, N = n·B."""
    n, blowup = 1 << log_n, 1 << log_blowup
    omega = root_of_unity(log_n + log_blowup)
    rows = np.empty((blowup, n), dtype=np.uint64)
    for a in range(blowup):
        powers_into(np.uint64(GENERATOR * pow(omega, a, P) % P), rows[a])
    rows.setflags(write=False)
    return rows


def coset_lde(coeffs: np.ndarray, log_blowup: int) -> np.ndarray:
    """(c, n) coefficients → (c, n·B) values on g·⟨ω_N⟩ in bit-reversed order."""
    n = coeffs.shape[1]
    log_n = n.bit_length() - 1
    out = np.empty((coeffs.shape[0], n << log_blowup), dtype=np.uint64)
    blocks = bit_reverse_indices(log_blowup)
    _coset_lde_rows(coeffs, _coset_shifts(log_n, log_blowup), blocks, twiddles(log_n, False), out)
    return out


@lru_cache(maxsize=32)
def _unshift(log_m: int, shift_log: int) -> np.ndarray:
    """(1/M)·s^(−i) for i < M, s = g^(2^shift_log)."""
    m = 1 << log_m
    shift_inv = inv(pow(GENERATOR, 1 << shift_log, P))
    out = np.empty(m, dtype=np.uint64)
    powers_into(np.uint64(shift_inv), out)
    out = out * np.uint64(inv(m)) % P_
    out.setflags(write=False)
    return out


def coset_interpolate(evals: np.ndarray, shift_log: int = 0) -> np.ndarray:
    """(c, M) bit-reversed values on g^(2^s)·⟨ω_M⟩ → (c, M) coefficients."""
    m = evals.shape[1]
    log_m = m.bit_length() - 1
    out = np.empty_like(evals, dtype=np.uint64)
    _coset_interpolate_rows(evals, twiddles(log_m, True), _unshift(log_m, shift_log), out)
    return out
