"""``spam``: a node floods distinct transactions to fill every mempool, and bad signatures.

Each spam node publishes transactions as a Poisson process at ``rate_per_s`` (from
``("byzantine", "spam", index, node)``), straight to the network (its own mempool is left
alone). Every one is a distinct transfer of 1 unit, fee 0, from one of the run's traffic
wallets (the spammer holds their keys; drawn per transaction) to another, with a nonce far
ahead of any the wallet will reach (2^40 + a counter): correctly signed by a funded Tl2 account,
so every mempool admits it, and never applicable, so no block drains it. A share
``invalid_fraction`` of them carries a corrupted signature instead.

Honest mempools fill up to ``mempool_limit`` and then refuse every further transaction, the
spam and the honest traffic alike ("transaction: mempool full"); the bad signatures are
refused on arrival ("transaction: invalid signature"). Fee 0 sorts the spam last, so the
honest transactions already queued are still chosen first; but once the pools are full every
new honest transaction is refused too (the chain evicts nothing), and with no payload left the
leaders make no block (the chain makes no empty blocks): production stops.

Verdicts that notice it: the ``rejections`` frame at every node; ``g15-smoke-tx`` fails on
the mempool-full rejections, ``g20-queues`` on the transaction backlog; the snapshots'
``pending_transactions`` reach the limit; ``g18-liveness`` fails once production stops.
``safety`` and ``agreement`` hold.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from rppsim.node.messages import GossipTopic, Transaction, sign_transaction
from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.faults import NodeState

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

SPAM = "spam"
SPAM_NONCE = 1 << 40
"""Spam nonces start here: far ahead of any nonce a wallet reaches in a run."""


class Spam(Behaviour):
    """The entry's spam processes, one per node."""

    kind = SPAM

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry)
        self.sent = 0
        self.invalid = 0

    def start(self, sim: Simulation) -> None:
        """Draw each node's spam times over the window and schedule the first."""
        from rppsim.sim.traffic import compute_poisson_times

        spec = self.entry.spec
        end = min(self.entry.until_ms, sim.duration_ms)
        for i in sorted(self.nodes):
            rng = sim.tree.generator("byzantine", SPAM, self.entry.index, i)
            times = compute_poisson_times(spec.rate_per_s, self.entry.at_ms, end, rng)
            if times:
                sim._at(times[0], self._on_spam, sim, i, times, 0, rng)

    def _on_spam(
        self, sim: Simulation, i: int, times: list[int], k: int, rng: np.random.Generator
    ) -> None:
        if sim.slots[i].state is NodeState.RUNNING and sim.wallets:
            sim._publish(i, times[k], GossipTopic.PROOFS, self._transaction(sim, rng))
        if k + 1 < len(times):
            sim._at(times[k + 1], self._on_spam, sim, i, times, k + 1, rng)

    def _transaction(self, sim: Simulation, rng: np.random.Generator) -> Transaction:
        sender, recipient = rng.choice(len(sim.wallets), size=2, replace=False)
        wallet = sim.wallets[int(sender)]
        self.sent += 1
        unsigned = Transaction(
            wallet.address,
            sim.wallets[int(recipient)].address,
            1,
            0,
            SPAM_NONCE + self.sent,
            wallet.public_key,
        )
        signed = sign_transaction(unsigned, wallet)
        if rng.random() >= self.entry.spec.invalid_fraction:
            return signed
        self.invalid += 1
        return replace(signed, signature=bytes(b ^ 0xFF for b in signed.signature))
