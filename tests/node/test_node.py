"""One node's inputs: wallet submissions, mempool limits, gossip admission, feature gates,
proof size gate, declared tiers, identities and uptime claims
(docs/architecture.md#the-node-is-sans-io)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rppsim.node.config import NodeConfig
from rppsim.node.effects import Publish, SetTimer, Timer, TimerKind
from rppsim.node.messages import (
    BftVote,
    GossipTopic,
    ProofSlot,
    SignedBftVote,
    Transaction,
    UptimeProof,
    VoteKind,
    compute_uptime_commitment,
    sign_transaction,
    sign_vote,
)
from rppsim.node.reputation import Tier
from rppsim.node.rules import Rules
from rppsim.node.selection import compute_submission
from rppsim.node.signing import generate_keypair

from rppsim.node.blocks import compute_submission_message  # isort: skip


def _config(**changes) -> NodeConfig:
    return replace(NodeConfig(), **changes)


def _gates(**changes) -> NodeConfig:
    base = NodeConfig()
    gates = replace(base.rollout.feature_gates, **changes)
    return replace(base, rollout=replace(base.rollout, feature_gates=gates))


def _transfer(cluster, wallet: int, nonce: int, fee: int = 1, amount: int = 10) -> Transaction:
    sender, recipient = cluster.wallets[wallet], cluster.wallets[wallet + 1]
    tx = Transaction(sender.address, recipient.address, amount, fee, nonce, b"", b"")
    return sign_transaction(tx, sender)


# --- wallet submissions and mempool limits ----------------------------------------------------


def test_submit_transaction_is_queued_and_gossiped(make_cluster):
    c = make_cluster(validators=4, seed=1, tx_rate_per_s=0.0)
    node = c.node(0)
    tx = _transfer(c, 0, 1)
    effects = node.submit(0, tx)
    assert effects == [Publish(GossipTopic.PROOFS, tx)]
    assert node.mempool.transactions() == (tx,)
    assert node.submit(0, tx) == []
    assert node.rejections["transaction: transaction already queued"] == 1
    forged = replace(tx, amount=11)
    assert node.submit(0, forged) == []
    assert node.rejections["transaction: invalid signature"] == 1
    assert node.submit(0, "hello") == []
    assert node.rejections["submit: unsupported request str"] == 1
    assert node.mempool.transactions() == (tx,)


def test_transaction_from_unknown_account_is_below_the_publish_tier(make_cluster):
    c = make_cluster(validators=4, seed=1, tx_rate_per_s=0.0)
    stranger = generate_keypair(bytes([7]) * 32)
    tx = sign_transaction(
        Transaction(stranger.address, c.wallets[0].address, 1, 1, 1, b"", b""), stranger
    )
    assert c.node(0).submit(0, tx) == []
    assert c.node(0).rejections["transaction: publish tier too low"] == 1


def test_mempool_limits_per_queue_with_the_chains_reasons(make_cluster, identity_request):
    """mempool_limit applies per queue: "mempool full", "identity mempool full"
    (docs/operations.md#limits-and-queues)."""
    c = make_cluster(validators=4, seed=1, tx_rate_per_s=0.0, config=_config(mempool_limit=3))
    node = c.node(0)
    for nonce in range(1, 5):
        node.submit(0, _transfer(c, 0, nonce))
    assert len(node.mempool.transactions()) == 3
    assert node.rejections["transaction: mempool full"] == 1
    requests = [identity_request(node.ledger, bytes([40 + i]) * 32) for i in range(4)]
    for request in requests:
        node.submit(0, request)
    assert node.mempool.identities() == tuple(requests[:3])
    assert node.rejections["identity: identity mempool full"] == 1
    status = node.status_node()
    assert (status["pending_transactions"], status["pending_identities"]) == (3, 3)


def test_submit_identity_is_checked_queued_and_gossiped(make_cluster, identity_request):
    c = make_cluster(validators=4, seed=1, tx_rate_per_s=0.0)
    node = c.node(0)
    request = identity_request(node.ledger, bytes([9]) * 32)
    assert node.submit(0, request) == [Publish(GossipTopic.PROOFS, request)]
    assert node.submit(0, request) == []
    assert node.rejections["identity: identity for this wallet already queued"] == 1
    bad_vrf = identity_request(node.ledger, bytes([10]) * 32)
    other = identity_request(node.ledger, bytes([11]) * 32)
    forged = replace(bad_vrf, vrf_pi=other.vrf_pi)
    assert node.submit(0, forged) == []
    assert node.rejections["identity: invalid identity signature"] == 1
    existing = replace(request, wallet_address=c.keys[1].address)
    assert node.submit(0, existing) == []
    assert node.mempool.identities() == (request,)


def test_identity_with_a_wrong_vrf_input_is_rejected(make_cluster, identity_request):
    """The VRF must be over (epoch nonce, 0, tier_seed(addr, 0))
    (docs/protocol.md#rewards-and-treasury)."""
    from rppsim.node.messages import sign_identity_request

    c = make_cluster(validators=4, seed=1, tx_rate_per_s=0.0)
    node = c.node(0)
    seed = bytes([12]) * 32
    request = identity_request(node.ledger, seed)
    wrong = sign_identity_request(
        replace(request, vrf_pi=identity_request(node.ledger, bytes([13]) * 32).vrf_pi),
        generate_keypair(seed),
    )
    assert node.submit(0, wrong) == []
    assert node.rejections["identity: invalid identity VRF proof"] == 1
    stale = sign_identity_request(replace(request, epoch_nonce=bytes(32)), generate_keypair(seed))
    assert node.submit(0, stale) == []
    assert node.rejections["identity: stale epoch nonce"] == 1


def test_vote_queue_limit(make_cluster, fresh_height):
    """Votes held for the undecided height obey mempool_limit: "vote mempool full"
    (docs/protocol.md#rounds-and-quorum)."""
    c = make_cluster(validators=4, seed=1, tx_rate_per_s=0.0, config=_config(mempool_limit=3))
    node = c.node(0)
    voter = c.keys[1]
    votes = [
        sign_vote(BftVote(r, 1, "aa" * 32, voter.address, VoteKind.PRE_VOTE), voter.keypair)
        for r in range(5, 9)
    ]
    for vote in votes:
        node.on_message(0, voter.address, vote)
    assert node.rejections["vote: vote mempool full"] == 1
    assert node.status_node()["pending_votes"] == 3
    node.on_message(0, voter.address, votes[0])
    assert node.rejections["vote: duplicate vote"] == 1


# --- blocks built from the mempool ------------------------------------------------------------


def test_block_limits_512_transactions_and_32_identities(
    make_cluster, safety, fresh_height, identity_request
):
    """A block takes ≤ 512 transfers (fee desc, nonce asc) and ≤ 32 identities; the rest
    follow in the next block, and every identity becomes a Tl1 account
    (docs/protocol.md#rounds-and-quorum, docs/protocol.md#rewards-and-treasury)."""
    c = make_cluster(validators=4, seed=2, tx_rate_per_s=0.0, rules=Rules(allow_empty_blocks=True))
    c.run(until_ms=6_000)
    fresh_height(c)
    ledger = c.node(0).ledger
    requests = [identity_request(ledger, bytes([100 + i]) * 32) for i in range(40)]
    transfers = [_transfer(c, 0, nonce) for nonce in range(1, 601)]
    for item in transfers + requests:
        c.submit(0, item)
    c.run(until_ms=c.now + 20_000)
    chain = c.node(0).chain
    tx_counts = [len(commit.block.transactions) for commit in chain]
    id_counts = [len(commit.block.identities) for commit in chain]
    assert max(tx_counts) == 512
    assert max(id_counts) == 32
    assert sum(tx_counts) == 600
    assert sum(id_counts) == 40
    final = c.node(3).ledger
    assert final.get_account(c.wallets[0].address).nonce == 600
    for request in requests:
        account = final.get_account(request.wallet_address)
        assert account.tier == Tier.Tl1
        assert account.reputation.zsi_validated
        assert account.stake == 0
    assert c.node(0).status_node()["pending_transactions"] == 0
    safety(c)


def test_leader_keeps_its_payload_when_its_block_does_not_commit(make_cluster, fresh_height):
    """Building a block takes nothing out of the mempool for good (port rule)."""
    c = make_cluster(validators=4, seed=2, tx_rate_per_s=0.0)
    fresh_height(c)
    proposer = c.node(0).status_node()["consensus"]["proposer"]
    leader = next(i for i, k in enumerate(c.keys) if k.address == proposer)
    follower = c.node((leader + 1) % 4)
    node = c.node(leader)
    for nonce in range(1, 4):
        node.submit(c.now, _transfer(c, 0, nonce))
    assert follower._build_block(c.now, 0) is None
    assert follower.rejections["propose: not the leader of the block's validator set"] == 1
    block = node._build_block(c.now, 0)
    assert block is not None and len(block.transactions) == 3
    assert len(node.mempool.transactions()) == 3


def test_leader_drops_drained_transfers_that_wait_for_a_nonce(make_cluster, fresh_height):
    """The chain drops a drained transfer its ledger refuses: a backlog whose high-fee
    transfers all wait behind a low-fee one drains them once, then the low-fee one fits
    (re-queueing them kept the same fee window, and the block empty, forever)."""
    c = make_cluster(
        validators=4, seed=2, tx_rate_per_s=0.0, config=_config(max_block_transactions=2)
    )
    fresh_height(c)
    proposer = c.node(0).status_node()["consensus"]["proposer"]
    node = c.node(next(i for i, k in enumerate(c.keys) if k.address == proposer))
    first = _transfer(c, 0, 1, fee=1)
    for tx in (first, _transfer(c, 0, 2, fee=5), _transfer(c, 0, 3, fee=5)):
        node.submit(c.now, tx)
    assert node._build_block(c.now, 0) is None  # drains nonces 2 and 3: nothing applies
    assert node.rejections["propose: transaction invalid_nonce"] == 2
    assert node.mempool.transactions() == (first,)
    block = node._build_block(c.now, 0)
    assert block is not None and block.transactions == (first,)
    assert node.mempool.transactions() == (first,)  # queued until a block includes it


def test_nonce_ordered_payload_knob_takes_transfers_that_apply(make_cluster, fresh_height):
    """With ``nonce_ordered_payload`` the same backlog fills the block at the first drain."""
    c = make_cluster(
        validators=4,
        seed=2,
        tx_rate_per_s=0.0,
        config=_config(max_block_transactions=2),
        rules=Rules(nonce_ordered_payload=True),
    )
    fresh_height(c)
    proposer = c.node(0).status_node()["consensus"]["proposer"]
    node = c.node(next(i for i, k in enumerate(c.keys) if k.address == proposer))
    transfers = [_transfer(c, 0, 1, fee=1), _transfer(c, 0, 2, fee=5), _transfer(c, 0, 3, fee=5)]
    for tx in transfers:
        node.submit(c.now, tx)
    block = node._build_block(c.now, 0)
    assert block is not None and block.transactions == tuple(transfers[:2])
    assert node.rejections["propose: transaction invalid_nonce"] == 0
    assert len(node.mempool.transactions()) == 3


# --- gossip admission -------------------------------------------------------------------------


def _own_submission(c, k: int, tier: Tier | None = None, hours: int | None = None):
    """Validator k's submission for node 0's height, declaring the ledger's values by default."""
    node = c.node(0)
    ctx = node._context()
    account = node.ledger.get_account(c.keys[k].address)
    tier = account.tier if tier is None else tier
    hours = account.timetoke.hours_online if hours is None else hours
    submission = compute_submission(
        address=c.keys[k].address,
        secret=c.keys[k].vrf_secret,
        public_key=c.keys[k].keypair.public_key,
        last_block_header=ctx.tip_hash_bytes,
        epoch=ctx.epoch,
        tier=tier,
        timetoke_hours=hours,
    )
    return compute_submission_message(submission, ctx.height, 0)


@pytest.mark.parametrize("check", [False, True])
def test_check_declared_tier_knob(make_cluster, fresh_height, check):
    """A submission declaring Tl5 / 720 h: the chain takes it and its sender leads
    (docs/protocol.md#known-weaknesses);
    with check_declared_tier it is rejected."""
    c = make_cluster(
        validators=4, seed=3, tx_rate_per_s=0.0, rules=Rules(check_declared_tier=check)
    )
    fresh_height(c)
    node = c.node(0)
    inflated = _own_submission(c, 2, Tier.Tl5, 720)
    honest = node.pool[c.keys[2].address]
    node.on_message(c.now, c.keys[2].address, inflated)
    leader = node._pool_set().validators.leader_order[0]
    if check:
        assert node.pool[c.keys[2].address] == honest
        assert node.rejections["vrf: declared tier or hours differ from the ledger"] == 1
    else:
        assert node.pool[c.keys[2].address] == inflated
        assert leader == c.keys[2].address
        assert node.status_node()["consensus"]["proposer"] == c.keys[2].address


def test_vrf_submission_needs_a_key_and_a_valid_proof(make_cluster, fresh_height):
    """The gossip check ``verify_submission`` (docs/protocol.md#submissions-and-rejections): nothing
    invalid enters the pool."""
    c = make_cluster(validators=4, seed=3, tx_rate_per_s=0.0)
    fresh_height(c)
    node = c.node(0)
    pool = dict(node.pool)
    honest = _own_submission(c, 1)
    node.on_message(c.now, "peer", replace(honest, pi=bytes(80)))
    node.on_message(c.now, "peer", replace(honest, public_key=b""))
    node.on_message(c.now, "peer", replace(honest, last_block_header=bytes(32)))
    node.on_message(c.now, "peer", honest)
    assert node.pool == pool
    assert node.rejections["vrf: invalid VRF proof"] == 2  # the wrong tip changes alpha
    assert node.rejections["vrf: missing VRF public key"] == 1
    assert "vrf: duplicate submission" not in node.rejections  # ignored silently
    # (docs/protocol.md#epochs-and-replay-protection)


@pytest.mark.parametrize("enforcement", [True, False])
def test_consensus_enforcement_gate_on_vote_signatures(make_cluster, fresh_height, enforcement):
    """Gate on: a vote with a bad signature is rejected; off: it is not checked
    (docs/protocol.md#rounds-and-quorum)."""
    c = make_cluster(
        validators=4, seed=4, tx_rate_per_s=0.0, config=_gates(consensus_enforcement=enforcement)
    )
    height = fresh_height(c)
    node = c.node(0)
    voter = c.keys[2]
    vote = SignedBftVote(
        BftVote(0, height, "cd" * 32, voter.address, VoteKind.PRE_VOTE),
        voter.keypair.public_key,
        bytes(64),
    )
    rejected = node.rejected_total
    node.on_message(c.now, voter.address, vote)
    stored = node.hs.votes.get(0)
    if enforcement:
        assert node.rejections["vote: invalid signature"] == 1
        assert stored is None or voter.address not in stored.by_voter[0]
    else:
        assert node.rejected_total == rejected
        assert stored.by_voter[0][voter.address] == vote
    assert node.status_rollout()["feature_gates"]["consensus_enforcement"] is enforcement


def test_votes_of_unknown_and_low_tier_accounts_are_rejected(make_cluster, fresh_height):
    c = make_cluster(validators=4, seed=4, tx_rate_per_s=0.0)
    height = fresh_height(c)
    node = c.node(0)
    failed = node.consensus.failed_votes
    for keypair in (generate_keypair(bytes([5]) * 32), c.wallets[0]):  # Tl0, Tl2
        vote = sign_vote(BftVote(0, height, "ef" * 32, keypair.address, VoteKind.PRE_VOTE), keypair)
        node.on_message(c.now, keypair.address, vote)
    assert node.rejections["vote: publish tier too low"] == 2
    assert node.consensus.failed_votes == failed + 2


# --- proofs: the size gate comes before the verifier ------------------------------------------


def _uptime(address: str, end: int, slot: ProofSlot) -> UptimeProof:
    start = end - 3600
    commitment = compute_uptime_commitment(address, start, end)
    return UptimeProof(address, start, end, commitment, end, 1, "00" * 32, slot)


def test_oversized_uptime_proof_never_reaches_the_verifier(make_cluster, counting_proofs):
    """docs/operations.md#proof-systems-and-the-size-gate: "proof too large" before any
    verification."""
    c = make_cluster(
        validators=4,
        seed=5,
        tx_rate_per_s=0.0,
        proofs=counting_proofs,
        config=_config(max_proof_size_bytes=1024),
    )
    node = c.node(0)
    address = c.keys[1].address
    node.on_message(
        0, address, _uptime(address, 1_767_229_200, ProofSlot("model", "uptime", bytes(1025)))
    )
    assert counting_proofs.verified_sizes == []
    reason = (
        "uptime: proof size gate failed for model/uptime: proof too large: limit 1 KiB, got 2 KiB"
    )
    assert node.rejections[reason] == 1
    node.on_message(
        0, address, _uptime(address, 1_767_229_200, ProofSlot("model", "uptime", bytes(64)))
    )
    assert counting_proofs.verified_sizes == [64]
    assert node.rejections["uptime: invalid proof"] == 1


def test_oversized_block_proof_never_reaches_the_verifier(
    make_cluster, fresh_height, counting_proofs, tampered_proposal
):
    c = make_cluster(
        validators=4,
        seed=5,
        tx_rate_per_s=0.0,
        proofs=counting_proofs,
        config=_config(max_proof_size_bytes=1024),
        rules=Rules(allow_empty_blocks=True),
    )
    c.run(until_ms=12_000)
    fresh_height(c)
    c.submit(0, _transfer(c, 0, 1))
    c.run(until_ms=c.now + 100)
    leader = next(
        i
        for i, k in enumerate(c.keys)
        if k.address == c.node(0).status_node()["consensus"]["proposer"]
    )
    target = (leader + 1) % 4
    proposal = tampered_proposal(c, leader, 4096)
    counting_proofs.verified_sizes.clear()
    c.node(target).on_message(c.now, c.keys[leader].address, proposal)
    assert 4096 not in counting_proofs.verified_sizes
    reasons = [r for r in c.node(target).rejections if "proof too large" in r]
    assert reasons == [
        "proposal: consensus proof: proof size gate failed for model/consensus: "
        "proof too large: limit 1 KiB, got 4 KiB"
    ]
    assert c.node(target).hs.proposals == {}


# --- uptime claims ----------------------------------------------------------------------------


def test_uptime_timer_claims_once_and_skips_while_pending(make_cluster):
    """Every 600 s the node claims [now − 3600, now] if it would credit
    (docs/protocol.md#timetoke)."""
    c = make_cluster(validators=4, seed=6, tx_rate_per_s=0.0)
    node = c.node(0)
    effects = node.on_timer(600_000, Timer(TimerKind.UPTIME))
    claims = [e.message for e in effects if isinstance(e, Publish)]
    assert len(claims) == 1
    claim = claims[0]
    assert (claim.window_end - claim.window_start, claim.wallet_address) == (3600, node.address)
    assert SetTimer(Timer(TimerKind.UPTIME), 1_200_000) in effects
    again = node.on_timer(1_200_000, Timer(TimerKind.UPTIME))
    assert [e for e in again if isinstance(e, Publish)] == []
    assert node.mempool.uptime_proofs() == (claim,)
    other = c.node(1)
    other.on_message(600_050, node.address, claim)
    assert other.mempool.uptime_proofs() == (claim,)
