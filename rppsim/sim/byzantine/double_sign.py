"""``double-sign``: a validator votes for the round's proposal and for a real rival block.

Whenever a byzantine validator signs a prevote or precommit for a block its node holds (the
round's proposal A), the behaviour builds a second valid block B of the same height and round
(``build_variant_block``: A with its timestamp moved by 1 ms inside the same second, so B
passes every check A passes) and sends, instead of flooding the honest vote, the vote for A to
one half of the other nodes and a signed vote of the same kind for B to the other half. The
halves are drawn once per entry from ``("byzantine", "double-sign", index)`` as the
``equivocate`` halves are (``compute_halves``); the entry's other nodes get both votes. Nil
precommits and votes for blocks the node does not hold go out unchanged.

No honest node sees both votes on the wire. The chain catches the pair when a certificate
carries the A vote to a node that holds the B vote: the commit certificate of a synced block,
or the certificate of A that the next block carries, which its leader fills with every vote
for A it holds (``rppsim.node.rounds``, ``_carried_conflicts``). That node makes double-sign
evidence and gossips it; the next block includes it and slashes the signer (10 % of its stake,
reputation and timetoke reset, out of the validator set for good).

Verdicts that notice it: ``accountability`` counts the equivocations in the ``votes`` frame
(both of the signer's votes are recorded there, with their receivers) and passes only when
each is slashed within 10 heights; the ``evidence`` frame names the signer; its ``ledger`` rows
show ``slashed`` = 10 % of its genesis stake and tier 0; ``evidence``
(``rppsim.checks.evidence``) fails, naming it. ``safety`` and ``agreement`` hold (one signer is
below a third of the power).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rppsim.node.consensus import NIL
from rppsim.node.messages import BftVote, SignedBftVote, VoteKind, sign_vote
from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.byzantine.equivocate import build_variant_block, compute_halves

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

DOUBLE_SIGN = "double-sign"


class DoubleSign(Behaviour):
    """An entry's double signers and the two halves of the other nodes."""

    kind = DOUBLE_SIGN

    def __init__(self, entry: Entry, halves: tuple[Sequence[int], Sequence[int]]) -> None:
        super().__init__(entry)
        self.half_a, self.half_b = halves
        self.variants: dict[str, str] = {}
        """Block A's hash → the hash of its rival B (one rival per block)."""

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """An own vote for a held block goes to half A; its twin for block B to half B."""
        if not isinstance(message, SignedBftVote):
            return None
        vote = message.vote
        node = sim.slots[i].node
        if vote.voter != sim.addresses[i] or vote.block_hash == NIL or node is None:
            return None
        block = node.hs.blocks.get(vote.block_hash)
        if block is None or block.header.height != vote.height:
            return None
        rival = self.variants.get(block.hash)
        if rival is None:
            rival = self.variants[block.hash] = build_variant_block(block).hash
        twin = sign_vote(
            BftVote(vote.round, vote.height, rival, vote.voter, vote.kind), sim.keys[i].keypair
        )
        others = [m for m in sorted(self.nodes) if m != i]
        for signed, half in ((message, self.half_a), (twin, self.half_b)):
            receivers = [j for j in (*half, *others) if j != i]
            for j in receivers:
                sim._send(i, at_ms, sim.addresses[j], signed)
            label = "prevote" if vote.kind is VoteKind.PRE_VOTE else "precommit"
            block_hash = signed.vote.block_hash
            sim.recorder.record_vote(
                vote.height, vote.round, label, i, block_hash, at_ms, len(receivers)
            )
        return []


def build_double_sign(sim: Simulation, entry: Entry) -> DoubleSign:
    """Entry ``entry``'s behaviour, with halves drawn from ``("byzantine", kind, index)``."""
    honest = [v for v in range(sim.scenario.nodes.count) if v not in entry.nodes]
    rng = sim.tree.generator("byzantine", DOUBLE_SIGN, entry.index)
    return DoubleSign(entry, compute_halves(honest, sim.scenario.nodes.validators, rng))
