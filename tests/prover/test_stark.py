"""End to end: prove and verify every AIR, edge sizes, the prove() API and its errors."""

from __future__ import annotations

import dataclasses

import pytest

from rppsim.prover import PROFILES, Proof, Reason, StarkParams, WitnessError, prove, verify
from rppsim.prover.examples import example_statement
from rppsim.prover.protocol import fri_arities
from rppsim.prover.verifier import check_proof, verify_reason

from .conftest import ALL_AIRS, cached_proof


def test_issue_api_example():
    """The documented flow: example → prove → bytes → from_bytes → verify."""
    public_inputs, witness = example_statement("uptime", rows_log2=10, seed=1)
    proof = prove("uptime", public_inputs, witness, profile="sim")
    assert isinstance(proof, Proof)
    again = Proof.from_bytes(proof.to_bytes())
    assert verify(again) is True
    assert again.body.rows_log2 == 10


@pytest.mark.parametrize("circuit", ALL_AIRS)
@pytest.mark.parametrize("profile", ["test-tiny", "sim"])
def test_every_air_proves_and_verifies(circuit, profile):
    """Honest statements verify, through the bytes."""
    proof = cached_proof(circuit, profile, 6)
    assert check_proof(Proof.from_bytes(proof.to_bytes())) is Reason.ACCEPTED


@pytest.mark.parametrize("rows_log2", [2, 3, 4, 5, 7])
def test_small_traces_and_every_fri_shape(rows_log2):
    """No FRI layer (n ≤ final length), a partial last layer, and several layers all verify."""
    params = PROFILES["sim"]
    proof = cached_proof("bench16", "sim", rows_log2)
    assert len(proof.body.fri_roots) == len(fri_arities(rows_log2, params))
    assert check_proof(proof) is Reason.ACCEPTED


def test_standard_and_chain_parity_profiles():
    """The heavier profiles verify and open the configured number of queries."""
    for profile in ("standard", "chain-parity"):
        proof = cached_proof("uptime", profile, 5)
        assert check_proof(proof) is Reason.ACCEPTED
        assert 0.8 * PROFILES[profile].num_queries <= len(proof.body.query_indices)
    assert len(cached_proof("uptime", "chain-parity", 5).body.final_poly) == 1


def test_rows_default_to_the_witness_size():
    """Without rows_log2 the trace is the smallest power of two that holds the witness."""
    public_inputs, witness = example_statement("transaction", 4, seed=2)
    proof = prove("transaction", public_inputs, witness, profile="test-tiny")
    assert proof.body.rows_log2 == 4
    assert verify(proof)


def test_prove_refuses_bad_statements():
    """Invalid public inputs, a failing witness or an unsupported size raise WitnessError."""
    public_inputs, witness = example_statement("uptime", 6, seed=2)
    with pytest.raises(WitnessError, match="native checks"):
        prove("uptime", dataclasses.replace(public_inputs, epoch=0), witness, "test-tiny")
    greedy = dataclasses.replace(public_inputs, window_start=public_inputs.window_start + 1)
    with pytest.raises(WitnessError, match="constraint"):
        prove("uptime", greedy, witness, "test-tiny", rows_log2=6)
    with pytest.raises(WitnessError):
        prove("uptime", public_inputs, witness, "test-tiny", rows_log2=4)
    with pytest.raises(KeyError):
        prove("uptime", public_inputs, witness, "no-such-profile")
    with pytest.raises(ValueError, match="backend"):
        prove("uptime", public_inputs, witness, "test-tiny", backend="gpu")


def test_unregistered_params_are_not_accepted():
    """A proof under parameters that are not a known profile is rejected."""
    weak = StarkParams("weak", log_blowup=1, num_queries=1, pow_bits=0)
    public_inputs, witness = example_statement("uptime", 5, seed=3)
    proof = prove("uptime", public_inputs, witness, profile=weak)
    assert check_proof(proof) is Reason.UNKNOWN_PARAMS
    sim = cached_proof("uptime", "sim", 5)
    assert check_proof(sim, accepted_profiles=frozenset({"standard"})) is Reason.UNKNOWN_PARAMS
    assert check_proof(sim, accepted_profiles=frozenset({"sim"})) is Reason.ACCEPTED


def test_verify_never_raises():
    """Anything that is not a proof, or a proof with nonsense inside, is just False."""
    assert verify(None) is False
    assert verify(b"bytes") is False
    proof = cached_proof("uptime", "sim", 5)
    broken = dataclasses.replace(proof, body=dataclasses.replace(proof.body, ood_values=()))
    assert verify_reason(broken) is Reason.SHAPE_MISMATCH
    garbage = dataclasses.replace(proof, body=dataclasses.replace(proof.body, rows_log2=200))
    assert verify(garbage) is False
