"""How the node proves and verifies: an injected proof service, consulted through one interface.

The node never imports a prover. It describes each statement as a frozen dataclass whose
canonical bytes bind every public value, and asks its ``ProofService`` to prove or verify it.
The driver injects the service: the numba STARK behind the verifier registry (prover mode
``real``) or ``ModelProofService`` (prover mode ``model``: digest and size only, and never
reported as a verified proof). Before any verification the node applies the size gate
against ``max_proof_size_bytes`` (docs/operations.md#proof-systems-and-the-size-gate, "Size
limits").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rppsim.node.codec import Writer

CIRCUITS = ("transaction", "identity", "state", "pruning", "recursive", "uptime", "consensus")


@dataclass(frozen=True, slots=True)
class UptimeStatement:
    """An uptime claim as the uptime circuit sees it (docs/proofs.md#circuits item 5)."""

    wallet_address: str
    window_start: int
    window_end: int
    node_clock: int
    epoch: int
    head_hash: bytes
    credited_hours: int

    circuit = "uptime"

    def to_bytes(self) -> bytes:
        """Canonical bytes of the public values."""
        w = Writer().string(self.wallet_address).u64(self.window_start).u64(self.window_end)
        w.u64(self.node_clock).u64(self.epoch).var_bytes(self.head_hash)
        return w.u64(self.credited_hours).to_bytes()


@dataclass(frozen=True, slots=True)
class TransferRow:
    """One transfer of a batch with the balances and nonce it moves (docs/proofs.md#circuits item
    1)."""

    amount: int
    fee: int
    sender_before: int
    sender_after: int
    recipient_before: int
    recipient_after: int
    nonce_before: int


@dataclass(frozen=True, slots=True)
class TransactionBatchStatement:
    """A block's transfer batch: its digest and one row per transfer."""

    batch_digest: bytes
    rows: tuple[TransferRow, ...]

    circuit = "transaction"

    @property
    def total_fees(self) -> int:
        """Sum of the batch's fees, bound at the last row of the AIR."""
        return sum(row.fee for row in self.rows)

    def to_bytes(self) -> bytes:
        """Canonical bytes of the public values."""
        w = Writer().var_bytes(self.batch_digest).u32(len(self.rows))
        for r in self.rows:
            w.u128(r.amount).u128(r.fee).u128(r.sender_before).u128(r.sender_after)
            w.u128(r.recipient_before).u128(r.recipient_after).u64(r.nonce_before)
        return w.to_bytes()


@dataclass(frozen=True, slots=True)
class ConsensusStatement:
    """A commit certificate: weighted votes reach the quorum (docs/proofs.md#circuits item 6)."""

    block_hash: str
    height: int
    round: int
    epoch: int
    quorum: int
    weights: tuple[int, ...]
    prevoted: tuple[bool, ...]
    precommitted: tuple[bool, ...]

    circuit = "consensus"

    def to_bytes(self) -> bytes:
        """Canonical bytes of the public values."""
        w = Writer().string(self.block_hash).u64(self.height).u64(self.round).u64(self.epoch)
        w.u256(self.quorum).u32(len(self.weights))
        for weight, pre, com in zip(self.weights, self.prevoted, self.precommitted, strict=True):
            w.u256(weight).boolean(pre).boolean(com)
        return w.to_bytes()


Statement = UptimeStatement | TransactionBatchStatement | ConsensusStatement


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    """A verification verdict; ``reason`` is the metric label of a rejection."""

    ok: bool
    reason: str = ""


class ProofService(Protocol):
    """What the node needs from a prover and its verifier registry.

    Optionally ``verify_cost_ms(statement, size) -> int``: a deterministic estimate of one
    verification's time, which the node adds to ``verifier_metrics`` (0 when absent).
    """

    system: str
    """The proof system label written into every ProofSlot this service makes."""

    def is_provable(self, statement: Statement) -> bool:
        """Whether this service can prove ``statement`` (a pure function: nodes agree)."""
        ...

    def prove(self, statement: Statement) -> bytes:
        """Proof bytes for a true, provable statement."""
        ...

    def verify(self, statement: Statement, system: str, data: bytes) -> VerifyOutcome:
        """Whether ``data`` proves ``statement`` in ``system``; unsupported systems are rejected."""
        ...


def compute_size_gate_error(size_bytes: int, max_proof_size_bytes: int) -> str | None:
    """The chain's ``ProofTooLarge`` message, or None when the proof fits
    (docs/operations.md#proof-systems-and-the-size-gate).

    KiB values are rounded up, as the rpp-stark size gate does.
    """
    if size_bytes <= max_proof_size_bytes:
        return None
    max_kib = -(-max_proof_size_bytes // 1024)
    got_kib = -(-size_bytes // 1024)
    return f"proof too large: limit {max_kib} KiB, got {got_kib} KiB"


MODEL_VERIFY_BYTES_PER_MS = 16_384
"""The model's verify-time model: 1 ms per started 16 KiB of proof bytes."""


class ModelProofService:
    """Prover mode ``model``: a keyed digest of the statement stands in for the proof.

    It is deterministic and binds the statement (a changed public value fails), but it proves
    nothing about the witness; runs using it record ``prover = "model"`` and never count its
    verifications as verified proofs.
    """

    system = "model"

    def __init__(self, proof_bytes: int = 64) -> None:
        self.proof_bytes = max(32, proof_bytes)

    def is_provable(self, statement: Statement) -> bool:
        """Every statement is provable in the model."""
        return True

    def prove(self, statement: Statement) -> bytes:
        """A digest of (circuit, statement), padded to the modelled size."""
        digest = _model_digest(statement)
        return digest + bytes(self.proof_bytes - len(digest))

    def verify(self, statement: Statement, system: str, data: bytes) -> VerifyOutcome:
        """Recompute the digest; a foreign system is unsupported, never accepted."""
        if system != self.system:
            return VerifyOutcome(False, f"unsupported proof system {system} in verifier registry")
        if data[:32] != _model_digest(statement) or not _is_zero_padding(data[32:]):
            return VerifyOutcome(False, "invalid proof")
        return VerifyOutcome(True)

    def verify_cost_ms(self, statement: Statement, size: int) -> int:
        """Modelled verify time: 1 ms per started ``MODEL_VERIFY_BYTES_PER_MS`` bytes."""
        return -(-max(size, 0) // MODEL_VERIFY_BYTES_PER_MS)


@lru_cache(maxsize=1 << 10)
def _model_digest(statement: Statement) -> bytes:
    """BLAKE2s of (circuit, statement bytes), memoized process-wide by the statement's value.

    Recomputing it is the model's verification, which may be memoized by exactly what is
    verified; statements are frozen and their encoding is canonical (one value, one encoding).
    """
    payload = b"rppsim/model-proof/" + statement.circuit.encode() + b"\x00" + statement.to_bytes()
    return hashlib.blake2s(payload).digest()


def _is_zero_padding(padding: bytes) -> bool:
    """Whether every byte is zero (one memcmp; a model proof is padded to ~20 KB)."""
    return padding == bytes(len(padding))
