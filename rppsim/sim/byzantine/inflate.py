"""``inflate-timetoke``: a validator gossips a forged timetoke record that gives it the cap.

The chain merges a peer's ``TimetokeDeltaBroadcast`` records unauthenticated: a record whose
``last_update`` is newer than the local last proof replaces the balance (``merge_snapshot``,
HUBId/chain:rpp/reputation/mod.rs; docs/protocol.md#timetoke, docs/protocol.md#known-weaknesses). So
after each block the node
finalizes, ``delay_ms`` later (default 2000 ms: every honest node has the block by then and
the next one is not proposed yet), it floods a record of its own account with the accrual cap
(720 h) and a ``last_update`` fixed at its first forgery, and hands the same record to itself.
One copy suffices; the repeats only reach nodes that missed it and change nothing elsewhere.

Hours feed the voting power (× (min(h, 720) + 1)), the leader order (highest hours after the
tier) and the score, and the node's own submissions then declare the merged hours, so
``check_declared_tier`` passes them too. Under the chain's rule the forger holds most of every
committee's power and leads every height (``electorates`` and ``blocks`` frames); with
``[rules] authenticate_timetoke_merge = true`` every node refuses the record ("timetoke: hours
above the observed uptime" in ``rejections``) and nothing changes.

Verdicts that notice it: none; the ``electorates`` power share, the ``blocks`` proposer share
and the ``ledger`` frame's ``timetoke_hours`` show it, and ``g21-timetoke-slo`` only bounds
hours by the cap, which the forgery respects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rppsim.node.messages import GossipTopic, TimetokeDeltaBroadcast, TimetokeRecordMsg
from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.faults import NodeState

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

INFLATE_TIMETOKE = "inflate-timetoke"
DELAY_MS = 2000
"""How long after a finalized block the forged record leaves."""


class InflateTimetoke(Behaviour):
    """Floods a forged timetoke record of the node's own account after each block."""

    kind = INFLATE_TIMETOKE

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry)
        self.forged_at: dict[int, int] = {}
        """Per node, the ledger second of its first forgery (every record carries it)."""
        self.forged = 0
        """Forged broadcasts sent."""

    def on_commit(self, sim: Simulation, i: int, at_ms: int, commit: Any) -> None:
        """Forge ``DELAY_MS`` after each block the node finalizes in the window."""
        if self.is_active(i, at_ms):
            sim._at(at_ms + DELAY_MS, self._forge, sim, i)

    def _forge(self, sim: Simulation, i: int) -> None:
        now = sim._now()
        node = sim.slots[i].node
        if node is None or sim.slots[i].state is not NodeState.RUNNING:
            return
        if not self.is_active(i, now):
            return
        stamp = self.forged_at.setdefault(i, node.genesis_time_s + sim.local_ms(i, now) // 1000)
        hours = node.config.reputation.timetoke.accrual_cap_hours
        record = TimetokeRecordMsg(node.address, hours, 0, stamp, stamp, 0)
        message = TimetokeDeltaBroadcast(node.ledger.get_timetoke_root(), (record,))
        self.forged += 1
        sim._deliver(i, node.address, message, sim.costs.message_us(message))
        sim._publish(i, now, GossipTopic.META, message)
