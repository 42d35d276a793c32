"""Prover mode ``real``: the node's statements proved and verified by the numba STARK.

The node describes what a proof must state (``rppsim.node.proofs``); this adapter maps each
statement to the AIR's public inputs and an honest witness, deterministically, on both
sides: the prover proves those public inputs, and a verifier recomputes them from its own
statement and rejects a proof whose public inputs differ. So a proof binds the block it
rides in. The mapping's fixed conventions:

* uptime: circuit times count seconds from ``TIME_BASE_S`` (the circuit's times are canonical
  field elements, below p ≈ 2^31); the circuit's epoch is the ledger epoch + 1 (the circuit
  requires ≥ 1); a heartbeat every 600 s (the uptime scheduler's cadence) over the claimed window;
* transaction: one row per transfer with its balances and nonce before it;
* consensus: the circuit takes 14-bit weights; voting powers are mapped to
  ``w' = ⌈w·16383 / max w⌉`` for prevoters and ``⌊…⌋`` for the rest (rounding in the
  voters' favour, so an honest certificate rarely loses its quorum). A certificate whose
  mapped votes miss the mapped quorum cannot be proved: leader and verifiers agree on this
  (``is_provable``), and such a block carries no consensus proof. The exact quorum is
  always checked natively on the certificate (docs/proofs.md#circuits item 6).

Verification is a pure function of (system, statement, proof bytes): its verdict is
computed once and reused by every other node (docs/architecture.md#prover-modes).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from rppsim.node.proofs import (
    ConsensusStatement,
    Statement,
    TransactionBatchStatement,
    UptimeStatement,
    VerifyOutcome,
)
from rppsim.prover import Proof, ProofFormatError, ProofSystemKind, WitnessError, prove
from rppsim.prover.airs import consensus, transaction, uptime
from rppsim.prover.verifier import Reason, verify_reason
from rppsim.sim.proving import PROFILE, compute_verdict_key, compute_verify_cost_ms

TIME_BASE_S = 1_700_000_000
"""Origin of circuit times (2023-11-14T22:13:20Z): seconds since it stay below p until 2087."""
UPTIME_CADENCE_S = 600
WEIGHT_SCALE = consensus.MAX_WEIGHT
VERDICT_CACHE = 1 << 16


class UnprovableError(ValueError):
    """A statement outside what the circuit can express (its public numbers' limits)."""


def _label32(text: str) -> bytes:
    """A 32-byte label: the hex decoding of a 64-hex string, else BLAKE2s of its UTF-8."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    return raw if len(raw) == 32 else hashlib.blake2s(text.encode()).digest()


def compute_uptime_inputs(statement: UptimeStatement) -> tuple[Any, Any]:
    """Uptime public inputs and witness: a heartbeat every 600 s, online throughout."""
    start = statement.window_start - TIME_BASE_S
    end = statement.window_end - TIME_BASE_S
    clock = statement.node_clock - TIME_BASE_S
    if min(start, end, clock) < 0 or max(start, end, clock) >= uptime.TIME_LIMIT:
        raise UnprovableError("uptime window outside the circuit's time range")
    head = statement.head_hash if len(statement.head_hash) == 32 else bytes(32)
    return uptime.make_window_statement(
        _label32(statement.wallet_address),
        head,
        statement.epoch + 1,
        start,
        end,
        clock,
        statement.credited_hours,
        UPTIME_CADENCE_S,
    )


def compute_transaction_inputs(statement: TransactionBatchStatement) -> tuple[Any, Any]:
    """Transaction public inputs (batch digest, count, fees) and the transfer rows."""
    transfers = [
        transaction.Transfer(r.amount, r.fee, r.sender_before, r.recipient_before, r.nonce_before)
        for r in statement.rows
    ]
    return transaction.make_statement(statement.batch_digest, transfers)


def compute_consensus_weights(statement: ConsensusStatement) -> tuple[int, ...]:
    """Voting powers mapped to the circuit's 14-bit weights (see the module docstring)."""
    top = max(statement.weights, default=0)
    if top <= 0:
        raise UnprovableError("no voting power")
    mapped = []
    for weight, prevoted in zip(statement.weights, statement.prevoted, strict=True):
        scaled = weight * WEIGHT_SCALE
        mapped.append(-(-scaled // top) if prevoted else scaled // top)
    return tuple(mapped)


def compute_consensus_inputs(statement: ConsensusStatement) -> tuple[Any, Any]:
    """Consensus public inputs and witness over the mapped weights."""
    weights = compute_consensus_weights(statement)
    pi, witness = consensus.make_statement(
        bytes.fromhex(statement.block_hash)
        if len(statement.block_hash) == 64
        else _label32(statement.block_hash),
        statement.height,
        statement.round,
        statement.epoch,
        weights,
        [int(v) for v in statement.prevoted],
        [int(v) for v in statement.precommitted],
    )
    prevote = sum(w for w, v in zip(weights, statement.prevoted, strict=True) if v)
    precommit = sum(w for w, v in zip(weights, statement.precommitted, strict=True) if v)
    if min(prevote, precommit) < pi.quorum:
        raise UnprovableError("mapped votes miss the mapped quorum")
    return pi, witness


_MAPPERS = {
    "uptime": compute_uptime_inputs,
    "transaction": compute_transaction_inputs,
    "consensus": compute_consensus_inputs,
}


def compute_prover_inputs(statement: Statement) -> tuple[Any, Any]:
    """(public inputs, witness) of a node statement; UnprovableError outside the circuit."""
    mapper = _MAPPERS.get(statement.circuit)
    if mapper is None:
        raise UnprovableError(f"no circuit for {statement.circuit}")
    return mapper(statement)  # type: ignore[operator]  # _MAPPERS holds callables


class RealProofService:
    """The numba STARK behind the node's proof-service interface, with shared verdicts."""

    system = ProofSystemKind.NUMBA_STARK.label

    def __init__(self, profile: str = PROFILE) -> None:
        self.profile = profile
        self._verdicts: OrderedDict[bytes, VerifyOutcome] = OrderedDict()
        self._inputs: OrderedDict[bytes, tuple[Any, Any] | None] = OrderedDict()
        self.proved = 0
        self.verified = 0

    def _inputs_of(self, statement: Statement) -> tuple[Any, Any] | None:
        key = hashlib.blake2s(statement.circuit.encode() + statement.to_bytes()).digest()
        if key not in self._inputs:
            try:
                self._inputs[key] = compute_prover_inputs(statement)
            except (UnprovableError, WitnessError, ValueError):
                self._inputs[key] = None
            if len(self._inputs) > VERDICT_CACHE:
                self._inputs.popitem(last=False)
        return self._inputs[key]

    def is_provable(self, statement: Statement) -> bool:
        """Whether the circuit can express this statement (same answer on every node)."""
        return self._inputs_of(statement) is not None

    def prove(self, statement: Statement) -> bytes:
        """Proof bytes; UnprovableError if ``is_provable`` is False."""
        inputs = self._inputs_of(statement)
        if inputs is None:
            raise UnprovableError(f"{statement.circuit} statement cannot be proved")
        public_inputs, witness = inputs
        self.proved += 1
        return prove(statement.circuit, public_inputs, witness, profile=self.profile).to_bytes()

    def verify(self, statement: Statement, system: str, data: bytes) -> VerifyOutcome:
        """The verdict for these exact bytes: computed once, then reused."""
        if system != self.system:
            return VerifyOutcome(False, f"unsupported proof system {system} in verifier registry")
        key = compute_verdict_key(system, statement, data)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verify(statement, data)
            self._verdicts[key] = verdict
            if len(self._verdicts) > VERDICT_CACHE:
                self._verdicts.popitem(last=False)
        return verdict

    def verify_cost_ms(self, statement: Statement, size: int) -> int:
        """The cost model's verify time of ``statement``'s proof (never measured)."""
        return compute_verify_cost_ms(statement)

    def _verify(self, statement: Statement, data: bytes) -> VerifyOutcome:
        self.verified += 1
        try:
            proof = Proof.from_bytes(data)
        except ProofFormatError as error:
            return VerifyOutcome(False, f"malformed proof: {error}")
        inputs = self._inputs_of(statement)
        if inputs is None:
            return VerifyOutcome(False, "statement outside the circuit")
        if proof.circuit != statement.circuit or proof.public_inputs != inputs[0]:
            return VerifyOutcome(False, "public inputs mismatch")
        if proof.params.name != self.profile:
            return VerifyOutcome(
                False, f"proof profile {proof.params.name}, expected {self.profile}"
            )
        reason = verify_reason(proof, statement.circuit)
        return VerifyOutcome(
            reason is Reason.ACCEPTED, "" if reason is Reason.ACCEPTED else reason.value
        )
