"""Coalitions: ``[[byzantine]]`` entries that name one ``coalition`` coordinate.

Every entry keeps its own kind, nodes and window; entries with the same ``coalition`` name
form one coalition, whose *allies* are all their nodes. A behaviour that spares allies does
so for every ally of its coalition:

* ``withhold-votes`` withholds only votes for blocks an outsider proposed (and nil votes):
  allied leaders' blocks get the coalition's votes, honest leaders' blocks must reach the
  quorum without them. With ``vrf-lie`` in the same coalition the allies lead most heights,
  so the votes they withhold are few, and the participation detectors, which need
  ``censorship_vote_threshold`` consecutive misses, may never fire.

(The ``equivocate`` entries of a run form one coalition of their own, always:
``rppsim.sim.byzantine.equivocate``.)

The coalition's power is the sum of its validators'; ``safety``, ``agreement`` and the liveness
verdicts hold while it stays below a third (``scenarios/explore-equivocate.toml`` shows forks
at a third and above). ``scenarios/attacks/coalition.toml`` shows which verdicts notice it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rppsim.sim.byzantine.base import Behaviour

__all__ = ["compute_allies", "join_coalitions"]


def compute_allies(behaviours: Sequence[Behaviour]) -> dict[str, frozenset[int]]:
    """Each named coalition's nodes (the union of its entries' nodes)."""
    allies: dict[str, frozenset[int]] = {}
    for behaviour in behaviours:
        name = behaviour.entry.spec.coalition
        if name:
            allies[name] = allies.get(name, frozenset()) | behaviour.entry.nodes
    return allies


def join_coalitions(behaviours: Sequence[Behaviour]) -> None:
    """Give each behaviour of a named coalition that coalition's allies."""
    allies = compute_allies(behaviours)
    for behaviour in behaviours:
        name = behaviour.entry.spec.coalition
        if name:
            behaviour.allies = allies[name]
