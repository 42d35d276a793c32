"""Cheating provers (docs/proofs.md#tests-and-vectors): a trace breaking one constraint in one row
never
yields an accepted proof; forging around the checks leaves only the query sampling,
whose false-accept rate matches ≈ (1/B)^q."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rppsim.prover import Reason
from rppsim.prover.airs import get_air
from rppsim.prover.backend import Backend
from rppsim.prover.examples import example_statement
from rppsim.prover.fast.backend import FastBackend
from rppsim.prover.params import PROFILES, StarkParams
from rppsim.prover.proof import Proof, StarkProofBody
from rppsim.prover.protocol import (
    PROOF_VERSION,
    absorb_statement,
    draw_ood_point,
    draw_query_indices,
    leaf_group,
    public_digest,
)
from rppsim.prover.reference.backend import ReferenceBackend
from rppsim.prover.reference.composition import split_chunks
from rppsim.prover.reference.field import P, exts_to_bytes, root_of_unity
from rppsim.prover.reference.transcript import Transcript
from rppsim.prover.stark import _commit, commit_fri, open_fri, prove_trace
from rppsim.prover.verifier import check_proof, composition_at, composition_from_chunks

from .conftest import ALL_AIRS


def bad_trace(circuit: str, rows_log2: int, seed: int) -> tuple[object, np.ndarray]:
    """An honest example trace with one cell changed in one middle row."""
    air = get_air(circuit)
    public_inputs, witness = example_statement(circuit, rows_log2, seed)
    trace = air.build_trace(public_inputs, witness, rows_log2)
    rng = np.random.default_rng(seed)
    column, row = int(rng.integers(air.width)), (1 << rows_log2) // 2
    trace[column, row] = (int(trace[column, row]) + 1 + int(rng.integers(1000))) % P
    return public_inputs, trace


def cheat(
    circuit: str, public_inputs: object, trace: np.ndarray, params: StarkParams, *,
    forge_ood: bool, low_degree_layer0: bool, backend: Backend | None = None,
) -> Proof:  # fmt: skip
    """stark.prove_trace, but free to lie: forged OOD values, a substituted FRI layer 0."""
    backend = backend or FastBackend()
    air = get_air(circuit)
    n = trace.shape[1]
    k, lb = n.bit_length() - 1, params.log_blowup
    ts = Transcript()
    absorb_statement(ts, params, air, k, public_inputs.to_bytes())
    coeffs = backend.interpolate(trace)
    trace_layer = _commit(backend, ts, backend.coset_lde(coeffs, lb), leaf_group(air.width))
    alpha = ts.draw_ext()
    consts = air.public_constants(public_inputs)
    h = backend.composition(air, trace_layer.matrix, consts, alpha, k, lb)
    chunks = split_chunks(backend.coset_interpolate(h), air.num_chunks, n)
    comp_layer = _commit(backend, ts, backend.coset_lde(chunks, lb), leaf_group(chunks.shape[0]))
    z = draw_ood_point(ts, k, lb)
    zw = z * root_of_unity(k)
    ood = [*backend.evaluate_at(coeffs, z), *backend.evaluate_at(coeffs, zw)]
    ood += backend.evaluate_at(chunks, z)
    if forge_ood:  # make H(z) = Σ zⁱⁿ Hᵢ(z) hold by moving C₀(z), whose coefficient is 1
        stub = SimpleNamespace(
            body=SimpleNamespace(rows_log2=k, ood_values=ood), public_inputs=public_inputs
        )
        target = composition_at(air, stub, alpha, z)
        ood[2 * air.width] = ood[2 * air.width] + target - composition_from_chunks(air, stub, z)
    ts.absorb(exts_to_bytes(ood))
    gamma = ts.draw_ext()
    deep = backend.deep(trace_layer.matrix, comp_layer.matrix, ood, z, zw, gamma, k + lb)
    if low_degree_layer0:  # the low-degree function agreeing with DEEP on positions [0, n)
        deep = backend.coset_lde(backend.coset_interpolate(deep[:, :n]), lb)
    layers, final = commit_fri(backend, ts, deep, k, params)
    nonce = backend.grind(ts.state, params.pow_bits)
    ts.absorb(nonce.to_bytes(8, "little"))
    indices = draw_query_indices(ts, 1 << (k + lb), params.num_queries)
    body = StarkProofBody(
        PROOF_VERSION, k, params.digest(), public_digest(air, public_inputs.to_bytes()),
        trace_layer.tree.root, comp_layer.tree.root, tuple(layer.tree.root for layer in layers),
        tuple(ood), final, nonce, tuple(indices),
        trace_layer.open([i // trace_layer.group for i in indices]),
        comp_layer.open([i // comp_layer.group for i in indices]), open_fri(layers, indices),
    )  # fmt: skip
    return Proof(circuit, params, public_inputs, body)


@pytest.mark.parametrize("circuit", ALL_AIRS)
@pytest.mark.parametrize("profile", ["test-tiny", "sim"])
def test_one_bad_row_never_verifies(circuit, profile):
    """The prover does not refuse the bad trace; the verifier rejects its proof."""
    for seed in (1, 2):
        public_inputs, trace = bad_trace(circuit, 6, seed)
        proof = prove_trace(
            get_air(circuit), public_inputs, trace, PROFILES[profile], FastBackend()
        )
        assert check_proof(proof) is Reason.COMPOSITION_INCONSISTENT


def test_bad_row_with_the_reference_backend():
    """The readable prover builds the same kind of doomed proof."""
    public_inputs, trace = bad_trace("uptime", 5, 3)
    proof = prove_trace(
        get_air("uptime"), public_inputs, trace, PROFILES["sim"], ReferenceBackend()
    )
    assert check_proof(proof) is Reason.COMPOSITION_INCONSISTENT


@pytest.mark.parametrize("circuit", ALL_AIRS)
def test_forged_ood_values_fail_the_low_degree_test(circuit):
    """Passing the OOD identity with a forged value makes DEEP high-degree: caught by FRI."""
    for seed in (1, 2):
        public_inputs, trace = bad_trace(circuit, 6, seed)
        proof = cheat(
            circuit, public_inputs, trace, PROFILES["sim"], forge_ood=True, low_degree_layer0=False
        )
        assert check_proof(proof) in (Reason.DEEP_MISMATCH, Reason.FRI_VERIFY_FAILED)


def test_false_accept_rate_matches_the_query_bound():
    """Forged OOD + a low-degree layer 0 agreeing with DEEP on 1/B of the points: accepted
    only when every query lands there, probability ≈ (1/4)^4 = 1/256 with test-tiny."""
    runs, accepted, reasons = 200, 0, set()
    for seed in range(runs):
        public_inputs, trace = bad_trace("bench16", 5, seed)
        proof = cheat(
            "bench16",
            public_inputs,
            trace,
            PROFILES["test-tiny"],
            forge_ood=True,
            low_degree_layer0=True,
        )
        reason = check_proof(proof)
        accepted += reason is Reason.ACCEPTED
        reasons.add(reason)
    assert reasons <= {Reason.ACCEPTED, Reason.DEEP_MISMATCH}  # only the sampling stops it
    assert accepted <= 6  # Poisson(0.8): P(> 6) ≈ 1e-5


def test_the_same_cheat_succeeds_against_one_query(monkeypatch):
    """With q = 1 the bound is 1/B: the forgery gets through about a quarter of the time,
    which shows the attack is real and the query count is what defeats it."""
    weak = StarkParams("one-query", log_blowup=2, num_queries=1, pow_bits=0)
    monkeypatch.setitem(PROFILES, weak.name, weak)
    accepted = 0
    for seed in range(40):
        public_inputs, trace = bad_trace("bench16", 5, seed)
        proof = cheat("bench16", public_inputs, trace, weak, forge_ood=True, low_degree_layer0=True)
        accepted += check_proof(proof) is Reason.ACCEPTED
    assert 2 <= accepted <= 22  # Binomial(40, 1/4): mean 10
