"""A node's life across crashes, restarts and pauses (the fault schedule's node transitions).

A crash loses everything but what the node persisted: the ``Node`` object, its timers and
the inputs held for it. What it persisted lives in three directories
(``rppsim.node.persistence``): data_dir (its commits and its sign state), snapshot_dir (the
state of its latest pruning cycle) and proof_cache_dir (its verifier's proof cache). A restart
builds a new ``Node`` from all three. A restart with ``keep_data = false`` loses the data_dir
and every directory the profile places inside it (``./data/snapshots`` and ``./data/proofs``
by default): the node starts from a surviving snapshot when the ``reconstruction`` gate is on,
else from genesis, and catches up from its peers. It starts at once, or at the resume when the
schedule restarts it into a pause. A pause holds every input (messages, timers, the collector's
answers) until the resume runs them in arrival order. A ``[[stage]]`` (``rppsim.sim.stages``)
is a crash and a restart onto the stage's profile: the node's profile changes when it goes
down, so the new ``Node`` runs it.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from rppsim.node.effects import Timer
from rppsim.node.messages import Commit
from rppsim.node.node import Node, SignState
from rppsim.node.persistence import PersistedState
from rppsim.sim.faults import NodeState, Transition

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

START_KINDS = (
    "crash",
    "churn_down",
    "upgrade_down",
    "pause",
    "partition_start",
    "degrade_start",
    "skew_start",
)
INSTANT_KINDS = ("heal",)
UP_KINDS = ("restart", "churn_up", "upgrade_up")
NODE_KINDS = ("crash", "churn_down", "upgrade_down", *UP_KINDS, "pause", "resume")
"""The transitions that change a node's state."""


@dataclass(slots=True)
class NodeSlot:
    """The kernel's view of one node: the object, its processor, timers and fault state."""

    node: Node | None
    busy_until_us: int = 0
    state: NodeState = NodeState.RUNNING
    """Set only from the fault schedule (``Lifecycle.enter``); CRASHED iff ``node`` is None."""
    held: list[tuple[str, Any, int]] = field(default_factory=list)
    """(sender, message or Timer, cost µs) that reached the node while it was paused; an item
    None is the start of a node restarted straight into a pause."""
    persisted: list[Commit] = field(default_factory=list)
    """The data_dir's commits, in finalization order."""
    sign_state: SignState | None = None
    """The node's last persisted ``SignState`` (what it signed at the undecided height)."""
    disk: PersistedState = field(default_factory=PersistedState)
    """The snapshot_dir and proof_cache_dir as the node left them at its last crash."""
    timers: dict[int, tuple[int, Timer]] = field(default_factory=dict)
    """Pending timers: token → (local deadline ms, timer)."""
    lost_rejections: Counter[str] = field(default_factory=Counter)
    """Rejection counts of generations lost in crashes (the node's counts are cumulative)."""


def is_inside(path: str, folder: str) -> bool:
    """Whether the configured ``path`` lies inside ``folder`` (both as the profile writes
    them: relative paths against the same working directory)."""
    inner, outer = PurePosixPath(posixpath.normpath(path)), posixpath.normpath(folder)
    return inner == PurePosixPath(outer) or inner.is_relative_to(outer)


def compute_phase(kind: str) -> str:
    """A transition's phase in the faults frame: start, instant or end."""
    if kind in START_KINDS or kind == "telemetry_outage_start":
        return "start"  # the collector reads the schedule at each emit
    return "instant" if kind in INSTANT_KINDS else "end"


class Lifecycle:
    """Applies the fault schedule's transitions to ``sim``'s node slots."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def on_transition(self, transition: Transition) -> None:
        """Record a transition in the faults frame and apply it to its node."""
        sim = self.sim
        kind, i, now = transition.kind, transition.node, sim._now()
        sim.recorder.record_fault(
            now, kind, compute_phase(kind), [] if i < 0 else [i], transition.detail
        )
        if kind == "upgrade_down":
            sim.node_configs[i] = sim.stage_configs[transition.fault]
        if kind in UP_KINDS and not transition.keep_data:
            self.wipe(i)
        if kind in NODE_KINDS:
            state = sim.faults.get_node_state(i, now)
            self.enter(i, state)
            slot = sim.slots[i]
            assert slot.state is state and (slot.node is None) is (state is NodeState.CRASHED)
            assert state is NodeState.PAUSED or not slot.held, (i, now, state)
        elif kind in ("skew_start", "skew_end"):
            sim.timers.reschedule(i)

    def enter(self, i: int, state: NodeState) -> None:
        """Move node ``i`` to the schedule's ``state`` (several transitions of one instant
        resolve to the state at that instant; the later ones find nothing to do)."""
        slot = self.sim.slots[i]
        old, slot.state = slot.state, state
        if old is state:
            return
        if state is NodeState.CRASHED:
            self.crash(i)
        elif old is NodeState.CRASHED:
            self.restart(i)
        elif state is NodeState.RUNNING:
            self.resume(i)

    def crash(self, i: int) -> None:
        """Lose everything but what the node persisted: the node, its timers, held inputs."""
        slot = self.sim.slots[i]
        if slot.node is not None:
            slot.lost_rejections.update(slot.node.rejections)
            node = slot.node
            slot.disk = PersistedState(
                snapshot=node.snapshot, proof_cache=tuple(node.verifier.cache.entries)
            )
        slot.node = None
        slot.held.clear()
        slot.timers.clear()

    def wipe(self, i: int) -> None:
        """Lose node ``i``'s data_dir and the directories its profile places inside it: the
        next restart is from a surviving snapshot (``reconstruction`` gate), else genesis."""
        slot = self.sim.slots[i]
        config = self.sim.node_configs[i]
        slot.persisted.clear()
        slot.sign_state = None
        snapshot = slot.disk.snapshot
        if is_inside(config.snapshot_dir, config.data_dir):
            snapshot = None
        cache = slot.disk.proof_cache
        if is_inside(config.proof_cache_dir, config.data_dir):
            cache = ()
        slot.disk = PersistedState(snapshot=snapshot, proof_cache=cache)

    def restart(self, i: int) -> None:
        """A new node from the persisted commits; it starts now, or at resume if paused."""
        sim = self.sim
        slot = sim.slots[i]
        slot.node = sim._new_node(i, list(slot.persisted), slot.sign_state, slot.disk)
        slot.busy_until_us = sim._now() * 1000
        if slot.state is NodeState.PAUSED:
            slot.held.append(("", None, 0))
        else:
            sim._start(i)

    def resume(self, i: int) -> None:
        """Run what was held during the pause, in arrival order, at the resume time."""
        sim = self.sim
        slot = sim.slots[i]
        held, slot.held = slot.held, []
        for sender, item, cost in held:
            if item is None:
                sim._start(i)
            elif isinstance(item, Timer):
                sim._process(i, cost, Node.on_timer, item)
            else:
                sim.transport.deliveries += 1
                sim._process(i, cost, Node.on_message, sender, item)
