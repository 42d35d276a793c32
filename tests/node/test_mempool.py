"""Mempool: limits and reasons per queue, dedupe, selection order, vote pruning, status JSON."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.mempool import (
    REASON_IDENTITY_DUPLICATE,
    REASON_IDENTITY_FULL,
    REASON_TRANSACTION_DUPLICATE,
    REASON_TRANSACTION_FULL,
    REASON_UPTIME_DUPLICATE,
    REASON_VOTE_DUPLICATE,
    REASON_VOTE_FINALIZED_HEIGHT,
    REASON_VOTE_FULL,
    Mempool,
)
from rppsim.node.messages import (
    BftVote,
    Block,
    BlockHeader,
    IdentityRequest,
    SignedBftVote,
    Transaction,
    UptimeProof,
    VoteKind,
    compute_uptime_commitment,
)


def _tx(sender: str = "alice", nonce: int = 0, fee: int = 1) -> Transaction:
    return Transaction(sender, "bob", 5, fee, nonce, bytes(32), bytes(64))


def _identity(wallet: str, nonce_byte: int = 0) -> IdentityRequest:
    return IdentityRequest(
        wallet, bytes(32), bytes(32), bytes(80), bytes([nonce_byte]) * 32, bytes(32), bytes(32),
        bytes(32), bytes(64),
    )  # fmt: skip


def _vote(
    height: int, voter: str = "v", block_hash: str = "h", round: int = 0, kind=VoteKind.PRE_VOTE
) -> SignedBftVote:
    return SignedBftVote(BftVote(round, height, block_hash, voter, kind), bytes(32), bytes(64))


def _uptime(wallet: str, start: int = 0) -> UptimeProof:
    end = start + 3600
    return UptimeProof(wallet, start, end, compute_uptime_commitment(wallet, start, end))


def _snapshot(pool: Mempool) -> tuple:
    return (pool.transactions(), pool.identities(), pool.votes(), pool.uptime_proofs())


# --- limits, reasons, dedupe ------------------------------------------------------------------


def test_transaction_limit_and_duplicate():
    """len >= limit → "mempool full" without eviction; a repeat hash is rejected."""
    pool = Mempool(limit=2)
    assert pool.add_transaction(_tx(nonce=0)) is None
    before = _snapshot(pool)
    assert pool.add_transaction(_tx(nonce=0)) == REASON_TRANSACTION_DUPLICATE
    assert _snapshot(pool) == before
    assert pool.add_transaction(_tx(nonce=1)) is None
    before = _snapshot(pool)
    assert pool.add_transaction(_tx(nonce=2)) == REASON_TRANSACTION_FULL
    assert pool.add_transaction(_tx(nonce=0)) == REASON_TRANSACTION_FULL  # full is checked first
    assert _snapshot(pool) == before
    assert REASON_TRANSACTION_FULL == "mempool full"


def test_identity_limit_and_one_request_per_wallet():
    """Identities: "identity mempool full" and "identity for this wallet already queued"."""
    pool = Mempool(limit=2)
    assert pool.add_identity(_identity("w1")) is None
    before = _snapshot(pool)
    assert pool.add_identity(_identity("w1", nonce_byte=9)) == REASON_IDENTITY_DUPLICATE
    assert _snapshot(pool) == before
    assert pool.add_identity(_identity("w2")) is None
    before = _snapshot(pool)
    assert pool.add_identity(_identity("w3")) == REASON_IDENTITY_FULL
    assert _snapshot(pool) == before
    assert (REASON_IDENTITY_FULL, REASON_IDENTITY_DUPLICATE) == (
        "identity mempool full",
        "identity for this wallet already queued",
    )


def test_vote_height_limit_and_duplicate():
    """Votes: finalized height first, then "vote mempool full", then "vote already queued"."""
    pool = Mempool(limit=2)
    assert pool.add_vote(_vote(4), next_height=5) == REASON_VOTE_FINALIZED_HEIGHT
    assert pool.votes() == ()
    assert pool.add_vote(_vote(5), next_height=5) is None
    assert pool.add_vote(_vote(5), next_height=5) == REASON_VOTE_DUPLICATE
    assert pool.add_vote(_vote(6), next_height=5) is None
    before = _snapshot(pool)
    assert pool.add_vote(_vote(7), next_height=5) == REASON_VOTE_FULL
    assert pool.add_vote(_vote(1), next_height=5) == REASON_VOTE_FINALIZED_HEIGHT
    assert _snapshot(pool) == before
    assert (REASON_VOTE_FULL, REASON_VOTE_DUPLICATE, REASON_VOTE_FINALIZED_HEIGHT) == (
        "vote mempool full",
        "vote already queued",
        "vote references an already finalized height",
    )


def test_uptime_queue_has_no_limit():
    """The uptime queue ignores the limit; only an exact duplicate is refused."""
    pool = Mempool(limit=0)
    assert pool.add_transaction(_tx()) == REASON_TRANSACTION_FULL
    for index in range(5):
        assert pool.add_uptime_proof(_uptime(f"w{index}")) is None
    assert pool.add_uptime_proof(_uptime("w0")) == REASON_UPTIME_DUPLICATE
    assert pool.pending_counts()["pending_uptime_proofs"] == 5


def test_bad_limit_is_value_error():
    """A negative limit is a programming error."""
    with pytest.raises(ValueError):
        Mempool(limit=-1)


# --- block assembly ---------------------------------------------------------------------------


TX_SPEC = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=40)


@settings(max_examples=80)
@given(TX_SPEC, st.integers(0, 12))
def test_selection_is_top_k_and_rest_keeps_fifo(spec, k):
    """Taken = the k smallest by (fee desc, nonce asc, hash); the rest stay in FIFO order."""
    pool = Mempool(limit=1000)
    queued = []
    for index, (fee, nonce) in enumerate(spec):
        tx = _tx(sender=f"s{index}", nonce=nonce, fee=fee)
        assert pool.add_transaction(tx) is None
        queued.append(tx)
    payload = pool.take_block_payload(max_transactions=k)
    expected = sorted(queued, key=lambda tx: (-tx.fee, tx.nonce, tx.hash))[:k]
    assert list(payload.transactions) == expected
    taken = {tx.hash for tx in expected}
    assert list(pool.transactions()) == [tx for tx in queued if tx.hash not in taken]


NONCE_SPEC = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(1, 6), st.integers(1, 10)), max_size=30
)


@settings(max_examples=80)
@given(NONCE_SPEC, st.integers(0, 12))
def test_nonce_ordered_selection_applies_in_sequence(spec, k):
    """``next_nonce`` given: every sender's taken transfers run from its next nonce without
    a gap, and a sender's transfer is left out only at the limit or after a gap."""
    pool = Mempool(limit=1000)
    queued = []
    for sender, nonce, fee in spec:
        tx = _tx(sender=sender, nonce=nonce, fee=fee)
        if pool.add_transaction(tx) is None:
            queued.append(tx)
    start = {"a": 1, "b": 2, "c": 3}
    payload = pool.take_block_payload(max_transactions=k, next_nonce=start.__getitem__)
    taken = list(payload.transactions)
    assert len(taken) <= k
    for sender, first in start.items():
        nonces = [tx.nonce for tx in taken if tx.sender == sender]
        assert nonces == list(range(first, first + len(nonces)))
        if len(taken) < k:  # not at the limit: nothing that fits in sequence stays behind
            pending = {tx.nonce for tx in queued if tx.sender == sender}
            assert first + len(nonces) not in pending
    left = {tx.hash for tx in taken}
    assert list(pool.transactions()) == [tx for tx in queued if tx.hash not in left]


def test_nonce_ordered_selection_takes_the_best_fee_first():
    """The senders' next transfers compete by fee; a high fee behind a gap is never taken."""
    pool = Mempool(limit=10)
    low, high, blocked = _tx("a", 1, fee=1), _tx("b", 1, fee=9), _tx("c", 2, fee=10)
    for tx in (low, high, blocked, _tx("a", 2, fee=10)):
        pool.add_transaction(tx)
    payload = pool.take_block_payload(max_transactions=2, next_nonce=lambda _: 1)
    assert payload.transactions == (high, low)
    assert blocked in pool.transactions()


def test_default_block_limits():
    """At most 512 transactions and 32 identities (FIFO); all uptime proofs drain."""
    pool = Mempool()
    for index in range(600):
        pool.add_transaction(_tx(sender=f"s{index}", fee=index % 7))
    for index in range(40):
        pool.add_identity(_identity(f"w{index:02d}"))
    for index in range(6):
        pool.add_uptime_proof(_uptime(f"u{index}"))
    payload = pool.take_block_payload()
    assert len(payload.transactions) == 512
    assert [fee for fee in (tx.fee for tx in payload.transactions)] == sorted(
        (tx.fee for tx in payload.transactions), reverse=True
    )
    assert [r.wallet_address for r in payload.identities] == [f"w{i:02d}" for i in range(32)]
    assert len(payload.uptime_proofs) == 6
    assert pool.pending_counts() == {
        "pending_transactions": 88,
        "pending_identities": 8,
        "pending_votes": 0,
        "pending_uptime_proofs": 0,
    }
    assert not payload.is_empty
    assert pool.take_block_payload(0, 0).transactions == ()


def test_empty_pool_gives_empty_payload():
    """Nothing pending → an empty payload (the chain then produces no block)."""
    assert Mempool().take_block_payload().is_empty


# --- votes ------------------------------------------------------------------------------------


def test_prune_take_and_remove_votes():
    """Votes below a height are pruned; votes are taken FIFO per (height, hash)."""
    pool = Mempool()
    for height in (5, 5, 6, 7):
        pool.add_vote(_vote(height, voter=f"v{len(pool.votes())}"), next_height=5)
    pool.add_vote(_vote(6, voter="x", block_hash="other"), next_height=5)
    assert pool.prune_votes_below(6) == 2
    assert [v.vote.height for v in pool.votes()] == [6, 7, 6]
    taken = pool.take_votes(6, block_hash="h")
    assert [v.vote.voter for v in taken] == ["v2"]
    assert [v.vote.block_hash for v in pool.votes()] == ["h", "other"]
    assert pool.take_votes(9) == []
    assert pool.remove_votes_of("x", 6, 0, VoteKind.PRE_VOTE) == 1
    assert pool.remove_votes_of("v3", 7, 0, VoteKind.PRE_COMMIT) == 0
    assert [v.vote.voter for v in pool.votes()] == ["v3"]
    assert pool.take_votes(7) and pool.votes() == ()
    assert pool.add_vote(_vote(6, voter="x", block_hash="other"), next_height=5) is None


# --- followers and status ----------------------------------------------------------------------


def _block(txs, identities, proofs) -> Block:
    header = BlockHeader(
        1, "", 0, bytes(32), bytes(32), bytes(32), bytes(32), bytes(32), bytes(32),
            bytes(32), "p", bytes(32), 0, bytes(64),
        bytes(80), 0, bytes(32), 3, 0, 0, bytes(32), bytes(32),
    )  # fmt: skip
    return Block(header, txs, identities, proofs)


def test_remove_included():
    """A follower drops what a finalized block included and keeps the rest in order."""
    pool = Mempool()
    txs = [_tx(nonce=n) for n in range(4)]
    for tx in txs:
        pool.add_transaction(tx)
    pool.add_identity(_identity("w1"))
    pool.add_identity(_identity("w2"))
    pool.add_uptime_proof(_uptime("u1"))
    pool.add_uptime_proof(_uptime("u2"))
    pool.remove_included(_block([txs[1], _tx(nonce=99)], [_identity("w1", 7)], [_uptime("u2")]))
    assert pool.transactions() == (txs[0], txs[2], txs[3])
    assert [r.wallet_address for r in pool.identities()] == ["w2"]
    assert [p.wallet_address for p in pool.uptime_proofs()] == ["u1"]
    assert not pool.has_transaction(txs[1].hash) and pool.has_transaction(txs[0].hash)


def test_status_json_shape():
    """Empty lists are omitted; entries follow docs/operations.md#mempool-status; queue weights pass
    through."""
    pool = Mempool()
    weights = {"priority": 0.7, "fee": 0.3}
    assert pool.status_json(weights) == {"queue_weights": {"priority": 0.7, "fee": 0.3}}
    tx = _tx()
    pool.add_transaction(tx)
    pool.add_identity(_identity("w1"))
    pool.add_uptime_proof(_uptime("u1"), credited_hours=1)
    status = pool.status_json(weights, identity_attestations={"w1": (3, 2)})
    assert set(status) == {"transactions", "identities", "uptime_proofs", "queue_weights"}
    assert status["transactions"] == [tx.to_json_dict()]
    assert status["identities"][0]["attested_votes"] == 3
    assert status["identities"][0]["gossip_confirmations"] == 2
    assert status["uptime_proofs"] == [
        {"identity": "u1", "window_start": 0, "window_end": 3600, "credited_hours": 1}
    ]
    pool.add_vote(_vote(1), next_height=1)
    assert status != pool.status_json(weights)
    assert pool.status_json(weights)["votes"] == [_vote(1).to_json_dict()]


def test_rejected_vote_leaves_no_trace():
    """A vote rejected for height does not enter the per-height index either."""
    pool = Mempool(limit=1)
    pool.add_vote(_vote(3), next_height=4)
    assert pool.prune_votes_below(100) == 0
    same = dataclasses.replace(_vote(4))
    assert pool.add_vote(same, next_height=4) is None
    assert pool.add_vote(_vote(5), next_height=4) == REASON_VOTE_FULL
