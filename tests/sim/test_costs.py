"""Processing costs charged in simulated time (rppsim/sim/costs.py)."""

from __future__ import annotations

import pytest

from rppsim.node.messages import (
    BftVote,
    Evidence,
    EvidenceKind,
    SyncRequest,
    Transaction,
    VoteKind,
    sign_proposal,
    sign_transaction,
    sign_vote,
)
from rppsim.node.signing import generate_keypair
from rppsim.sim.costs import CostConstants, CostModel, compute_rows

C = CostConstants()
CALLS: list[tuple[str, int, bool]] = []


def _proof_cost(circuit: str, rows: int, proving: bool) -> int:
    CALLS.append((circuit, rows, proving))
    return rows * (100 if proving else 10)


@pytest.fixture
def model() -> CostModel:
    CALLS.clear()
    return CostModel(True, _proof_cost)


@pytest.fixture(scope="module")
def commit(runs):
    """A finalized commit of the base run (height 2: it carries a consensus proof)."""
    sim, _ = runs.get("base")
    return sim.slots[0].persisted[1]


def _vote(seed: int, block_hash: str) -> object:
    keypair = generate_keypair(bytes([seed]) * 32)
    return sign_vote(BftVote(0, 3, block_hash, keypair.address, VoteKind.PRE_VOTE), keypair)


def test_rows_are_the_next_power_of_two_at_least_eight() -> None:
    assert [compute_rows(n) for n in (0, 1, 8, 9, 64, 65, 100)] == [8, 8, 8, 16, 64, 128, 128]


def test_signed_messages_cost_one_check_per_signature(model) -> None:
    vote = _vote(1, "aa" * 32)
    wallet = generate_keypair(b"w" * 32)
    tx = sign_transaction(Transaction(wallet.address, "bb" * 32, 5, 1, 1, b"", b""), wallet)
    assert model.message_us(vote) == model.message_us(tx) == C.message_us + C.signature_us
    pair = (vote, _vote(1, "cc" * 32))
    evidence = Evidence(EvidenceKind.DOUBLE_SIGN_PREVOTE, "x", 3, 0, VoteKind.PRE_VOTE, (), pair)
    assert model.message_us(evidence) == C.message_us + 2 * C.signature_us
    assert model.message_us(SyncRequest(1, 32)) == C.message_us
    assert model.timer_us() == C.message_us


def test_blocks_cost_their_checks_and_proof_verifications(model, commit) -> None:
    block = commit.block
    certificate = commit.certificate
    votes = len(certificate.pre_votes) + len(certificate.pre_commits)
    assert votes >= 6
    expected = model.block_us(block.transactions, len(block.vrf_submissions), block.proofs)
    assert model.message_us(commit) == expected + votes * C.signature_us
    assert {(c, p) for c, _, p in CALLS} == {(s.circuit, False) for s in block.proofs}
    proposal = sign_proposal(block, 0, generate_keypair(b"p" * 32))
    assert model.message_us(proposal) == expected + C.signature_us
    fewer = model.block_us(block.transactions[:1], len(block.vrf_submissions), block.proofs)
    assert len(block.transactions) > 1 and fewer < expected


def test_proving_charges_the_cost_model_at_padded_rows(model) -> None:
    assert model.proving_us("transaction", 20) == 32 * 100
    assert CALLS[-1] == ("transaction", 32, True)


def test_disabled_costs_are_zero(commit) -> None:
    model = CostModel(False, _proof_cost)
    assert model.message_us(commit) == model.message_us(_vote(2, "dd" * 32)) == 0
    assert model.timer_us() == model.proving_us("uptime", 1) == 0
