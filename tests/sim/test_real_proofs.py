"""Prover mode real: node statements proved and verified by the numba STARK
(docs/architecture.md#prover-modes)."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.proofs import (
    ConsensusStatement,
    TransactionBatchStatement,
    TransferRow,
    UptimeStatement,
)
from rppsim.sim.real_proofs import (
    TIME_BASE_S,
    WEIGHT_SCALE,
    RealProofService,
    compute_consensus_weights,
)

GENESIS = 1_767_225_600
UPTIME = UptimeStatement("ab" * 32, GENESIS - 3000, GENESIS + 600, GENESIS + 600, 0, bytes(32), 1)
BATCH = TransactionBatchStatement(
    b"\x11" * 32,
    (TransferRow(10, 2, 1000, 988, 50, 60, 0), TransferRow(5, 1, 988, 982, 0, 5, 1)),
)
CERT = ConsensusStatement(
    "cd" * 32,
    3,
    0,
    0,
    961_333_335,
    (1_442_000_000, 1_442_000_000, 1_442_000_000, 1_400_000_000),
    (True, True, True, False),
    (True, True, True, False),
)


@pytest.fixture(scope="module")
def service():
    return RealProofService()


@pytest.fixture(scope="module")
def proofs(service):
    return {s.circuit: service.prove(s) for s in (UPTIME, BATCH, CERT)}


@pytest.mark.parametrize("statement", [UPTIME, BATCH, CERT], ids=lambda s: s.circuit)
def test_honest_proof_verifies(service, proofs, statement):
    assert service.is_provable(statement)
    assert service.verify(statement, service.system, proofs[statement.circuit]).ok


@pytest.mark.parametrize(
    ("statement", "changed"),
    [
        (UPTIME, replace(UPTIME, window_end=UPTIME.window_end + 1)),
        (UPTIME, replace(UPTIME, wallet_address="cd" * 32)),
        (BATCH, replace(BATCH, batch_digest=b"\x12" * 32)),
        (CERT, replace(CERT, height=4)),
    ],
    ids=["window", "wallet", "batch", "height"],
)
def test_proof_of_other_public_values_is_rejected(service, proofs, statement, changed):
    """A proof binds the statement it was made for: another statement's verifier says no."""
    outcome = service.verify(changed, service.system, proofs[statement.circuit])
    assert not outcome.ok
    assert outcome.reason == "public inputs mismatch"


def test_tampered_bytes_and_foreign_systems_are_rejected(service, proofs):
    data = proofs["uptime"]
    flipped = (
        data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 1]) + data[len(data) // 2 + 1 :]
    )
    assert not service.verify(UPTIME, service.system, flipped).ok
    assert not service.verify(UPTIME, service.system, data[:-3]).ok
    outcome = service.verify(UPTIME, "stwo", data)
    assert not outcome.ok and "unsupported proof system stwo" in outcome.reason


def test_a_proof_for_another_circuit_is_rejected(service, proofs):
    assert not service.verify(BATCH, service.system, proofs["uptime"]).ok


def test_verdicts_are_computed_once_per_exact_bytes(service, proofs):
    before = service.verified
    for _ in range(3):
        assert service.verify(CERT, service.system, proofs["consensus"]).ok
    assert service.verified == before


def test_statements_outside_the_circuit_are_not_provable(service):
    early = replace(UPTIME, window_start=TIME_BASE_S - 4000, window_end=TIME_BASE_S - 100)
    assert not service.is_provable(early)
    short_quorum = replace(CERT, precommitted=(True, True, False, False))
    assert not service.is_provable(short_quorum)


@settings(max_examples=60)
@given(
    st.lists(st.integers(1, 2**40), min_size=1, max_size=40),
    st.data(),
)
def test_weight_mapping_fits_the_circuit_and_favours_voters(weights, data):
    prevoted = tuple(
        data.draw(st.lists(st.booleans(), min_size=len(weights), max_size=len(weights)))
    )
    statement = replace(CERT, weights=tuple(weights), prevoted=prevoted, precommitted=prevoted)
    mapped = compute_consensus_weights(statement)
    assert max(mapped) == WEIGHT_SCALE
    assert all(0 <= w <= WEIGHT_SCALE for w in mapped)
    top = max(weights)
    for w, m, voted in zip(weights, mapped, prevoted, strict=True):
        exact = w * WEIGHT_SCALE / top
        assert (m >= exact) if voted else (m <= exact)
        assert abs(m - exact) < 1


def test_a_real_run_carries_verified_uptime_proofs():
    """Prover mode real end to end: uptime claims at 600 s are proved, gossiped, verified and
    included; the byzantine node's corrupted proofs are rejected as invalid."""
    from pathlib import Path

    from rppsim.scenario import load_scenario
    from rppsim.sim.run import execute_run

    path = Path(__file__).parent / "data" / "invalid_proof.toml"
    scenario = load_scenario(path)
    scenario = replace(scenario, run=replace(scenario.run, prover="real"))
    result = execute_run(scenario, write=False)
    proofs = result.frames["proofs"]
    uptime = proofs[proofs["circuit"] == "uptime"]
    assert len(uptime) >= 3
    assert set(uptime["system"]) == {"numba-stark"}
    assert uptime["verified"].all()
    rejections = result.frames["rejections"]
    assert rejections["reason"].str.contains("uptime").any()
