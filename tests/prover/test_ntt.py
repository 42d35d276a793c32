"""NTT, interpolation and the coset LDE: reference against naive maths, fast against reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.prover.fast import ntt as fast
from rppsim.prover.reference import ntt as ref
from rppsim.prover.reference.domain import coset_points, next_positions
from rppsim.prover.reference.field import GENERATOR, P, bit_reverse, root_of_unity

log_sizes = st.integers(min_value=0, max_value=7)


def _random(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, P, size=shape).astype(np.uint64)


def _horner(coeffs: list[int], x: int) -> int:
    acc = 0
    for c in reversed(coeffs):
        acc = (acc * x + c) % P
    return acc


@settings(max_examples=25)
@given(log_sizes, st.integers(0, 10**6))
def test_evaluate_matches_naive_dft(log_n, seed):
    """ntt() evaluates at ω⁰ … ω^(n−1) (naive O(n²) oracle), interpolate() inverts it."""
    n = 1 << log_n
    coeffs = _random((2, n), seed)
    values = ref.evaluate(coeffs)
    w = root_of_unity(log_n)
    for row in range(2):
        assert values[row].tolist() == [
            _horner(coeffs[row].tolist(), pow(w, i, P)) for i in range(n)
        ]
    assert (ref.interpolate(values) == coeffs).all()


@settings(max_examples=20)
@given(st.integers(0, 6), st.integers(1, 3), st.integers(0, 10**6))
def test_coset_lde_is_direct_evaluation(log_n, log_blowup, seed):
    """LDE position j holds the polynomial at g·ω_N^rev(j) (bit-reversed coset order)."""
    n = 1 << log_n
    coeffs = _random((1, n), seed)
    lde = ref.coset_lde(coeffs, log_blowup)
    log_size = log_n + log_blowup
    w = root_of_unity(log_size)
    for j in range(0, 1 << log_size, max(1, (1 << log_size) // 16)):
        x = GENERATOR * pow(w, bit_reverse(j, log_size), P) % P
        assert int(lde[0, j]) == _horner(coeffs[0].tolist(), x)
        assert int(coset_points(log_size)[j]) == x
    padded = np.zeros((1, n << log_blowup), dtype=np.uint64)
    padded[:, :n] = coeffs
    assert (ref.coset_interpolate(lde) == padded).all()


@settings(max_examples=25)
@given(log_sizes, st.integers(1, 3), st.integers(0, 3), st.integers(0, 10**6))
def test_fast_ntt_equals_reference(log_n, log_blowup, shift_log, seed):
    """The numba NTTs return the reference arrays exactly."""
    values = _random((3, 1 << log_n), seed)
    assert (fast.interpolate(values) == ref.interpolate(values)).all()
    assert (fast.coset_lde(values, log_blowup) == ref.coset_lde(values, log_blowup)).all()
    assert (
        fast.coset_interpolate(values, shift_log) == ref.coset_interpolate(values, shift_log)
    ).all()


def test_next_positions_follow_the_trace_row():
    """NX maps the point g·ω_N^i to g·ω_N^(i+B): the next trace row (docs/proofs.md#pitfalls)."""
    for log_n, log_blowup in ((3, 2), (4, 1), (2, 3)):
        log_size = log_n + log_blowup
        points = coset_points(log_size)
        omega_n = root_of_unity(log_n)
        nx = next_positions(log_n, log_blowup)
        for j in range(1 << log_size):
            assert int(points[nx[j]]) == int(points[j]) * omega_n % P
