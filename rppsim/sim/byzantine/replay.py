"""``replay``: a node sends its old consensus messages again, ``delay_ms`` later.

Every vote and proposal the node signs, and every commit it persists, is flooded again
``delay_ms`` after it first left (default 10 s, two block times), unchanged: valid signatures
over messages of a height the network has moved past. Honest nodes refuse them by the height
("vote: vote references an already finalized height", "proposal: for a finalized height",
"commit: for a finalized height"), or as duplicates when the delay is shorter than the height
("vote: duplicate vote", "proposal: duplicate proposal"); nothing of a replayed message is
applied (a late vote is at most kept for the participation record, where a copy changes
nothing). The replay stops while the node is down.

Verdicts that notice it: the ``rejections`` frame at every honest node; ``safety``,
``agreement``, ``accountability`` (the replayed votes are the same votes, not equivocations)
and the liveness verdicts all hold, and the ledger frames show no slashing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rppsim.node.messages import Commit, GossipTopic, Proposal, SignedBftVote
from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.faults import NodeState

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

REPLAY = "replay"


class Replay(Behaviour):
    """Schedules a second copy of each consensus message the node sends."""

    kind = REPLAY

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry)
        self.delay_ms = entry.spec.delay_ms
        self.replayed = 0
        """Messages sent a second time."""

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """Own votes and proposals go out now and again later."""
        if isinstance(message, SignedBftVote) and message.vote.voter == sim.addresses[i]:
            self._later(sim, i, at_ms, GossipTopic.VOTES, message)
        elif isinstance(message, Proposal) and message.proposer == sim.addresses[i]:
            self._later(sim, i, at_ms, GossipTopic.BLOCKS, message)
        return None

    def on_commit(self, sim: Simulation, i: int, at_ms: int, commit: Any) -> None:
        """A persisted commit is flooded later (the chain sends commits only on sync)."""
        if isinstance(commit, Commit) and self.is_active(i, at_ms):
            self._later(sim, i, at_ms, GossipTopic.BLOCKS, commit)

    def _later(self, sim: Simulation, i: int, at_ms: int, topic: str, message: Any) -> None:
        sim._at(at_ms + self.delay_ms, self._resend, sim, i, topic, message)

    def _resend(self, sim: Simulation, i: int, topic: str, message: Any) -> None:
        now = sim._now()
        if sim.slots[i].state is not NodeState.RUNNING or not self.is_active(i, now):
            return
        self.replayed += 1
        sim._publish(i, now, topic, message)
