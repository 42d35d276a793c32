"""Blocks: validator sets, block checks and application, certificates, proof slots
(docs/protocol.md#rounds-and-quorum)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rppsim.node.blocks import (
    AppliedBlock,
    compute_block_problem,
    compute_certificate_problem,
    compute_evidence_problem,
    compute_gossip_submission_problem,
    compute_leader_key,
    compute_proof_problem,
    compute_round_set,
    compute_submission_problem,
    compute_uptime_problem,
    compute_uptime_statement,
)
from rppsim.node.messages import (
    BftVote,
    Evidence,
    EvidenceKind,
    ProofSlot,
    UptimeProof,
    VoteKind,
    VoteRecord,
    compute_uptime_commitment,
    sign_vote,
)
from rppsim.node.node import Node
from rppsim.node.proofs import ModelProofService
from rppsim.node.rules import Rules
from rppsim.testing.cluster import InMemoryCluster


@pytest.fixture(scope="module")
def cluster(safety) -> InMemoryCluster:
    """Four validators after 40 s with traffic: a short chain to take blocks from."""
    c = InMemoryCluster(validators=4, seed=21, tx_rate_per_s=2.0)
    c.run(until_ms=40_000)
    assert len(c.finalized_chain(0)) >= 6
    yield c
    safety(c)


def _node_before(cluster: InMemoryCluster, height: int) -> Node:
    """A node that replayed the commits below ``height``: it is deciding ``height``."""
    return Node(cluster.config, cluster.keys[0], commits=cluster.node(0).chain[: height - 1])


def _check(node: Node, block, proofs=None):
    return compute_block_problem(
        node.ledger,
        block,
        node._context(),
        proofs or ModelProofService(),
        node.previous_set,
        node.previous_epoch,
        round_set=node._voting_set_of(block),
    )


# --- a committed block re-checks, any change does not -----------------------------------------


def test_committed_block_checks_and_applies_to_its_state_root(cluster):
    commit = cluster.node(0).chain[4]
    node = _node_before(cluster, 5)
    applied = _check(node, commit.block)
    assert isinstance(applied, AppliedBlock)
    assert applied.ledger.get_state_root() == commit.block.header.state_root
    assert applied.ledger.height == 5
    assert node.ledger.height == 4  # the node's own ledger is untouched
    assert applied.fees == sum(tx.fee for tx in commit.block.transactions)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: replace(b, header=replace(b.header, height=9)), "block does not extend the tip"),
        (
            lambda b: replace(b, header=replace(b.header, previous_hash="00" * 32)),
            "block does not extend the tip",
        ),
        (
            lambda b: replace(b, header=replace(b.header, state_root=bytes(32))),
            "state root mismatch",
        ),
        (lambda b: replace(b, transactions=b.transactions[1:]), "block body does not match"),
        (lambda b: replace(b, proofs=()), "block body does not match"),
        (
            lambda b: replace(b, header=replace(b.header, leader_timetoke=999)),
            "header leader tier or timetoke differ from the ledger",
        ),
        (
            lambda b: replace(b, header=replace(b.header, proposer="ab" * 32)),
            "proposer is not in the block's validator set",
        ),
        (
            lambda b: replace(b, header=replace(b.header, vrf_randomness=1)),
            "header VRF fields do not match the proposer's submission",
        ),
    ],
)
def test_changed_block_is_rejected(cluster, change, reason):
    commit = cluster.node(0).chain[4]
    assert commit.block.transactions
    problem = _check(_node_before(cluster, 5), change(commit.block))
    assert isinstance(problem, str)
    assert problem.startswith(reason)


def test_block_without_the_previous_certificate_is_rejected(cluster):
    from rppsim.node.messages import compute_last_commit_hash

    block = cluster.node(0).chain[4].block
    header = replace(block.header, last_commit_hash=compute_last_commit_hash(None))
    problem = _check(_node_before(cluster, 5), replace(block, header=header, last_certificate=None))
    assert problem == "missing certificate of the previous block"


def test_block_size_limits_are_checked_first(cluster):
    """> max_block_transactions or > max_block_identity_registrations: invalid
    (docs/protocol.md#rounds-and-quorum)."""
    block = cluster.node(0).chain[4].block
    node = _node_before(cluster, 5)
    ctx = replace(node._context(), max_block_transactions=len(block.transactions) - 1)
    problem = compute_block_problem(
        node.ledger, block, ctx, ModelProofService(), node.previous_set, node.previous_epoch
    )
    assert problem == "too many transactions in block"
    ctx = replace(node._context(), max_block_identities=0)
    with_identity = replace(block, identities=(object(),))
    problem = compute_block_problem(
        node.ledger, with_identity, ctx, ModelProofService(), node.previous_set, 0
    )
    assert problem == "too many identity registrations in block"


# --- certificates -----------------------------------------------------------------------------


def test_certificate_checks(cluster):
    """Every vote verifies and matches; no repeat; precommitters prevoted; quorum
    (docs/protocol.md#rounds-and-quorum)."""
    chain = cluster.node(0).chain
    commit = chain[3]
    validators = _node_before(cluster, 5).previous_set
    height, block_hash = commit.block.header.height, commit.block.hash
    cert = commit.certificate
    assert compute_certificate_problem(cert, validators, height, block_hash) is None
    assert (
        compute_certificate_problem(cert, validators, height + 1, block_hash)
        == "certificate for another block"
    )
    doubled = replace(cert, pre_votes=(*cert.pre_votes, cert.pre_votes[0]))
    assert (
        compute_certificate_problem(doubled, validators, height, block_hash)
        == "invalid vote in certificate"
    )
    heavier = (replace(cert.pre_votes[0], weight=cert.pre_votes[0].weight + 1), *cert.pre_votes[1:])
    assert (
        compute_certificate_problem(
            replace(cert, pre_votes=heavier), validators, height, block_hash
        )
        == "invalid vote in certificate"
    )
    committer = cert.pre_commits[0].vote.vote.voter
    kept = tuple(r for r in cert.pre_votes if r.vote.vote.voter != committer)
    unprevoted = replace(cert, pre_votes=kept)
    problem = compute_certificate_problem(unprevoted, validators, height, block_hash)
    assert problem in ("precommit without prevote in certificate", "certificate below quorum")
    few_commits = cert.pre_commits[:2]
    few_voters = {r.vote.vote.voter for r in few_commits}
    few_votes = tuple(r for r in cert.pre_votes if r.vote.vote.voter in few_voters)
    few = replace(cert, pre_votes=few_votes, pre_commits=few_commits)
    assert (
        compute_certificate_problem(few, validators, height, block_hash)
        == "certificate below quorum"
    )
    vote = cert.pre_votes[0].vote
    forged = VoteRecord(replace(vote, signature=bytes(64)), cert.pre_votes[0].weight)
    assert (
        compute_certificate_problem(
            replace(cert, pre_votes=(forged, *cert.pre_votes[1:])), validators, height, block_hash
        )
        == "invalid vote in certificate"
    )


# --- validator sets and submissions -----------------------------------------------------------


def test_round_set_is_accepted_submissions_of_ledger_candidates(cluster):
    """Members = VRF-accepted ∩ Tl3+ candidates; leader order docs/protocol.md#leader; observers
    Tl1–Tl2."""
    node = _node_before(cluster, 5)
    block = cluster.node(0).chain[4].block
    round_set = compute_round_set(node.ledger, block.vrf_submissions, node._context())
    members = [address for address, _ in round_set.validators.powers]
    assert members == sorted(k.address for k in cluster.keys)
    order = sorted(round_set.by_address.values(), key=compute_leader_key)
    assert list(round_set.validators.leader_order) == [s.address for s in order]
    assert round_set.observers == len(cluster.wallets)
    # committed electorate: block 5's leader was elected by block 4's submissions
    assert node.elected.validators.get_leader(block.header.round, False) == block.header.proposer
    capped = compute_round_set(
        node.ledger,
        block.vrf_submissions,
        replace(
            node._context(), target_validator_count=2, rules=Rules(threshold_caps_committee=True)
        ),
    )
    assert len(capped.validators.powers) == 2
    unknown = replace(block.vrf_submissions[0], address="cd" * 32)
    smaller = compute_round_set(node.ledger, (unknown,), node._context())
    assert smaller.validators.powers == ()


def test_submission_problems(cluster):
    node = _node_before(cluster, 5)
    ctx = node._context()
    message = cluster.node(0).chain[4].block.vrf_submissions[0]
    assert compute_submission_problem(message, ctx, node.ledger) is None
    assert compute_gossip_submission_problem(message) is None
    cases = {
        "submission for another height": replace(message, height=ctx.height + 1),
        "submission for another tip": replace(message, last_block_header=bytes(32)),
        "submission for another epoch": replace(message, epoch=1),
        "VRF key does not belong to the address": replace(message, address="ab" * 32),
    }
    for reason, changed in cases.items():
        assert compute_submission_problem(changed, ctx, node.ledger) == reason
    assert compute_gossip_submission_problem(replace(message, public_key=b"")) == (
        "missing VRF public key"
    )
    assert compute_gossip_submission_problem(replace(message, pi=bytes(80))) == "invalid VRF proof"
    strict = replace(ctx, rules=Rules(check_declared_tier=True))
    assert compute_submission_problem(message, strict, node.ledger) is None
    assert (
        compute_submission_problem(replace(message, tier=5), strict, node.ledger)
        == "declared tier or hours differ from the ledger"
    )


# --- proofs, uptime, evidence -----------------------------------------------------------------


class _Counting(ModelProofService):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def verify(self, statement, system, data):
        self.calls += 1
        return super().verify(statement, system, data)


def _uptime(address: str = "ab" * 32, end: int = 10_800, data: bytes | None = None):
    start = end - 3600
    claim = UptimeProof(
        address, start, end, compute_uptime_commitment(address, start, end), end, 1, "00" * 32
    )
    statement = compute_uptime_statement(claim, 720)
    data = ModelProofService().prove(statement) if data is None else data
    return replace(claim, proof=ProofSlot("model", "uptime", data)), statement


def test_proof_size_gate_comes_before_the_verifier():
    """docs/operations.md#proof-systems-and-the-size-gate: the gate against max_proof_size_bytes,
    then the registry."""
    proofs = _Counting()
    proof, statement = _uptime()
    assert compute_proof_problem(proof.proof, statement, proofs, 64) is None
    assert proofs.calls == 1
    big = ProofSlot("model", "uptime", bytes(2049))
    problem = compute_proof_problem(big, statement, proofs, 2048)
    assert (
        problem
        == "proof size gate failed for model/uptime: proof too large: limit 2 KiB, got 3 KiB"
    )
    assert proofs.calls == 1
    other = ProofSlot("stwo", "uptime", proof.proof.data)
    assert compute_proof_problem(other, statement, proofs, 64) == (
        "unsupported proof system stwo in verifier registry"
    )
    wrong = ProofSlot("model", "consensus", proof.proof.data)
    assert compute_proof_problem(wrong, statement, proofs, 64) == (
        "proof for circuit consensus, expected uptime"
    )


def test_uptime_problems():
    proofs = ModelProofService()
    proof, _ = _uptime()
    assert compute_uptime_problem(proof, proofs, 1024, 720) is None
    assert compute_uptime_problem(
        replace(proof, window_end=proof.window_start), proofs, 1024, 720
    ) == ("invalid window")
    assert compute_uptime_problem(replace(proof, proof_commitment="00"), proofs, 1024, 720) == (
        "commitment mismatch"
    )
    assert compute_uptime_problem(replace(proof, node_clock=1), proofs, 1024, 720) == (
        "node clock behind the window"
    )
    assert compute_uptime_problem(replace(proof, proof=None), proofs, 1024, 720) == (
        "missing uptime proof"
    )
    short, _ = _uptime(end=10_000)
    short = replace(short, window_start=short.window_end - 60)
    assert compute_uptime_problem(short, proofs, 1024, 720) == "window too short"
    lying, _ = _uptime(data=bytes(64))
    assert compute_uptime_problem(lying, proofs, 1024, 720) == "invalid proof"


def test_evidence_problems(cluster):
    keys = cluster.keys[1]
    votes = [
        sign_vote(BftVote(0, 3, h * 32, keys.address, VoteKind.PRE_VOTE), keys.keypair)
        for h in ("aa", "bb")
    ]
    evidence = Evidence(
        EvidenceKind.DOUBLE_SIGN_PREVOTE, keys.address, 3, 0, VoteKind.PRE_VOTE,
        ("aa" * 32, "bb" * 32), tuple(votes),
    )  # fmt: skip
    ledger = cluster.node(0).ledger
    assert compute_evidence_problem(evidence, ledger) is None
    assert (
        compute_evidence_problem(replace(evidence, votes=votes[:1]), ledger) == "invalid evidence"
    )
    wrong_kind = replace(evidence, kind=EvidenceKind.DOUBLE_SIGN_PRECOMMIT)
    assert compute_evidence_problem(wrong_kind, ledger) == "invalid evidence"
    slashed = ledger.fork()
    from rppsim.node.ledger import SlashingReason

    slashed.process_slash(keys.address, SlashingReason.ConsensusFault, 0)
    assert compute_evidence_problem(evidence, slashed) == "offender already slashed"
