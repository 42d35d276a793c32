"""Node processing costs charged in simulated time (docs/architecture.md#determinism,
docs/architecture.md#prover-modes).

Each node is a single processor: a message that arrives at ``t`` starts when the node is idle
(``max(t, busy_until)``) and its effects leave when its processing ends. Costs are
deterministic functions of what the node checks, never measurements of this process:

* cryptography: the constants below, per check a node performs (one ed25519 verification per
  signed message, two for double-sign evidence, one per certificate vote of a commit it
  syncs, one ECVRF verification per VRF submission, ...);
* proofs: proving and verifying time from the prover's cost-model calibration file
  (``rppsim bench prover`` writes it), looked up by circuit, profile and trace rows.

The constants are what a native node spends on commodity hardware (libsodium ed25519 verify
≈ 50 µs, ECVRF verify ≈ 150 µs, prove ≈ 100 µs); a scenario can turn costs off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rppsim.node.messages import (
    Commit,
    Evidence,
    IdentityRequest,
    Proposal,
    SignedBftVote,
    Transaction,
    UptimeProof,
    VrfSubmissionMsg,
)


@dataclass(frozen=True, slots=True)
class CostConstants:
    """Per-check costs in microseconds."""

    message_us: int = 10
    """Decoding and bookkeeping of any message."""
    signature_us: int = 50
    vrf_verify_us: int = 150
    vrf_prove_us: int = 100
    transfer_apply_us: int = 5
    account_hash_us: int = 2
    selection_per_submission_us: int = 3


ProofCost = Callable[[str, int, bool], int]
"""(circuit, trace rows, proving?) → microseconds: the prover's cost model."""


def compute_rows(count: int, minimum_log2: int = 3) -> int:
    """Trace rows of a circuit with ``count`` items: the next power of two, at least 2^3."""
    rows = 1 << minimum_log2
    while rows < count:
        rows <<= 1
    return rows


class CostModel:
    """Microseconds a node spends on each input; zero everywhere when disabled."""

    def __init__(
        self, enabled: bool, proof_cost: ProofCost, constants: CostConstants | None = None
    ) -> None:
        self.enabled = enabled
        self.proof_cost = proof_cost
        self.c = constants or CostConstants()

    def message_us(self, message: object) -> int:
        """Cost of receiving ``message`` (checks the node performs on it)."""
        if not self.enabled:
            return 0
        c = self.c
        if isinstance(message, SignedBftVote | Transaction):
            return c.message_us + c.signature_us
        if isinstance(message, Evidence):
            return c.message_us + max(len(message.votes), 1) * c.signature_us
        if isinstance(message, VrfSubmissionMsg):
            return c.message_us + c.vrf_verify_us
        if isinstance(message, UptimeProof):
            return c.message_us + self.proof_cost("uptime", compute_rows(1), False)
        if isinstance(message, IdentityRequest):
            return c.message_us + c.signature_us + c.vrf_verify_us
        if isinstance(message, Proposal):
            return (
                self.block_us(
                    message.block.transactions,
                    len(message.block.vrf_submissions),
                    message.block.proofs,
                )
                + c.signature_us
            )
        if isinstance(message, Commit):
            certificate = message.certificate
            signatures = len(certificate.pre_votes) + len(certificate.pre_commits)
            block = message.block
            return (
                self.block_us(block.transactions, len(block.vrf_submissions), block.proofs)
                + signatures * c.signature_us
            )
        return c.message_us

    def block_us(self, transactions: tuple, submissions: int, proofs: tuple) -> int:
        """Checking a block: signatures, VRF set, selection, proofs, applying the transfers."""
        c = self.c
        cost = c.message_us + len(transactions) * (c.signature_us + c.transfer_apply_us)
        cost += submissions * (c.vrf_verify_us + c.selection_per_submission_us)
        cost += (len(transactions) * 2 + submissions) * c.account_hash_us
        for slot in proofs:
            rows = (
                compute_rows(len(transactions))
                if slot.circuit == "transaction"
                else compute_rows(submissions)
            )
            cost += self.proof_cost(slot.circuit, rows, False)
        return cost

    def proving_us(self, circuit: str, items: int) -> int:
        """Cost of producing a proof over ``items`` rows of work."""
        if not self.enabled:
            return 0
        return self.proof_cost(circuit, compute_rows(items), True)

    def timer_us(self) -> int:
        """Cost of a timer firing (bookkeeping only; proving is charged separately)."""
        return self.c.message_us if self.enabled else 0
