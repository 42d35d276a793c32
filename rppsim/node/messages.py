"""Wire messages: frozen, slotted dataclasses with one canonical byte encoding
(docs/architecture.md#the-node-is-sans-io).

Every message starts with its ``MessageKind`` tag byte, followed by its fields in declaration
order. A message class is its layout: each field's type names its wire encoding (``U64``,
``Str``, ``Hash``, … are ``Annotated`` with a codec of ``rppsim.node.codec``; a message type
is embedded, an ``IntEnum`` is a byte, ``tuple[X, ...]`` a list, ``X | None`` an option), and
a signed kind names the fields its signature covers in ``SIGNED``. ``@_wire`` derives
``LAYOUT`` and ``SIGNED_LAYOUT`` from these declarations; encoding, decoding and signing bytes
all follow from them. A message embedded in another (a header in a block, a vote in a record)
is written with its own tag, so its bytes inside the parent equal its ``to_bytes()``.
``digest()`` is BLAKE2s-256 of ``to_bytes()``; ``size_bytes`` is its length. ``decode_message``
turns any byte string into a well-formed message or raises ``DecodeError``.

Identifiers the chain keeps as hex strings (addresses, block hashes, vote/transaction hashes,
the uptime commitment) are ``str`` fields; keys, signatures, roots and VRF bytes are raw
``bytes`` of fixed length; the chain's arbitrary-precision naturals (VRF randomness, voting
power) are ints encoded as 32-byte big-endian. Sequences are tuples (lists are accepted by the
constructors and converted).

State sync travels as messages too: ``StateSyncResponse`` embeds a ``StateSnapshot`` whose
``LedgerState``, ``ElectorateRecord`` and ``ValidatorSetRecord`` declare the ledger, the
electorate and the validator sets field by field (``rppsim.node.state_sync`` converts them);
they hold the only floats on the wire, the f64 reputation scores.

Signatures cover domain-tagged bytes. The tags ``rpp-tx``, ``rpp-identity``, ``rpp-proposal``
and the chain's ``rpp-bft-vote`` are prefix-free, so a signature of one kind never verifies as
another.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from enum import IntEnum, StrEnum
from typing import (
    Annotated,
    Any,
    ClassVar,
    Self,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from rppsim.node import codec
from rppsim.node.codec import (
    Codec,
    DecodeError,
    EncodeError,
    Layout,
    Reader,
    Writer,
    decode_exact,
    read_layout,
    write_layout,
)
from rppsim.node.ledger import SlashingReason
from rppsim.node.merkle import compute_merkle_root
from rppsim.node.participation import Detection
from rppsim.node.signing import Keypair, compute_address, sign, verify_signature_memoized
from rppsim.node.timetoke import compute_uptime_commitment

HASH_LEN = 32
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
VRF_PUBLIC_KEY_LEN = 32
VRF_BETA_LEN = 64
VRF_PI_LEN = 80
MAX_TIER = 5
"""Tiers travel as plain ints 0..5 (Tl0..Tl5, docs/protocol.md#submissions-and-rejections)."""

TX_DOMAIN = b"rpp-tx"
IDENTITY_DOMAIN = b"rpp-identity"
PROPOSAL_DOMAIN = b"rpp-proposal"
VOTE_DOMAIN = b"rpp-bft-vote"
RECURSIVE_DOMAIN = b"rpp-recursive"
GENESIS_RECURSIVE_COMMITMENT = bytes(32)
"""The recursive commitment before block 1: 32 zero bytes (port choice;
docs/operations.md#guardrails row 14)."""

CIRCUITS = ("transaction", "identity", "state", "pruning", "recursive", "uptime", "consensus")
"""Proof circuits of the verifier registry (docs/operations.md#proof-systems-and-the-size-gate)."""
DETECTIONS = tuple(str(d) for d in Detection)
"""The participation detectors' record kinds (``rppsim.node.participation``)."""


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
    ACCOUNT_RECORD = 18
    SLASHING_RECORD = 19
    MISSES_RECORD = 20
    PARTICIPATION_RECORD = 21
    LEDGER_STATE = 22
    MEMBER_POWER = 23
    VALIDATOR_SET_RECORD = 24
    PROFILE_RECORD = 25
    SUBMISSION_RECORD = 26
    ELECTORATE_RECORD = 27
    STATE_SNAPSHOT = 28
    STATE_SYNC_RESPONSE = 29


class VoteKind(IntEnum):
    """BftVoteKind and its signed byte (docs/protocol.md#rounds-and-quorum)."""

    PRE_VOTE = 0
    PRE_COMMIT = 1

    @property
    def label(self) -> str:
        """The chain's serde name: "PreVote" or "PreCommit"."""
        return "PreVote" if self is VoteKind.PRE_VOTE else "PreCommit"


class EvidenceKind(IntEnum):
    """[RT] EvidenceKind (docs/protocol.md#evidence)."""

    DOUBLE_SIGN_PREVOTE = 0
    DOUBLE_SIGN_PRECOMMIT = 1
    INVALID_PROOF = 2
    INVALID_PROPOSAL = 3
    INVALID_IDENTITY = 4
    """Port addition: a proposal registering an identity the ledger refuses (the chain's
    ``SlashingReason::InvalidIdentity``; ``rppsim.node.evidence``)."""


class GossipTopic(StrEnum):
    """The chain's gossip topics ``/rpp/gossip/<name>/1.0.0`` (docs/protocol.md#reputation)."""

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
deltas to meta (the chain also copies them to snapshots) as in docs/protocol.md#evidence and
docs/protocol.md#timetoke;
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
    ``LAYOUT`` and the signing layout are derived from the class's fields by ``@_wire``.
    """

    __slots__ = ("_cached_bytes", "_cached_digest", "_cached_hash", "_cached_verdict")
    KIND: ClassVar[MessageKind]
    SIGNED: ClassVar[Signed | None] = None
    LAYOUT: ClassVar[Layout] = ()
    SIGNED_LAYOUT: ClassVar[Layout] = ()
    _SEQUENCES: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self._SEQUENCES:
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @classmethod
    def _read(cls, reader: Reader) -> Self:
        return cls(*read_layout(reader, cls.LAYOUT))

    def to_bytes(self) -> bytes:
        """The canonical bytes: tag ‖ fields (memoized; EncodeError on an unencodable field)."""
        try:
            return self._cached_bytes  # type: ignore[attr-defined,no-any-return]  # memo set by object.__setattr__
        except AttributeError:
            pass
        data = write_layout(Writer().u8(self.KIND), self, self.LAYOUT).to_bytes()
        object.__setattr__(self, "_cached_bytes", data)
        return data

    def signing_bytes(self) -> bytes:
        """The bytes a signature covers: the ``SIGNED`` domain tag ‖ the signed fields."""
        if self.SIGNED is None:
            raise TypeError(f"{type(self).__name__} is not signed")
        return write_layout(Writer().raw(self.SIGNED.domain), self, self.SIGNED_LAYOUT).to_bytes()

    def digest(self) -> bytes:
        """BLAKE2s-256 of the canonical bytes (memoized)."""
        try:
            return self._cached_digest  # type: ignore[attr-defined,no-any-return]  # memo set by object.__setattr__
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


@dataclass(frozen=True, slots=True)
class Signed:
    """What a signature covers: ``domain`` ‖ the fields ``names`` in order, each with its own
    field type unless ``overrides`` gives another (name, codec) for the signed bytes."""

    domain: bytes
    names: tuple[str, ...]
    overrides: tuple[tuple[str, Codec], ...] = ()


def signed(domain: bytes, *names: str, **overrides: Codec) -> Signed:
    """``Signed(domain, names, overrides)`` written as a call."""
    return Signed(domain, names, tuple(overrides.items()))


W = TypeVar("W", bound=type[_Wire])
M = TypeVar("M", bound=_Wire)


def _wire(cls: W) -> W:
    """Class decorator: the ``LAYOUT`` of a message dataclass is its fields in order, each
    encoded by the codec of its type annotation (``get_field_codec``); ``SIGNED`` becomes
    ``SIGNED_LAYOUT``. List fields given as lists are stored as tuples."""
    hints = get_type_hints(cls, include_extras=True)
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]  # W is a dataclass
    cls.LAYOUT = tuple((name, get_field_codec(hints[name])) for name in names)
    cls._SEQUENCES = tuple(name for name, c in cls.LAYOUT if c.label.startswith("list<"))
    if cls.SIGNED is not None:
        by_name = dict(cls.LAYOUT) | dict(cls.SIGNED.overrides)
        cls.SIGNED_LAYOUT = tuple((name, by_name[name]) for name in cls.SIGNED.names)
    return cls


# --- field types -----------------------------------------------------------------------------


def _write_nested(writer: Writer, message: _Wire) -> None:
    writer.raw(message.to_bytes())


def _read_nested(reader: Reader, message_type: type[M]) -> M:
    kind = reader.enum(MessageKind)
    if kind != message_type.KIND:
        raise DecodeError(f"expected an embedded {message_type.__name__}, got {kind.name}")
    return message_type._read(reader)


def nested(message_type: type[_Wire]) -> Codec:
    """An embedded message, written with its own tag (its ``to_bytes()``)."""
    return Codec(
        message_type.__name__,
        _write_nested,
        lambda r: _read_nested(r, message_type),
        1,
        message_type,
    )


def get_field_codec(hint: Any) -> Codec:
    """The codec of a field's type: an ``Annotated`` alias below carries its codec; a message
    type is embedded; an ``IntEnum`` is a u8; ``tuple[X, ...]`` is a list and ``X | None`` an
    option of X's codec."""
    if get_origin(hint) is Annotated:
        return hint.__metadata__[0]  # type: ignore[no-any-return]  # our aliases carry a Codec
    if isinstance(hint, type) and issubclass(hint, _Wire):
        return nested(hint)
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        return codec.enum(hint)
    args = get_args(hint)
    if get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return codec.sequence(get_field_codec(args[0]))
    if get_origin(hint) in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
        return codec.option(get_field_codec(args[0] if args[1] is type(None) else args[1]))
    raise TypeError(f"no wire encoding for {hint!r}")


TIER = codec.constrained(
    "tier",
    codec.U8,
    lambda tier: isinstance(tier, int) and 0 <= tier <= MAX_TIER,
    f"tier must be an int 0..{MAX_TIER}, got {{value!r}}",
    f"tier must be 0..{MAX_TIER}, got {{value}}",
)
CIRCUIT = codec.constrained(
    "circuit",
    codec.STRING,
    lambda circuit: circuit in CIRCUITS,
    "unknown proof circuit {value!r}",
    "unknown proof circuit {value!r}",
)
MAYBE_VRF_PUBLIC_KEY = codec.constrained(
    "optional VRF public key",
    codec.BYTES,
    lambda key: len(key) in (0, VRF_PUBLIC_KEY_LEN),
    "VRF public key must be empty (missing) or 32 bytes",
    "VRF public key must be empty (missing) or 32 bytes",
)
TEXT = Codec("text", Writer.text, None)
"""A string's UTF-8 bytes without a length prefix (only in the vote's signing bytes)."""
BLOCK_HASH = Codec("block hash", lambda w, block: w.string(block.hash), None)
"""A block by its hash string (only in a proposal's signing bytes)."""

# The field types of the layouts: a Python type annotated with its codec.
U32 = Annotated[int, codec.U32]
U64 = Annotated[int, codec.U64]
U128 = Annotated[int, codec.U128]
U256 = Annotated[int, codec.U256]
"""The chain's arbitrary-precision naturals (VRF randomness, voting power): 32 bytes BE."""
Str = Annotated[str, codec.STRING]
Bytes = Annotated[bytes, codec.BYTES]
Hash = Annotated[bytes, codec.fixed(HASH_LEN)]
PublicKey = Annotated[bytes, codec.fixed(PUBLIC_KEY_LEN)]
Signature = Annotated[bytes, codec.fixed(SIGNATURE_LEN)]
VrfPublicKey = Annotated[bytes, codec.fixed(VRF_PUBLIC_KEY_LEN)]
MaybeVrfPublicKey = Annotated[bytes, MAYBE_VRF_PUBLIC_KEY]
VrfBeta = Annotated[bytes, codec.fixed(VRF_BETA_LEN)]
VrfPi = Annotated[bytes, codec.fixed(VRF_PI_LEN)]
Tier = Annotated[int, TIER]
Circuit = Annotated[str, CIRCUIT]
U8 = Annotated[int, codec.U8]
Bool = Annotated[bool, codec.BOOL]
I64 = Annotated[int, codec.I64]
Nat = Annotated[int, codec.NAT]
"""An unbounded natural (selection weights and weighted randomness)."""
F64 = Annotated[float, codec.F64]
"""An f64 reputation score: only in state snapshots."""
DetectionLabel = Annotated[
    str,
    codec.constrained(
        "detection",
        codec.STRING,
        lambda label: label in DETECTIONS,
        "unknown detection {value!r}",
        "unknown detection {value!r}",
    ),
]


def _memoized_verdict(message: _Wire, check: Callable[[], bool]) -> bool:
    """The result of ``check`` for this immutable message, computed once per object."""
    try:
        return message._cached_verdict  # type: ignore[attr-defined,no-any-return]  # memo set by object.__setattr__
    except AttributeError:
        pass
    verdict = check()
    object.__setattr__(message, "_cached_verdict", verdict)
    return verdict


def _memoized_hash(message: _Wire) -> str:
    """hex BLAKE2s of the signing bytes, computed once per immutable message object."""
    try:
        return message._cached_hash  # type: ignore[attr-defined,no-any-return]  # memo set by object.__setattr__
    except AttributeError:
        pass
    value = _blake2s(message.signing_bytes()).hex()
    object.__setattr__(message, "_cached_hash", value)
    return value


def _is_signature_valid(public_key: bytes, address: str, message: bytes, sig: bytes) -> bool:
    """address == hex BLAKE2s(pk) and the ed25519 signature verifies (memoized)."""
    if not isinstance(public_key, bytes) or compute_address(public_key) != address:
        return False
    return verify_signature_memoized(public_key, message, sig)


# --- transactions and identities ------------------------------------------------------------


@_wire
@dataclass(frozen=True, slots=True)
class Transaction(_Wire):
    """A transfer signed by the sender's ed25519 key; sender = hex BLAKE2s(public_key)."""

    KIND = MessageKind.TRANSACTION
    SIGNED = signed(TX_DOMAIN, "sender", "recipient", "amount", "fee", "nonce", "public_key")
    """b"rpp-tx" ‖ the fields without the signature."""

    sender: Str
    recipient: Str
    amount: U128
    """u128, as the chain's amount."""
    fee: U64
    nonce: U64
    public_key: PublicKey
    signature: Signature = bytes(SIGNATURE_LEN)

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the signing bytes (like the chain's vote hash, excludes the signature)."""
        return _memoized_hash(self)

    def to_json_dict(self) -> dict[str, Any]:
        """The /status/mempool transaction entry (docs/operations.md#mempool-status)."""
        return {
            "hash": self.hash,
            "from": self.sender,
            "to": self.recipient,
            "amount": self.amount,
            "fee": self.fee,
            "nonce": self.nonce,
        }


@_wire
@dataclass(frozen=True, slots=True)
class IdentityRequest(_Wire):
    """An identity genesis request (docs/operations.md#mempool-status identity entry,
    docs/protocol.md#epochs-and-replay-protection)."""

    KIND = MessageKind.IDENTITY_REQUEST
    SIGNED = signed(
        IDENTITY_DOMAIN,
        *("wallet_address", "public_key", "vrf_public_key", "vrf_pi"),
        *("epoch_nonce", "state_root", "identity_root", "commitment"),
    )
    """b"rpp-identity" ‖ the fields without the signature."""

    wallet_address: Str
    public_key: PublicKey
    vrf_public_key: VrfPublicKey
    vrf_pi: VrfPi
    """80-byte ECVRF proof over the epoch nonce; its hex is the per-epoch unique VRF tag."""
    epoch_nonce: Hash
    state_root: Hash
    identity_root: Hash
    commitment: Hash
    signature: Signature = bytes(SIGNATURE_LEN)

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the signing bytes."""
        return _memoized_hash(self)

    @property
    def vrf_tag(self) -> str:
        """The VRF tag: hex of the genesis VRF proof
        (docs/protocol.md#epochs-and-replay-protection)."""
        return self.vrf_pi.hex()

    def to_json_dict(
        self, attested_votes: int = 0, gossip_confirmations: int = 0
    ) -> dict[str, Any]:
        """The /status/mempool identity entry (docs/operations.md#mempool-status); the counts are
        node-side."""
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


@_wire
@dataclass(frozen=True, slots=True)
class ProofSlot(_Wire):
    """One proof: its system label, its circuit (docs/operations.md#proof-systems-and-the-size-gate)
    and the proof bytes."""

    KIND = MessageKind.PROOF_SLOT
    system: Str
    """Proof system label, e.g. "numba-stark", "stwo", "plonky3", "rpp-stark"."""
    circuit: Circuit
    """One of CIRCUITS."""
    data: Bytes

    def data_digest(self) -> bytes:
        """BLAKE2s-256 of the proof bytes alone (``digest()`` also binds system and circuit)."""
        return _blake2s(self.data)


@_wire
@dataclass(frozen=True, slots=True)
class UptimeProof(_Wire):
    """A claim of online time over [window_start, window_end] (docs/protocol.md#timetoke)."""

    KIND = MessageKind.UPTIME_PROOF
    wallet_address: Str
    window_start: U64
    window_end: U64
    proof_commitment: Str
    node_clock: U64 | None = None
    epoch: U64 | None = None
    head_hash: Str | None = None
    proof: ProofSlot | None = None

    def is_commitment_valid(self) -> bool:
        """The proof commitment matches the address and window (docs/protocol.md#timetoke)."""
        try:
            expected = compute_uptime_commitment(
                self.wallet_address, self.window_start, self.window_end
            )
        except (ValueError, OverflowError, AttributeError):
            return False
        return expected == self.proof_commitment

    def to_json_dict(self, credited_hours: int = 0) -> dict[str, Any]:
        """The /status/mempool uptime entry; credited hours come from the ledger
        (docs/operations.md#mempool-status)."""
        return {
            "identity": self.wallet_address,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "credited_hours": credited_hours,
        }


# --- consensus -------------------------------------------------------------------------------


@_wire
@dataclass(frozen=True, slots=True)
class BftVote(_Wire):
    """BftVote{round, height, block_hash, voter, kind} (docs/protocol.md#rounds-and-quorum)."""

    KIND = MessageKind.BFT_VOTE
    SIGNED = signed(
        VOTE_DOMAIN, "round", "height", "block_hash", "voter", "kind", block_hash=TEXT, voter=TEXT
    )
    """b"rpp-bft-vote" ‖ round u64 LE ‖ height u64 LE ‖ block_hash ‖ voter ‖ kind
    (docs/protocol.md#rounds-and-quorum):
    the chain's exact bytes, whose strings have no length prefix."""

    round: U64
    height: U64
    block_hash: Str
    voter: Str
    kind: VoteKind


@_wire
@dataclass(frozen=True, slots=True)
class SignedBftVote(_Wire):
    """A vote with the voter's ed25519 key and signature; voter = hex BLAKE2s(pk)
    (docs/protocol.md#rounds-and-quorum)."""

    KIND = MessageKind.SIGNED_BFT_VOTE
    vote: BftVote
    public_key: PublicKey
    signature: Signature

    def signing_bytes(self) -> bytes:
        """The vote's signing bytes."""
        return self.vote.signing_bytes()

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the vote's signing bytes (docs/protocol.md#rounds-and-quorum)."""
        return _memoized_hash(self)

    def to_json_dict(self) -> dict[str, Any]:
        """The /status/mempool vote entry (docs/operations.md#mempool-status)."""
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


@_wire
@dataclass(frozen=True, slots=True)
class VoteRecord(_Wire):
    """A registered vote and its voting power (docs/protocol.md#rounds-and-quorum)."""

    KIND = MessageKind.VOTE_RECORD
    vote: SignedBftVote
    weight: U256

    def to_json_dict(self) -> dict[str, Any]:
        """{vote, weight as a decimal string} as in the chain."""
        return {"vote": self.vote.to_wire_json(), "weight": str(self.weight)}


@_wire
@dataclass(frozen=True, slots=True)
class ConsensusCertificate(_Wire):
    """The quorum evidence of a committed block (docs/protocol.md#rounds-and-quorum), plus height
    and hash."""

    KIND = MessageKind.CONSENSUS_CERTIFICATE
    height: U64
    round: U64
    block_hash: Str
    total_power: U256
    quorum_threshold: U256
    pre_vote_power: U256
    pre_commit_power: U256
    commit_power: U256
    observers: U64
    pre_votes: tuple[VoteRecord, ...] = ()
    pre_commits: tuple[VoteRecord, ...] = ()

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


@_wire
@dataclass(frozen=True, slots=True)
class Evidence(_Wire):
    """[RT] evidence record plus what proves it (docs/protocol.md#evidence): the conflicting
    signed votes of a double sign, or the canonical bytes of the signed ``Proposal`` of an
    invalid block (``rppsim.node.evidence``; bytes, since a proposal's block holds evidence)."""

    KIND = MessageKind.EVIDENCE
    kind: EvidenceKind
    address: Str
    height: U64
    round: U64
    vote_kind: VoteKind | None = None
    block_hashes: tuple[Str, ...] = ()
    votes: tuple[SignedBftVote, ...] = ()
    proposal: Bytes | None = None


_DOUBLE_SIGN_VOTE_KIND = {
    EvidenceKind.DOUBLE_SIGN_PREVOTE: VoteKind.PRE_VOTE,
    EvidenceKind.DOUBLE_SIGN_PRECOMMIT: VoteKind.PRE_COMMIT,
}


def is_valid_double_sign_evidence(evidence: Evidence) -> bool:
    """Anyone can check double-sign evidence: ≥2 valid votes by the accused for one
    (height, round, kind) with distinct block hashes, listed in ``block_hashes``
    (docs/protocol.md#evidence)."""
    expected_kind = _DOUBLE_SIGN_VOTE_KIND.get(evidence.kind)
    if expected_kind is None or evidence.vote_kind != expected_kind:
        return False
    if evidence.proposal is not None:
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


@_wire
@dataclass(frozen=True, slots=True)
class TimetokeRecordMsg(_Wire):
    """TimetokeRecord (docs/protocol.md#timetoke) without decay_rate, which the chain fixes at
    1.0."""

    KIND = MessageKind.TIMETOKE_RECORD
    identity: Str
    balance: U128
    """u128 hours, as the chain."""
    epoch_accrual: U64
    last_update: U64
    last_sync: U64
    last_decay: U64

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


@_wire
@dataclass(frozen=True, slots=True)
class TimetokeDeltaBroadcast(_Wire):
    """TimetokeDeltaBroadcast{timetoke_root, records} (docs/protocol.md#timetoke)."""

    KIND = MessageKind.TIMETOKE_DELTA_BROADCAST
    timetoke_root: Hash
    records: tuple[TimetokeRecordMsg, ...] = ()


@_wire
@dataclass(frozen=True, slots=True)
class VrfSubmissionMsg(_Wire):
    """The chain's GossipVrfSubmission (docs/protocol.md#submissions-and-rejections) plus the gossip
    height/round."""

    KIND = MessageKind.VRF_SUBMISSION
    address: Str
    public_key: MaybeVrfPublicKey
    """32-byte VRF public key, or b"" when missing (→ MissingPublicKey)."""
    last_block_header: Hash
    epoch: U64
    tier_seed: Hash
    randomness: U256
    beta: VrfBeta
    """64-byte VRF output (the chain's preoutput slot)."""
    pi: VrfPi
    tier: Tier
    timetoke_hours: U64
    height: U64
    round: U64

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


# --- blocks ----------------------------------------------------------------------------------


def compute_recursive_commitment(previous: bytes, proof_digests: Sequence[bytes]) -> bytes:
    """BLAKE2s("rpp-recursive" ‖ previous ‖ proof digests in block order)
    (docs/operations.md#guardrails #14)."""
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
    """Sorted-leaf Merkle root over the messages' digests (docs/protocol.md#timetoke Merkle
    rule)."""
    return compute_merkle_root(message.digest() for message in messages)


@_wire
@dataclass(frozen=True, slots=True)
class BlockHeader(_Wire):
    """A block header; its digest is the block hash (docs/protocol.md#rounds-and-quorum)."""

    KIND = MessageKind.BLOCK_HEADER
    height: U64
    previous_hash: Str
    timestamp_ms: U64
    state_root: Hash
    tx_root: Hash
    uptime_root: Hash
    identity_root: Hash
    vrf_root: Hash
    """Root of the block's VRF submissions: the validator set it was voted with."""
    evidence_root: Hash
    last_commit_hash: Hash
    """BLAKE2s of the previous block's certificate carried in the body (zeros at height 1)."""
    proposer: Str
    vrf_public_key: VrfPublicKey
    vrf_randomness: U256
    """The chain's randomness natural: the first 32 bytes of beta, big-endian
    (docs/architecture.md#departures-from-the-chain)."""
    vrf_beta: VrfBeta
    vrf_pi: VrfPi
    vrf_epoch: U64
    vrf_tier_seed: Hash
    leader_tier: Tier
    leader_timetoke: U64
    round: U64
    recursive_previous_commitment: Hash
    recursive_commitment: Hash

    @property
    def hash(self) -> str:
        """hex BLAKE2s of the header's canonical bytes."""
        return self.digest().hex()


@_wire
@dataclass(frozen=True, slots=True)
class Block(_Wire):
    """A header and the payload it commits to through its roots and recursive commitment.

    Besides the chain's lists, a block carries the VRF submissions that define its validator
    set, double-sign evidence to apply, and the previous block's commit certificate (so every
    node applies the same slashing and can check the previous commit; port additions).
    """

    KIND = MessageKind.BLOCK
    header: BlockHeader
    transactions: tuple[Transaction, ...] = ()
    identities: tuple[IdentityRequest, ...] = ()
    uptime_proofs: tuple[UptimeProof, ...] = ()
    proofs: tuple[ProofSlot, ...] = ()
    vrf_submissions: tuple[VrfSubmissionMsg, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    last_certificate: ConsensusCertificate | None = None

    @property
    def hash(self) -> str:
        """The block hash: hex BLAKE2s of the header bytes."""
        return self.header.hash


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


@_wire
@dataclass(frozen=True, slots=True)
class Proposal(_Wire):
    """A block proposed for (height, round), signed by the proposer."""

    KIND = MessageKind.PROPOSAL
    SIGNED = signed(PROPOSAL_DOMAIN, "block", "round", "proposer", block=BLOCK_HASH)
    """b"rpp-proposal" ‖ block hash (string) ‖ round u64 ‖ proposer (string)."""

    block: Block
    round: U64
    proposer: Str
    public_key: PublicKey
    signature: Signature


@_wire
@dataclass(frozen=True, slots=True)
class Commit(_Wire):
    """A finalized block with its certificate: how a lagging node catches up (port addition)."""

    KIND = MessageKind.COMMIT
    block: Block
    certificate: ConsensusCertificate


@_wire
@dataclass(frozen=True, slots=True)
class SyncRequest(_Wire):
    """Ask a peer for the commits of heights ``from_height`` .. ``from_height + count − 1``."""

    KIND = MessageKind.SYNC_REQUEST
    from_height: U64
    count: U32


# --- state snapshots (rppsim.node.state_sync) ------------------------------------------------


@_wire
@dataclass(frozen=True, slots=True)
class AccountRecord(_Wire):
    """An account with its reputation and timetoke balance, field for field."""

    KIND = MessageKind.ACCOUNT_RECORD
    address: Str
    balance: U128
    stake: U128
    nonce: U64
    zsi_validated: Bool
    hours_online: U64
    last_proof_timestamp: U64 | None
    last_decay_timestamp: U64 | None
    last_sync_timestamp: U64 | None
    consensus_success: U64
    peer_feedback: I64
    reputation_last_decay: U64
    score: F64
    tier: Tier


@_wire
@dataclass(frozen=True, slots=True)
class SlashingRecord(_Wire):
    """A ``SlashingEvent`` of the ledger's slashing log."""

    KIND = MessageKind.SLASHING_RECORD
    address: Str
    reason: SlashingReason
    penalty_percent: U8
    timestamp: U64
    evidence_hash: Hash
    signature: Bytes | None = None


@_wire
@dataclass(frozen=True, slots=True)
class MissesRecord(_Wire):
    """A validator's consecutive misses (the participation detectors' counters)."""

    KIND = MessageKind.MISSES_RECORD
    address: Str
    prevotes: U64
    precommits: U64
    inactive: U64


@_wire
@dataclass(frozen=True, slots=True)
class ParticipationRecord(_Wire):
    """A ``ParticipationEvent`` of the ledger's participation log."""

    KIND = MessageKind.PARTICIPATION_RECORD
    height: U64
    offense_height: U64
    round: U64
    address: Str
    kind: DetectionLabel
    misses: U64


@_wire
@dataclass(frozen=True, slots=True)
class LedgerState(_Wire):
    """A ledger's whole state (its parameters are the receiver's configuration): accounts
    by address, the epoch's used VRF tags sorted, and its logs in order."""

    KIND = MessageKind.LEDGER_STATE
    height: U64
    epoch: U64
    epoch_nonce: Hash
    reward_shortfall: Nat
    accounts: tuple[AccountRecord, ...] = ()
    used_vrf_tags: tuple[Str, ...] = ()
    slashing_log: tuple[SlashingRecord, ...] = ()
    misses: tuple[MissesRecord, ...] = ()
    participation_log: tuple[ParticipationRecord, ...] = ()


@_wire
@dataclass(frozen=True, slots=True)
class MemberPower(_Wire):
    """A validator set member and its voting power."""

    KIND = MessageKind.MEMBER_POWER
    address: Str
    power: U256


@_wire
@dataclass(frozen=True, slots=True)
class ValidatorSetRecord(_Wire):
    """A ``ValidatorSet``: powers by address and the leader order (totals follow)."""

    KIND = MessageKind.VALIDATOR_SET_RECORD
    powers: tuple[MemberPower, ...] = ()
    leader_order: tuple[Str, ...] = ()


@_wire
@dataclass(frozen=True, slots=True)
class ProfileRecord(_Wire):
    """A ``ValidatorProfile``: the candidate and its VRF output."""

    KIND = MessageKind.PROFILE_RECORD
    address: Str
    stake: U128
    reputation_score: F64
    tier: Tier
    timetoke_hours: U64
    proof_randomness: U256
    preoutput: Bytes
    proof: Bytes
    randomness: U256


@_wire
@dataclass(frozen=True, slots=True)
class SubmissionRecord(_Wire):
    """A ``VerifiedSubmission`` (b"" for a missing VRF public key)."""

    KIND = MessageKind.SUBMISSION_RECORD
    address: Str
    public_key: MaybeVrfPublicKey
    last_block_header: Hash
    epoch: U64
    tier_seed: Hash
    proof_randomness: U256
    preoutput: Bytes
    proof: Bytes
    tier: Tier
    timetoke_hours: U64
    randomness: U256
    verified: Bool
    weight: Nat
    weighted_randomness: Nat


@_wire
@dataclass(frozen=True, slots=True)
class ElectorateRecord(_Wire):
    """The electorate of a height (a ``RoundSet`` without its selection audit)."""

    KIND = MessageKind.ELECTORATE_RECORD
    profiles: tuple[ProfileRecord, ...]
    validators: ValidatorSetRecord
    submissions: tuple[SubmissionRecord, ...] = ()
    observers: U64 = 0


@_wire
@dataclass(frozen=True, slots=True)
class StateSnapshot(_Wire):
    """The state after block ``height`` plus what verifying block ``height + 1`` needs
    (``rppsim.node.state_sync``)."""

    KIND = MessageKind.STATE_SNAPSHOT
    height: U64
    tip_hash: Str
    tip_commitment: Hash
    ledger: LedgerState
    elected: ElectorateRecord
    """The electorate of height ``height + 1``."""
    previous_set: ValidatorSetRecord | None
    previous_epoch: U64
    headers: tuple[Commit, ...] = ()
    """Commits of heights 1..height (pruned ones keep header and certificate)."""


@_wire
@dataclass(frozen=True, slots=True)
class StateSyncResponse(_Wire):
    """A peer's answer to a ``SyncRequest`` for blocks it has pruned: its tip snapshot."""

    KIND = MessageKind.STATE_SYNC_RESPONSE
    snapshot: StateSnapshot


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
    | AccountRecord
    | SlashingRecord
    | MissesRecord
    | ParticipationRecord
    | LedgerState
    | MemberPower
    | ValidatorSetRecord
    | ProfileRecord
    | SubmissionRecord
    | ElectorateRecord
    | StateSnapshot
    | StateSyncResponse
)

MESSAGE_TYPES: dict[MessageKind, type[Message]] = {
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
        AccountRecord,
        SlashingRecord,
        MissesRecord,
        ParticipationRecord,
        LedgerState,
        MemberPower,
        ValidatorSetRecord,
        ProfileRecord,
        SubmissionRecord,
        ElectorateRecord,
        StateSnapshot,
        StateSyncResponse,
    )
}
"""Every message class by its tag: the table of layouts ``decode_message`` dispatches on."""


def _read_message(reader: Reader) -> Message:
    return MESSAGE_TYPES[reader.enum(MessageKind)]._read(reader)


def decode_message(data: bytes) -> Message:
    """Decode one message by its tag byte; every malformed input raises DecodeError only."""
    message = decode_exact(data, _read_message)
    object.__setattr__(message, "_cached_bytes", bytes(data))  # canonical: re-encoding is equal
    return message


def _is_signed_by(message: _Wire, public_key: bytes, address: str, sig: bytes) -> bool:
    """Memoized per message: its signing bytes encode and ``_is_signature_valid`` holds."""

    def check() -> bool:
        try:
            data = message.signing_bytes()
        except (EncodeError, AttributeError):
            return False
        return _is_signature_valid(public_key, address, data, sig)

    return _memoized_verdict(message, check)


def is_valid_transaction_signature(tx: Transaction) -> bool:
    """sender == hex BLAKE2s(pk) and the signature over the signing bytes verifies."""
    return _is_signed_by(tx, tx.public_key, tx.sender, tx.signature)


def is_valid_identity_signature(request: IdentityRequest) -> bool:
    """wallet_address == hex BLAKE2s(pk) and the wallet's signature verifies."""
    return _is_signed_by(request, request.public_key, request.wallet_address, request.signature)


def is_valid_vote_signature(signed: SignedBftVote) -> bool:
    """voter == hex BLAKE2s(pk) and the signature over the vote's signing bytes verifies."""
    try:
        return signed._cached_verdict  # type: ignore[attr-defined,no-any-return]  # memo set by object.__setattr__
    except AttributeError:
        pass
    return _is_signed_by(signed, signed.public_key, signed.vote.voter, signed.signature)


def is_valid_proposal_signature(proposal: Proposal) -> bool:
    """proposer == hex BLAKE2s(pk) and the proposal signature verifies."""
    return _is_signed_by(proposal, proposal.public_key, proposal.proposer, proposal.signature)


def sign_transaction(tx: Transaction, keypair: Keypair) -> Transaction:
    """``tx`` with the keypair's public key and its signature (the sender is left unchanged)."""
    unsigned = replace(tx, public_key=keypair.public_key, signature=bytes(SIGNATURE_LEN))
    return replace(unsigned, signature=sign(keypair, unsigned.signing_bytes()))


def sign_identity_request(request: IdentityRequest, keypair: Keypair) -> IdentityRequest:
    """``request`` with the wallet keypair's public key and its signature."""
    unsigned = replace(request, public_key=keypair.public_key, signature=bytes(SIGNATURE_LEN))
    return replace(unsigned, signature=sign(keypair, unsigned.signing_bytes()))


def sign_vote(vote: BftVote, keypair: Keypair) -> SignedBftVote:
    """The vote signed over its exact signing bytes (docs/protocol.md#rounds-and-quorum)."""
    return SignedBftVote(vote, keypair.public_key, sign(keypair, vote.signing_bytes()))


def sign_proposal(block: Block, round: int, keypair: Keypair) -> Proposal:
    """A proposal of ``block`` for ``round`` by the keypair's address."""
    unsigned = Proposal(block, round, keypair.address, keypair.public_key, bytes(SIGNATURE_LEN))
    return replace(unsigned, signature=sign(keypair, unsigned.signing_bytes()))
