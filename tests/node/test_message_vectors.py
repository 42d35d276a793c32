"""Known answers: the exact bytes of every wire message, its signing bytes, hashes and errors.

Run digests of every scenario depend on these bytes, so any change to a message's layout,
signing bytes or decoding errors must be deliberate. A fixed instance of each of the 29
message kinds is encoded and the SHA-256 of its bytes pinned (with its length); so are the
signing bytes of the four signed kinds, the hashes derived from them, and the exact
``DecodeError`` text for every truncation of every vector and for hand-made malformed inputs
(the node counts rejections by that text), and the ``EncodeError`` text for unencodable
values.
"""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from rppsim.node.codec import DecodeError, EncodeError
from rppsim.node.ledger import SlashingReason
from rppsim.node.messages import (
    AccountRecord,
    BftVote,
    Block,
    BlockHeader,
    Commit,
    ConsensusCertificate,
    ElectorateRecord,
    Evidence,
    EvidenceKind,
    IdentityRequest,
    LedgerState,
    MemberPower,
    MessageKind,
    MissesRecord,
    ParticipationRecord,
    ProfileRecord,
    ProofSlot,
    SignedBftVote,
    SlashingRecord,
    StateSnapshot,
    StateSyncResponse,
    SubmissionRecord,
    SyncRequest,
    TimetokeDeltaBroadcast,
    TimetokeRecordMsg,
    Transaction,
    UptimeProof,
    ValidatorSetRecord,
    VoteKind,
    VoteRecord,
    VrfSubmissionMsg,
    decode_message,
    is_valid_vote_signature,
    sign_identity_request,
    sign_proposal,
    sign_transaction,
    sign_vote,
)
from rppsim.node.signing import generate_keypair

ALICE = generate_keypair(bytes(range(32)))
BOB = generate_keypair(bytes(range(1, 33)))


def _b(seed: int, n: int) -> bytes:
    """n deterministic, distinct-looking bytes."""
    return bytes((seed * 37 + 11 * i) % 256 for i in range(n))


def _tx(nonce: int) -> Transaction:
    return sign_transaction(
        Transaction(ALICE.address, BOB.address, 2**100 + 7, 3, nonce, b"", b""), ALICE
    )


def _identity() -> IdentityRequest:
    unsigned = IdentityRequest(
        BOB.address, b"", _b(1, 32), _b(2, 80), _b(3, 32), _b(4, 32), _b(5, 32), _b(6, 32)
    )
    return sign_identity_request(unsigned, BOB)


def _vote(kind: VoteKind, block_hash: str, keypair=ALICE) -> SignedBftVote:
    return sign_vote(BftVote(2, 9, block_hash, keypair.address, kind), keypair)


def _certificate() -> ConsensusCertificate:
    return ConsensusCertificate(
        8,
        1,
        "cd" * 32,
        2**200 + 5,
        2**133,
        17,
        2**255 + 1,
        0,
        4,
        [VoteRecord(_vote(VoteKind.PRE_VOTE, "cd" * 32), 2**70)],
        [
            VoteRecord(_vote(VoteKind.PRE_COMMIT, "cd" * 32), 1),
            VoteRecord(_vote(VoteKind.PRE_COMMIT, "cd" * 32, BOB), 2**256 - 1),
        ],
    )


def _evidence() -> Evidence:
    votes = [_vote(VoteKind.PRE_VOTE, "01" * 32), _vote(VoteKind.PRE_VOTE, "02" * 32)]
    return Evidence(
        EvidenceKind.DOUBLE_SIGN_PREVOTE,
        ALICE.address,
        9,
        2,
        VoteKind.PRE_VOTE,
        ["01" * 32, "02" * 32],
        votes,
    )


def _vrf(public_key: bytes) -> VrfSubmissionMsg:
    return VrfSubmissionMsg(
        "vrf-addr", public_key, _b(7, 32), 3, _b(8, 32), 2**250 + 3, _b(9, 64), _b(10, 80), 4, 36,
        10, 0,
    )  # fmt: skip


def _header() -> BlockHeader:
    return BlockHeader(
        height=9,
        previous_hash="ef" * 32,
        timestamp_ms=1_700_000_000_123,
        state_root=_b(11, 32),
        tx_root=_b(12, 32),
        uptime_root=_b(13, 32),
        identity_root=_b(14, 32),
        vrf_root=_b(15, 32),
        evidence_root=_b(16, 32),
        last_commit_hash=_b(17, 32),
        proposer=ALICE.address,
        vrf_public_key=_b(18, 32),
        vrf_randomness=2**256 - 2,
        vrf_beta=_b(19, 64),
        vrf_pi=_b(20, 80),
        vrf_epoch=2**64 - 1,
        vrf_tier_seed=_b(21, 32),
        leader_tier=5,
        leader_timetoke=1234,
        round=2,
        recursive_previous_commitment=_b(22, 32),
        recursive_commitment=_b(23, 32),
    )


def _uptime(with_options: bool) -> UptimeProof:
    if not with_options:
        return UptimeProof("wallet-é", 3600, 7200, "aa" * 32)
    proof = ProofSlot("numba-stark", "uptime", _b(24, 40))
    return UptimeProof("wallet", 0, 2**64 - 1, "bb" * 32, 77, 0, "head-ü", proof)


def _block() -> Block:
    return Block(
        _header(),
        [_tx(1), _tx(2)],
        [_identity()],
        [_uptime(True), _uptime(False)],
        [ProofSlot("stwo", "transaction", b""), ProofSlot("rpp-stark", "recursive", _b(25, 9))],
        [_vrf(_b(26, 32)), _vrf(b"")],
        [_evidence()],
        _certificate(),
    )


def _timetoke(identity: str) -> TimetokeRecordMsg:
    return TimetokeRecordMsg(identity, 2**127 + 9, 5, 6, 7, 2**64 - 1)


def _account(address: str) -> AccountRecord:
    return AccountRecord(
        address, 2**128 - 1, 10**6, 7, True, 720, 1_767_225_600, None, 5, 12, -3, 9, 0.625, 4
    )


def _ledger_state() -> LedgerState:
    return LedgerState(
        height=9,
        epoch=1,
        epoch_nonce=_b(30, 32),
        reward_shortfall=2**130 + 1,
        accounts=[_account("a-ñ"), _account("b")],
        used_vrf_tags=["t1", "t2"],
        slashing_log=[SlashingRecord("b", SlashingReason.InvalidIdentity, 50, 99, _b(31, 32))],
        misses=[MissesRecord("a-ñ", 1, 2, 0)],
        participation_log=[ParticipationRecord(9, 8, 0, "a-ñ", "inactivity", 4)],
    )


def _validator_set() -> ValidatorSetRecord:
    return ValidatorSetRecord([MemberPower("a", 2**200), MemberPower("b", 1)], ["b", "a"])


def _profile(address: str) -> ProfileRecord:
    return ProfileRecord(address, 10**6, 0.5415, 3, 24, 2**255, _b(32, 64), _b(33, 80), 17)


def _submission(address: str) -> SubmissionRecord:
    return SubmissionRecord(
        address, _b(34, 32), _b(35, 32), 2, _b(36, 32), 5, _b(37, 64), _b(38, 80), 3, 24, 5,
        True, 2**70, 0,
    )  # fmt: skip


def _electorate() -> ElectorateRecord:
    return ElectorateRecord([_profile("a"), _profile("b")], _validator_set(), [_submission("a")], 2)


def _snapshot() -> StateSnapshot:
    pruned = Commit(Block(_header()), _certificate())
    return StateSnapshot(
        9, "ef" * 32, _b(39, 32), _ledger_state(), _electorate(), _validator_set(), 0, [pruned]
    )


VECTORS = {
    "transaction": _tx(1),
    "identity_request": _identity(),
    "proof_slot": ProofSlot("plonky3", "consensus", _b(27, 33)),
    "uptime_proof": _uptime(True),
    "uptime_proof_bare": _uptime(False),
    "block_header": _header(),
    "block": _block(),
    "block_bare": Block(_header()),
    "proposal": sign_proposal(_block(), 2, ALICE),
    "bft_vote": BftVote(2, 9, "cd" * 32, "voter-ß", VoteKind.PRE_COMMIT),
    "signed_bft_vote": _vote(VoteKind.PRE_COMMIT, "cd" * 32),
    "vote_record": VoteRecord(_vote(VoteKind.PRE_VOTE, "ab" * 32, BOB), 2**64),
    "consensus_certificate": _certificate(),
    "evidence": _evidence(),
    "evidence_bare": Evidence(EvidenceKind.INVALID_PROOF, "x", 1, 0),
    "evidence_proposal": Evidence(
        EvidenceKind.INVALID_IDENTITY,
        ALICE.address,
        9,
        2,
        None,
        [_block().hash],
        [],
        sign_proposal(_block(), 2, ALICE).to_bytes(),
    ),
    "timetoke_record": _timetoke("ident"),
    "timetoke_delta_broadcast": TimetokeDeltaBroadcast(
        _b(28, 32), [_timetoke("a"), _timetoke("b")]
    ),
    "vrf_submission": _vrf(_b(29, 32)),
    "vrf_submission_no_key": _vrf(b""),
    "commit": Commit(_block(), _certificate()),
    "sync_request": SyncRequest(2**64 - 1, 2**32 - 1),
    "account_record": _account("acct"),
    "slashing_record": SlashingRecord("x", SlashingReason.ConsensusFault, 10, 1, _b(40, 32), b"s"),
    "misses_record": MissesRecord("x", 0, 3, 4),
    "participation_record": ParticipationRecord(2, 1, 0, "x", "censorship_prevote", 3),
    "ledger_state": _ledger_state(),
    "member_power": MemberPower("x", 2**256 - 1),
    "validator_set_record": _validator_set(),
    "profile_record": _profile("x"),
    "submission_record": _submission("x"),
    "electorate_record": _electorate(),
    "state_snapshot": _snapshot(),
    "state_sync_response": StateSyncResponse(_snapshot()),
}

# name: (length, sha256 of to_bytes())
ENCODINGS = {
    "account_record": (110, "5ffc44e0ff9428f340fd1ee6b0c79070b68e2e86964635b2e369dbe927990ba4"),
    "electorate_record": (979, "6794f15cd910dbd85d5cd79527dabeee00a9967c253c23a646ae3e9576348a97"),
    "ledger_state": (456, "0c64b675d1578baba7518f5c00767f89c64201312abe1a493a6b2420f0a52486"),
    "member_power": (38, "97f23d3fb245a392532c19028f8d1a87a98321eb5fb466cf72df124e5426ed1a"),
    "misses_record": (30, "a4078009ba9e6eabcd7aaef270e0f37cb518e69794d335612515a8e516988e1f"),
    "participation_record": (
        60,
        "ad63baee846a2d9b9045c4bb65831c53c76a7d446d0f00a32173840bc1be52f0",
    ),
    "profile_record": (255, "8f8ac49138398ab636e1e0591f4812071892c02e919ea8c5d9fa14052948660e"),
    "slashing_record": (54, "ccca893780357e9d8242fa8bbcb4419294d3edf3216a4a7ab3d3dbf96a978135"),
    "state_snapshot": (3498, "9e7d48493de7b7cfd9968f53a871d0aae36c198b70fe75acc8195bae2b8ec08c"),
    "state_sync_response": (
        3499,
        "6d4f669925453837f199e03c45c768b3db08808add3f1bdfed95be6a2be39596",
    ),
    "submission_record": (357, "208b520b1214398f8eec5878e11387947544129549ef0c71ea37df403c13f1b7"),
    "validator_set_record": (
        95,
        "ce18a77b58178b77dea432870e74e7fe437b40a95448aa187e864eab2230f51c",
    ),
    "bft_vote": (98, "29191c9e3cce18616c1d0084ff63687bba6ddc4f0b5501b0334e8a33f183084a"),
    "block": (4493, "c656e4b439f29be39bd52e844b672548e687798adbb88ff48d7ab4a93de3b52e"),
    "block_bare": (732, "4d17919925b68a7e2ac4b85fc6cb2bf95a96bd8e0908cbd91694f32c96064c36"),
    "block_header": (706, "af2f1893f6b62d034c32b63e0beda09f62a6b7a09c0ec976e2455437064d600d"),
    "commit": (5607, "864c686aaa96d90281005e65ff30626042be6426f55b98c8e08a85a54774834e"),
    "consensus_certificate": (
        1113,
        "d160171e195a2e816a61cc201eef99a15fc3cabbd09392f35776d9b26717e993",
    ),
    "evidence": (735, "027e47f9105e6ef71c95b309fde23f74057c05907681c4703534a3d625558e12"),
    "evidence_bare": (33, "3db5ff950b0acd84bae0758275b930167da169fccc05fc3c9e2a4355626b17dc"),
    "evidence_proposal": (
        4834,
        "4195901a4de1b4beb5f5c3f21ad34e8d86a44272bc44ddd16ba3bd51b191d7d9",
    ),
    "identity_request": (405, "81b0c4bcd8798c837bfac756d62e19d7c014b99828221a05f1739ddaaca69112"),
    "proof_slot": (62, "647524f0ac415c7cb95c161404b48c21d2b598f27dc96f59065936c28df9b1c3"),
    "proposal": (4666, "809d7db252a961cb401bf3a572e9d73be49e15a96a8917e49e942957d3cdc707"),
    "signed_bft_vote": (251, "db891857dce640308c94b4a4e84ec74c255cf2ca3411d683664644e77195cf6d"),
    "sync_request": (13, "b3f274c546672852dfe20c850b7328c088d8f916aa0b594f86602939c59750c9"),
    "timetoke_delta_broadcast": (
        145,
        "3878e295f9f17aee838a46b8b205524fc251ae89ec55ab2e445db9f3f6277544",
    ),
    "timetoke_record": (58, "8ca3a4b92cf6d7cd4f4ce746dc284b0319f8a7eee4945c4041d7f50a43e66561"),
    "transaction": (265, "0695ce65629a0ace29304591114ffb9039459167a2a77009ad706e68ec5fbc31"),
    "uptime_proof": (196, "0fa5083f88d7d38d73378f7e49ba3e014112b628d5f8f429312a80e40aac2c0b"),
    "uptime_proof_bare": (102, "b489a19c9fdaa1a1f010e6d36297f809b2ea5e067c7aa3d38522cf1e819ee6af"),
    "vote_record": (284, "ca2ac766dc31b93391d4ebf19955ac9bd1ac4154f9ecbb204de35b5d52219ac2"),
    "vrf_submission": (322, "a2b02d3bd5e31fba46dda4f753c1194558ed948dfdf7d509508901c50375be24"),
    "vrf_submission_no_key": (
        290,
        "e0231c4936bd9286e7cdc2eac11acff42288c64dde389d7f6b511064933480d1",
    ),
}

# name: sha256 of signing_bytes() (the BftVote row is the vote inside the signed vote)
SIGNING = {
    "transaction": "6b1bf491f9eac9cd87691bebfa6c57897a470b7f61ceb0c66b37ff88969f7a66",
    "identity_request": "c675be64b43cf3561cd5958ef2d0d37f88dd89e1d052433753fda87dcfe8f0b1",
    "bft_vote": "7a83fc6d9cf98a5a516b445680d0ce08cb09a7037140e39f65d812b7107e2271",
    "proposal": "a78bb1c1b5a4242d9457c4e0c7a6bf922398abb13290225b245ade5e7511ecf8",
}

# name: the message's ``hash`` property
HASHES = {
    "block": "9b343fb1671d38c4e7ac73dee2d1638a67ecf64534fb93363c48e343cb6da250",
    "block_header": "9b343fb1671d38c4e7ac73dee2d1638a67ecf64534fb93363c48e343cb6da250",
    "identity_request": "b7ad71ad2bc9bb6eb5f030297cca185dbfd410b1aac989e45151cfa8f67a2450",
    "signed_bft_vote": "1937dcb49dd5487155d2ef881ef81ba8071b5b790c40769012ccab8be410b8fa",
    "transaction": "d7272fcc96406e216c8e281ecabb7269b7cf496d293e63db6b63ad821d421e3f",
}

TRUNCATION_ERRORS = "7d080eda89bbeb68802fb1871dfc3d90de6fe7fc4882c81d8dbd9c0d131111e4"
"""sha256 over the DecodeError texts of every proper prefix of every vector."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_message_kind_has_a_vector():
    assert {type(m).KIND for m in VECTORS.values()} == set(MessageKind)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_encoding_is_pinned(name):
    data = VECTORS[name].to_bytes()
    assert (len(data), _sha(data)) == ENCODINGS[name]
    assert decode_message(data) == VECTORS[name]


SIGNED_NAMES = ["transaction", "identity_request", "bft_vote", "proposal"]


@pytest.mark.parametrize("name", SIGNED_NAMES)
def test_signing_bytes_are_pinned(name):
    assert _sha(VECTORS[name].signing_bytes()) == SIGNING[name]


@pytest.mark.parametrize("name", sorted(HASHES))
def test_hashes_are_pinned(name):
    assert VECTORS[name].hash == HASHES[name]


def _truncation_errors() -> list[str]:
    errors = []
    for name in sorted(VECTORS):
        data = VECTORS[name].to_bytes()
        for end in range(len(data)):
            with pytest.raises(DecodeError) as caught:
                decode_message(data[:end])
            errors.append(f"{name}[:{end}] {caught.value}")
    return errors


def test_every_truncation_fails_with_the_pinned_errors():
    assert _sha("\n".join(_truncation_errors()).encode()) == TRUNCATION_ERRORS


def _patched(name: str, offset: int, value: bytes) -> bytes:
    data = bytearray(VECTORS[name].to_bytes())
    data[offset : offset + len(value)] = value
    return bytes(data)


def _header_tier_offset() -> int:
    return len(_header().to_bytes()) - 32 - 32 - 8 - 8 - 1


MALFORMED = {
    "empty": (b"", "truncated: need 1 bytes, 0 remain"),
    "tag zero": (b"\x00", "0 is not a MessageKind"),
    "tag 30": (b"\x1e", "30 is not a MessageKind"),
    "trailing": (VECTORS["sync_request"].to_bytes() + b"\x00", "1 trailing bytes"),
    "embedded tag": (
        _patched("block_bare", 1, bytes([MessageKind.TRANSACTION])),
        "expected an embedded BlockHeader, got TRANSACTION",
    ),
    "embedded unknown tag": (_patched("commit", 1, b"\x63"), "99 is not a MessageKind"),
    "tier": (
        _patched("block_header", _header_tier_offset(), b"\x06"),
        "tier must be 0..5, got 6",
    ),
    "circuit": (
        ProofSlot("s", "state", b"").to_bytes()[:-9] + b"xtate\x00\x00\x00\x00",
        "unknown proof circuit 'xtate'",
    ),
    "vrf key length": (
        _patched("vrf_submission_no_key", 13, b"\x05\x00\x00\x00"),
        "VRF public key must be empty (missing) or 32 bytes",
    ),
    "vrf key 5 bytes": (
        b"\x0f" + b"\x00" * 4 + b"\x05\x00\x00\x00" + b"\x01" * 400,
        "VRF public key must be empty (missing) or 32 bytes",
    ),
    "option flag": (
        _patched("uptime_proof_bare", -4, b"\x02"),
        "option flag must be 0 or 1, got 2",
    ),
    "vote kind": (_patched("bft_vote", -1, b"\x02"), "2 is not a VoteKind"),
    "evidence kind": (_patched("evidence_bare", 1, b"\x05"), "5 is not a EvidenceKind"),
    "evidence vote kind": (
        _patched("evidence", 1 + 1 + 4 + 64 + 16 + 1, b"\x07"),
        "7 is not a VoteKind",
    ),
    "string list count": (
        _patched("evidence_bare", 1 + 1 + 5 + 16 + 1, b"\x02\x00\x00\x00"),
        "list of 2 items cannot fit in 5 bytes",
    ),
    "NaN score": (
        _patched("account_record", 101, b"\x00\x00\x00\x00\x00\x00\xf8\x7f"),
        "NaN float",
    ),
    "natural with a leading zero": (
        _patched("ledger_state", 53, b"\x00"),
        "natural with a leading zero byte",
    ),
    "unknown detection": (
        _patched("participation_record", 34, b"X"),
        "unknown detection 'Xensorship_prevote'",
    ),
    "slashing reason": (_patched("slashing_record", 6, b"\x03"), "3 is not a SlashingReason"),
    "evidence proposal flag": (
        _patched("evidence_bare", -1, b"\x02"),
        "option flag must be 0 or 1, got 2",
    ),
    "nested list count": (
        _patched("block_bare", -5, b"\x09\x00\x00\x00"),
        "list of 9 items cannot fit in 1 bytes",
    ),
    "utf-8": (b"\x08" + bytes(16) + b"\x01\x00\x00\x00\xff", "invalid UTF-8: invalid start byte"),
    "wrong type": (VECTORS["sync_request"].to_bytes(), "expected Transaction, got SyncRequest"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_inputs_fail_with_the_pinned_error(name):
    data, expected = MALFORMED[name]
    with pytest.raises(DecodeError) as caught:
        if name == "wrong type":
            Transaction.from_bytes(data)
        else:
            decode_message(data)
    assert str(caught.value) == expected


UNENCODABLE = {
    "negative amount": (
        dataclasses.replace(VECTORS["transaction"], amount=-1),
        "-1 does not fit an unsigned 128-bit field",
    ),
    "bool fee": (
        dataclasses.replace(VECTORS["transaction"], fee=True),
        "expected an int, got bool",
    ),
    "short key": (
        dataclasses.replace(VECTORS["transaction"], public_key=b"\x01"),
        "expected 32 bytes, got 1",
    ),
    "tier": (dataclasses.replace(_header(), leader_tier=6), "tier must be an int 0..5, got 6"),
    "circuit": (ProofSlot("s", "nope", b""), "unknown proof circuit 'nope'"),
    "vrf key": (
        _vrf(b"\x01" * 5),
        "VRF public key must be empty (missing) or 32 bytes",
    ),
    "vote kind": (
        dataclasses.replace(VECTORS["bft_vote"], kind=3),
        "3 is not a VoteKind",
    ),
    "surrogate": (
        dataclasses.replace(VECTORS["bft_vote"], voter="\udc80"),
        "string is not valid UTF-8: surrogates not allowed",
    ),
    "string type": (
        dataclasses.replace(VECTORS["bft_vote"], voter=b"x"),
        "expected a str, got bytes",
    ),
    "u32 count": (SyncRequest(0, 2**32), "4294967296 does not fit an unsigned 32-bit field"),
    "u256": (
        dataclasses.replace(VECTORS["vote_record"], weight=2**256),
        f"{2**256} does not fit an unsigned 256-bit field",
    ),
}


@pytest.mark.parametrize("name", sorted(UNENCODABLE))
def test_unencodable_values_fail_with_the_pinned_error(name):
    message, expected = UNENCODABLE[name]
    with pytest.raises(EncodeError) as caught:
        message.to_bytes()
    assert str(caught.value) == expected


def test_unencodable_vote_has_no_signing_bytes_and_no_valid_signature():
    """Only EncodeError escapes (the node counts it); a signature check says False."""
    signed = VECTORS["signed_bft_vote"]
    for bad in (
        dataclasses.replace(VECTORS["bft_vote"], round=-1),
        dataclasses.replace(VECTORS["bft_vote"], kind=3),
        dataclasses.replace(VECTORS["bft_vote"], voter="\udc80"),
        dataclasses.replace(VECTORS["bft_vote"], block_hash=None),
    ):
        with pytest.raises(EncodeError):
            bad.signing_bytes()
        forged = dataclasses.replace(signed, vote=bad)
        with pytest.raises(EncodeError):
            _ = forged.hash
        assert not is_valid_vote_signature(forged)
