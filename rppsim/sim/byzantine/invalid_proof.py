"""``invalid-proof``: every proof the node sends is corrupted.

* Its uptime claims (``UptimeProof``, every uptime cadence of 600 s) carry a corrupted zk
  proof → honest nodes reject them ("uptime: <reason>").
* The blocks it proposes carry a corrupted transfer-batch proof, consensus proof and uptime
  claims' proofs (the header's uptime root and recursive commitment recomputed over them, so
  only the proofs are wrong) → "proposal: uptime proof: …" or "proposal: transaction proof:
  …" / "proposal: consensus proof: …"; the round times out and the next leader decides the
  height (with leader rotation).
* The commits it answers sync requests with carry the same corrupted block → "commit: …";
  the lagging node asks another peer.

``mode = "tamper"`` flips one bit of each proof: the verifier rejects it ("invalid proof" in
the model prover, the STARK verifier's reason in the real one). ``mode = "oversized"`` pads
each proof to one byte above the largest ``max_proof_size_bytes`` of the run's profiles: the
size gate rejects it before any verifier runs ("proof size gate failed … proof too large").

Verdicts that notice it: the ``rejections`` frame at every honest node; ``g13-size-gate``
fails on the size-gate rejections (``oversized``); ``g11-verifier-sla`` fails when the
rejected verifications exceed 2 % of a backend's (``tamper``, real prover); the bad proofs
never reach a finalized block, so the ``proofs`` frame and ``g12``/``g17`` stay clean. With
the ``consensus_enforcement`` gate on (the default), a node that receives the signed proposal
raises ``invalid_proof`` evidence against its proposer (``rppsim.node.evidence``): once a
block carries it, the proposer loses 25 % of its stake and its ZSI, and the ``evidence``
verdict fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rppsim.node.messages import Commit, Proposal, UptimeProof, sign_proposal
from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.byzantine.rebuild import corrupt_block_proofs, corrupt_uptime_proof

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

INVALID_PROOF = "invalid-proof"


class InvalidProof(Behaviour):
    """Corrupts the proofs in the node's uptime claims, proposals and sync answers."""

    kind = INVALID_PROOF

    def __init__(self, entry: Entry, max_proof_size_bytes: int) -> None:
        super().__init__(entry)
        self.mode = entry.spec.mode
        self.limit = max_proof_size_bytes

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """Own uptime claims and own proposals leave with corrupted proofs."""
        if isinstance(message, UptimeProof) and message.wallet_address == sim.addresses[i]:
            return [corrupt_uptime_proof(message, self.mode, self.limit)]
        if isinstance(message, Proposal) and message.proposer == sim.addresses[i]:
            block = corrupt_block_proofs(message.block, self.mode, self.limit)
            if block == message.block:
                return None  # nothing to corrupt
            return [sign_proposal(block, message.round, sim.keys[i].keypair)]
        return None

    def send(self, sim: Simulation, i: int, at_ms: int, message: Any) -> Any | None:
        """A commit sent to a syncing peer carries the corrupted block."""
        if not isinstance(message, Commit):
            return None
        return Commit(
            corrupt_block_proofs(message.block, self.mode, self.limit), message.certificate
        )


def build_invalid_proof(sim: Simulation, entry: Entry) -> InvalidProof:
    """Entry ``entry``'s behaviour; "oversized" means above every profile's size gate."""
    limit = max(config.max_proof_size_bytes for config in sim.node_configs)
    return InvalidProof(entry, limit)
