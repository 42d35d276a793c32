"""The Poseidon2 instance of the recursive AIR (docs/proofs.md#poseidon2-and-plonky3): structure
checks."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.prover.reference import poseidon2 as p2
from rppsim.prover.reference.field import P, inv

felts = st.integers(min_value=0, max_value=P - 1)


def _rank(rows: list[list[int]]) -> int:
    """Rank over F_p by Gaussian elimination."""
    m = [row[:] for row in rows]
    rank = 0
    for col in range(len(m[0])):
        pivot = next((r for r in range(rank, len(m)) if m[r][col]), None)
        if pivot is None:
            continue
        m[rank], m[pivot] = m[pivot], m[rank]
        scale = inv(m[rank][col])
        m[rank] = [v * scale % P for v in m[rank]]
        for r in range(len(m)):
            if r != rank and m[r][col]:
                f = m[r][col]
                m[r] = [(a - f * b) % P for a, b in zip(m[r], m[rank], strict=True)]
        rank += 1
    return rank


def _matrix(layer) -> list[list[int]]:
    """The matrix of a linear layer, column by column."""
    cols = [layer([int(i == j) for i in range(p2.WIDTH)]) for j in range(p2.WIDTH)]
    return [[cols[j][i] for j in range(p2.WIDTH)] for i in range(p2.WIDTH)]


def test_sbox_is_a_permutation_and_layers_are_invertible():
    """gcd(7, p − 1) = 1; M_E and M_I have full rank, so the permutation is a bijection."""
    assert math.gcd(p2.ALPHA, P - 1) == 1
    assert _rank(_matrix(p2.external_layer)) == p2.WIDTH
    assert _rank(_matrix(p2.internal_layer)) == p2.WIDTH


def test_internal_diagonal_is_plonky3s():
    """V16 is Plonky3's BabyBear diagonal (docs/proofs.md#poseidon2-and-plonky3)."""
    expected = [-2, 1, 2, inv(2), 3, 4, -inv(2), -3, -4, inv(256), inv(4), inv(8)]
    expected += [inv(1 << 27), -inv(256), -inv(16), -inv(1 << 27)]
    assert list(p2.V16) == [v % P for v in expected]


def test_constants_are_distinct_field_elements():
    """Round constants are canonical and pairwise distinct (BLAKE2s-derived)."""
    flat = [c for row in p2.FULL_CONSTANTS for c in row] + list(p2.PARTIAL_CONSTANTS)
    assert len(flat) == 8 * 16 + 13
    assert len(set(flat)) == len(flat)
    assert all(0 <= c < P for c in flat)


@settings(max_examples=15)
@given(st.lists(felts, min_size=16, max_size=16), st.integers(0, 15), st.integers(1, P - 1))
def test_permutation_diffuses(state, lane, delta):
    """Changing one input lane changes every output lane."""
    other = list(state)
    other[lane] = (other[lane] + delta) % P
    a, b = p2.permute(state), p2.permute(other)
    assert all(x != y for x, y in zip(a, b, strict=True))


def test_compress_and_fold():
    """compress is the truncated permutation; fold chains it; digests map to 8 felts."""
    left, right = list(range(8)), list(range(8, 16))
    assert p2.compress(left, right) == tuple(p2.permute(left + right)[:8])
    assert p2.fold(left, [right, right]) == p2.compress(p2.compress(left, right), right)
    felts8 = p2.digest_to_felts(bytes(range(32)))
    assert felts8[0] == int.from_bytes(bytes(range(4)), "little")
    assert np.all(np.array(felts8) < P)
