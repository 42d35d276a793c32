"""Garbage in: random bytes and well-formed but invalid messages never raise, never change a
node's state, and are counted by reason (docs/architecture.md#the-node-is-sans-io).

A four-validator cluster runs until a fresh height; node 0 (not that height's leader) is fed
hypothesis-generated junk at a fixed time. Before and after each message the node's state
fingerprint (chain, ledger root, mempool, VRF pool, height state, evidence, buffered future
messages; not its counters) must be equal, and the counter of the expected reason must
grow by one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.blocks import compute_submission_message
from rppsim.node.codec import DecodeError
from rppsim.node.config import NodeConfig
from rppsim.node.messages import (
    BftVote,
    Block,
    Evidence,
    EvidenceKind,
    IdentityRequest,
    ProofSlot,
    Proposal,
    SignedBftVote,
    TimetokeRecordMsg,
    Transaction,
    UptimeProof,
    VoteKind,
    VoteRecord,
    compute_recursive_commitment,
    compute_uptime_commitment,
    decode_message,
    sign_proposal,
    sign_transaction,
    sign_vote,
)
from rppsim.node.node import Node
from rppsim.node.reputation import Tier
from rppsim.node.selection import compute_submission
from rppsim.node.signing import Keypair, generate_keypair
from rppsim.node.sync import FUTURE_HEIGHT_WINDOW
from rppsim.testing.cluster import InMemoryCluster

MAX_PROOF = 1024
TARGET = 0


@dataclass
class World:
    """The cluster, the node under test and the material to forge messages from."""

    cluster: InMemoryCluster
    node: Node
    height: int
    leader: int
    base_block: Block
    tl0: Keypair
    stranger: Keypair


def _transfer(cluster: InMemoryCluster, wallet: int, recipient: str) -> Transaction:
    sender = cluster.wallets[wallet]
    cluster.nonces[sender.address] += 1
    tx = Transaction(sender.address, recipient, 5, 1, cluster.nonces[sender.address], b"", b"")
    return sign_transaction(tx, sender)


@pytest.fixture(scope="module")
def world(safety, fresh_height) -> World:
    config = replace(NodeConfig(), max_proof_size_bytes=MAX_PROOF)
    c = InMemoryCluster(validators=4, seed=41, tx_rate_per_s=1.0, config=config)
    tl0 = generate_keypair(bytes([0x33]) * 32)
    c.run(until_ms=8_000)
    c.submit(1, _transfer(c, 0, tl0.address))  # creates an unvalidated (Tl0) account
    c.run(until_ms=30_000)
    assert c.node(TARGET).ledger.get_account(tl0.address).tier == Tier.Tl0
    for _ in range(10):
        height = fresh_height(c, TARGET)
        leader_address = c.node(TARGET).status_node()["consensus"]["proposer"]
        if leader_address != c.keys[TARGET].address:
            break
    leader = next(i for i, k in enumerate(c.keys) if k.address == leader_address)
    c.submit(leader, _transfer(c, 2, c.wallets[5].address))
    leader_node = c.node(leader)
    block = leader_node._build_block(c.now, 0)
    assert block is not None and len(block.proofs) == 2
    w = World(c, c.node(TARGET), height, leader, block, tl0, generate_keypair(bytes(32)))
    # A signed proposal with a bad proof is the leader's fault: the node raises its evidence
    # once (consensus_enforcement), so the oversized proposals below change no state.
    faulty = sign_proposal(_reslot(w, 0, bytes(MAX_PROOF + 1)), 0, c.keys[leader].keypair)
    w.node.on_message(c.now, c.keys[leader].address, faulty)
    assert [key[0] for key in w.node.pending_evidence] == [leader_address]
    yield w
    safety(c)


# --- strategies: (message, expected rejection key or prefix) ----------------------------------

hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
heights = st.integers(0, 2**64 - 1)
rounds = st.integers(0, 2**64 - 1)
kinds = st.sampled_from(list(VoteKind))


@st.composite
def bad_signature_votes(draw, w: World):
    voter = w.cluster.keys[draw(st.integers(0, 3))]
    vote = BftVote(draw(st.integers(0, 3)), w.height, draw(hashes), voter.address, draw(kinds))
    signature = draw(st.binary(min_size=64, max_size=64))
    return SignedBftVote(vote, voter.keypair.public_key, signature), "vote: invalid signature"


@st.composite
def finalized_height_votes(draw, w: World):
    voter = w.cluster.keys[draw(st.integers(0, 3))]
    height = draw(st.integers(0, w.height - 2))
    vote = BftVote(draw(rounds), height, draw(hashes), voter.address, draw(kinds))
    return sign_vote(vote, voter.keypair), "vote: vote references an already finalized height"


@st.composite
def low_tier_votes(draw, w: World):
    keypair = draw(st.sampled_from([w.tl0, w.stranger, w.cluster.wallets[3]]))
    height = draw(st.integers(w.height, w.height + 5))
    vote = BftVote(draw(rounds), height, draw(hashes), keypair.address, draw(kinds))
    return sign_vote(vote, keypair), "vote: publish tier too low"


def _reslot(w: World, slot: int, data: bytes) -> Block:
    block = w.base_block
    proofs = list(block.proofs)
    proofs[slot] = ProofSlot(proofs[slot].system, proofs[slot].circuit, data)
    header = replace(
        block.header,
        recursive_commitment=compute_recursive_commitment(
            block.header.recursive_previous_commitment, [p.digest() for p in proofs]
        ),
    )
    return replace(block, header=header, proofs=tuple(proofs))


@st.composite
def oversized_proposals(draw, w: World):
    slot = draw(st.integers(0, len(w.base_block.proofs) - 1))
    size = draw(st.integers(MAX_PROOF + 1, 4 * MAX_PROOF))
    block = _reslot(w, slot, bytes(size))
    proposal = sign_proposal(block, 0, w.cluster.keys[w.leader].keypair)
    circuit = block.proofs[slot].circuit
    reason = (
        f"proposal: {circuit} proof: proof size gate failed for model/{circuit}: "
        f"proof too large: limit 1 KiB, got {-(-size // 1024)} KiB"
    )
    return proposal, reason


@st.composite
def bad_proposals(draw, w: World):
    choice = draw(st.integers(0, 2))
    if choice == 0:
        block = _reslot(w, 0, draw(st.binary(min_size=1, max_size=64)))
        proposal = sign_proposal(block, 0, w.cluster.keys[w.leader].keypair)
        return replace(proposal, signature=draw(st.binary(min_size=64, max_size=64))), (
            "proposal: invalid signature"
        )
    if choice == 1:
        return sign_proposal(w.base_block, draw(rounds), w.cluster.wallets[1]), (
            "proposal: publish tier too low"
        )
    old = w.cluster.node(TARGET).chain[draw(st.integers(0, w.height - 2))].block
    return sign_proposal(old, 0, w.cluster.keys[w.leader].keypair), (
        "proposal: for a finalized height"
    )


@st.composite
def wrong_tip_submissions(draw, w: World):
    k = draw(st.integers(0, 3))
    keys = w.cluster.keys[k]
    account = w.node.ledger.get_account(keys.address)
    submission = compute_submission(
        address=keys.address,
        secret=keys.vrf_secret,
        public_key=keys.keypair.public_key,
        last_block_header=draw(st.binary(min_size=32, max_size=32)),
        epoch=w.node.ledger.epoch,
        tier=account.tier,
        timetoke_hours=account.timetoke.hours_online,
    )
    return compute_submission_message(submission, w.height, 0), "vrf: submission for another tip"


@st.composite
def invalid_submissions(draw, w: World):
    honest = w.node.pool[w.cluster.keys[draw(st.integers(0, 3))].address]
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return replace(honest, pi=draw(st.binary(min_size=80, max_size=80))), (
            "vrf: invalid VRF proof"
        )
    if choice == 1:
        return replace(honest, address=w.tl0.address), "vrf: publish tier too low"
    return replace(honest, height=draw(st.integers(0, w.height - 1))), (
        "vrf: submission for another height"
    )


@st.composite
def bad_transactions(draw, w: World):
    wallet = w.cluster.wallets[draw(st.integers(0, 7))]
    amount, fee, nonce = draw(st.integers(0, 2**64)), draw(st.integers(0, 99)), draw(heights)
    if draw(st.booleans()):
        tx = Transaction(wallet.address, wallet.address, amount, fee, nonce, b"", b"")
        return sign_transaction(tx, wallet), "transaction: self transfer"
    tx = Transaction(wallet.address, draw(hashes), amount, fee, nonce, wallet.public_key)
    return replace(tx, signature=draw(st.binary(min_size=64, max_size=64))), (
        "transaction: invalid signature"
    )


@st.composite
def oversized_uptime(draw, w: World):
    address = w.cluster.keys[draw(st.integers(0, 3))].address
    end = draw(st.integers(7200, 2**40))
    start = end - draw(st.integers(3600, 7200))
    size = draw(st.integers(MAX_PROOF + 1, 3 * MAX_PROOF))
    proof = UptimeProof(
        address,
        start,
        end,
        compute_uptime_commitment(address, start, end),
        end,
        1,
        None,
        ProofSlot("model", "uptime", bytes(size)),
    )
    reason = (
        "uptime: proof size gate failed for model/uptime: proof too large: "
        f"limit 1 KiB, got {-(-size // 1024)} KiB"
    )
    return proof, reason


@st.composite
def invalid_evidence(draw, w: World):
    keys = w.cluster.keys[draw(st.integers(0, 3))]
    height, round_ = draw(heights), draw(rounds)
    first = sign_vote(
        BftVote(round_, height, draw(hashes), keys.address, VoteKind.PRE_VOTE), keys.keypair
    )
    second = SignedBftVote(
        BftVote(round_, height, draw(hashes), keys.address, VoteKind.PRE_VOTE),
        keys.keypair.public_key,
        draw(st.binary(min_size=64, max_size=64)),
    )
    evidence = Evidence(
        EvidenceKind.DOUBLE_SIGN_PREVOTE,
        keys.address,
        height,
        round_,
        VoteKind.PRE_VOTE,
        (first.vote.block_hash, second.vote.block_hash),
        (first, second),
    )
    return evidence, "evidence: invalid evidence"


@st.composite
def other_junk(draw, w: World):
    choice = draw(st.integers(0, 4))
    chain = w.node.chain
    if choice == 0:
        return chain[draw(st.integers(0, len(chain) - 1))], "commit: for a finalized height"
    if choice == 1:
        request = IdentityRequest(
            draw(hashes),
            draw(st.binary(min_size=32, max_size=32)),
            draw(st.binary(min_size=32, max_size=32)),
            draw(st.binary(min_size=80, max_size=80)),
            w.node.ledger.epoch_nonce,
            bytes(32),
            bytes(32),
            bytes(32),
            draw(st.binary(min_size=64, max_size=64)),
        )
        return request, "identity: invalid identity signature"
    if choice == 2:
        vote = BftVote(
            draw(rounds), w.height, draw(hashes), w.cluster.keys[0].address, VoteKind.PRE_VOTE
        )
        return vote, "message: unexpected BftVote"
    if choice == 3:
        record = TimetokeRecordMsg(draw(hashes), draw(heights), 0, 0, 0, 0)
        return record, "message: unexpected TimetokeRecordMsg"
    vote = chain[-1].certificate.pre_votes[0]
    return VoteRecord(vote.vote, draw(heights)), "message: unexpected VoteRecord"


def _strategy(w: World) -> st.SearchStrategy[tuple[Any, str]]:
    return st.one_of(
        bad_signature_votes(w),
        finalized_height_votes(w),
        low_tier_votes(w),
        oversized_proposals(w),
        bad_proposals(w),
        wrong_tip_submissions(w),
        invalid_submissions(w),
        bad_transactions(w),
        oversized_uptime(w),
        invalid_evidence(w),
        other_junk(w),
    )


def _feed(w: World, fingerprint, sender: str, message: object) -> tuple[int, Any]:
    node = w.node
    before = fingerprint(node)
    total = node.rejected_total
    node.on_message(w.cluster.now, sender, message)
    assert fingerprint(node) == before
    return node.rejected_total - total, before


# --- the properties ---------------------------------------------------------------------------


@settings(max_examples=200)
@given(data=st.data())
def test_invalid_messages_are_rejected_by_reason_without_state_change(world, fingerprint, data):
    message, reason = data.draw(_strategy(world))
    as_bytes = data.draw(st.booleans())
    sender = world.cluster.keys[data.draw(st.integers(1, 3))].address
    counter = world.node.rejections
    before = counter[reason]
    delivered = message.to_bytes() if as_bytes else message
    added, _ = _feed(world, fingerprint, sender, delivered)
    assert added == 1
    assert counter[reason] == before + 1, (reason, dict(counter))


@settings(max_examples=150)
@given(junk=st.binary(max_size=600), tag=st.integers(0, 20))
def test_random_bytes_never_raise_or_change_state(world, fingerprint, junk, tag):
    data = bytes([tag]) + junk
    try:
        decode_message(data)
    except DecodeError:
        decodes = False
    else:
        decodes = True
    added, _ = _feed(world, fingerprint, "peer", data)
    if not decodes:
        assert added == 1
        assert any(key.startswith("decode: ") for key in world.node.rejections)


@settings(max_examples=60)
@given(
    tier=st.integers(6, 255),
    hours=st.integers(-5, -1),
    height=st.integers(-3, -1),
)
def test_objects_without_a_canonical_encoding_are_rejected(world, fingerprint, tier, hours, height):
    """Objects handed over directly are held to the bytes' rules (no untyped exception)."""
    honest = world.node.pool[world.cluster.keys[1].address]
    for bad in (
        replace(honest, tier=tier),
        replace(honest, timetoke_hours=hours),
        SignedBftVote(BftVote(0, height, "aa", "bb", VoteKind.PRE_VOTE), b"", b""),
        Transaction("a", "b", hours, 1, 1, b"short"),
        Proposal(
            replace(world.base_block, proofs=(ProofSlot("model", "unknown circuit", b""),)),
            0,
            "x",
            b"",
            b"",
        ),
    ):
        counter = world.node.rejections
        name = type(bad).__name__
        malformed = sum(v for k, v in counter.items() if k.startswith(f"message: malformed {name}"))
        added, _ = _feed(world, fingerprint, "peer", bad)
        assert added == 1
        after = sum(v for k, v in counter.items() if k.startswith(f"message: malformed {name}"))
        assert after == malformed + 1


def test_sync_requests_answer_without_state_change(world, fingerprint):
    """A valid request of any range is answered from the chain; nothing changes."""
    from rppsim.node.messages import SyncRequest

    node = world.node
    for request in (SyncRequest(0, 5), SyncRequest(2**64 - 1, 2**32 - 1), SyncRequest(3, 0)):
        before = fingerprint(node)
        effects = node.on_message(world.cluster.now, "peer", request)
        assert fingerprint(node) == before
        expected = list(range(max(request.from_height, 1), node.height + 1))[: request.count]
        if node.pruned_heights.intersection(expected):  # pruned payloads: state sync instead
            assert [type(e.message).__name__ for e in effects] == ["StateSyncResponse"]
            continue
        heights_sent = [e.message.block.header.height for e in effects]
        assert heights_sent == expected


def test_vote_for_the_height_being_decided_does_change_state(world, fingerprint):
    """The fingerprint is able to see a change: a valid vote is stored (control case)."""
    node = world.cluster.node(2)  # not the node under test: this one changes
    keys = world.cluster.keys[world.leader]
    vote = sign_vote(
        BftVote(7, node.hs.height, "ee" * 32, keys.address, VoteKind.PRE_VOTE), keys.keypair
    )
    before = fingerprint(node)
    total = node.rejected_total
    node.on_message(world.cluster.now, keys.address, vote)
    assert node.rejected_total == total
    assert fingerprint(node) != before


# --- every message kind: mutated valid messages and their bytes (issue 13) -------------------


def _load_vectors() -> dict[str, Any]:
    """One valid message of every kind (tests/node/test_message_vectors.py ``VECTORS``)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("test_message_vectors.py")
    spec = importlib.util.spec_from_file_location("_message_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.VECTORS)


VECTORS = _load_vectors()


@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    """``data`` with one to three edits: flip, set, insert or delete a byte, or truncate."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and out:
            out[at] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=9))
        elif op == "delete" and out:
            del out[at]
        elif op == "truncate":
            del out[at:]
    return bytes(out)


def test_every_message_kind_has_a_vector_to_mutate() -> None:
    from rppsim.node.messages import MESSAGE_TYPES

    assert {type(m).KIND for m in VECTORS.values()} == set(MESSAGE_TYPES)


@settings(max_examples=400)
@given(data=st.data(), name=st.sampled_from(sorted(VECTORS)))
def test_mutated_messages_of_every_kind_never_raise_or_change_state(world, fingerprint, data, name):
    """A foreign (valid elsewhere) message of each kind, its bytes mutated, reaches the
    decoder (DecodeError only), ``on_message`` as bytes and as the decoded object, and
    ``submit``: no exception, no state change."""
    wire = data.draw(mutated_bytes(VECTORS[name].to_bytes()))
    try:
        decoded: object = decode_message(wire)
    except DecodeError:
        decoded = None
    sender = world.cluster.keys[data.draw(st.integers(1, 3))].address
    node = world.node
    for message in (VECTORS[name], wire, decoded):
        if message is None:
            continue
        for deliver in (node.on_message, lambda now, _, m: node.submit(now, m)):
            before = fingerprint(node)
            future, asked = {h: list(q) for h, q in node.future.items()}, node.sync_requested_ms
            deliver(world.cluster.now, sender, message)
            # By design a message of the next FUTURE_HEIGHT_WINDOW heights may wait in the
            # bounded future buffer (and ask for a sync); nothing else may change.
            window = node.hs.height + FUTURE_HEIGHT_WINDOW
            assert all(h <= window for h in node.future), name
            node.future, node.sync_requested_ms = future, asked
            assert fingerprint(node) == before, name
