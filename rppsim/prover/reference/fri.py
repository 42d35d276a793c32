"""FRI folding and its per-query check (docs/proofs.md#protocol step 6).

A layer is a (4, M) extension codeword in bit-reversed order over g^(2^s)·⟨ω_M⟩, so
positions 2j and 2j+1 hold f(x) and f(−x). One binary fold with challenge β:
f'(x²) = (f(x) + f(−x))/2 + β·(f(x) − f(−x))/(2x), giving the bit-reversed codeword over
g^(2^(s+1))·⟨ω_(M/2)⟩. A committed layer folds by 2^arity (three binary folds, fold by 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from rppsim.prover.reference.domain import coset_points
from rppsim.prover.reference.field import (
    GENERATOR,
    INV2,
    P64,
    Ext,
    P,
    bit_reverse,
    ext_array,
    ext_vmul,
    inv,
    root_of_unity,
    vinv,
)


def fold(values: np.ndarray, beta: Ext, log_size: int, shift_log: int) -> np.ndarray:
    """One binary fold of a (4, M) bit-reversed codeword."""
    even, odd = values[:, 0::2], values[:, 1::2]
    x = coset_points(log_size, shift_log)[0::2]
    inv_2x = vinv(x * np.uint64(2) % P64)
    half_sum = (even + odd) % P64 * np.uint64(INV2) % P64
    half_diff = (even + P64 - odd) % P64 * inv_2x[None, :] % P64
    mixed = ext_vmul(half_diff, ext_array(beta, half_diff.shape[1]))
    return (half_sum + mixed) % P64


def fold_pair(a: Ext, b: Ext, beta: Ext, x: int) -> Ext:
    """The fold of f(x) = a and f(−x) = b (verifier side, one value)."""
    return (a + b) * INV2 + beta * (a - b) * inv(2 * x % P)


def fold_group(values: Sequence[Ext], betas: Sequence[Ext], points: Sequence[Sequence[int]]) -> Ext:
    """Fold a committed group of 2^a values down to one; points[r][i] is x of pair i."""
    layer = list(values)
    for beta, xs in zip(betas, points, strict=True):
        layer = [
            fold_pair(layer[2 * i], layer[2 * i + 1], beta, xs[i]) for i in range(len(layer) // 2)
        ]
    return layer[0]


@lru_cache(maxsize=64)
def _inverse_offsets(arity: int) -> tuple[int, ...]:
    """ω_(2^a)^(−rev(u)) for the first point of each fold pair in a group of 2^a."""
    inv_omega = inv(root_of_unity(arity))
    return tuple(pow(inv_omega, bit_reverse(u, arity - 1), P) for u in range(1 << (arity - 1)))


@lru_cache(maxsize=256)
def _inverse_roots(log_size: int, shift_log: int) -> tuple[int, int]:
    """(ω_M⁻¹, s⁻¹) for a layer g^(2^shift_log)·⟨ω_M⟩."""
    return inv(root_of_unity(log_size)), inv(pow(GENERATOR, 1 << shift_log, P))


def fold_groups(
    values: np.ndarray, betas: Sequence[Ext], log_size: int, shift_log: int, groups: Sequence[int]
) -> np.ndarray:
    """fold_group for many committed groups at once: (q, 2^a, 4) values → (q, 4).

    Group G's points are x₀·ω_(2^a)^rev(t) with x₀ = s·ω_M^rev(G), so
    1/x = s⁻¹·ω_M^(−rev(G))·ω_(2^a)^(−rev(t)); each later fold squares every other 1/x.
    This is the verifier's hot path, vectorised over the queries.
    """
    arity = len(betas)
    inv_root, inv_shift = _inverse_roots(log_size, shift_log)
    inv_x0 = np.array(
        [inv_shift * pow(inv_root, bit_reverse(g, log_size - arity), P) % P for g in groups],
        dtype=np.uint64,
    )
    inv_pts = inv_x0[:, None] * np.array(_inverse_offsets(arity), dtype=np.uint64)[None, :] % P64
    layer = values.astype(np.uint64)
    for beta in betas:
        a, b = layer[:, 0::2, :], layer[:, 1::2, :]
        half_sum = (a + b) % P64 * np.uint64(INV2) % P64
        scale = inv_pts * np.uint64(INV2) % P64
        diff = (a + P64 - b) % P64 * scale[:, :, None] % P64
        flat = diff.reshape(-1, 4).T
        mixed = ext_vmul(flat, ext_array(beta, flat.shape[1])).T.reshape(diff.shape)
        layer = (half_sum + mixed) % P64
        inv_pts = inv_pts[:, 0::2] * inv_pts[:, 0::2] % P64
    return layer[:, 0, :]


def evaluate_poly(coeffs: Sequence[Ext], x: int | Ext) -> Ext:
    """Horner evaluation of an extension-coefficient polynomial."""
    acc = Ext(0)
    for c in reversed(coeffs):
        acc = acc * x + c
    return acc


def evaluate_at_base_points(coeffs: Sequence[Ext], xs: np.ndarray) -> np.ndarray:
    """(len(xs), 4): Σ cᵢ·xⁱ at many base points (Horner, vectorised over the points)."""
    acc = np.zeros((xs.shape[0], 4), dtype=np.uint64)
    for coeff in reversed(coeffs):
        acc = (acc * xs[:, None] % P64 + np.array(coeff.c, dtype=np.uint64)[None, :]) % P64
    return acc
