"""``censor``: a node keeps chosen senders' transactions out of every block it builds.

The censored senders are traffic wallets: ``senders`` (indices into the run's wallets) or a
``sender_fraction`` of them drawn from ``("byzantine", "censor", index)``. Their transactions
never reach the node's mempool: gossiped copies are dropped on arrival, and one a wallet
submits to the node is relayed to the network without being kept (a censoring node still
answers its clients). So the node never proposes them, while every honest node queues them
and includes them when it leads; a block that carries them is valid for the censor as for
anyone (the chain has no rule that a leader include what it holds).

Verdicts that notice it: ``censorship`` (``rppsim.checks.censorship``) fails — at every
sample instant the censor holds fewer pending transactions than the other nodes. The protocol
verdicts hold: censorship by a minority only delays. The cost shows in the chain's own data:
a censored transaction is finalized only in a block an honest node proposed (the ``blocks``
frame's proposer of the block that carries it), later than the others. Under the chain's
leader rule one leader serves every round of a height, so the delay is the time until a
height is led by an honest node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rppsim.node.messages import GossipTopic, Transaction
from rppsim.node.node import Node
from rppsim.sim.byzantine.base import Behaviour, Entry

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

CENSOR = "censor"


class Censor(Behaviour):
    """Keeps the censored senders' transactions away from the node."""

    kind = CENSOR

    def __init__(self, entry: Entry, senders: frozenset[str]) -> None:
        super().__init__(entry)
        self.senders = senders
        """The censored wallets' addresses."""
        self.dropped = 0
        """Inputs kept from the censoring nodes."""

    def drop_input(self, sim: Simulation, i: int, handler: Callable[..., Any], args: tuple) -> bool:
        """A censored transaction gossiped to the node, or submitted to it (then relayed)."""
        if handler is Node.on_message:
            message = args[1]
        elif handler is Node.submit:
            message = args[0]
        else:
            return False
        if not isinstance(message, Transaction) or message.sender not in self.senders:
            return False
        if not self.is_active(i, sim._now()):
            return False
        if handler is Node.submit:
            sim._publish(i, sim._now(), GossipTopic.PROOFS, message)
        self.dropped += 1
        return True


def compute_censored_wallets(sim: Simulation, entry: Entry) -> tuple[int, ...]:
    """The entry's censored wallet indices: its ``senders``, or round(fraction × wallets)
    (at least one) drawn from ``("byzantine", "censor", index)``, sorted."""
    spec = entry.spec
    if spec.senders is not None:
        return tuple(sorted(spec.senders))
    count = max(1, round((spec.sender_fraction or 0.0) * len(sim.wallets)))
    picked = sim.tree.generator("byzantine", CENSOR, entry.index).permutation(len(sim.wallets))
    return tuple(sorted(int(w) for w in picked[:count]))


def build_censor(sim: Simulation, entry: Entry) -> Censor:
    """Entry ``entry``'s behaviour over its censored wallets."""
    wallets = compute_censored_wallets(sim, entry)
    return Censor(entry, frozenset(sim.wallets[w].address for w in wallets if w < len(sim.wallets)))
