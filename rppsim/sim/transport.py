"""Messages between nodes: a publish floods the network model (``Network.flood``: every
receiver gets its copy at its own sampled arrival time) and a send is one unicast; each copy
is processed by its receiver when it lands, held while the receiver is paused and dropped
while it is crashed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rppsim.node.messages import SignedBftVote, VoteKind
from rppsim.node.node import Node
from rppsim.sim.faults import NodeState
from rppsim.sim.gossip import DropReason

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

REASON_NAMES = {int(r): r.name.lower() for r in DropReason}


@dataclass(slots=True)
class Flight:
    """One published message on its way: receivers in arrival order, the next one to land."""

    message: Any
    cost_us: int
    times: list[int]
    receivers: list[int]
    senders: list[int]
    next: int = 0


class Transport:
    """``sim``'s messages in flight; counts the copies delivered and dropped."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.msg_ids = 0
        self.deliveries = 0
        self.dropped = 0

    def publish(self, i: int, at_ms: int, topic: str, message: Any) -> None:
        """Flood ``message`` from node ``i`` at ``at_ms`` and record it (and a vote's row)."""
        sim = self.sim
        self.msg_ids += 1
        msg_id = self.msg_ids
        size = message.size_bytes
        topic = str(topic)
        arrivals = sim.network.flood(i, at_ms, size, topic, sim.faults.view_at(at_ms))
        sim.recorder.record_flood(
            msg_id,
            topic,
            i,
            at_ms,
            size,
            arrivals.receivers,
            arrivals.recv_ms,
            arrivals.hops,
            arrivals.dropped,
            arrivals.dropped_reason,
            REASON_NAMES,
        )
        if isinstance(message, SignedBftVote):
            vote = message.vote
            kind = "prevote" if vote.kind is VoteKind.PRE_VOTE else "precommit"
            sim.recorder.record_vote(
                vote.height, vote.round, kind, i, vote.block_hash, at_ms, len(arrivals.receivers)
            )
        if len(arrivals.receivers):
            flight = Flight(
                message,
                sim.costs.message_us(message),
                arrivals.recv_ms.tolist(),
                arrivals.receivers.tolist(),
                arrivals.senders.tolist(),
            )
            sim._at(flight.times[0], self.land, flight)

    def land(self, flight: Flight) -> None:
        """Deliver every copy of ``flight`` due now (flood order), then wait for the next."""
        sim = self.sim
        times, k = flight.times, flight.next
        now, count = times[k], len(times)
        receivers, senders, addresses = flight.receivers, flight.senders, sim.addresses
        slots, message, cost = sim.slots, flight.message, flight.cost_us
        running, paused = NodeState.RUNNING, NodeState.PAUSED
        while k < count and times[k] == now:
            i = receivers[k]
            slot = slots[i]
            state = slot.state
            if state is running:
                self.deliveries += 1
                sim._process(i, cost, Node.on_message, addresses[senders[k]], message)
            elif state is paused:
                slot.held.append((addresses[senders[k]], message, cost))
            else:
                self.dropped += 1
            k += 1
        flight.next = k
        if k < count:
            sim._at(times[k], self.land, flight)

    def send(self, i: int, at_ms: int, peer: str, message: Any) -> None:
        """Unicast ``message`` from node ``i`` to the node at address ``peer`` (if any)."""
        sim = self.sim
        j = sim.index.get(peer)
        if j is None:
            return
        self.msg_ids += 1
        size = message.size_bytes
        delivery = sim.network.unicast(i, j, at_ms, size, sim.faults.view_at(at_ms))
        reason = (
            ""
            if delivery.delivered
            else (delivery.reason.name.lower() if delivery.reason else "lost")
        )
        sim.recorder.record_unicast(
            self.msg_ids, "unicast", i, at_ms, size, j, delivery.recv_ms, delivery.hops, reason
        )
        if delivery.delivered:
            cost = sim.costs.message_us(message)
            sim._at(delivery.recv_ms, self.deliver, j, sim.addresses[i], message, cost)

    def deliver(self, i: int, sender: str, message: Any, cost_us: int) -> None:
        """One copy reaches node ``i``: processed, held (paused) or dropped (crashed)."""
        slot = self.sim.slots[i]
        state = slot.state
        if state is NodeState.RUNNING:
            self.deliveries += 1
            self.sim._process(i, cost_us, Node.on_message, sender, message)
        elif state is NodeState.PAUSED:
            slot.held.append((sender, message, cost_us))
        else:
            self.dropped += 1
