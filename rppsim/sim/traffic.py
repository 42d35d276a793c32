"""The workload: when transactions and identity requests arrive, and which live node each one
is submitted to (docs/simnet.md#traffic).

Arrival times are drawn lazily, one ahead of the clock (``iter_tx_times``,
``iter_poisson_times``: the same draws, in the same order, as the ``compute_`` lists), so a
long run or a high rate costs no memory up front; at each one a running node is picked
(uniform, or Zipf by position in the live list) and a signed
transfer between two traffic wallets, or an identity request, is submitted to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from rppsim.node.blocks import build_identity_request
from rppsim.node.messages import Transaction, sign_transaction
from rppsim.node.node import Node
from rppsim.node.signing import Keypair
from rppsim.rng import SeedTree
from rppsim.sim.faults import NodeState
from rppsim.sim.spec import TrafficConfig, TrafficPhase

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation


def iter_poisson_times(
    rate_per_s: float, start_ms: int, end_ms: int, rng: np.random.Generator
) -> Iterator[int]:
    """Poisson arrival times (integer ms) in [start, end) at ``rate_per_s``
    (docs/simnet.md#traffic), drawn one at a time."""
    if rate_per_s <= 0:
        return
    mean_ms, t = 1000.0 / rate_per_s, float(start_ms)
    while True:
        t += float(rng.exponential(mean_ms))
        if t >= end_ms:
            return
        yield int(t)


def compute_poisson_times(
    rate_per_s: float, start_ms: int, end_ms: int, rng: np.random.Generator
) -> list[int]:
    """``iter_poisson_times`` as a list."""
    return list(iter_poisson_times(rate_per_s, start_ms, end_ms, rng))


def iter_on_off_times(
    phase: TrafficPhase, start_ms: int, rng: np.random.Generator
) -> Iterator[int]:
    """On/off bursts: Poisson while ON; a draw overrunning ON idles to its end, then OFF."""
    end, t = start_ms + phase.duration_ms, float(start_ms)
    mean_ms = 1000.0 / phase.rate_per_s
    while t < end:
        on_end = min(t + phase.on_ms, end)
        while True:
            wait = float(rng.exponential(mean_ms))
            if t + wait >= on_end:
                break
            t += wait
            yield int(t)
        t = on_end + phase.off_ms


def compute_on_off_times(phase: TrafficPhase, start_ms: int, rng: np.random.Generator) -> list[int]:
    """``iter_on_off_times`` as a list."""
    return list(iter_on_off_times(phase, start_ms, rng))


def iter_tx_times(traffic: TrafficConfig, duration_ms: int, tree: SeedTree) -> Iterator[int]:
    """Every transaction's submission time: ``tx_per_s``, or the phases back to back (each
    with its own stream ``("traffic", "phase", k)``), then idle to the end."""
    if not traffic.phases:
        yield from iter_poisson_times(
            traffic.tx_per_s, 0, duration_ms, tree.generator("traffic", "tx")
        )
        return
    start = 0
    for k, phase in enumerate(traffic.phases):
        rng = tree.generator("traffic", "phase", k)
        if phase.model == "on-off":
            yield from iter_on_off_times(phase, start, rng)
        else:
            yield from iter_poisson_times(phase.rate_per_s, start, start + phase.duration_ms, rng)
        start += phase.duration_ms


def compute_tx_times(traffic: TrafficConfig, duration_ms: int, tree: SeedTree) -> list[int]:
    """``iter_tx_times`` as a list."""
    return list(iter_tx_times(traffic, duration_ms, tree))


class Traffic:
    """The run's workload over ``sim``'s nodes: wallets' nonces, the choice stream
    ``("traffic", "choice")``, identity seeds ``("identity", k)``."""

    def __init__(self, sim: Simulation, traffic: TrafficConfig, wallets: list[Keypair]) -> None:
        self.sim = sim
        self.config = traffic
        self.wallets = wallets
        self.nonces = {w.address: 0 for w in wallets}
        self.tx_times = iter_tx_times(traffic, sim.duration_ms, sim.tree)
        self.identity_times = iter_poisson_times(
            traffic.identity_per_min / 60.0,
            0,
            sim.duration_ms,
            sim.tree.generator("traffic", "identity"),
        )
        self.rng = sim.tree.generator("traffic", "choice")

    def start(self) -> None:
        """Schedule the first transaction and the first identity request."""
        self.schedule_next(self.tx_times, self.on_traffic, 0)
        self.schedule_next(self.identity_times, self.on_identity, 0)

    def schedule_next(self, times: Iterator[int], callback: Callable[[int], None], k: int) -> None:
        """Draw arrival ``k`` of ``times`` (when there is one) and schedule ``callback(k)``."""
        t = next(times, None)
        if t is not None:
            self.sim._at(t, callback, k)

    def get_live(self) -> list[int]:
        """Running (neither crashed nor paused) nodes by index (the publisher list of
        docs/simnet.md#traffic): the only targets of transactions and identity requests."""
        return [i for i, s in enumerate(self.sim.slots) if s.state is NodeState.RUNNING]

    def compute_publisher(self, live: list[int]) -> int:
        """Uniform over the live list, or Zipf by position in it (weight rank^-s)."""
        if self.config.publisher == "zipf":
            weights = np.arange(1, len(live) + 1, dtype=np.float64) ** -self.config.zipf_s
            return live[int(self.rng.choice(len(live), p=weights / weights.sum()))]
        return live[int(self.rng.integers(len(live)))]

    def on_traffic(self, k: int) -> None:
        """Transaction ``k`` arrives: submit it to a live node, then wait for the next."""
        live = self.get_live()
        if live:
            self.submit_transaction(self.compute_publisher(live))
        self.schedule_next(self.tx_times, self.on_traffic, k + 1)

    def submit_transaction(self, target: int) -> None:
        """A transfer between two distinct wallets, its nonce the next after what the wallet
        sent and what ``target``'s ledger holds."""
        rng, sim = self.rng, self.sim
        sender, recipient = rng.choice(len(self.wallets), size=2, replace=False)
        wallet = self.wallets[int(sender)]
        node = sim.slots[target].node
        assert node is not None and sim.slots[target].state is NodeState.RUNNING
        account = node.ledger.get_account(wallet.address)
        nonce = max(self.nonces[wallet.address], 0 if account is None else account.nonce) + 1
        self.nonces[wallet.address] = nonce
        tx = Transaction(
            wallet.address,
            self.wallets[int(recipient)].address,
            int(rng.integers(1, 1000)),
            int(rng.integers(1, 11)),
            nonce,
            b"",
            b"",
        )
        signed = sign_transaction(tx, wallet)
        sim._process(target, sim.costs.message_us(signed), Node.submit, signed)

    def on_identity(self, k: int) -> None:
        """Identity request ``k`` arrives at a uniformly chosen live node."""
        sim = self.sim
        live = self.get_live()
        if live:
            target = live[int(self.rng.integers(len(live)))]
            node = sim.slots[target].node
            assert node is not None and sim.slots[target].state is NodeState.RUNNING
            request = build_identity_request(node.ledger, sim.tree.seed_bytes("identity", k))
            sim._process(target, sim.costs.message_us(request), Node.submit, request)
        self.schedule_next(self.identity_times, self.on_identity, k + 1)
