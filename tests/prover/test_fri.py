"""FRI: folding, and the low-degree test accepting degree < n and rejecting degree ≥ n."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.prover.fast import fri as fast_fri
from rppsim.prover.fast.backend import FastBackend
from rppsim.prover.params import StarkParams
from rppsim.prover.protocol import domain_point, draw_query_indices, fri_arities
from rppsim.prover.reference import fri
from rppsim.prover.reference import ntt as ref_ntt
from rppsim.prover.reference.backend import ReferenceBackend
from rppsim.prover.reference.field import Ext, P
from rppsim.prover.reference.transcript import Transcript
from rppsim.prover.stark import commit_fri, open_fri
from rppsim.prover.verifier import Reason, check_fri

PARAMS = StarkParams("fri-test", log_blowup=2, num_queries=16, pow_bits=0, log_final_poly_len=2)


def _ext_values(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, P, size=(4, count)).astype(np.uint64)


def _codeword(degree: int, rows_log2: int, seed: int) -> np.ndarray:
    """(4, N) bit-reversed LDE of a random extension polynomial with ``degree`` coefficients."""
    rng = np.random.default_rng(seed)
    length = 2 << rows_log2  # room for degree n + 1, evaluated on the same N points
    coeffs = np.zeros((4, length), dtype=np.uint64)
    coeffs[:, :degree] = _ext_values(rng, degree)
    coeffs[0, degree - 1] = 1 + coeffs[0, degree - 1] % np.uint64(P - 1)  # non-zero top
    return ref_ntt.coset_lde(coeffs, PARAMS.log_blowup - 1)


def _run(codeword: np.ndarray, rows_log2: int, backend=None) -> Reason | None:
    """Commit, draw queries, open and verify, as stark/verifier do."""
    backend = backend or FastBackend()
    ts = Transcript()
    layers, final = commit_fri(backend, ts, codeword, rows_log2, PARAMS)
    replay = Transcript()
    betas = []
    for layer, arity in zip(layers, fri_arities(rows_log2, PARAMS), strict=True):
        replay.absorb(layer.tree.root)
        betas.append(tuple(replay.draw_ext() for _ in range(arity)))
    log_size = rows_log2 + PARAMS.log_blowup
    indices = draw_query_indices(ts, 1 << log_size, PARAMS.num_queries)
    expected = codeword[:, indices].T.copy()
    roots = [layer.tree.root for layer in layers]
    return check_fri(roots, open_fri(layers, indices), betas, final, indices, expected, log_size)


@pytest.mark.parametrize("rows_log2", [2, 3, 5, 8])
def test_low_degree_is_accepted(rows_log2):
    """Degree < n passes for any number of FRI layers (including none)."""
    assert _run(_codeword(1 << rows_log2, rows_log2, seed=rows_log2), rows_log2) is None


@pytest.mark.parametrize("rows_log2", [3, 5, 8])
def test_one_degree_too_high_is_rejected(rows_log2):
    """Degree = n (the bound + 1) fails the final-polynomial check."""
    codeword = _codeword((1 << rows_log2) + 1, rows_log2, seed=7)
    assert _run(codeword, rows_log2) is Reason.FRI_VERIFY_FAILED


def test_random_codeword_is_rejected():
    """A random function is far from every low-degree polynomial."""
    rng = np.random.default_rng(11)
    assert _run(_ext_values(rng, 1 << 8), 6) is Reason.FRI_VERIFY_FAILED


def test_reference_and_fast_commitments_agree():
    """Both backends commit the same FRI layers and final polynomial."""
    codeword = _codeword(32, 5, seed=3)
    results = []
    for backend in (ReferenceBackend(), FastBackend()):
        layers, final = commit_fri(backend, Transcript(), codeword, 5, PARAMS)
        results.append(([layer.tree.root for layer in layers], final))
    assert results[0] == results[1]


@settings(max_examples=20)
@given(st.integers(1, 7), st.integers(0, 4), st.integers(0, 10**6))
def test_fold_fast_equals_reference(log_size, shift_log, seed):
    """One binary fold: numba = numpy, coefficient-wise f_e + β·f_o."""
    rng = np.random.default_rng(seed)
    values = _ext_values(rng, 1 << log_size)
    beta = Ext(*rng.integers(0, P, size=4).tolist())
    assert (
        fast_fri.fold(values, beta, log_size, shift_log)
        == fri.fold(values, beta, log_size, shift_log)
    ).all()


def test_fold_of_polynomial_is_even_plus_beta_odd():
    """Folding the LDE of f gives the LDE of f_e + β·f_o on the squared coset."""
    rng = np.random.default_rng(2)
    coeffs = np.zeros((4, 8), dtype=np.uint64)
    coeffs[:, :8] = _ext_values(rng, 8)
    lde = ref_ntt.coset_lde(coeffs, 2)
    beta = Ext(*rng.integers(0, P, size=4).tolist())
    folded = fri.fold(lde, beta, 5, 0)
    even, odd = coeffs[:, 0::2], coeffs[:, 1::2]
    expected_coeffs = []
    for i in range(4):
        e = Ext(*(int(even[c, i]) for c in range(4)))
        o = Ext(*(int(odd[c, i]) for c in range(4)))
        expected_coeffs.append(e + beta * o)
    for j in range(folded.shape[1]):
        x = domain_point(4, 1, j)
        assert Ext(*(int(folded[c, j]) for c in range(4))) == fri.evaluate_poly(expected_coeffs, x)


def test_grouped_fold_equals_pairwise_fold():
    """fold_groups (verifier, vectorised) equals fold_group over explicit points."""
    rng = np.random.default_rng(4)
    for arity, log_size, shift_log in ((1, 5, 0), (2, 6, 1), (3, 7, 2)):
        groups = list(range(0, (1 << log_size) >> arity, 3))
        values = rng.integers(0, P, size=(len(groups), 1 << arity, 4)).astype(np.uint64)
        betas = [Ext(*rng.integers(0, P, size=4).tolist()) for _ in range(arity)]
        fast_out = fri.fold_groups(values, betas, log_size, shift_log, groups)
        for i, group in enumerate(groups):
            points = []
            for step in range(arity):
                pairs = 1 << (arity - step - 1)
                base = group * (pairs << 1)
                points.append(
                    [
                        domain_point(log_size - step, shift_log + step, base + 2 * u)
                        for u in range(pairs)
                    ]
                )
            exts = [Ext(*values[i, t].tolist()) for t in range(1 << arity)]
            assert fri.fold_group(exts, betas, points).c == tuple(fast_out[i].tolist())
