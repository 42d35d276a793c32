"""Radix-2 NTT, interpolation and coset low-degree extension (docs/proofs.md#protocol step 2).

Arrays are ``uint64`` with the polynomial (or column) index first: shape (columns, n).
Evaluation domains are cosets g·⟨ω_M⟩ with g = 31; low-degree extensions are returned in
bit-reversed order, so that a run of 2^a consecutive entries is a coset of ⟨ω_{2^a}⟩
(what FRI folding and the Merkle leaves need).
"""

from __future__ import annotations

import numpy as np

from rppsim.prover.reference.field import (
    GENERATOR,
    P64,
    P,
    bit_reverse_indices,
    inv,
    powers,
    root_of_unity,
    vmul,
)


def _log2(n: int) -> int:
    """log₂ of a power of two."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"length {n} is not a power of two")
    return n.bit_length() - 1


def ntt(coeffs: np.ndarray, root: int) -> np.ndarray:
    """Evaluations at root⁰ … root^(n−1), natural order (iterative Cooley–Tukey)."""
    n = coeffs.shape[-1]
    log_n = _log2(n)
    a = coeffs[..., bit_reverse_indices(log_n)].astype(np.uint64)
    for s in range(1, log_n + 1):
        m = 1 << s
        twiddles = powers(pow(root, n // m, P), m // 2)
        blocks = a.reshape(*a.shape[:-1], n // m, m)
        u = blocks[..., : m // 2]
        v = blocks[..., m // 2 :] * twiddles % P64
        a = np.concatenate([(u + v) % P64, (u + P64 - v) % P64], axis=-1).reshape(a.shape)
    return a


def interpolate(evals: np.ndarray) -> np.ndarray:
    """Coefficients of the polynomial taking these values on ⟨ω_n⟩ (natural order)."""
    n = evals.shape[-1]
    root_inv = inv(root_of_unity(_log2(n)))
    return vmul(ntt(evals, root_inv), inv(n))


def evaluate(coeffs: np.ndarray) -> np.ndarray:
    """Values on ⟨ω_n⟩ (natural order) of polynomials with n coefficients."""
    n = coeffs.shape[-1]
    return ntt(coeffs, root_of_unity(_log2(n)))


def coset_lde(coeffs: np.ndarray, log_blowup: int) -> np.ndarray:
    """Values on g·⟨ω_{n·2^b}⟩ in bit-reversed order of polynomials with n coefficients."""
    n = coeffs.shape[-1]
    size = n << log_blowup
    padded = np.zeros((*coeffs.shape[:-1], size), dtype=np.uint64)
    padded[..., :n] = coeffs * powers(GENERATOR, n) % P64
    values = ntt(padded, root_of_unity(_log2(size)))
    return values[..., bit_reverse_indices(_log2(size))]


def coset_interpolate(evals_bitrev: np.ndarray, shift_log: int = 0) -> np.ndarray:
    """Coefficients from bit-reversed values on s·⟨ω_M⟩, s = g^(2^shift_log)."""
    size = evals_bitrev.shape[-1]
    natural = evals_bitrev[..., bit_reverse_indices(_log2(size))]
    shift_inv = inv(pow(GENERATOR, 1 << shift_log, P))
    return interpolate(natural) * powers(shift_inv, size) % P64
