"""Evidence against a proposer: the ``consensus_enforcement`` feature gate
(docs/operations.md#rollout).

With the gate on, ``HUBId/chain:rpp/runtime/node.rs`` verifies vote signatures and punishes
three proposer faults; with it off all of these are skipped. The chain punishes locally
(``slash_validator`` on its own ledger), which would make state roots of different nodes
diverge; rppsim turns each fault into evidence that a block carries and every node checks
and applies identically (docs/protocol.md#evidence, docs/protocol.md#slashing):

* ``INVALID_IDENTITY`` (port addition): a signed proposal whose block registers an identity
  the ledger refuses. The chain slashes the proposer for an invalid identity declaration
  (``punish_invalid_identity``, and the leader's own ``slash_validator(&self.address,
  InvalidIdentity)`` when a pending identity fails): ``InvalidIdentity``, 50 %.
* ``INVALID_PROOF``: a signed proposal whose block carries a proof that fails the size gate
  or the verifier (the chain's "failed external consensus proof → InvalidProof"):
  ``InvalidVote``, 25 %.
* ``INVALID_PROPOSAL``: a signed proposal whose block spends a nonce twice (a nonce the
  sender already used, or one nonce twice in the block; the chain's "double spend in an
  external block → InvalidProposal"): ``ConsensusFault``, 10 %.

The evidence carries the offending ``Proposal``'s canonical bytes: the proposer's signature
binds it to the block, and the block's fault is re-checked against the ledger before the
height — so proposal evidence is valid only within the height it names, and a block of a
later round of that height carries it. Departures: the chain slashes on sight, rppsim when
the evidence is finalized; the sender of a double spend is not punished (the chain does not
either: its transaction is merely rejected). A node with the gate off neither raises nor
admits gossiped proposal evidence, but it applies what a block carries, since the header's
state root commits to it (a network whose nodes all run with the gate off never sees any).
Nodes judge a proof with their own ``max_proof_size_bytes``: where profiles differ, a proof
between two limits makes the same nodes refuse the block and, later, its evidence.
"""

from __future__ import annotations

from rppsim.node.codec import DecodeError
from rppsim.node.ledger import Ledger, SlashingReason
from rppsim.node.messages import (
    Block,
    Evidence,
    EvidenceKind,
    Proposal,
    Transaction,
    decode_message,
    is_valid_proposal_signature,
)

__all__ = [
    "PROOF_PROBLEM_PREFIXES",
    "PROPOSAL_KINDS",
    "compute_offence_kind",
    "compute_proposal_evidence",
    "compute_proposal_evidence_shape_problem",
    "find_double_spend",
    "get_evidence_proposal",
    "get_slashing_reason",
]

PROPOSAL_KINDS = frozenset(
    {EvidenceKind.INVALID_PROOF, EvidenceKind.INVALID_PROPOSAL, EvidenceKind.INVALID_IDENTITY}
)
"""Evidence kinds that carry a signed proposal rather than conflicting votes."""
PROOF_PROBLEM_PREFIXES = (
    "uptime proof: ",
    "transaction proof: ",
    "consensus proof: ",
    "unexpected number of block proofs",
)
"""``compute_block_problem`` reasons of a block whose proofs fail (``rppsim.node.blocks``)."""
IDENTITY_PROBLEM_PREFIX = "identity rejected: "
DOUBLE_SPEND_PROBLEM_SUFFIX = "rejected: invalid_nonce"

_SLASHING_REASONS = {
    EvidenceKind.DOUBLE_SIGN_PREVOTE: SlashingReason.ConsensusFault,
    EvidenceKind.DOUBLE_SIGN_PRECOMMIT: SlashingReason.ConsensusFault,
    EvidenceKind.INVALID_PROOF: SlashingReason.InvalidVote,
    EvidenceKind.INVALID_PROPOSAL: SlashingReason.ConsensusFault,
    EvidenceKind.INVALID_IDENTITY: SlashingReason.InvalidIdentity,
}


def get_slashing_reason(kind: EvidenceKind) -> SlashingReason:
    """``apply_evidence``'s mapping (docs/protocol.md#evidence): double sign and invalid proposal →
    ConsensusFault (10 %), invalid proof → InvalidVote (25 %), invalid identity →
    InvalidIdentity (50 %)."""
    return _SLASHING_REASONS[EvidenceKind(kind)]


def find_double_spend(block: Block, ledger: Ledger) -> Transaction | None:
    """The first transaction of ``block`` whose nonce its sender already used, on ``ledger``
    (the state before the block) or earlier in the block; None if there is none."""
    used: dict[str, int] = {}
    for tx in block.transactions:
        last = used.get(tx.sender)
        if last is None:
            account = ledger.get_account(tx.sender)
            last = 0 if account is None else account.nonce
        if tx.nonce <= last:
            return tx
        used[tx.sender] = tx.nonce
    return None


def compute_offence_kind(problem: str, double_spend: bool) -> EvidenceKind | None:
    """The punishable fault a block's first problem shows, if any: a failing identity, a
    failing proof, or (``double_spend``: ``find_double_spend`` found one) a nonce reused."""
    if problem.startswith(IDENTITY_PROBLEM_PREFIX):
        return EvidenceKind.INVALID_IDENTITY
    if problem.startswith(PROOF_PROBLEM_PREFIXES):
        return EvidenceKind.INVALID_PROOF
    if double_spend and problem.endswith(DOUBLE_SPEND_PROBLEM_SUFFIX):
        return EvidenceKind.INVALID_PROPOSAL
    return None


def compute_proposal_evidence(proposal: Proposal, kind: EvidenceKind) -> Evidence:
    """Evidence of ``kind`` against the proposer of ``proposal``."""
    return Evidence(
        kind,
        proposal.proposer,
        proposal.block.header.height,
        proposal.round,
        None,
        (proposal.block.hash,),
        (),
        proposal.to_bytes(),
    )


def get_evidence_proposal(evidence: Evidence) -> Proposal | None:
    """The proposal the evidence carries, decoded; None when absent or malformed."""
    if evidence.proposal is None:
        return None
    try:
        message = decode_message(evidence.proposal)
    except DecodeError:
        return None
    return message if isinstance(message, Proposal) else None


def compute_proposal_evidence_shape_problem(evidence: Evidence, height: int) -> str | None:
    """Why proposal evidence is malformed for the height being decided (None: well formed).

    It must carry a proposal signed by the accused for (height, round), name its block, and
    carry no proposal evidence itself (the re-check of its block stays one level deep).
    """
    proposal = get_evidence_proposal(evidence)
    if proposal is None:
        return "evidence carries no proposal"
    block = proposal.block
    if (
        evidence.height != height
        or block.header.height != height
        or proposal.round != evidence.round
    ):
        return "proposal evidence for another height or round"
    if proposal.proposer != evidence.address or not is_valid_proposal_signature(proposal):
        return "proposal not signed by the accused"
    if evidence.vote_kind is not None or evidence.votes or evidence.block_hashes != (block.hash,):
        return "proposal evidence with vote fields"
    if any(item.kind in PROPOSAL_KINDS for item in block.evidence):
        return "nested proposal evidence"
    return None
