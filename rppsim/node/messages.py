"""Wire messages: frozen, slotted dataclasses with one canonical byte encoding (DESIGN.md §2).

Every message starts with its ``MessageKind`` tag byte, followed by its fields in declaration
order, encoded by ``rppsim.node.codec``. A message embedded in another (a header in a block, a
vote in a record) is written with its own tag, so its bytes inside the parent equal its
``to_bytes()``. ``digest()`` is BLAKE2s-256 of ``to_bytes()``; ``size_bytes`` is its length.
``decode_message`` turns any byte string into a well-formed message or raises ``DecodeError``.

Identifiers the chain keeps as hex strings (addresses, block hashes, vote/transaction hashes,
the uptime commitment) are ``str`` fields; keys, signatures, roots and VRF bytes are raw
``bytes`` of fixed length; the chain's arbitrary-precision naturals (VRF randomness, voting
power) are ints encoded as 32-byte big-endian. Sequences are tuples (lists are accepted by the
constructors and converted).

Signatures cover domain-tagged bytes. The tags ``rpp-tx``, ``rpp-identity``, ``rpp-proposal``
and the chain's ``rpp-bft-vote`` are prefix-free, so a signature of one kind never verifies as
another.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum
from typing import Any, ClassVar, Self, TypeVar

from rppsim.node.codec import DecodeError, EncodeError, Reader, Writer, decode_exact
from rppsim.node.merkle import compute_merkle_root
from rppsim.node.signing import Keypair, compute_address, sign, verify_signature_memoized
from rppsim.node.timetoke import compute_uptime_commitment

HASH_LEN = 32
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
VRF_PUBLIC_KEY_LEN = 32
VRF_BETA_LEN = 64
VRF_PI_LEN = 80
MAX_TIER = 5
"""Tiers travel as plain ints 0..5 (Tl0..Tl5, spec/consensus.md §1.3)."""

TX_DOMAIN = b"rpp-tx"
IDENTITY_DOMAIN = b"rpp-identity"
PROPOSAL_DOMAIN = b"rpp-proposal"
VOTE_DOMAIN = b"rpp-bft-vote"
_VOTE_NUMBERS = struct.Struct("<QQ")
RECURSIVE_DOMAIN = b"rpp-recursive"
GENESIS_RECURSIVE_COMMITMENT = bytes(32)
"""The recursive commitment before block 1: 32 zero bytes (port choice; spec/ops.md §6 row 14)."""

CIRCUITS = ("transaction", "identity", "state", "pruning", "recursive", "uptime", "consensus")
"""Proof circuits of the verifier registry (spec/ops.md §5)."""


class MessageKind(IntEnum):
    """The tag byte that starts every encoded message (0 is never valid)."""

    TRANSACTION = 1
    IDENTITY_REQUEST = 2
    PROOF_SLOT = 3
    UPTIME_PROOF = 4
    BLOCK_HEADER = 5
    BLOCK = 6
    PROPOSAL = 7
    BFT_VOTE = 8
    SIGNED_BFT_VOTE = 9
    VOTE_RECORD = 10
    CONSENSUS_CERTIFICATE = 11
    EVIDENCE = 12
    TIMETOKE_RECORD = 13
    TIMETOKE_DELTA_BROADCAST = 14
    VRF_SUBMISSION = 15
    COMMIT = 16
    SYNC_REQUEST = 17


class VoteKind(IntEnum):
    """BftVoteKind and its signed byte (spec/consensus.md §2.1)."""

    PRE_VOTE = 0
    PRE_COMMIT = 1

    @property
    def label(self) -> str:
        """The chain's serde name: "PreVote" or "PreCommit"."""
        return "PreVote" if self is VoteKind.PRE_VOTE else "PreCommit"


class EvidenceKind(IntEnum):
    """[RT] EvidenceKind (spec/consensus.md §2.3)."""

    DOUBLE_SIGN_PREVOTE = 0
    DOUBLE_SIGN_PRECOMMIT = 1
    INVALID_PROOF = 2
    INVALID_PROPOSAL = 3


class GossipTopic(StrEnum):
    """The chain's gossip topics ``/rpp/gossip/<name>/1.0.0`` (spec/consensus.md §3)."""

    BLOCKS = "/rpp/gossip/blocks/1.0.0"
    VOTES = "/rpp/gossip/votes/1.0.0"
    PROOFS = "/rpp/gossip/proofs/1.0.0"
    SNAPSHOTS = "/rpp/gossip/snapshots/1.0.0"
    META = "/rpp/gossip/meta/1.0.0"
    VRF_PROOFS = "/rpp/gossip/vrf/proofs/1.0.0"
    VRF_META = "/rpp/gossip/vrf/meta/1.0.0"
    WITNESS_PROOFS = "/rpp/gossip/witness/proofs/1.0.0"
    WITNESS_META = "/rpp/gossip/witness/meta/1.0.0"


MESSAGE_TOPICS: dict[MessageKind, GossipTopic] = {
    MessageKind.TRANSACTION: GossipTopic.PROOFS,
    MessageKind.IDENTITY_REQUEST: GossipTopic.PROOFS,
    MessageKind.UPTIME_PROOF: GossipTopic.PROOFS,
    MessageKind.PROOF_SLOT: GossipTopic.PROOFS,
    MessageKind.BLOCK: GossipTopic.BLOCKS,
    MessageKind.PROPOSAL: GossipTopic.BLOCKS,
    MessageKind.CONSENSUS_CERTIFICATE: GossipTopic.BLOCKS,
    MessageKind.SIGNED_BFT_VOTE: GossipTopic.VOTES,
    MessageKind.EVIDENCE: GossipTopic.WITNESS_META,
    MessageKind.TIMETOKE_DELTA_BROADCAST: GossipTopic.META,
    MessageKind.VRF_SUBMISSION: GossipTopic.VRF_PROOFS,
    MessageKind.COMMIT: GossipTopic.BLOCKS,
}
"""Topic a standalone message is published on. Evidence goes to witness/meta and timetoke
deltas to meta (the chain also copies them to snapshots) as in spec/consensus.md §2.3 and §4;
mempool items ride on proofs (port choice). Headers, unsigned votes, vote records and single
timetoke records are never gossiped alone."""


def get_gossip_topic(kind: MessageKind) -> GossipTopic | None:
    """The topic a message kind is gossiped on, or None if it only travels embedded."""
    return MESSAGE_TOPICS.get(kind)


def _blake2s(data: bytes) -> bytes:
    return hashlib.blake2s(data, digest_size=32).digest()


class _Wire:
    """Shared encoding methods: one flat mixin (no hierarchy) holding the memo slots.

    A message is immutable, so its bytes, digest, hash and signature verdict are memoized on it.
    """

    __slots__ = ("_cached_bytes", "_cached_digest", "_cached_hash", "_cached_verdict")
    KIND: ClassVar[MessageKind]

    def _write(self, writer: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The canonical bytes: tag ‖ fields (memoized; EncodeError on an unencodable field)."""
        try:
            return self._cached_bytes  # type: ignore[no-any-return]
        except AttributeError:
            pass
        writer = Writer().u8(self.KIND)
        self._write(writer)
        data = writer.to_bytes()
        object.__setattr__(self, "_cached_bytes", data)
        return data

    def digest(self) -> bytes:
        """BLAKE2s-256 of the canonical bytes (memoized)."""
        try:
            return self._cached_digest  # type: ignore[no-any-return]
        except AttributeError:
            pass
        value = _blake2s(self.to_bytes())
        object.__setattr__(self, "_cached_digest", value)
        return value

    @property
    def size_bytes(self) -> int:
        """Length of the canonical encoding (byte accounting)."""
        return len(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode ``data`` as this message type; DecodeError on anything else."""
        message = decode_message(data)
        if not isinstance(message, cls):
            raise DecodeError(f"expected {cls.__name__}, got {type(message).__name__}")
        return message


# --- field helpers -------------------------------------------------------------------------

M = TypeVar("M", bound=_Wire)


def _write_nested(writer: Writer, message: _Wire) -> None:
    writer.raw(message.to_bytes())


def _read_nested(reader: Reader, message_type: type[M]) -> M:
    kind = reader.enum(MessageKind)
    if kind != message_type.KIND:
        raise DecodeError(f"expected an embedded {message_type.__name__}, got {kind.name}")
    return message_type._read(reader)


def _write_tier(writer: Writer, tier: int) -> None:
    if not isinstance(tier, int) or not 0 <= tier <= MAX_TIER:
        raise EncodeError(f"tier must be an int 0..{MAX_TIER}, got {tier!r}")
    writer.u8(tier)


def _read_tier(reader: Reader) -> int:
    tier = reader.u8()
    if tier > MAX_TIER:
        raise DecodeError(f"tier must be 0..{MAX_TIER}, got {tier}")
    return tier


def _write_circuit(writer: Writer, circuit: str) -> None:
    if circuit not in CIRCUITS:
        raise EncodeError(f"unknown proof circuit {circuit!r}")
    writer.string(circuit)


def _read_circuit(reader: Reader) -> str:
    circuit = reader.string()
    if circuit not in CIRCUITS:
        raise DecodeError(f"unknown proof circuit {circuit!r}")
    return circuit


def _memoized_verdict(message: _Wire, check: Callable[[], bool]) -> bool:
    """The result of ``check`` for this immutable message, computed once per object."""
    try:
        return message._cached_verdict  # type: ignore[no-any-return]
    except AttributeError:
        pass
    verdict = check()
    object.__setattr__(message, "_cached_verdict", verdict)
    return verdict


def _memoized_hash(message: _Wire, signing_bytes: Callable[[], bytes]) -> str:
    """hex BLAKE2s of the signing bytes, computed once per immutable message object."""
    try:
        return message._cached_hash  # type: ignore[no-any-return]
    except AttributeError:
        pass
    value = _blake2s(signing_bytes()).hex()
    object.__setattr__(message, "_cached_hash", value)
    return value


def _is_signature_valid(public_key: bytes, address: str, message: bytes, sig: bytes) -> bool:
    """address == hex BLAKE2s(pk) and the ed25519 signature verifies (memoized)."""
    if not isinstance(public_key, bytes) or compute_address(public_key) != address:
        return False
    return verify_signature_memoized(public_key, message, sig)


# --- transactions and identities ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transaction(_Wire):
    """A transfer signed by the sender's ed25519 key; sender = hex BLAKE2s(public_key)."""

    KIND: ClassVar[MessageKind] = MessageKind.TRANSACTION
    sender: str
    recipient: str
    amount: int
    """u128, as the chain's amount."""
    fee: int
    nonce: int
    public_key: bytes
    signature: bytes = bytes(SIGNATURE_LEN)

    def _write_unsigned(self, writer: Writer) -> None:
        writer.string(self.sender).string(self.recipient).u128(self.amount)
        writer.u64(self.fee).u64(self.nonce).fixed(self.public_key, PUBLIC_KEY_LEN)

    def _write(self, writer: Writer) -> None:
        self._write_unsigned(writer)
        writer.fixed(self.signature, SIGNATURE_LEN)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.string(),
            reader.string(),
            reader.u128(),
            reader.u64(),
            reader.u64(),
            reader.fixed(PUBLIC_KEY_LEN),
            reader.fixed(SIGNATURE_LEN),
        )

    def signing_bytes(self) -> bytes:
        """b"rpp-tx" ‖ the fields without the signature."""
        writer = Writer().raw(TX_DOMAIN)
        self._write_unsigned(writer)
        return writer.to_bytes()

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the signing bytes (like the chain's vote hash, excludes the signature)."""
        return _memoized_hash(self, self.signing_bytes)

    def to_json_dict(self) -> dict[str, Any]:
        """The /status/mempool transaction entry (spec/ops.md §2.4)."""
        return {
            "hash": self.hash,
            "from": self.sender,
            "to": self.recipient,
            "amount": self.amount,
            "fee": self.fee,
            "nonce": self.nonce,
        }


@dataclass(frozen=True, slots=True)
class IdentityRequest(_Wire):
    """An identity genesis request (spec/ops.md §2.4 identity entry, spec/consensus.md §1.6)."""

    KIND: ClassVar[MessageKind] = MessageKind.IDENTITY_REQUEST
    wallet_address: str
    public_key: bytes
    vrf_public_key: bytes
    vrf_pi: bytes
    """80-byte ECVRF proof over the epoch nonce; its hex is the per-epoch unique VRF tag."""
    epoch_nonce: bytes
    state_root: bytes
    identity_root: bytes
    commitment: bytes
    signature: bytes = bytes(SIGNATURE_LEN)

    def _write_unsigned(self, writer: Writer) -> None:
        writer.string(self.wallet_address).fixed(self.public_key, PUBLIC_KEY_LEN)
        writer.fixed(self.vrf_public_key, VRF_PUBLIC_KEY_LEN).fixed(self.vrf_pi, VRF_PI_LEN)
        for root in (self.epoch_nonce, self.state_root, self.identity_root, self.commitment):
            writer.fixed(root, HASH_LEN)

    def _write(self, writer: Writer) -> None:
        self._write_unsigned(writer)
        writer.fixed(self.signature, SIGNATURE_LEN)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.string(),
            reader.fixed(PUBLIC_KEY_LEN),
            reader.fixed(VRF_PUBLIC_KEY_LEN),
            reader.fixed(VRF_PI_LEN),
            reader.fixed(HASH_LEN),
            reader.fixed(HASH_LEN),
            reader.fixed(HASH_LEN),
            reader.fixed(HASH_LEN),
            reader.fixed(SIGNATURE_LEN),
        )

    def signing_bytes(self) -> bytes:
        """b"rpp-identity" ‖ the fields without the signature."""
        writer = Writer().raw(IDENTITY_DOMAIN)
        self._write_unsigned(writer)
        return writer.to_bytes()

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the signing bytes."""
        return _memoized_hash(self, self.signing_bytes)

    @property
    def vrf_tag(self) -> str:
        """The VRF tag: hex of the genesis VRF proof (spec/consensus.md §1.6)."""
        return self.vrf_pi.hex()

    def to_json_dict(
        self, attested_votes: int = 0, gossip_confirmations: int = 0
    ) -> dict[str, Any]:
        """The /status/mempool identity entry (spec/ops.md §2.4); the counts are node-side."""
        return {
            "wallet_addr": self.wallet_address,
            "commitment": self.commitment.hex(),
            "epoch_nonce": self.epoch_nonce.hex(),
            "state_root": self.state_root.hex(),
            "identity_root": self.identity_root.hex(),
            "vrf_tag": self.vrf_tag,
            "attested_votes": attested_votes,
            "gossip_confirmations": gossip_confirmations,
        }


# --- proofs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProofSlot(_Wire):
    """One proof: its system label, its circuit (spec/ops.md §5) and the proof bytes."""

    KIND: ClassVar[MessageKind] = MessageKind.PROOF_SLOT
    system: str
    """Proof system label, e.g. "numba-stark", "stwo", "plonky3", "rpp-stark"."""
    circuit: str
    """One of CIRCUITS."""
    data: bytes

    def _write(self, writer: Writer) -> None:
        writer.string(self.system)
        _write_circuit(writer, self.circuit)
        writer.var_bytes(self.data)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(reader.string(), _read_circuit(reader), reader.var_bytes())

    def data_digest(self) -> bytes:
        """BLAKE2s-256 of the proof bytes alone (``digest()`` also binds system and circuit)."""
        return _blake2s(self.data)


@dataclass(frozen=True, slots=True)
class UptimeProof(_Wire):
    """A claim of online time over [window_start, window_end] (spec/consensus.md §4)."""

    KIND: ClassVar[MessageKind] = MessageKind.UPTIME_PROOF
    wallet_address: str
    window_start: int
    window_end: int
    proof_commitment: str
    node_clock: int | None = None
    epoch: int | None = None
    head_hash: str | None = None
    proof: ProofSlot | None = None

    def _write(self, writer: Writer) -> None:
        writer.string(self.wallet_address).u64(self.window_start).u64(self.window_end)
        writer.string(self.proof_commitment)
        writer.option(self.node_clock, Writer.u64).option(self.epoch, Writer.u64)
        writer.option(self.head_hash, Writer.string).option(self.proof, _write_nested)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.string(),
            reader.u64(),
            reader.u64(),
            reader.string(),
            reader.option(Reader.u64),
            reader.option(Reader.u64),
            reader.option(Reader.string),
            reader.option(lambda r: _read_nested(r, ProofSlot)),
        )

    def is_commitment_valid(self) -> bool:
        """The proof commitment matches the address and window (spec/consensus.md §4)."""
        try:
            expected = compute_uptime_commitment(
                self.wallet_address, self.window_start, self.window_end
            )
        except (ValueError, OverflowError, AttributeError):
            return False
        return expected == self.proof_commitment

    def to_json_dict(self, credited_hours: int = 0) -> dict[str, Any]:
        """The /status/mempool uptime entry; credited hours come from the ledger (spec §2.4)."""
        return {
            "identity": self.wallet_address,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "credited_hours": credited_hours,
        }


# --- blocks ----------------------------------------------------------------------------------


def compute_recursive_commitment(previous: bytes, proof_digests: Sequence[bytes]) -> bytes:
    """BLAKE2s("rpp-recursive" ‖ previous ‖ proof digests in block order) (spec/ops.md §6 #14)."""
    if len(previous) != HASH_LEN or any(len(d) != HASH_LEN for d in proof_digests):
        raise ValueError("recursive commitment inputs must be 32-byte digests")
    return _blake2s(RECURSIVE_DOMAIN + bytes(previous) + b"".join(proof_digests))


def compute_proof_digests(
    proofs: Iterable[ProofSlot], uptime_proofs: Iterable[UptimeProof]
) -> list[bytes]:
    """Digests the recursive commitment folds: the block's proofs, then its uptime proofs'."""
    digests = [slot.digest() for slot in proofs]
    return digests + [u.proof.digest() for u in uptime_proofs if u.proof is not None]


def compute_list_root(messages: Iterable[_Wire]) -> bytes:
    """Sorted-leaf Merkle root over the messages' digests (spec/consensus.md §4 Merkle rule)."""
    return compute_merkle_root(message.digest() for message in messages)


@dataclass(frozen=True, slots=True)
class BlockHeader(_Wire):
    """A block header; its digest is the block hash (spec/consensus.md §2.1)."""

    KIND: ClassVar[MessageKind] = MessageKind.BLOCK_HEADER
    height: int
    previous_hash: str
    timestamp_ms: int
    state_root: bytes
    tx_root: bytes
    uptime_root: bytes
    identity_root: bytes
    vrf_root: bytes
    """Root of the block's VRF submissions: the validator set it was voted with."""
    evidence_root: bytes
    last_commit_hash: bytes
    """BLAKE2s of the previous block's certificate carried in the body (zeros at height 1)."""
    proposer: str
    vrf_public_key: bytes
    vrf_randomness: int
    """The chain's randomness natural: the first 32 bytes of beta, big-endian (DESIGN.md §8)."""
    vrf_beta: bytes
    vrf_pi: bytes
    vrf_epoch: int
    vrf_tier_seed: bytes
    leader_tier: int
    leader_timetoke: int
    round: int
    recursive_previous_commitment: bytes
    recursive_commitment: bytes

    def _write(self, writer: Writer) -> None:
        writer.u64(self.height).string(self.previous_hash).u64(self.timestamp_ms)
        for root in (
            self.state_root,
            self.tx_root,
            self.uptime_root,
            self.identity_root,
            self.vrf_root,
            self.evidence_root,
            self.last_commit_hash,
        ):
            writer.fixed(root, HASH_LEN)
        writer.string(self.proposer).fixed(self.vrf_public_key, VRF_PUBLIC_KEY_LEN)
        writer.u256(self.vrf_randomness).fixed(self.vrf_beta, VRF_BETA_LEN)
        writer.fixed(self.vrf_pi, VRF_PI_LEN).u64(self.vrf_epoch)
        writer.fixed(self.vrf_tier_seed, HASH_LEN)
        _write_tier(writer, self.leader_tier)
        writer.u64(self.leader_timetoke).u64(self.round)
        writer.fixed(self.recursive_previous_commitment, HASH_LEN)
        writer.fixed(self.recursive_commitment, HASH_LEN)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            height=reader.u64(),
            previous_hash=reader.string(),
            timestamp_ms=reader.u64(),
            state_root=reader.fixed(HASH_LEN),
            tx_root=reader.fixed(HASH_LEN),
            uptime_root=reader.fixed(HASH_LEN),
            identity_root=reader.fixed(HASH_LEN),
            vrf_root=reader.fixed(HASH_LEN),
            evidence_root=reader.fixed(HASH_LEN),
            last_commit_hash=reader.fixed(HASH_LEN),
            proposer=reader.string(),
            vrf_public_key=reader.fixed(VRF_PUBLIC_KEY_LEN),
            vrf_randomness=reader.u256(),
            vrf_beta=reader.fixed(VRF_BETA_LEN),
            vrf_pi=reader.fixed(VRF_PI_LEN),
            vrf_epoch=reader.u64(),
            vrf_tier_seed=reader.fixed(HASH_LEN),
            leader_tier=_read_tier(reader),
            leader_timetoke=reader.u64(),
            round=reader.u64(),
            recursive_previous_commitment=reader.fixed(HASH_LEN),
            recursive_commitment=reader.fixed(HASH_LEN),
        )

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the header's canonical bytes."""
        return self.digest().hex()


@dataclass(frozen=True, slots=True)
class Block(_Wire):
    """A header and the payload it commits to through its roots and recursive commitment.

    Besides the chain's lists, a block carries the VRF submissions that define its validator
    set, double-sign evidence to apply, and the previous block's commit certificate (so every
    node applies the same slashing and can check the previous commit; port additions).
    """

    KIND: ClassVar[MessageKind] = MessageKind.BLOCK
    header: BlockHeader
    transactions: tuple[Transaction, ...] = ()
    identities: tuple[IdentityRequest, ...] = ()
    uptime_proofs: tuple[UptimeProof, ...] = ()
    proofs: tuple[ProofSlot, ...] = ()
    vrf_submissions: tuple[VrfSubmissionMsg, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    last_certificate: ConsensusCertificate | None = None

    def __post_init__(self) -> None:
        for name in _BLOCK_LISTS:
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def _write(self, writer: Writer) -> None:
        _write_nested(writer, self.header)
        for name in _BLOCK_LISTS:
            writer.sequence(getattr(self, name), _write_nested)
        writer.option(self.last_certificate, _write_nested)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            _read_nested(reader, BlockHeader),
            reader.sequence(lambda r: _read_nested(r, Transaction)),
            reader.sequence(lambda r: _read_nested(r, IdentityRequest)),
            reader.sequence(lambda r: _read_nested(r, UptimeProof)),
            reader.sequence(lambda r: _read_nested(r, ProofSlot)),
            reader.sequence(lambda r: _read_nested(r, VrfSubmissionMsg)),
            reader.sequence(lambda r: _read_nested(r, Evidence)),
            reader.option(lambda r: _read_nested(r, ConsensusCertificate)),
        )

    @property
    def hash(self) -> str:
        """The block hash: hex BLAKE2s of the header bytes."""
        return self.header.hash


_BLOCK_LISTS = (
    "transactions",
    "identities",
    "uptime_proofs",
    "proofs",
    "vrf_submissions",
    "evidence",
)


def compute_last_commit_hash(certificate: ConsensusCertificate | None) -> bytes:
    """BLAKE2s of a certificate's bytes; 32 zero bytes when there is none (height 1)."""
    return bytes(HASH_LEN) if certificate is None else certificate.digest()


def is_valid_block_body(block: Block) -> bool:
    """The header's tx/identity/uptime roots and recursive commitment match the payload."""
    header = block.header
    try:
        commitment = compute_recursive_commitment(
            header.recursive_previous_commitment,
            compute_proof_digests(block.proofs, block.uptime_proofs),
        )
        return (
            header.tx_root == compute_list_root(block.transactions)
            and header.identity_root == compute_list_root(block.identities)
            and header.uptime_root == compute_list_root(block.uptime_proofs)
            and header.vrf_root == compute_list_root(block.vrf_submissions)
            and header.evidence_root == compute_list_root(block.evidence)
            and header.last_commit_hash == compute_last_commit_hash(block.last_certificate)
            and header.recursive_commitment == commitment
        )
    except (ValueError, TypeError):
        return False


# --- consensus -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BftVote(_Wire):
    """BftVote{round, height, block_hash, voter, kind} (spec/consensus.md §2.1)."""

    KIND: ClassVar[MessageKind] = MessageKind.BFT_VOTE
    round: int
    height: int
    block_hash: str
    voter: str
    kind: VoteKind

    def _write(self, writer: Writer) -> None:
        writer.u64(self.round).u64(self.height).string(self.block_hash).string(self.voter)
        writer.enum(self.kind, VoteKind)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.u64(), reader.u64(), reader.string(), reader.string(), reader.enum(VoteKind)
        )

    def signing_bytes(self) -> bytes:
        """b"rpp-bft-vote" ‖ round u64 LE ‖ height u64 LE ‖ block_hash ‖ voter ‖ kind (spec §2.1)"""
        try:
            numbers = _VOTE_NUMBERS.pack(self.round, self.height)
            text = self.block_hash.encode("utf-8") + self.voter.encode("utf-8")
            kind = VoteKind(self.kind)
        except (struct.error, ValueError, TypeError, AttributeError) as error:
            raise EncodeError(f"vote has no signing bytes: {error}") from None
        return VOTE_DOMAIN + numbers + text + bytes((kind,))


@dataclass(frozen=True, slots=True)
class SignedBftVote(_Wire):
    """A vote with the voter's ed25519 key and signature; voter = hex BLAKE2s(pk) (spec §2.1)."""

    KIND: ClassVar[MessageKind] = MessageKind.SIGNED_BFT_VOTE
    vote: BftVote
    public_key: bytes
    signature: bytes

    def _write(self, writer: Writer) -> None:
        _write_nested(writer, self.vote)
        writer.fixed(self.public_key, PUBLIC_KEY_LEN).fixed(self.signature, SIGNATURE_LEN)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            _read_nested(reader, BftVote), reader.fixed(PUBLIC_KEY_LEN), reader.fixed(SIGNATURE_LEN)
        )

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the vote's signing bytes (spec/consensus.md §2.1)."""
        return _memoized_hash(self, self.vote.signing_bytes)

    def to_json_dict(self) -> dict[str, Any]:
        """The /status/mempool vote entry (spec/ops.md §2.4)."""
        vote = self.vote
        return {
            "hash": self.hash,
            "voter": vote.voter,
            "height": vote.height,
            "round": vote.round,
            "block_hash": vote.block_hash,
            "kind": VoteKind(vote.kind).label,
        }

    def to_wire_json(self) -> dict[str, Any]:
        """The chain's serde shape: {vote{...}, public_key hex, signature hex}."""
        vote = self.vote
        return {
            "vote": {
                "round": vote.round,
                "height": vote.height,
                "block_hash": vote.block_hash,
                "voter": vote.voter,
                "kind": VoteKind(vote.kind).label,
            },
            "public_key": self.public_key.hex(),
            "signature": self.signature.hex(),
        }


@dataclass(frozen=True, slots=True)
class Proposal(_Wire):
    """A block proposed for (height, round), signed by the proposer."""

    KIND: ClassVar[MessageKind] = MessageKind.PROPOSAL
    block: Block
    round: int
    proposer: str
    public_key: bytes
    signature: bytes

    def _write(self, writer: Writer) -> None:
        _write_nested(writer, self.block)
        writer.u64(self.round).string(self.proposer)
        writer.fixed(self.public_key, PUBLIC_KEY_LEN).fixed(self.signature, SIGNATURE_LEN)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            _read_nested(reader, Block),
            reader.u64(),
            reader.string(),
            reader.fixed(PUBLIC_KEY_LEN),
            reader.fixed(SIGNATURE_LEN),
        )

    def signing_bytes(self) -> bytes:
        """b"rpp-proposal" ‖ block hash (string) ‖ round u64 ‖ proposer (string)."""
        writer = Writer().raw(PROPOSAL_DOMAIN).string(self.block.hash)
        return writer.u64(self.round).string(self.proposer).to_bytes()


@dataclass(frozen=True, slots=True)
class VoteRecord(_Wire):
    """A registered vote and its voting power (spec/consensus.md §2.1)."""

    KIND: ClassVar[MessageKind] = MessageKind.VOTE_RECORD
    vote: SignedBftVote
    weight: int

    def _write(self, writer: Writer) -> None:
        _write_nested(writer, self.vote)
        writer.u256(self.weight)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(_read_nested(reader, SignedBftVote), reader.u256())

    def to_json_dict(self) -> dict[str, Any]:
        """{vote, weight as a decimal string} as in the chain."""
        return {"vote": self.vote.to_wire_json(), "weight": str(self.weight)}


@dataclass(frozen=True, slots=True)
class ConsensusCertificate(_Wire):
    """The quorum evidence of a committed block (spec/consensus.md §2.1), plus height and hash."""

    KIND: ClassVar[MessageKind] = MessageKind.CONSENSUS_CERTIFICATE
    height: int
    round: int
    block_hash: str
    total_power: int
    quorum_threshold: int
    pre_vote_power: int
    pre_commit_power: int
    commit_power: int
    observers: int
    pre_votes: tuple[VoteRecord, ...] = ()
    pre_commits: tuple[VoteRecord, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "pre_votes", tuple(self.pre_votes))
        object.__setattr__(self, "pre_commits", tuple(self.pre_commits))

    def _write(self, writer: Writer) -> None:
        writer.u64(self.height).u64(self.round).string(self.block_hash)
        for power in self._powers():
            writer.u256(power)
        writer.u64(self.observers)
        writer.sequence(self.pre_votes, _write_nested)
        writer.sequence(self.pre_commits, _write_nested)

    def _powers(self) -> tuple[int, int, int, int, int]:
        return (
            self.total_power,
            self.quorum_threshold,
            self.pre_vote_power,
            self.pre_commit_power,
            self.commit_power,
        )

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.u64(),
            reader.u64(),
            reader.string(),
            reader.u256(),
            reader.u256(),
            reader.u256(),
            reader.u256(),
            reader.u256(),
            reader.u64(),
            reader.sequence(lambda r: _read_nested(r, VoteRecord)),
            reader.sequence(lambda r: _read_nested(r, VoteRecord)),
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The chain's JSON shape: powers as decimal strings."""
        return {
            "height": self.height,
            "round": self.round,
            "block_hash": self.block_hash,
            "total_power": str(self.total_power),
            "quorum_threshold": str(self.quorum_threshold),
            "pre_vote_power": str(self.pre_vote_power),
            "pre_commit_power": str(self.pre_commit_power),
            "commit_power": str(self.commit_power),
            "observers": self.observers,
            "pre_votes": [record.to_json_dict() for record in self.pre_votes],
            "pre_commits": [record.to_json_dict() for record in self.pre_commits],
        }


@dataclass(frozen=True, slots=True)
class Evidence(_Wire):
    """[RT] evidence record plus the conflicting signed votes (spec/consensus.md §2.3)."""

    KIND: ClassVar[MessageKind] = MessageKind.EVIDENCE
    kind: EvidenceKind
    address: str
    height: int
    round: int
    vote_kind: VoteKind | None = None
    block_hashes: tuple[str, ...] = ()
    votes: tuple[SignedBftVote, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "block_hashes", tuple(self.block_hashes))
        object.__setattr__(self, "votes", tuple(self.votes))

    def _write(self, writer: Writer) -> None:
        writer.enum(self.kind, EvidenceKind).string(self.address)
        writer.u64(self.height).u64(self.round)
        writer.option(self.vote_kind, lambda w, k: w.enum(k, VoteKind))
        writer.sequence(self.block_hashes, Writer.string)
        writer.sequence(self.votes, _write_nested)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.enum(EvidenceKind),
            reader.string(),
            reader.u64(),
            reader.u64(),
            reader.option(lambda r: r.enum(VoteKind)),
            reader.sequence(Reader.string, min_item_size=4),
            reader.sequence(lambda r: _read_nested(r, SignedBftVote)),
        )


_DOUBLE_SIGN_VOTE_KIND = {
    EvidenceKind.DOUBLE_SIGN_PREVOTE: VoteKind.PRE_VOTE,
    EvidenceKind.DOUBLE_SIGN_PRECOMMIT: VoteKind.PRE_COMMIT,
}


def is_valid_double_sign_evidence(evidence: Evidence) -> bool:
    """Anyone can check double-sign evidence: ≥2 valid votes by the accused for one
    (height, round, kind) with distinct block hashes, listed in ``block_hashes`` (spec §2.3)."""
    expected_kind = _DOUBLE_SIGN_VOTE_KIND.get(evidence.kind)
    if expected_kind is None or evidence.vote_kind != expected_kind:
        return False
    hashes = [signed.vote.block_hash for signed in evidence.votes]
    if len(hashes) < 2 or len(set(hashes)) != len(hashes):
        return False
    if sorted(hashes) != sorted(evidence.block_hashes):
        return False
    return all(
        signed.vote.voter == evidence.address
        and signed.vote.height == evidence.height
        and signed.vote.round == evidence.round
        and signed.vote.kind == expected_kind
        and is_valid_vote_signature(signed)
        for signed in evidence.votes
    )


# --- timetoke and VRF ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimetokeRecordMsg(_Wire):
    """TimetokeRecord (spec/consensus.md §4) without decay_rate, which the chain fixes at 1.0."""

    KIND: ClassVar[MessageKind] = MessageKind.TIMETOKE_RECORD
    identity: str
    balance: int
    """u128 hours, as the chain."""
    epoch_accrual: int
    last_update: int
    last_sync: int
    last_decay: int

    def _write(self, writer: Writer) -> None:
        writer.string(self.identity).u128(self.balance).u64(self.epoch_accrual)
        writer.u64(self.last_update).u64(self.last_sync).u64(self.last_decay)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.string(), reader.u128(), reader.u64(), reader.u64(), reader.u64(), reader.u64()
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The chain's serde shape, including the constant decay_rate 1.0 (not in our bytes)."""
        return {
            "identity": self.identity,
            "balance": self.balance,
            "epoch_accrual": self.epoch_accrual,
            "decay_rate": 1.0,
            "last_update": self.last_update,
            "last_sync": self.last_sync,
            "last_decay": self.last_decay,
        }


TimetokeDelta = TimetokeRecordMsg


@dataclass(frozen=True, slots=True)
class TimetokeDeltaBroadcast(_Wire):
    """TimetokeDeltaBroadcast{timetoke_root, records} (spec/consensus.md §4)."""

    KIND: ClassVar[MessageKind] = MessageKind.TIMETOKE_DELTA_BROADCAST
    timetoke_root: bytes
    records: tuple[TimetokeRecordMsg, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))

    def _write(self, writer: Writer) -> None:
        writer.fixed(self.timetoke_root, HASH_LEN).sequence(self.records, _write_nested)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            reader.fixed(HASH_LEN), reader.sequence(lambda r: _read_nested(r, TimetokeRecordMsg))
        )


def _write_vrf_public_key(writer: Writer, public_key: bytes) -> None:
    if len(public_key) not in (0, VRF_PUBLIC_KEY_LEN):
        raise EncodeError("VRF public key must be empty (missing) or 32 bytes")
    writer.var_bytes(public_key)


def _read_vrf_public_key(reader: Reader) -> bytes:
    public_key = reader.var_bytes()
    if len(public_key) not in (0, VRF_PUBLIC_KEY_LEN):
        raise DecodeError("VRF public key must be empty (missing) or 32 bytes")
    return public_key


@dataclass(frozen=True, slots=True)
class VrfSubmissionMsg(_Wire):
    """The chain's GossipVrfSubmission (spec/consensus.md §1.3) plus the gossip height/round."""

    KIND: ClassVar[MessageKind] = MessageKind.VRF_SUBMISSION
    address: str
    public_key: bytes
    """32-byte VRF public key, or b"" when missing (→ MissingPublicKey)."""
    last_block_header: bytes
    epoch: int
    tier_seed: bytes
    randomness: int
    beta: bytes
    """64-byte VRF output (the chain's preoutput slot)."""
    pi: bytes
    tier: int
    timetoke_hours: int
    height: int
    round: int

    def _write(self, writer: Writer) -> None:
        writer.string(self.address)
        _write_vrf_public_key(writer, self.public_key)
        writer.fixed(self.last_block_header, HASH_LEN).u64(self.epoch)
        writer.fixed(self.tier_seed, HASH_LEN).u256(self.randomness)
        writer.fixed(self.beta, VRF_BETA_LEN).fixed(self.pi, VRF_PI_LEN)
        _write_tier(writer, self.tier)
        writer.u64(self.timetoke_hours).u64(self.height).u64(self.round)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(
            address=reader.string(),
            public_key=_read_vrf_public_key(reader),
            last_block_header=reader.fixed(HASH_LEN),
            epoch=reader.u64(),
            tier_seed=reader.fixed(HASH_LEN),
            randomness=reader.u256(),
            beta=reader.fixed(VRF_BETA_LEN),
            pi=reader.fixed(VRF_PI_LEN),
            tier=_read_tier(reader),
            timetoke_hours=reader.u64(),
            height=reader.u64(),
            round=reader.u64(),
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The gossip payload's JSON shape: randomness in decimal, bytes in hex, tier "TlN"."""
        return {
            "address": self.address,
            "public_key": self.public_key.hex() or None,
            "input": {
                "last_block_header": self.last_block_header.hex(),
                "epoch": self.epoch,
                "tier_seed": self.tier_seed.hex(),
            },
            "proof": {
                "randomness": str(self.randomness),
                "preoutput": self.beta.hex(),
                "proof": self.pi.hex(),
            },
            "tier": f"Tl{self.tier}",
            "timetoke_hours": self.timetoke_hours,
            "height": self.height,
            "round": self.round,
        }


@dataclass(frozen=True, slots=True)
class Commit(_Wire):
    """A finalized block with its certificate: how a lagging node catches up (port addition)."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMIT
    block: Block
    certificate: ConsensusCertificate

    def _write(self, writer: Writer) -> None:
        _write_nested(writer, self.block)
        _write_nested(writer, self.certificate)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(_read_nested(reader, Block), _read_nested(reader, ConsensusCertificate))


@dataclass(frozen=True, slots=True)
class SyncRequest(_Wire):
    """Ask a peer for the commits of heights ``from_height`` .. ``from_height + count − 1``."""

    KIND: ClassVar[MessageKind] = MessageKind.SYNC_REQUEST
    from_height: int
    count: int

    def _write(self, writer: Writer) -> None:
        writer.u64(self.from_height).u32(self.count)

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(reader.u64(), reader.u32())


# --- decoding and signatures -----------------------------------------------------------------

Message = (
    Transaction
    | IdentityRequest
    | ProofSlot
    | UptimeProof
    | BlockHeader
    | Block
    | Proposal
    | BftVote
    | SignedBftVote
    | VoteRecord
    | ConsensusCertificate
    | Evidence
    | TimetokeRecordMsg
    | TimetokeDeltaBroadcast
    | VrfSubmissionMsg
    | Commit
    | SyncRequest
)

_MESSAGE_TYPES: dict[MessageKind, type[Message]] = {
    cls.KIND: cls
    for cls in (
        Transaction,
        IdentityRequest,
        ProofSlot,
        UptimeProof,
        BlockHeader,
        Block,
        Proposal,
        BftVote,
        SignedBftVote,
        VoteRecord,
        ConsensusCertificate,
        Evidence,
        TimetokeRecordMsg,
        TimetokeDeltaBroadcast,
        VrfSubmissionMsg,
        Commit,
        SyncRequest,
    )
}


def _read_message(reader: Reader) -> Message:
    return _MESSAGE_TYPES[reader.enum(MessageKind)]._read(reader)


def decode_message(data: bytes) -> Message:
    """Decode one message by its tag byte; every malformed input raises DecodeError only."""
    message = decode_exact(data, _read_message)
    object.__setattr__(message, "_cached_bytes", bytes(data))  # canonical: re-encoding is equal
    return message


def _is_signed_by(
    message: _Wire, signing_bytes: Callable[[], bytes], public_key: bytes, address: str, sig: bytes
) -> bool:
    """Memoized per message: the signing bytes encode and ``_is_signature_valid`` holds."""

    def check() -> bool:
        try:
            data = signing_bytes()
        except (EncodeError, AttributeError):
            return False
        return _is_signature_valid(public_key, address, data, sig)

    return _memoized_verdict(message, check)


def is_valid_transaction_signature(tx: Transaction) -> bool:
    """sender == hex BLAKE2s(pk) and the signature over the signing bytes verifies."""
    return _is_signed_by(tx, tx.signing_bytes, tx.public_key, tx.sender, tx.signature)


def is_valid_identity_signature(request: IdentityRequest) -> bool:
    """wallet_address == hex BLAKE2s(pk) and the wallet's signature verifies."""
    return _is_signed_by(
        request,
        request.signing_bytes,
        request.public_key,
        request.wallet_address,
        request.signature,
    )


def is_valid_vote_signature(signed: SignedBftVote) -> bool:
    """voter == hex BLAKE2s(pk) and the signature over the vote's signing bytes verifies."""
    try:
        return signed._cached_verdict  # type: ignore[no-any-return]  # the hottest check
    except AttributeError:
        pass
    vote = signed.vote
    return _is_signed_by(
        signed, vote.signing_bytes, signed.public_key, vote.voter, signed.signature
    )


def is_valid_proposal_signature(proposal: Proposal) -> bool:
    """proposer == hex BLAKE2s(pk) and the proposal signature verifies."""
    return _is_signed_by(
        proposal, proposal.signing_bytes, proposal.public_key, proposal.proposer, proposal.signature
    )


def sign_transaction(tx: Transaction, keypair: Keypair) -> Transaction:
    """``tx`` with the keypair's public key and its signature (the sender is left unchanged)."""
    unsigned = replace(tx, public_key=keypair.public_key, signature=bytes(SIGNATURE_LEN))
    return replace(unsigned, signature=sign(keypair, unsigned.signing_bytes()))


def sign_identity_request(request: IdentityRequest, keypair: Keypair) -> IdentityRequest:
    """``request`` with the wallet keypair's public key and its signature."""
    unsigned = replace(request, public_key=keypair.public_key, signature=bytes(SIGNATURE_LEN))
    return replace(unsigned, signature=sign(keypair, unsigned.signing_bytes()))


def sign_vote(vote: BftVote, keypair: Keypair) -> SignedBftVote:
    """The vote signed over its exact signing bytes (spec/consensus.md §2.1)."""
    return SignedBftVote(vote, keypair.public_key, sign(keypair, vote.signing_bytes()))


def sign_proposal(block: Block, round: int, keypair: Keypair) -> Proposal:
    """A proposal of ``block`` for ``round`` by the keypair's address."""
    unsigned = Proposal(block, round, keypair.address, keypair.public_key, bytes(SIGNATURE_LEN))
    return replace(unsigned, signature=sign(keypair, unsigned.signing_bytes()))
