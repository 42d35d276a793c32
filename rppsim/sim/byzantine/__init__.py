"""Byzantine behaviours: honest ``Node`` objects whose effects or inputs are tampered with.

One module per ``[[byzantine]] kind`` (each module's docstring says what it does and which
verdicts must notice it):

=================  ==========================================================================
``double-sign``    votes for the round's proposal and a real rival block, to different peers
``withhold-votes`` never sends its votes (the participation detectors catch it)
``invalid-block``  as leader, proposes a bad state root, a forged transfer or a bad certificate
``invalid-proof``  corrupts every proof it sends: tampered, or over the size gate
``vrf-lie``        inflates its declared tier or hours, forges its VRF proof, or grinds
``censor``         keeps chosen senders' transactions out of its mempool and blocks
``replay``         sends its old votes, proposals and commits again
``spam``           floods distinct valid transactions past the mempool limit, and bad ones
``equivocate``     a coalition shows two valid blocks to two halves of the network
``eclipse``        a victim's neighbours carry nothing to or from it
``sync-poison``    answers sync requests with forged commits
=================  ==========================================================================

``inflate-timetoke`` gossips a forged timetoke record that gives it the accrual cap.

The kernel (``rppsim.sim.kernel``) builds the run's ``Attacks`` from the scenario's entries
and calls it where a node's effects leave (``on_publish``, ``on_send``, ``on_commit``) and
where its inputs arrive (``is_dropped``); ``start`` schedules the behaviours' own processes.
Entries that share a ``coalition`` name coordinate (``rppsim.sim.byzantine.coalition``).
Behaviours apply in entry order, the equivocating coalition first; each one sees what the
previous ones left of a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rppsim.sim.byzantine.base import Behaviour, Entry, build_entry
from rppsim.sim.byzantine.censor import CENSOR, Censor, build_censor, compute_censored_wallets
from rppsim.sim.byzantine.coalition import join_coalitions
from rppsim.sim.byzantine.double_sign import DOUBLE_SIGN, DoubleSign, build_double_sign
from rppsim.sim.byzantine.eclipse import ECLIPSE, Eclipse, build_eclipse
from rppsim.sim.byzantine.equivocate import (
    EQUIVOCATE,
    Equivocation,
    build_equivocation,
    build_variant_block,
    compute_halves,
    compute_variant_timestamp,
)
from rppsim.sim.byzantine.inflate import INFLATE_TIMETOKE, InflateTimetoke
from rppsim.sim.byzantine.invalid_block import INVALID_BLOCK, InvalidBlock
from rppsim.sim.byzantine.invalid_proof import INVALID_PROOF, InvalidProof, build_invalid_proof
from rppsim.sim.byzantine.replay import REPLAY, Replay
from rppsim.sim.byzantine.spam import SPAM, Spam
from rppsim.sim.byzantine.sync_poison import SYNC_POISON, SyncPoison, build_sync_poison
from rppsim.sim.byzantine.vrf_lie import VRF_LIE, VrfLie
from rppsim.sim.byzantine.withhold import WITHHOLD_VOTES, WithholdVotes

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

__all__ = [
    "Attacks",
    "Behaviour",
    "Censor",
    "DoubleSign",
    "Eclipse",
    "Entry",
    "Equivocation",
    "InvalidBlock",
    "InvalidProof",
    "Replay",
    "Spam",
    "SyncPoison",
    "VrfLie",
    "WithholdVotes",
    "build_attacks",
    "build_entry",
    "build_equivocation",
    "build_variant_block",
    "compute_censored_wallets",
    "compute_halves",
    "compute_variant_timestamp",
]

_BUILDERS: dict[str, Callable[[Simulation, Entry], Behaviour]] = {
    DOUBLE_SIGN: build_double_sign,
    WITHHOLD_VOTES: lambda sim, entry: WithholdVotes(entry),
    INVALID_BLOCK: lambda sim, entry: InvalidBlock(entry),
    INVALID_PROOF: build_invalid_proof,
    VRF_LIE: lambda sim, entry: VrfLie(entry),
    CENSOR: build_censor,
    REPLAY: lambda sim, entry: Replay(entry),
    SPAM: lambda sim, entry: Spam(entry),
    ECLIPSE: build_eclipse,
    SYNC_POISON: build_sync_poison,
    INFLATE_TIMETOKE: lambda sim, entry: InflateTimetoke(entry),
}
"""How each kind but ``equivocate`` (one coalition of all its entries) builds an entry's
behaviour."""


class Attacks:
    """The run's behaviours, and the hooks the kernel calls."""

    def __init__(self, behaviours: Sequence[Behaviour], equivocation: Equivocation | None) -> None:
        self.behaviours = tuple(behaviours)
        self.equivocation = equivocation
        self.filters = tuple(
            b for b in self.behaviours if type(b).drop_input is not Behaviour.drop_input
        )
        """The behaviours that drop inputs (the kernel asks them about every input)."""

    def start(self, sim: Simulation) -> None:
        """Schedule every behaviour's own processes."""
        for behaviour in self.behaviours:
            behaviour.start(sim)

    def on_publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any]:
        """The messages node ``i`` floods instead of ``message``."""
        out = [message]
        for behaviour in self.behaviours:
            if i not in behaviour.nodes or not behaviour.is_active(i, at_ms):
                continue
            changed: list[Any] = []
            for item in out:
                replaced = behaviour.publish(sim, i, at_ms, item)
                changed += [item] if replaced is None else replaced
            out = changed
        return out

    def on_send(self, sim: Simulation, i: int, at_ms: int, message: Any) -> Any:
        """The message node ``i`` unicasts instead of ``message``."""
        for behaviour in self.behaviours:
            if i in behaviour.nodes and behaviour.is_active(i, at_ms):
                replaced = behaviour.send(sim, i, at_ms, message)
                message = message if replaced is None else replaced
        return message

    def on_commit(self, sim: Simulation, i: int, at_ms: int, commit: Any) -> None:
        """Node ``i`` persisted ``commit``."""
        for behaviour in self.behaviours:
            if i in behaviour.nodes:
                behaviour.on_commit(sim, i, at_ms, commit)

    def is_dropped(self, sim: Simulation, i: int, handler: Callable[..., Any], args: tuple) -> bool:
        """Whether node ``i`` never gets this input."""
        return any(i in b.nodes and b.drop_input(sim, i, handler, args) for b in self.filters)


def build_attacks(sim: Simulation, entries: Sequence[Entry]) -> Attacks | None:
    """The run's behaviours from its entries (None without any)."""
    if not entries:
        return None
    equivocation = build_equivocation(entries, sim.scenario.nodes, sim.tree)
    behaviours: list[Behaviour] = [] if equivocation is None else [equivocation]
    behaviours += [_BUILDERS[e.kind](sim, e) for e in entries if e.kind != EQUIVOCATE]
    join_coalitions(behaviours)
    return Attacks(behaviours, equivocation)
