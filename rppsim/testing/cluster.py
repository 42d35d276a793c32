"""A deterministic, synchronous in-memory cluster of nodes, for tests and notebooks.

No simpy and no network model: every published message reaches every other running node
``latency_ms`` later, timers fire exactly, and ties are broken by a sequence number. Wallets
submit signed transfers as a Poisson process. The simulator in ``rppsim.sim`` drives the same
``Node`` over a real network model.

Every random stream comes from ``SeedTree(seed)`` under the simulator's names: node keys
``("node", i, "keys")``, wallets ``("wallet", j)``, arrival gaps ``("traffic", "tx")`` and the
choice of sender, recipient, target node, amount and fee ``("traffic", "choice")``. So a
cluster and a simulation with one seed share their validator and wallet keys.

>>> c = InMemoryCluster(validators=4, seed=1)
>>> c.run(until_ms=30_000)
>>> c.finalized_chain(0)[:1]  # doctest: +ELLIPSIS
[(1, '...')]
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import Any

from rppsim.gc_tuning import relaxed_gc
from rppsim.node.config import NodeConfig
from rppsim.node.effects import EmitResult, EmitTelemetry, Persist, Publish, Send, SetTimer
from rppsim.node.genesis import build_genesis
from rppsim.node.messages import Commit, Transaction, sign_transaction
from rppsim.node.node import Node, NodeKeys, SignState
from rppsim.node.proofs import ModelProofService, ProofService
from rppsim.node.rules import Rules
from rppsim.node.signing import generate_keypair
from rppsim.rng import SeedTree

_DELIVER, _TIMER, _TRANSACTION, _INJECT = 0, 1, 2, 3


class InMemoryCluster:
    """``validators`` genesis validators, each running a ``Node``, with fixed-latency delivery."""

    def __init__(
        self,
        validators: int = 7,
        seed: int = 0,
        tx_rate_per_s: float = 1.0,
        latency_ms: int = 50,
        rules: Rules | None = None,
        *,
        wallets: int = 16,
        config: NodeConfig | None = None,
        proofs: ProofService | None = None,
    ) -> None:
        if validators < 1:
            raise ValueError("a cluster needs at least one validator")
        self.seed = seed
        self.latency_ms = latency_ms
        self.tx_rate_per_s = tx_rate_per_s
        self.rules = rules or Rules()
        self.proofs = proofs or ModelProofService()
        self.tree = SeedTree(seed)
        self.keys = [
            NodeKeys.from_seed(self.tree.seed_bytes("node", i, "keys")) for i in range(validators)
        ]
        self.wallets = [generate_keypair(self.tree.seed_bytes("wallet", j)) for j in range(wallets)]
        genesis = build_genesis(self.keys, self.wallets)
        self.config = replace(config or NodeConfig(), genesis=genesis)
        self.now = 0
        self._seq = 0
        self._queue: list[tuple[int, int, int, Any]] = []
        self._arrivals = self.tree.generator("traffic", "tx")
        self._choices = self.tree.generator("traffic", "choice")
        self.nonces = {w.address: 0 for w in self.wallets}
        self.persisted: list[list[Commit]] = [[] for _ in range(validators)]
        self.sign_states: dict[int, SignState] = {}
        self.telemetry: list[tuple[int, int, dict[str, Any]]] = []
        self.crashed: set[int] = set()
        self.delivered = 0
        self._nodes = [self._make_node(i) for i in range(validators)]
        self._index = {keys.address: i for i, keys in enumerate(self.keys)}
        for i, node in enumerate(self._nodes):
            self._apply(i, node.on_start(0))
        if tx_rate_per_s > 0:
            self._push(self._next_arrival(0), _TRANSACTION, None)

    # --- the API of the issue ------------------------------------------------------------------

    def run(self, until_ms: int) -> None:
        """Process every event up to and including ``until_ms``."""
        with relaxed_gc():
            while self._queue and self._queue[0][0] <= until_ms:
                time, _, kind, payload = heapq.heappop(self._queue)
                self.now = time
                self._dispatch(kind, payload)
        self.now = max(self.now, until_ms)

    def finalized_chain(self, i: int) -> list[tuple[int, str]]:
        """(height, block hash) finalized by node ``i``, height ascending."""
        return self._nodes[i].finalized_chain()

    def node(self, i: int) -> Node:
        """The ``Node`` object of validator ``i``."""
        return self._nodes[i]

    def crash(self, i: int) -> None:
        """Stop node ``i``: it neither receives nor sends; its persisted commits survive."""
        self.crashed.add(i)

    def restart(self, i: int) -> None:
        """Start node ``i`` again from its persisted commits; everything else is lost."""
        self.crashed.discard(i)
        self._nodes[i] = self._make_node(i, self.persisted[i], self.sign_states.get(i))
        self._apply(i, self._nodes[i].on_start(self.now))

    def submit(self, i: int, request: object) -> None:
        """Hand a transaction or identity request to node ``i``'s wallet API now."""
        if i not in self.crashed:
            self._apply(i, self._nodes[i].submit(self.now, request))

    def inject(self, sender: int, message: object, receivers: list[int] | None = None) -> None:
        """Deliver ``message`` as if node ``sender`` had published it (for byzantine tests)."""
        targets = (
            receivers
            if receivers is not None
            else [j for j in range(len(self._nodes)) if j != sender]
        )
        self._push(
            self.now + self.latency_ms, _DELIVER, (self.keys[sender].address, message, targets)
        )

    # --- internals -----------------------------------------------------------------------------

    def _make_node(
        self, i: int, commits: list[Commit] | None = None, sign_state: SignState | None = None
    ) -> Node:
        return Node(
            self.config,
            self.keys[i],
            rules=self.rules,
            proofs=self.proofs,
            commits=commits or (),
            sign_state=sign_state,
        )

    def _push(self, time: int, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, kind, payload))

    def _dispatch(self, kind: int, payload: Any) -> None:
        if kind == _DELIVER:
            sender, message, receivers = payload
            for j in receivers:
                if j not in self.crashed:
                    self.delivered += 1
                    self._apply(j, self._nodes[j].on_message(self.now, sender, message))
        elif kind == _TIMER:
            i, generation, timer = payload
            if i not in self.crashed and generation is self._nodes[i]:
                self._apply(i, self._nodes[i].on_timer(self.now, timer))
        elif kind == _TRANSACTION:
            self._submit_transaction()
            self._push(self._next_arrival(self.now), _TRANSACTION, None)

    def _apply(self, i: int, effects: list[Any]) -> None:
        node = self._nodes[i]
        for effect in effects:
            if isinstance(effect, Publish):
                receivers = [j for j in range(len(self._nodes)) if j != i]
                self._push(
                    self.now + self.latency_ms, _DELIVER, (node.address, effect.message, receivers)
                )
            elif isinstance(effect, Send):
                j = self._index.get(effect.peer)
                if j is not None:
                    self._push(
                        self.now + self.latency_ms, _DELIVER, (node.address, effect.message, [j])
                    )
            elif isinstance(effect, SetTimer):
                self._push(max(effect.at_ms, self.now), _TIMER, (i, node, effect.timer))
            elif isinstance(effect, Persist):
                if effect.key == "commit":
                    self.persisted[i].append(effect.value)
                else:
                    self.sign_states[i] = effect.value
            elif isinstance(effect, EmitTelemetry):
                self.telemetry.append((i, effect.now_ms, effect.snapshot))
                if effect.payload is not None:  # the collector accepts every emit at once
                    self._apply(i, node.on_emit_result(self.now, EmitResult(effect.seq, True)))

    def _next_arrival(self, now: int) -> int:
        """The next submission time: an exponential gap (mean 1000 / rate ms), at least 1 ms."""
        gap = float(self._arrivals.exponential(1000.0 / self.tx_rate_per_s))
        return now + max(1, int(gap))

    def _pick(self, count: int) -> int:
        """A uniform index in [0, count) from the choice stream."""
        return int(self._choices.integers(count))

    def _submit_transaction(self) -> None:
        live = [i for i in range(len(self._nodes)) if i not in self.crashed]
        if not live or len(self.wallets) < 2:
            return
        sender = self.wallets[self._pick(len(self.wallets))]
        recipient = self.wallets[self._pick(len(self.wallets))]
        if recipient.address == sender.address:
            return
        target = live[self._pick(len(live))]
        confirmed = self._nodes[target].ledger.get_account(sender.address)
        nonce = max(self.nonces[sender.address], 0 if confirmed is None else confirmed.nonce) + 1
        self.nonces[sender.address] = nonce
        fee = 1 + self._pick(10)
        tx = sign_transaction(
            Transaction(
                sender.address,
                recipient.address,
                1 + self._pick(1000),
                fee,
                nonce,
                b"",
                b"",
            ),
            sender,
        )
        self._apply(target, self._nodes[target].submit(self.now, tx))
