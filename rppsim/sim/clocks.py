"""Node clocks under clock-skew faults: the local time a node reads at a true time, the true
time at which its clock reaches a deadline, and the node timers that run on them.

A node without a skew reads true time. A skew adds its offset and its drift (ppm of the time
since it started) while it is active; the kernel moves a node's pending timers when one of its
skews starts or ends (``Timers.reschedule``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rppsim.node.effects import Timer
from rppsim.node.node import Node
from rppsim.sim.faults import ClockSkew, FaultSpec, NodeState

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

NEVER_MS = 2**62


def compute_local_ms(skews: tuple[ClockSkew, ...], t_ms: int) -> int:
    """A clock under ``skews`` (those active at ``t_ms`` count): t + offset + drift."""
    local = t_ms
    for spec in skews:
        until = NEVER_MS if spec.until_ms is None else spec.until_ms
        if spec.at_ms <= t_ms < until:
            local += spec.offset_ms + (t_ms - spec.at_ms) * spec.drift_ppm // 1_000_000
    return local


def compute_true_ms(skews: tuple[ClockSkew, ...], deadline_ms: int, now_ms: int) -> int:
    """The first true time ≥ ``now_ms`` at which the clock reads ``deadline_ms``, assuming
    the skews active at ``now_ms`` stay active (the kernel reschedules when they change)."""
    active = tuple(
        s for s in skews if s.at_ms <= now_ms < (NEVER_MS if s.until_ms is None else s.until_ms)
    )
    frozen = tuple(replace(s, until_ms=None) for s in active)
    local_now = compute_local_ms(frozen, now_ms)
    if local_now >= deadline_ms:
        return now_ms
    rate = 1_000_000 + sum(s.drift_ppm for s in frozen)
    t = now_ms + -(-(deadline_ms - local_now) * 1_000_000 // rate)
    while compute_local_ms(frozen, t) < deadline_ms:
        t += 1
    while t - 1 > now_ms and compute_local_ms(frozen, t - 1) >= deadline_ms:
        t -= 1
    return t


def compute_node_skews(faults: Iterable[FaultSpec], n: int) -> list[tuple[ClockSkew, ...]]:
    """Each node's clock-skew specs (most nodes have none: their clock is true time)."""
    skews: list[list[ClockSkew]] = [[] for _ in range(n)]
    for spec in faults:
        if isinstance(spec, ClockSkew):
            for node in spec.nodes:
                skews[node].append(spec)
    return [tuple(s) for s in skews]


class Timers:
    """``sim``'s pending node timers: each fires when its node's clock reads its deadline,
    is lost with the node's generation (a crash), and waits for the resume while the node
    is paused."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.timer_ids = 0

    def set(self, i: int, node: Node, at_ms: int, deadline: int, timer: Timer) -> None:
        """Fire ``timer`` when node ``i``'s clock reads ``deadline`` (not before ``at_ms``)."""
        sim = self.sim
        self.timer_ids += 1
        token = self.timer_ids
        sim.slots[i].timers[token] = (deadline, timer)
        skews = sim.skews[i]
        fire = compute_true_ms(skews, deadline, at_ms) if skews else max(deadline, at_ms)
        sim._at(fire, self.fire, i, node, token)

    def reschedule(self, i: int) -> None:
        """Node ``i``'s clock jumped or changed rate: move its pending timers."""
        sim = self.sim
        slot = sim.slots[i]
        if slot.node is None:
            return
        pending, slot.timers = slot.timers, {}
        for deadline, timer in pending.values():
            self.set(i, slot.node, sim._now(), deadline, timer)

    def fire(self, i: int, generation: Node, token: int) -> None:
        """A timer falls due: run it, hold it (paused), or drop it (another generation, or
        moved by a clock change)."""
        sim = self.sim
        slot = sim.slots[i]
        if slot.node is not generation:
            return
        entry = slot.timers.pop(token, None)
        if entry is None:
            return  # rescheduled after a clock change
        if slot.state is NodeState.PAUSED:
            slot.held.append(("", entry[1], sim.costs.timer_us()))  # runs on resume
            return
        sim._process(i, sim.costs.timer_us(), Node.on_timer, entry[1])
