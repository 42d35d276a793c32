"""The simulation kernel: simpy drives many real ``Node`` objects over the network model.

Time is integer milliseconds; simpy breaks ties by event id (insertion order), so a run is a
deterministic function of (scenario, seed). Every input a node gets passes through one place
(``_process``), which models the node as a single processor:

    start = max(arrival, busy_until); finish = start + cost(input)

The handler runs with ``now`` = the node's local clock at ``start`` (clock-skew faults shift
it); its effects leave at ``finish``: a publish is flooded over the network with this
message's own sampled per-link delays and losses (``Network.flood``), and each receiver gets
its copy at its own arrival time. Crashed nodes drop what reaches them; paused nodes keep it
until they resume. A crash loses everything but the node's persisted commits.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import simpy

from rppsim.node.cluster import build_genesis
from rppsim.node.config import load_config
from rppsim.node.effects import EmitTelemetry, Persist, Publish, Send, SetTimer, Timer
from rppsim.node.messages import (
    BftVote,
    Commit,
    ProofSlot,
    SignedBftVote,
    Transaction,
    UptimeProof,
    VoteKind,
    sign_transaction,
    sign_vote,
)
from rppsim.node.node import Node, NodeKeys
from rppsim.node.proofs import ProofService
from rppsim.node.signing import Keypair, generate_keypair
from rppsim.rng import SeedTree
from rppsim.scenario import (
    ByzantineSpec,
    Scenario,
    build_fault_schedule,
    build_sim_network,
    compute_byzantine_nodes,
)
from rppsim.sim.costs import CostModel
from rppsim.sim.faults import Transition
from rppsim.sim.gossip import DropReason
from rppsim.telemetry.frames import RunRecorder

WALLETS = 32
PROGRESS_EVERY_MS = 1000


@dataclass(slots=True)
class NodeSlot:
    """The kernel's view of one node: the object, its processor and fault state."""

    node: Node | None
    busy_until_us: int = 0
    paused: bool = False
    held: list[tuple[str, Any]] = field(default_factory=list)
    persisted: list[Commit] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Byzantine:
    """A byzantine behaviour active for some nodes over a window."""

    kind: str
    nodes: frozenset[int]
    at_ms: int
    until_ms: int
    factor: int

    def is_active(self, node: int, t_ms: int) -> bool:
        """Whether ``node`` misbehaves this way at ``t_ms``."""
        return node in self.nodes and self.at_ms <= t_ms < self.until_ms


class Simulation:
    """One run of a scenario with a seed (DESIGN.md §3, §4)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        duration_ms: int | None = None,
        proofs: ProofService,
        proof_cost: Callable[[str, int, bool], int],
        record_messages: bool | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.run.seed if seed is None else seed
        self.duration_ms = scenario.run.duration_ms if duration_ms is None else duration_ms
        self.tree = SeedTree(self.seed)
        self.network = build_sim_network(scenario, self.tree)
        self.topology = self.network.topology
        self.faults = build_fault_schedule(
            replace(scenario, run=replace(scenario.run, duration_ms=self.duration_ms)),
            self.topology,
            self.tree,
        )
        self.costs = CostModel(scenario.costs.enabled, proof_cost)
        self.proofs = proofs
        n = scenario.nodes.count
        self.keys = [NodeKeys.from_seed(self.tree.seed_bytes("node", i, "keys")) for i in range(n)]
        self.wallets = [generate_keypair(self.tree.seed_bytes("wallet", j)) for j in range(WALLETS)]
        base, _ = load_config(scenario.nodes.profile_path)
        genesis = build_genesis(self.keys[: scenario.nodes.validators], self.wallets)
        self.config = replace(base, genesis=genesis)
        self.index = {keys.address: i for i, keys in enumerate(self.keys)}
        self.slots = [NodeSlot(self._new_node(i)) for i in range(n)]
        keep = scenario.telemetry.record_messages if record_messages is None else record_messages
        self.recorder = RunRecorder(record_messages=keep)
        self.env = simpy.Environment()
        self.msg_ids = 0
        self.deliveries = 0
        self.dropped = 0
        self.nonces = {w.address: 0 for w in self.wallets}
        self.traffic_rng = self.tree.generator("traffic", "tx")
        self.byzantine = tuple(self._byzantine(i, b) for i, b in enumerate(scenario.byzantine))
        self.byzantine_rng = self.tree.generator("byzantine", "actions")
        self.blocks_seen: set[str] = set()
        self.progress: Callable[[int, int], None] | None = None

    # --- building --------------------------------------------------------------------------

    def _new_node(self, i: int, commits: list[Commit] | None = None) -> Node:
        return Node(
            self.config,
            self.keys[i],
            rules=self.scenario.rules,
            proofs=self.proofs,
            commits=commits or (),
        )

    def _byzantine(self, index: int, spec: ByzantineSpec) -> Byzantine:
        nodes = compute_byzantine_nodes(spec, self.scenario.nodes.count, self.tree, index)
        until = spec.until_ms if spec.until_ms is not None else self.duration_ms + 1
        return Byzantine(spec.kind, frozenset(nodes), spec.at_ms, until, spec.factor)

    # --- running ---------------------------------------------------------------------------

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Run to the end of the scenario; ``progress(now_ms, height)`` is called every second."""
        self.progress = progress
        for i, keys in enumerate(self.keys):
            role = "validator" if i < self.scenario.nodes.validators else "full"
            self.recorder.record_node(i, keys.address, role, "")
        for i in range(len(self.slots)):
            self._at(0, self._start, i)
        for transition in self.faults.transitions:
            if transition.time_ms < self.duration_ms:
                self._at(transition.time_ms, self._on_transition, transition)
        if self.scenario.traffic.tx_per_s > 0:
            self._at(self._next_tx_ms(0), self._on_traffic)
        if progress is not None:
            self._at(0, self._on_progress)
        self.env.run(until=self.duration_ms)
        for i, slot in enumerate(self.slots):
            if slot.node is not None:
                self.recorder.record_rejections(i, self.duration_ms, dict(slot.node.rejections))

    def _at(self, time_ms: int, callback: Callable[..., None], *args: Any) -> None:
        event = self.env.timeout(max(time_ms - int(self.env.now), 0))
        event.callbacks.append(lambda _event: callback(*args))

    def _now(self) -> int:
        return int(self.env.now)

    def _on_progress(self) -> None:
        if self.progress is not None:
            self.progress(self._now(), self.get_height())
        self._at(self._now() + PROGRESS_EVERY_MS, self._on_progress)

    def get_height(self) -> int:
        """The highest finalized height among running nodes."""
        return max((s.node.height for s in self.slots if s.node is not None), default=0)

    # --- node inputs -----------------------------------------------------------------------

    def _start(self, i: int) -> None:
        node = self.slots[i].node
        if node is not None:
            self._emit(i, self._now(), node.on_start(self.faults.local_time_ms(i, self._now())))

    def _deliver(self, i: int, sender: str, message: Any) -> None:
        slot = self.slots[i]
        if slot.node is None:
            self.dropped += 1
            return
        if slot.paused:
            slot.held.append((sender, message))
            return
        self.deliveries += 1
        cost = self.costs.message_us(message)
        self._process(i, cost, lambda node, now: node.on_message(now, sender, message))

    def _fire(self, i: int, generation: Node, timer: Timer) -> None:
        slot = self.slots[i]
        if slot.node is not generation:
            return
        if slot.paused:
            slot.held.append(("", timer))
            return
        self._process(i, self.costs.timer_us(), lambda node, now: node.on_timer(now, timer))

    def _process(self, i: int, cost_us: int, handle: Callable[[Node, int], list[Any]]) -> None:
        """Run one input on node ``i`` as a single processor and emit its effects."""
        slot = self.slots[i]
        node = slot.node
        assert node is not None
        start_us = max(self._now() * 1000, slot.busy_until_us)
        start_ms = start_us // 1000
        effects = handle(node, self.faults.local_time_ms(i, start_ms))
        finish_us = start_us + cost_us + self._proving_us(i, effects)
        slot.busy_until_us = finish_us
        self._emit(i, math.ceil(finish_us / 1000), effects)

    def _proving_us(self, i: int, effects: list[Any]) -> int:
        """Proofs the node just produced: its proposed block's and its uptime claim's."""
        cost = 0
        for effect in effects:
            if not isinstance(effect, Publish):
                continue
            message = effect.message
            block = getattr(message, "block", None)
            if block is not None and block.header.proposer == self.keys[i].address:
                if block.hash not in self.blocks_seen:
                    for slot in block.proofs:
                        items = (
                            len(block.transactions)
                            if slot.circuit == "transaction"
                            else len(block.vrf_submissions)
                        )
                        cost += self.costs.proving_us(slot.circuit, items)
            elif (
                isinstance(message, UptimeProof) and message.wallet_address == self.keys[i].address
            ):
                cost += self.costs.proving_us("uptime", 1)
        return cost

    # --- effects ---------------------------------------------------------------------------

    def _emit(self, i: int, at_ms: int, effects: list[Any]) -> None:
        node = self.slots[i].node
        for effect in effects:
            if isinstance(effect, Publish):
                for message in self._misbehave(i, at_ms, effect.message):
                    self._publish(i, at_ms, effect.topic, message)
            elif isinstance(effect, Send):
                self._send(i, at_ms, effect.peer, effect.message)
            elif isinstance(effect, SetTimer):
                local_now = self.faults.local_time_ms(i, at_ms)
                self._at(
                    at_ms + max(effect.at_ms - local_now, 0), self._fire, i, node, effect.timer
                )
            elif isinstance(effect, Persist):
                self.slots[i].persisted.append(effect.value)
                self._on_commit(i, at_ms, effect.value)
            elif isinstance(effect, EmitTelemetry):
                self.recorder.record_snapshot(i, at_ms, effect.snapshot)

    def _publish(self, i: int, at_ms: int, topic: str, message: Any) -> None:
        self.msg_ids += 1
        msg_id = self.msg_ids
        size = message.size_bytes
        arrivals = self.network.flood(i, at_ms, size, str(topic), self.faults.view_at(at_ms))
        self.recorder.record_flood(
            msg_id,
            str(topic),
            i,
            at_ms,
            size,
            arrivals.receivers,
            arrivals.recv_ms,
            arrivals.hops,
            arrivals.dropped,
            arrivals.dropped_reason,
            {int(r): r.name.lower() for r in DropReason},
        )
        if isinstance(message, SignedBftVote):
            vote = message.vote
            kind = "prevote" if vote.kind is VoteKind.PRE_VOTE else "precommit"
            self.recorder.record_vote(
                vote.height, vote.round, kind, i, vote.block_hash, at_ms, len(arrivals.receivers)
            )
        self._schedule_arrivals(arrivals, message)

    def _schedule_arrivals(self, arrivals: Any, message: Any) -> None:
        """One simpy event per distinct arrival time; receivers in the flood's order."""
        receivers, recv_ms, senders = arrivals.receivers, arrivals.recv_ms, arrivals.senders
        if len(receivers) == 0:
            return
        cuts = np.flatnonzero(np.diff(recv_ms)) + 1
        for part in np.split(np.arange(len(receivers)), cuts):
            batch = [(int(receivers[k]), int(senders[k])) for k in part]
            self._at(int(recv_ms[part[0]]), self._deliver_batch, batch, message)

    def _deliver_batch(self, batch: list[tuple[int, int]], message: Any) -> None:
        for receiver, sender in batch:
            self._deliver(receiver, self.keys[sender].address, message)

    def _send(self, i: int, at_ms: int, peer: str, message: Any) -> None:
        j = self.index.get(peer)
        if j is None:
            return
        self.msg_ids += 1
        size = message.size_bytes
        delivery = self.network.unicast(i, j, at_ms, size, self.faults.view_at(at_ms))
        reason = (
            ""
            if delivery.delivered
            else (delivery.reason.name.lower() if delivery.reason else "lost")
        )
        self.recorder.record_unicast(
            self.msg_ids, "unicast", i, at_ms, size, j, delivery.recv_ms, delivery.hops, reason
        )
        if delivery.delivered:
            self._at(delivery.recv_ms, self._deliver, j, self.keys[i].address, message)

    def _on_commit(self, i: int, at_ms: int, commit: Commit) -> None:
        block = commit.block
        header = block.header
        self.recorder.record_block_finalized(header.height, i, block.hash, at_ms)
        node = self.slots[i].node
        if node is not None and node.vrf_metrics is not None:
            self.recorder.record_vrf_round(
                i, at_ms, header.height, commit.certificate.round, node.vrf_metrics.to_json_dict()
            )
        if block.hash in self.blocks_seen:
            return
        self.blocks_seen.add(block.hash)
        self.recorder.record_block(
            height=header.height,
            block_hash=block.hash,
            proposer=self.index.get(header.proposer, -1),
            round=commit.certificate.round,
            proposed_ms=header.timestamp_ms,
            previous_hash=header.previous_hash,
            tx_count=len(block.transactions),
            identity_count=len(block.identities),
            uptime_count=len(block.uptime_proofs),
            consensus_proof=any(s.circuit == "consensus" for s in block.proofs),
            proof_system=self.proofs.system,
            proof_bytes_total=sum(len(s.data) for s in block.proofs),
            state_root=header.state_root.hex(),
            recursive_commitment=header.recursive_commitment.hex(),
            recursive_previous_commitment=header.recursive_previous_commitment.hex(),
        )
        slots = list(block.proofs) + [u.proof for u in block.uptime_proofs if u.proof is not None]
        per_circuit: dict[str, int] = {}
        for slot in slots:
            index = per_circuit.get(slot.circuit, 0)
            per_circuit[slot.circuit] = index + 1
            verified = self._is_verified(slot)
            self.recorder.record_proof(
                header.height, slot.circuit, slot.system, len(slot.data), verified, index=index
            )

    def _is_verified(self, slot: ProofSlot) -> bool:
        """A proof counts as verified only when a real verifier checked it (never in model mode)."""
        return slot.system != "model"

    # --- faults ----------------------------------------------------------------------------

    def _on_transition(self, transition: Transition) -> None:
        kind, i, now = transition.kind, transition.node, self._now()
        phase = (
            "start"
            if kind
            in ("crash", "churn_down", "pause", "partition_start", "degrade_start", "skew_start")
            else "end"
        )
        nodes = [] if i < 0 else [i]
        self.recorder.record_fault(now, kind, phase, nodes, transition.detail)
        if kind in ("crash", "churn_down"):
            self._crash(i)
        elif kind in ("restart", "churn_up"):
            self._restart(i)
        elif kind == "pause":
            self.slots[i].paused = True
        elif kind == "resume":
            self._resume(i)

    def _crash(self, i: int) -> None:
        slot = self.slots[i]
        slot.node = None
        slot.paused = False
        slot.held.clear()

    def _restart(self, i: int) -> None:
        slot = self.slots[i]
        slot.node = self._new_node(i, list(slot.persisted))
        slot.busy_until_us = self._now() * 1000
        self._start(i)

    def _resume(self, i: int) -> None:
        slot = self.slots[i]
        slot.paused = False
        held, slot.held = slot.held, []
        for sender, item in held:
            if isinstance(item, Timer):
                self._fire(i, slot.node, item)  # type: ignore[arg-type]
            else:
                self._deliver(i, sender, item)

    # --- traffic ---------------------------------------------------------------------------

    def _next_tx_ms(self, now: int) -> int:
        rate = self.scenario.traffic.tx_per_s
        return now + max(1, math.ceil(self.traffic_rng.exponential(1000.0 / rate)))

    def _on_traffic(self) -> None:
        now = self._now()
        live = [i for i, s in enumerate(self.slots) if s.node is not None and not s.paused]
        if live:
            self._submit_transaction(now, live)
        self._at(self._next_tx_ms(now), self._on_traffic)

    def _submit_transaction(self, now: int, live: list[int]) -> None:
        rng = self.traffic_rng
        sender, recipient = rng.choice(len(self.wallets), size=2, replace=False)
        wallet: Keypair = self.wallets[int(sender)]
        target = live[int(rng.integers(len(live)))]
        node = self.slots[target].node
        assert node is not None
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
        self._process(target, self.costs.message_us(signed), lambda n, t: n.submit(t, signed))

    # --- byzantine behaviour -----------------------------------------------------------------

    def _misbehave(self, i: int, at_ms: int, message: Any) -> list[Any]:
        """The messages node ``i`` actually publishes instead of ``message``."""
        out = [message]
        for b in self.byzantine:
            if not b.is_active(i, at_ms):
                continue
            if b.kind == "withhold-votes" and isinstance(message, SignedBftVote):
                return []
            if b.kind == "double-sign" and isinstance(message, SignedBftVote):
                out.append(self._conflicting_vote(i, message))
            elif b.kind == "spam" and isinstance(message, Transaction):
                out += [message] * (b.factor - 1)
            elif b.kind == "invalid-proof" and isinstance(message, UptimeProof) and message.proof:
                out = [replace(message, proof=_corrupt(message.proof))]
        return out

    def _conflicting_vote(self, i: int, signed: SignedBftVote) -> SignedBftVote:
        vote = signed.vote
        other = hashlib.blake2s(self.byzantine_rng.bytes(32)).hexdigest()
        conflicting = BftVote(vote.round, vote.height, other, vote.voter, vote.kind)
        return sign_vote(conflicting, self.keys[i].keypair)


def _corrupt(slot: ProofSlot) -> ProofSlot:
    data = bytearray(slot.data)
    if data:
        data[len(data) // 2] ^= 0x01
    return ProofSlot(slot.system, slot.circuit, bytes(data))
