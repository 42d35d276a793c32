"""Wire messages: exact signed bytes, layouts, round trips, signatures, garbage → DecodeError."""

import dataclasses
import functools
import hashlib
from enum import IntEnum

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rppsim.node.codec import Codec, DecodeError, EncodeError, Reader, Writer
from rppsim.node.merkle import EMPTY_ROOT
from rppsim.node.messages import (
    CIRCUITS,
    DETECTIONS,
    GENESIS_RECURSIVE_COMMITMENT,
    MESSAGE_TOPICS,
    MESSAGE_TYPES,
    BftVote,
    Block,
    BlockHeader,
    Commit,
    ConsensusCertificate,
    Evidence,
    EvidenceKind,
    GossipTopic,
    IdentityRequest,
    MessageKind,
    ProofSlot,
    Proposal,
    SignedBftVote,
    SyncRequest,
    TimetokeDeltaBroadcast,
    TimetokeRecordMsg,
    Transaction,
    UptimeProof,
    VoteKind,
    VoteRecord,
    VrfSubmissionMsg,
    compute_list_root,
    compute_recursive_commitment,
    compute_uptime_commitment,
    decode_message,
    get_field_codec,
    get_gossip_topic,
    is_valid_block_body,
    is_valid_double_sign_evidence,
    is_valid_identity_signature,
    is_valid_proposal_signature,
    is_valid_transaction_signature,
    is_valid_vote_signature,
    sign_identity_request,
    sign_proposal,
    sign_transaction,
    sign_vote,
)
from rppsim.node.signing import generate_keypair

KEYPAIR = generate_keypair(bytes(range(32)))
OTHER = generate_keypair(bytes(range(1, 33)))
BLOCK_HASH = "ab" * 32


def _blake2s(data: bytes) -> bytes:
    return hashlib.blake2s(data).digest()


# --- strategies ----------------------------------------------------------------------------

TEXT = st.text(max_size=12)
U64 = st.integers(0, 2**64 - 1)
U128 = st.integers(0, 2**128 - 1)
U256 = st.integers(0, 2**256 - 1)
TIER = st.integers(0, 5)


def _b(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


TX = st.builds(Transaction, TEXT, TEXT, U128, U64, U64, _b(32), _b(64))
IDENTITY = st.builds(
    IdentityRequest, TEXT, _b(32), _b(32), _b(80), _b(32), _b(32), _b(32), _b(32), _b(64)
)
PROOF = st.builds(ProofSlot, TEXT, st.sampled_from(CIRCUITS), st.binary(max_size=48))
OPT_U64 = st.none() | U64
UPTIME = st.builds(
    UptimeProof, TEXT, U64, U64, TEXT, OPT_U64, OPT_U64, st.none() | TEXT, st.none() | PROOF
)
HEADER = st.builds(
    BlockHeader,
    height=U64,
    previous_hash=TEXT,
    timestamp_ms=U64,
    state_root=_b(32),
    tx_root=_b(32),
    uptime_root=_b(32),
    identity_root=_b(32),
    vrf_root=_b(32),
    evidence_root=_b(32),
    last_commit_hash=_b(32),
    proposer=TEXT,
    vrf_public_key=_b(32),
    vrf_randomness=U256,
    vrf_beta=_b(64),
    vrf_pi=_b(80),
    vrf_epoch=U64,
    vrf_tier_seed=_b(32),
    leader_tier=TIER,
    leader_timetoke=U64,
    round=U64,
    recursive_previous_commitment=_b(32),
    recursive_commitment=_b(32),
)
VOTE = st.builds(BftVote, U64, U64, TEXT, TEXT, st.sampled_from(VoteKind))
SIGNED_VOTE = st.builds(SignedBftVote, VOTE, _b(32), _b(64))
RECORD = st.builds(VoteRecord, SIGNED_VOTE, U256)
CERTIFICATE = st.builds(
    ConsensusCertificate,
    U64,
    U64,
    TEXT,
    U256,
    U256,
    U256,
    U256,
    U256,
    U64,
    st.lists(RECORD, max_size=2),
    st.lists(RECORD, max_size=2),
)
EVIDENCE = st.builds(
    Evidence,
    st.sampled_from(EvidenceKind),
    TEXT,
    U64,
    U64,
    st.none() | st.sampled_from(VoteKind),
    st.lists(TEXT, max_size=3),
    st.lists(SIGNED_VOTE, max_size=2),
    st.none() | st.binary(max_size=64),
)
TIMETOKE = st.builds(TimetokeRecordMsg, TEXT, U128, U64, U64, U64, U64)
BROADCAST = st.builds(TimetokeDeltaBroadcast, _b(32), st.lists(TIMETOKE, max_size=3))
VRF = st.builds(
    VrfSubmissionMsg,
    address=TEXT,
    public_key=st.just(b"") | _b(32),
    last_block_header=_b(32),
    epoch=U64,
    tier_seed=_b(32),
    randomness=U256,
    beta=_b(64),
    pi=_b(80),
    tier=TIER,
    timetoke_hours=U64,
    height=U64,
    round=U64,
)
BLOCK = st.builds(
    Block,
    HEADER,
    st.lists(TX, max_size=2),
    st.lists(IDENTITY, max_size=2),
    st.lists(UPTIME, max_size=2),
    st.lists(PROOF, max_size=2),
    st.lists(VRF, max_size=2),
    st.lists(EVIDENCE, max_size=1),
    st.none() | CERTIFICATE,
)
PROPOSAL = st.builds(Proposal, BLOCK, U64, TEXT, _b(32), _b(64))
COMMIT = st.builds(Commit, BLOCK, CERTIFICATE)
SYNC = st.builds(SyncRequest, U64, st.integers(0, 2**32 - 1))
MESSAGE = st.one_of(
    TX,
    IDENTITY,
    PROOF,
    UPTIME,
    HEADER,
    BLOCK,
    PROPOSAL,
    VOTE,
    SIGNED_VOTE,
    RECORD,
    CERTIFICATE,
    EVIDENCE,
    TIMETOKE,
    BROADCAST,
    VRF,
    COMMIT,
    SYNC,
)
SLOW_BUILD = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


# --- the vote: exact bytes, hash, pinned digest ----------------------------------------------


def _fixed_vote() -> BftVote:
    return BftVote(
        round=3, height=7, block_hash=BLOCK_HASH, voter=KEYPAIR.address, kind=VoteKind.PRE_COMMIT
    )


def test_vote_signing_bytes_are_exactly_the_chains():
    """ "rpp-bft-vote" ‖ round u64 LE ‖ height u64 LE ‖ hash UTF-8 ‖ voter UTF-8 ‖ kind
    (docs/protocol.md#rounds-and-quorum)."""
    expected = (
        b"rpp-bft-vote"
        + b"\x03\x00\x00\x00\x00\x00\x00\x00"
        + b"\x07\x00\x00\x00\x00\x00\x00\x00"
        + BLOCK_HASH.encode()
        + KEYPAIR.address.encode()
        + b"\x01"
    )
    assert _fixed_vote().signing_bytes() == expected
    prevote = dataclasses.replace(_fixed_vote(), kind=VoteKind.PRE_VOTE)
    assert prevote.signing_bytes() == expected[:-1] + b"\x00"


def test_signed_vote_layout_hash_and_pinned_digest():
    """Tag bytes, fields in order, vote hash over the signing bytes, a pinned regression digest."""
    signed = sign_vote(_fixed_vote(), KEYPAIR)
    address = KEYPAIR.address.encode()
    expected = (
        bytes([MessageKind.SIGNED_BFT_VOTE, MessageKind.BFT_VOTE])
        + (3).to_bytes(8, "little")
        + (7).to_bytes(8, "little")
        + (64).to_bytes(4, "little")
        + BLOCK_HASH.encode()
        + len(address).to_bytes(4, "little")
        + address
        + b"\x01"
        + KEYPAIR.public_key
        + signed.signature
    )
    assert signed.to_bytes() == expected
    assert signed.size_bytes == len(expected) == 251
    assert signed.hash == _blake2s(_fixed_vote().signing_bytes()).hex()
    assert signed.digest() == _blake2s(expected)
    assert signed.digest().hex() == PINNED_SIGNED_VOTE_DIGEST


PINNED_SIGNED_VOTE_DIGEST = "523d272fc8c0ed3c966bde8ada8e88135c55c9eb4afaf9d759248ef0ebadd0e7"


def test_vote_signature_checks_and_tampering():
    """A signed vote verifies; any changed field, key or signature byte does not."""
    signed = sign_vote(_fixed_vote(), KEYPAIR)
    assert is_valid_vote_signature(signed)
    for change in (
        {"round": 4},
        {"height": 8},
        {"block_hash": "cd" * 32},
        {"kind": VoteKind.PRE_VOTE},
    ):
        tampered = dataclasses.replace(signed, vote=dataclasses.replace(signed.vote, **change))
        assert not is_valid_vote_signature(tampered)
    bad_signature = signed.signature[:-1] + bytes([signed.signature[-1] ^ 1])
    assert not is_valid_vote_signature(dataclasses.replace(signed, signature=bad_signature))
    # A valid signature by another key whose address is not the voter.
    forged = sign_vote(_fixed_vote(), OTHER)
    assert not is_valid_vote_signature(forged)
    assert not is_valid_vote_signature(dataclasses.replace(signed, public_key=b"\xff" * 32))
    assert not is_valid_vote_signature(dataclasses.replace(signed, public_key=b"short"))


# --- other signed messages ---------------------------------------------------------------------


def _tx(nonce: int = 0) -> Transaction:
    return Transaction(KEYPAIR.address, OTHER.address, 10, 2, nonce, bytes(32))


def test_transaction_signature_hash_and_json():
    """Signed over b"rpp-tx" ‖ unsigned fields; hash excludes the signature; JSON entry shape."""
    tx = sign_transaction(_tx(), KEYPAIR)
    assert is_valid_transaction_signature(tx)
    assert tx.signing_bytes().startswith(b"rpp-tx")
    assert tx.hash == _blake2s(tx.signing_bytes()).hex()
    assert tx.to_json_dict() == {
        "hash": tx.hash,
        "from": KEYPAIR.address,
        "to": OTHER.address,
        "amount": 10,
        "fee": 2,
        "nonce": 0,
    }
    assert not is_valid_transaction_signature(dataclasses.replace(tx, amount=11))
    assert not is_valid_transaction_signature(dataclasses.replace(tx, sender=OTHER.address))
    assert not is_valid_transaction_signature(dataclasses.replace(tx, amount=-1))  # unencodable
    assert not is_valid_transaction_signature(sign_transaction(_tx(), OTHER))


def _identity() -> IdentityRequest:
    return IdentityRequest(
        KEYPAIR.address, bytes(32), b"\x01" * 32, b"\x02" * 80, b"\x03" * 32, b"\x04" * 32,
        b"\x05" * 32, b"\x06" * 32,
    )  # fmt: skip


def test_identity_signature_and_json():
    """Identity requests are wallet-signed; the JSON entry has the docs/operations.md#mempool-status
    fields."""
    request = sign_identity_request(_identity(), KEYPAIR)
    assert is_valid_identity_signature(request)
    assert not is_valid_identity_signature(dataclasses.replace(request, state_root=bytes(32)))
    assert request.to_json_dict(attested_votes=2, gossip_confirmations=1) == {
        "wallet_addr": KEYPAIR.address,
        "commitment": "06" * 32,
        "epoch_nonce": "03" * 32,
        "state_root": "04" * 32,
        "identity_root": "05" * 32,
        "vrf_tag": "02" * 80,
        "attested_votes": 2,
        "gossip_confirmations": 1,
    }


def _header(**changes) -> BlockHeader:
    fields = dict(
        height=1,
        previous_hash="00" * 32,
        timestamp_ms=5000,
        state_root=b"\x11" * 32,
        tx_root=EMPTY_ROOT,
        uptime_root=EMPTY_ROOT,
        identity_root=EMPTY_ROOT,
        vrf_root=EMPTY_ROOT,
        evidence_root=EMPTY_ROOT,
        last_commit_hash=bytes(32),
        proposer=KEYPAIR.address,
        vrf_public_key=b"\x22" * 32,
        vrf_randomness=12345,
        vrf_beta=b"\x33" * 64,
        vrf_pi=b"\x44" * 80,
        vrf_epoch=0,
        vrf_tier_seed=b"\x55" * 32,
        leader_tier=3,
        leader_timetoke=24,
        round=0,
        recursive_previous_commitment=GENESIS_RECURSIVE_COMMITMENT,
        recursive_commitment=compute_recursive_commitment(GENESIS_RECURSIVE_COMMITMENT, []),
    )
    fields.update(changes)
    return BlockHeader(**fields)


PINNED_HEADER_HASH = "df89188c025d5304e490af1f42f2de3650c08b07fb40c68cbee72302eb8fc5a8"


def test_block_hash_is_header_digest_and_pinned():
    """block.hash = hex BLAKE2s(header bytes); the fixed header's hash is a regression vector."""
    block = Block(_header())
    assert block.hash == _blake2s(block.header.to_bytes()).hex()
    assert block.hash == PINNED_HEADER_HASH
    assert Block(_header(round=1)).hash != block.hash


def test_proposal_signature():
    """A proposal verifies; a different block, round or signer does not."""
    proposal = sign_proposal(Block(_header()), 0, KEYPAIR)
    assert proposal.proposer == KEYPAIR.address
    assert is_valid_proposal_signature(proposal)
    assert not is_valid_proposal_signature(dataclasses.replace(proposal, round=1))
    other_block = Block(_header(timestamp_ms=5001))
    assert not is_valid_proposal_signature(dataclasses.replace(proposal, block=other_block))
    assert not is_valid_proposal_signature(
        dataclasses.replace(proposal, public_key=OTHER.public_key)
    )


# --- commitments and roots -------------------------------------------------------------------


def test_uptime_commitment_matches_hand_computation():
    """hex BLAKE2s(address UTF-8 ‖ start u64 BE ‖ end u64 BE) (docs/protocol.md#timetoke)."""
    expected = _blake2s(b"alice" + (3600).to_bytes(8, "big") + (7200).to_bytes(8, "big")).hex()
    assert compute_uptime_commitment("alice", 3600, 7200) == expected
    proof = UptimeProof("alice", 3600, 7200, expected)
    assert proof.is_commitment_valid()
    assert not dataclasses.replace(proof, window_end=7201).is_commitment_valid()
    assert proof.to_json_dict(credited_hours=1) == {
        "identity": "alice",
        "window_start": 3600,
        "window_end": 7200,
        "credited_hours": 1,
    }


def test_recursive_commitment_chain():
    """BLAKE2s("rpp-recursive" ‖ previous ‖ digests in order); each block's link advances."""
    digests = [_blake2s(b"a"), _blake2s(b"b")]
    first = compute_recursive_commitment(GENESIS_RECURSIVE_COMMITMENT, digests)
    assert bytes(32) == GENESIS_RECURSIVE_COMMITMENT
    assert first == _blake2s(b"rpp-recursive" + bytes(32) + digests[0] + digests[1])
    assert first != compute_recursive_commitment(bytes(32), digests[::-1])
    second = compute_recursive_commitment(first, [])
    assert second not in (first, GENESIS_RECURSIVE_COMMITMENT)
    with pytest.raises(ValueError):
        compute_recursive_commitment(b"short", [])


def test_block_body_roots():
    """A block whose roots and recursive commitment match its payload is valid; others not."""
    txs = [sign_transaction(_tx(n), KEYPAIR) for n in range(3)]
    proofs = [ProofSlot("numba-stark", "transaction", b"p1"), ProofSlot("stwo", "state", b"p2")]
    header = _header(
        tx_root=compute_list_root(txs),
        recursive_commitment=compute_recursive_commitment(
            GENESIS_RECURSIVE_COMMITMENT, [p.digest() for p in proofs]
        ),
    )
    block = Block(header, txs, proofs=proofs)
    assert compute_list_root([]) == EMPTY_ROOT
    assert compute_list_root(txs) == compute_list_root(txs[::-1])  # sorted-leaf rule
    assert is_valid_block_body(block)
    assert not is_valid_block_body(dataclasses.replace(block, transactions=txs[:2]))
    assert not is_valid_block_body(dataclasses.replace(block, proofs=proofs[::-1]))


def test_proof_slot_digests():
    """digest() binds system and circuit; data_digest() is the proof bytes alone."""
    slot = ProofSlot("numba-stark", "uptime", b"proof")
    assert slot.data_digest() == _blake2s(b"proof")
    assert slot.digest() != dataclasses.replace(slot, circuit="consensus").digest()
    with pytest.raises(EncodeError):
        ProofSlot("stwo", "bogus", b"").to_bytes()


# --- evidence, certificate, JSON views, topics -----------------------------------------------


def test_double_sign_evidence_is_checkable():
    """Two valid precommits for different hashes convict; anything weaker does not."""
    first = sign_vote(_fixed_vote(), KEYPAIR)
    second = sign_vote(dataclasses.replace(_fixed_vote(), block_hash="cd" * 32), KEYPAIR)
    evidence = Evidence(
        EvidenceKind.DOUBLE_SIGN_PRECOMMIT,
        KEYPAIR.address,
        7,
        3,
        VoteKind.PRE_COMMIT,
        ["cd" * 32, BLOCK_HASH],
        [first, second],
    )
    assert is_valid_double_sign_evidence(evidence)
    assert decode_message(evidence.to_bytes()) == evidence
    assert not is_valid_double_sign_evidence(dataclasses.replace(evidence, votes=(first, first)))
    assert not is_valid_double_sign_evidence(dataclasses.replace(evidence, address=OTHER.address))
    assert not is_valid_double_sign_evidence(
        dataclasses.replace(evidence, kind=EvidenceKind.DOUBLE_SIGN_PREVOTE)
    )
    forged = dataclasses.replace(second, signature=bytes(64))
    assert not is_valid_double_sign_evidence(dataclasses.replace(evidence, votes=(first, forged)))


def test_certificate_json_uses_decimal_strings():
    """Powers are decimal strings and votes keep the chain's serde shape."""
    record = VoteRecord(sign_vote(_fixed_vote(), KEYPAIR), 1_442_000_000)
    big = 2**200 + 1
    certificate = ConsensusCertificate(7, 3, BLOCK_HASH, big, 961_333_335, 1, 2, 3, 4, [record])
    view = certificate.to_json_dict()
    assert view["total_power"] == str(big)
    assert view["quorum_threshold"] == "961333335"
    assert view["pre_votes"][0]["weight"] == "1442000000"
    assert view["pre_votes"][0]["vote"]["vote"]["kind"] == "PreCommit"
    assert view["pre_commits"] == []
    assert decode_message(certificate.to_bytes()) == certificate


def test_vote_json_entry():
    """The /status/mempool vote entry (docs/operations.md#mempool-status)."""
    signed = sign_vote(_fixed_vote(), KEYPAIR)
    assert signed.to_json_dict() == {
        "hash": signed.hash,
        "voter": KEYPAIR.address,
        "height": 7,
        "round": 3,
        "block_hash": BLOCK_HASH,
        "kind": "PreCommit",
    }


def test_gossip_topics():
    """Nine chain topic strings; votes, blocks, VRF proofs and evidence map as the chain."""
    assert {topic.value for topic in GossipTopic} == {
        f"/rpp/gossip/{name}/1.0.0"
        for name in (
            "blocks",
            "votes",
            "proofs",
            "snapshots",
            "meta",
            "vrf/proofs",
            "vrf/meta",
            "witness/proofs",
            "witness/meta",
        )
    }
    assert get_gossip_topic(MessageKind.SIGNED_BFT_VOTE) is GossipTopic.VOTES
    assert get_gossip_topic(MessageKind.PROPOSAL) is GossipTopic.BLOCKS
    assert get_gossip_topic(MessageKind.VRF_SUBMISSION) is GossipTopic.VRF_PROOFS
    assert get_gossip_topic(MessageKind.EVIDENCE) is GossipTopic.WITNESS_META
    assert get_gossip_topic(MessageKind.BFT_VOTE) is None
    assert set(MESSAGE_TOPICS) <= set(MessageKind)


# --- encoding properties ---------------------------------------------------------------------


@SLOW_BUILD
@given(MESSAGE)
def test_round_trip_and_canonical(message):
    """decode(encode(x)) == x, and a fresh re-encoding gives identical bytes."""
    data = message.to_bytes()
    decoded = decode_message(data)
    assert decoded == message
    assert type(decoded) is type(message)
    assert dataclasses.replace(decoded).to_bytes() == data
    assert message.size_bytes == len(data)
    assert type(message).from_bytes(data) == message


# --- properties over every layout ------------------------------------------------------------

SCALARS = {
    "u8": st.integers(0, 2**8 - 1),
    "u32": st.integers(0, 2**32 - 1),
    "u64": U64,
    "u128": U128,
    "u256": U256,
    "bool": st.booleans(),
    "string": TEXT,
    "bytes": st.binary(max_size=40),
    "tier": TIER,
    "circuit": st.sampled_from(CIRCUITS),
    "optional VRF public key": st.just(b"") | _b(32),
    "i64": st.integers(-(2**63), 2**63 - 1),
    "nat": st.integers(0, 2**300),
    "f64": st.floats(allow_nan=False),
    "detection": st.sampled_from(DETECTIONS),
}


@functools.cache
def _values(codec: Codec) -> st.SearchStrategy:
    """Values of one field type, derived from the codec (every label must be known here)."""
    param = codec.param
    if codec.label in SCALARS:
        return SCALARS[codec.label]
    if codec.label.startswith("bytes["):
        return _b(param)
    if codec.label.startswith("option<"):
        return st.none() | _values(param)
    if codec.label.startswith("list<"):
        return st.lists(_values(param), max_size=2).map(tuple)
    if isinstance(param, type) and issubclass(param, IntEnum):
        return st.sampled_from(param)
    if param in MESSAGE_TYPES.values():
        return _instances(param)
    raise AssertionError(f"no strategy for field type {codec.label}")


@functools.cache
def _instances(message_type: type) -> st.SearchStrategy:
    """Random messages of a type, field by field from its LAYOUT."""
    return st.builds(message_type, **{name: _values(codec) for name, codec in message_type.LAYOUT})


@pytest.mark.parametrize("kind", list(MessageKind), ids=lambda kind: kind.name)
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_layout_round_trips_and_rejects_truncated_or_extended_bytes(kind, data):
    """A random instance of each kind, built from its layout: decode(encode(x)) == x, every
    strict prefix and every extension of its bytes is a DecodeError."""
    message = data.draw(_instances(MESSAGE_TYPES[kind]))
    encoded = message.to_bytes()
    assert encoded[0] == kind
    assert decode_message(encoded) == message
    assert dataclasses.replace(decode_message(encoded)).to_bytes() == encoded
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        decode_message(encoded[:cut])
    with pytest.raises(DecodeError, match="trailing"):
        decode_message(encoded + data.draw(st.binary(min_size=1, max_size=8)))


@settings(max_examples=100)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_decode_error(garbage):
    """Arbitrary bytes decode to a message or raise DecodeError, nothing else."""
    try:
        message = decode_message(garbage)
    except DecodeError:
        return
    assert dataclasses.replace(message).to_bytes() == garbage


@settings(max_examples=100)
@given(st.sampled_from(MessageKind), st.binary(max_size=400))
def test_tagged_garbage_raises_only_decode_error(kind, body):
    """A valid tag followed by random bytes reaches each decoder; still DecodeError only."""
    data = bytes([kind]) + body
    try:
        message = decode_message(data)
    except DecodeError:
        return
    assert dataclasses.replace(message).to_bytes() == data


@SLOW_BUILD
@given(MESSAGE, st.data())
def test_mutated_encodings_are_rejected_or_canonical(message, data):
    """Flipping, cutting or inserting a byte yields DecodeError or an exact re-encoding."""
    encoded = bytearray(message.to_bytes())
    position = data.draw(st.integers(0, len(encoded) - 1))
    action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    if action == "flip":
        encoded[position] ^= data.draw(st.integers(1, 255))
    elif action == "cut":
        del encoded[position:]
    else:
        encoded.insert(position, data.draw(st.integers(0, 255)))
    try:
        decoded = decode_message(bytes(encoded))
    except DecodeError:
        return
    assert dataclasses.replace(decoded).to_bytes() == bytes(encoded)


def test_specific_malformed_messages():
    """Nested tag mismatch, unknown circuit, bad tier, bad VRF key length, wrong type."""
    block_bytes = bytearray(Block(_header()).to_bytes())
    block_bytes[1] = MessageKind.TRANSACTION  # the embedded header's tag
    with pytest.raises(DecodeError, match="embedded"):
        decode_message(bytes(block_bytes))
    with pytest.raises(DecodeError):
        decode_message(b"\x00")
    with pytest.raises(DecodeError):
        decode_message(b"")
    with pytest.raises(DecodeError):
        Transaction.from_bytes(sign_vote(_fixed_vote(), KEYPAIR).to_bytes())
    slot = bytearray(ProofSlot("s", "state", b"").to_bytes())
    slot[-9] = ord("x")  # "state" → "xtate"
    with pytest.raises(DecodeError, match="circuit"):
        decode_message(bytes(slot))
    header = bytearray(_header().to_bytes())
    tier_offset = len(header) - 32 - 32 - 8 - 8 - 1
    assert header[tier_offset] == 3
    header[tier_offset] = 6
    with pytest.raises(DecodeError, match="tier"):
        decode_message(bytes(header))


def test_vrf_submission_json_and_key_length():
    """The gossip JSON view; a VRF key must be empty (missing) or 32 bytes."""
    msg = VrfSubmissionMsg(
        "addr", b"", b"\x01" * 32, 5, b"\x02" * 32, 2**255, b"\x03" * 64, b"\x04" * 80, 3, 24, 9, 1
    )
    view = msg.to_json_dict()
    assert view["public_key"] is None
    assert view["proof"]["randomness"] == str(2**255)
    assert view["tier"] == "Tl3"
    assert view["input"]["epoch"] == 5
    with pytest.raises(EncodeError):
        dataclasses.replace(msg, public_key=b"\x01" * 5).to_bytes()
    with pytest.raises(EncodeError):
        dataclasses.replace(msg, tier=6).to_bytes()


def test_sequences_become_tuples_and_messages_hash():
    """List arguments are stored as tuples so messages stay immutable and hashable."""
    block = Block(_header(), [sign_transaction(_tx(), KEYPAIR)])
    assert isinstance(block.transactions, tuple)
    assert hash(block) == hash(Block(_header(), (sign_transaction(_tx(), KEYPAIR),)))
    broadcast = TimetokeDeltaBroadcast(bytes(32), [TimetokeRecordMsg("a", 5, 0, 1, 2, 3)])
    assert broadcast.records[0].to_json_dict()["decay_rate"] == 1.0


def test_hashes_are_memoized_per_object_and_follow_the_fields():
    """A hash is computed once per immutable object; an object with other fields hashes anew."""
    tx = sign_transaction(_tx(), KEYPAIR)
    assert tx.hash == tx.hash == _blake2s(tx.signing_bytes()).hex()
    changed = dataclasses.replace(tx, amount=11)
    assert changed.hash == _blake2s(changed.signing_bytes()).hex() != tx.hash
    decoded = Transaction.from_bytes(tx.to_bytes())
    assert decoded.hash == tx.hash
    signed = sign_vote(_fixed_vote(), KEYPAIR)
    other = sign_vote(dataclasses.replace(_fixed_vote(), round=4), KEYPAIR)
    assert signed.hash == signed.hash != other.hash
    assert other.hash == _blake2s(other.vote.signing_bytes()).hex()
    request = sign_identity_request(_identity(), KEYPAIR)
    assert request.hash == request.hash == _blake2s(request.signing_bytes()).hex()


def test_an_unencodable_transaction_hash_raises_every_time():
    """A failed hash is not memoized: EncodeError again on the next read."""
    bad = dataclasses.replace(_tx(), amount=-1)
    for _ in range(2):
        with pytest.raises(EncodeError):
            _ = bad.hash


def test_layouts_are_derived_from_the_field_types():
    """Each field's annotation names its codec; a type with no wire encoding is refused."""
    assert [(name, c.label) for name, c in UptimeProof.LAYOUT][-4:] == [
        ("node_clock", "option<u64>"),
        ("epoch", "option<u64>"),
        ("head_hash", "option<string>"),
        ("proof", "option<ProofSlot>"),
    ]
    assert dict(Evidence.LAYOUT)["block_hashes"].label == "list<string>"
    assert [name for name, _ in Transaction.SIGNED_LAYOUT] == [
        name for name, _ in Transaction.LAYOUT if name != "signature"
    ]
    assert [c.label for _, c in BftVote.SIGNED_LAYOUT] == ["u64", "u64", "text", "text", "VoteKind"]
    with pytest.raises(TypeError, match="no wire encoding"):
        get_field_codec(float)
    with pytest.raises(TypeError, match="no wire encoding"):
        get_field_codec(list[int])
    with pytest.raises(TypeError, match="not signed"):
        SyncRequest(1, 2).signing_bytes()


# --- the state snapshot's scalars: f64, i64, nat -----------------------------------------------


@given(st.floats(allow_nan=False), st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**520))
def test_snapshot_scalars_round_trip_to_the_same_bytes(score, signed, natural):
    data = Writer().f64(score).i64(signed).nat(natural).to_bytes()
    reader = Reader(data)
    decoded = (reader.f64(), reader.i64(), reader.nat())
    reader.finish()
    assert decoded == (score, signed, natural)
    assert Writer().f64(decoded[0]).i64(decoded[1]).nat(decoded[2]).to_bytes() == data
    assert len(data) == 8 + 8 + 4 + (natural.bit_length() + 7) // 8


def test_snapshot_scalars_without_a_canonical_encoding_are_refused():
    nan = b"\x00\x00\x00\x00\x00\x00\xf8\x7f"
    for write, error in (
        (lambda w: w.f64(float("nan")), "NaN has no canonical encoding"),
        (lambda w: w.f64(1), "expected a float, got int"),
        (lambda w: w.i64(2**63), "does not fit a signed 64-bit field"),
        (lambda w: w.nat(-1), "-1 is not a natural"),
    ):
        with pytest.raises(EncodeError, match=error):
            write(Writer())
    with pytest.raises(DecodeError, match="NaN float"):
        Reader(nan).f64()
    with pytest.raises(DecodeError, match="leading zero"):
        Reader(b"\x02\x00\x00\x00\x00\x01").nat()
    assert Reader(b"\x00\x00\x00\x00").nat() == 0
