"""``eclipse``: a victim's neighbours carry nothing to or from it.

The entry's nodes are the eclipsing peers and ``victims`` the nodes they cut off. Over the
entry's window every topology link between an eclipsing node and a victim carries nothing in
either direction: the eclipsers neither relay the victim's messages (its votes, proposals and
sync requests) nor relay anything to it, and send it nothing of their own. They otherwise run
honestly. When the eclipsers are all of a victim's neighbours (the scenario lists them: a
topology's neighbours come from the run's seed) the victim hears nothing: it keeps its height
and its timers fire in vain, and its votes are missing from every quorum. Links between a
victim and an honest neighbour still carry everything, so a partial eclipse only slows it.

The behaviour acts where the kernel asks what the network looks like (``view_at``): the
run's fault schedule is wrapped so that each view of the window has the eclipsed links down,
as a partition would (flood routes and unicast routes both avoid them; the ``messages``
frame records such copies as ``partitioned``). It is not a fault: the ``faults`` frame does
not list it, so no verdict excuses the victim.

When the window ends the victim hears the next proposal or vote, which is of a later height;
it keeps it and asks the sender for the commits it missed (``rppsim.node.sync``), catches up
and votes again.

Verdicts that notice it: ``lag`` (``rppsim.checks.lag``) — the victim's ``block_finalized``
rows stop for the window and then arrive in a burst, more than 3 heights behind the others.
The participation detectors stay silent (a validator whose VRF submission reaches no one is
not elected, so it misses no vote), and ``liveness`` only asks for progress after the last
fault. ``safety``, ``agreement`` and ``liveness`` hold while the victims and eclipsers
together hold less than a third of the power.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.faults import NetworkView

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation
    from rppsim.sim.topology import Topology

ECLIPSE = "eclipse"


def compute_eclipse_arcs(
    topology: Topology, eclipsers: frozenset[int], victims: frozenset[int]
) -> np.ndarray:
    """Bool per arc: the arcs between an eclipsing node and a victim, both directions."""
    mask = np.zeros(topology.arc_count, bool)
    for victim in sorted(victims):
        for peer in topology.neighbours(victim):
            if int(peer) in eclipsers and int(peer) not in victims:
                mask[topology.arc_index(victim, int(peer))] = True
                mask[topology.arc_index(int(peer), victim)] = True
    return mask


class EclipsedFaults:
    """A fault schedule whose views have the eclipsed arcs down inside the window; every other
    question goes to the wrapped schedule."""

    def __init__(self, inner: Any, entry: Entry, arcs: np.ndarray) -> None:
        self._inner = inner
        self._entry = entry
        self._arcs = arcs
        self._views: dict[int, tuple[NetworkView, NetworkView]] = {}
        """id(inner view) → (inner view, the view with the arcs down)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def view_at(self, t_ms: int) -> NetworkView:
        """The inner view, with the eclipsed arcs down while the entry is active."""
        view = self._inner.view_at(t_ms)
        if not self._entry.at_ms <= t_ms < self._entry.until_ms:
            return view
        cached = self._views.get(id(view))
        if cached is None:
            arc_down = view.arc_down | self._arcs
            arc_down.flags.writeable = False
            cached = self._views[id(view)] = (view, replace(view, arc_down=arc_down))
        return cached[1]


class Eclipse(Behaviour):
    """Cuts the victims off from the entry's nodes over its window."""

    kind = ECLIPSE

    def __init__(self, entry: Entry, arcs: np.ndarray) -> None:
        super().__init__(entry)
        self.victims = frozenset(entry.spec.victims) - entry.nodes
        self.arcs = arcs
        """Bool per arc: the links it cuts."""

    def start(self, sim: Simulation) -> None:
        """Wrap the run's fault schedule (the network asks it for every message's view)."""
        sim.faults = EclipsedFaults(sim.faults, self.entry, self.arcs)  # type: ignore[assignment]  # duck-typed schedule


def build_eclipse(sim: Simulation, entry: Entry) -> Eclipse:
    """Entry ``entry``'s eclipse over the run's topology."""
    victims = frozenset(entry.spec.victims) - entry.nodes
    return Eclipse(entry, compute_eclipse_arcs(sim.topology, entry.nodes, victims))
