"""``withhold-votes``: a validator never sends its prevotes and precommits.

In a ``coalition`` it withholds only its votes for blocks an outsider proposed (and nil
votes): allied leaders get its votes (``rppsim.sim.byzantine.coalition``).

The node runs honestly (it proposes when it leads, it follows the rounds) but every vote it
signs is dropped before it leaves; votes of others it re-gossips (a locked node's evidence)
still go out. Its power is missing from every quorum, so with more than a third of the power
withholding the chain stalls.

The chain's participation detectors catch it (``rppsim.node.participation``, a port of the
crate's detectors in ``HUBId/chain:rpp/consensus/src/state.rs``): every block's carried
certificate lacks the withholder, so every third block records censorship of its prevotes
and of its precommits, and every fourth its inactivity. Each detection withholds that block's
reward and multiplies its score by 0.9 (censorship) or 0.8 (inactivity).

Verdicts that notice it: the ``evidence`` frame has ``censorship_prevote``,
``censorship_precommit`` and ``inactivity`` rows naming the withholder; its ``ledger`` rows
fall behind the honest validators' in ``consensus_success`` (a reward lost at every
detection) and in ``score``; its votes are absent from the ``votes`` frame. ``safety``,
``agreement`` and the liveness verdicts hold while the withholders stay below a third of the
power; ``evidence`` (``rppsim.checks.evidence``) fails, naming the withholder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rppsim.node.messages import SignedBftVote
from rppsim.sim.byzantine.base import Behaviour

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

WITHHOLD_VOTES = "withhold-votes"


class WithholdVotes(Behaviour):
    """Drops the node's own votes."""

    kind = WITHHOLD_VOTES

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """An own vote is dropped; everything else goes out."""
        if not isinstance(message, SignedBftVote) or message.vote.voter != sim.addresses[i]:
            return None
        if self.allies and self._is_allied(sim, i, message.vote.block_hash):
            return None
        return []

    def _is_allied(self, sim: Simulation, i: int, block_hash: str) -> bool:
        """Whether an ally of the coalition proposed the block (as node ``i`` holds it)."""
        node = sim.slots[i].node
        block = None if node is None else node.hs.blocks.get(block_hash)
        return block is not None and sim.index.get(block.header.proposer) in self.allies
