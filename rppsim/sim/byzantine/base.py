"""What every byzantine behaviour shares: its run entry and the hooks the kernel calls.

A behaviour never changes the honest ``Node`` it wraps (``rppsim/node`` is the one
implementation of the protocol). It acts on the node's effects as they leave (``publish``,
``send``, ``on_commit``), on its inputs as they arrive (``drop_input``), or sends messages of
its own from processes the kernel runs for it (``start``). Every random choice comes from the
run's ``SeedTree`` under ``("byzantine", kind, entry index, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rppsim.sim.builders import compute_byzantine_nodes
from rppsim.sim.spec import ByzantineSpec

if TYPE_CHECKING:
    from rppsim.rng import SeedTree
    from rppsim.sim.kernel import Simulation


@dataclass(frozen=True, slots=True)
class Entry:
    """A ``[[byzantine]]`` entry of a run: its nodes misbehave this way over a window."""

    index: int
    kind: str
    nodes: frozenset[int]
    at_ms: int
    until_ms: int
    spec: ByzantineSpec

    def is_active(self, node: int, t_ms: int) -> bool:
        """Whether ``node`` misbehaves this way at ``t_ms``."""
        return node in self.nodes and self.at_ms <= t_ms < self.until_ms


def build_entry(index: int, spec: ByzantineSpec, n: int, duration_ms: int, tree: SeedTree) -> Entry:
    """Entry ``index`` of a run: its nodes (``compute_byzantine_nodes``) and window (open
    windows end after the run)."""
    nodes = compute_byzantine_nodes(spec, n, tree, index)
    until = spec.until_ms if spec.until_ms is not None else duration_ms + 1
    return Entry(index, spec.kind, frozenset(nodes), spec.at_ms, until, spec)


class Behaviour:
    """One entry's behaviour; every hook defaults to "leave the honest node alone"."""

    kind: ClassVar[str] = ""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.nodes = entry.nodes
        self.allies: frozenset[int] = frozenset()
        """The nodes of its ``coalition`` (``rppsim.sim.byzantine.coalition``); empty alone."""

    def is_active(self, node: int, t_ms: int) -> bool:
        """Whether ``node`` misbehaves this way at ``t_ms``."""
        return self.entry.is_active(node, t_ms)

    def start(self, sim: Simulation) -> None:
        """Schedule the behaviour's own processes (once, when the run starts)."""

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """What node ``i`` floods instead of ``message`` ([] to drop it), or None to leave
        it alone."""
        return None

    def send(self, sim: Simulation, i: int, at_ms: int, message: Any) -> Any | None:
        """What node ``i`` unicasts instead of ``message``, or None to leave it alone."""
        return None

    def drop_input(self, sim: Simulation, i: int, handler: Callable[..., Any], args: tuple) -> bool:
        """Whether node ``i`` never gets this input (``handler(node, now, *args)``)."""
        return False

    def on_commit(self, sim: Simulation, i: int, at_ms: int, commit: Any) -> None:
        """Node ``i`` persisted ``commit`` at ``at_ms``."""
