"""The simulation kernel: simpy drives many real ``Node`` objects over the network model.

Time is integer milliseconds; simpy breaks ties by event id (insertion order), so a run is a
deterministic function of (scenario, seed). Every input a node gets passes through one place
(``_process``), which models the node as a single processor:

    start = max(arrival, busy_until); finish = start + cost(input)

The handler runs with ``now`` = the node's local clock at ``start`` (clock-skew faults shift
it, ``rppsim.sim.clocks``); its effects leave at ``finish``: a publish is flooded over the
network with this message's own sampled per-link delays and losses (``Network.flood``), and
each receiver gets its copy at its own arrival time. A timer fires when the node's local clock
reaches its deadline (so drift stretches or shrinks it, and a skew starting or ending moves
the timers pending then). Crashed nodes drop what reaches them; paused nodes keep what was in
flight towards them (and their timers) until they resume (``rppsim.sim.lifecycle``).

``Simulation`` is the coordinator: it owns the clock, the node slots and the effect path, and
hands messages to ``rppsim.sim.transport``, timers to ``rppsim.sim.clocks``, the workload to
``rppsim.sim.traffic``, crashes, restarts and stages to ``rppsim.sim.lifecycle``, the chain's
rows to ``rppsim.sim.recording``, emits to ``rppsim.sim.collector`` and the byzantine
behaviours to ``rppsim.sim.byzantine``. What it is built from comes from
``rppsim.sim.builders`` over the scenario model (``rppsim.sim.spec``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import simpy
from simpy.events import NORMAL

from rppsim.node.effects import EmitTelemetry, Persist, Publish, Send, SetTimer
from rppsim.node.messages import Commit, UptimeProof
from rppsim.node.node import Node, SignState
from rppsim.node.persistence import PersistedState
from rppsim.node.proofs import ProofService
from rppsim.node.signing import generate_keypair
from rppsim.rng import SeedTree
from rppsim.sim.builders import (
    build_fault_schedule,
    build_node_keys,
    build_run_configs,
    build_sim_network,
    compute_group_nodes,
)
from rppsim.sim.byzantine import build_attacks, build_entry
from rppsim.sim.clocks import Timers, compute_local_ms, compute_node_skews
from rppsim.sim.collector import Collector
from rppsim.sim.costs import CostModel
from rppsim.sim.lifecycle import Lifecycle, NodeSlot
from rppsim.sim.recording import ChainRecording
from rppsim.sim.spec import TRAFFIC_WALLETS, Scenario
from rppsim.sim.traffic import Traffic
from rppsim.sim.transport import Transport
from rppsim.telemetry.frames import RunRecorder

PROGRESS_EVERY_MS = 1000

Handler = Callable[..., list[Any]]


class Call(simpy.Event):
    """A triggered simpy event that calls ``fn(*args)`` when processed (a lean Timeout)."""

    def __init__(self, env: simpy.Environment, fn: Callable[..., None], args: tuple) -> None:
        self.env = env
        self.callbacks = _INVOKE  # type: ignore[assignment]  # a shared tuple, never appended
        self._ok = True
        self._value = None
        self.fn = fn
        self.args = args


def _invoke(event: Call) -> None:
    event.fn(*event.args)


_INVOKE = (_invoke,)


class Simulation:
    """One run of a scenario with a seed (docs/architecture.md#data-path).

    ``run()`` does everything; ``start()``, ``advance(until_ms)`` and ``finish()`` let a caller
    stop at chosen instants and look at the nodes.
    """

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
        self.keys = build_node_keys(scenario, self.tree)
        self.addresses = [keys.address for keys in self.keys]
        self.wallets = [
            generate_keypair(self.tree.seed_bytes("wallet", j)) for j in range(TRAFFIC_WALLETS)
        ]
        self.groups = compute_group_nodes(scenario.nodes, self.tree)
        """The nodes of each ``[[nodes.group]]``."""
        profiles = build_run_configs(scenario, self.keys, self.wallets, self.tree)
        self.config = profiles[0]
        """The ``[nodes]`` profile with the run's genesis (every node outside a group)."""
        groups = len(self.groups)
        self.group_configs = tuple(profiles[1 : 1 + groups])
        self.stage_configs = tuple(profiles[1 + groups :])
        """Each ``[[stage]]``'s profile with the run's genesis."""
        self.node_configs = [self.config] * n
        """The profile each node runs now (a stage moves its nodes onto another)."""
        for nodes, config in zip(self.groups, self.group_configs, strict=True):
            for i in nodes:
                self.node_configs[i] = config
        self.start_configs = tuple(self.node_configs)
        """The profile each node started with."""
        self.index = {address: i for i, address in enumerate(self.addresses)}
        self.keep_chain, self.trim_persisted = self._compute_retention()
        self.skews = compute_node_skews(scenario.faults, n)
        self.slots = [NodeSlot(self._new_node(i)) for i in range(n)]
        self.recorder = RunRecorder(
            record_messages=(
                scenario.telemetry.record_messages if record_messages is None else record_messages
            ),
            message_sample_rate=scenario.telemetry.message_sample_rate,
        )
        self.env = simpy.Environment()
        self.transport = Transport(self)
        self.timers = Timers(self)
        self.traffic = Traffic(self, scenario.traffic, self.wallets)
        self.lifecycle = Lifecycle(self)
        self.recording = ChainRecording(self, self.recorder)
        self.telemetry = Collector(self)
        self.byzantine = tuple(
            build_entry(k, spec, n, self.duration_ms, self.tree)
            for k, spec in enumerate(scenario.byzantine)
        )
        self.attacks = build_attacks(self, self.byzantine)
        """The run's byzantine behaviours (``rppsim.sim.byzantine``), None without any."""
        self.equivocation = None if self.attacks is None else self.attacks.equivocation
        self.progress: Callable[[int, int], None] | None = None
        self.collector: Callable[[int, int, bytes], None] | None = None
        """Called with (node, at_ms, payload) for every emit the simulated collector accepts:
        the canonical JSON a live collector would store (``rppsim.telemetry.jsonl``)."""
        self.started = False
        self.finished = False

    # --- building --------------------------------------------------------------------------

    def _compute_retention(self) -> tuple[bool, bool]:
        """(``keep_chain``, ``trim_persisted``) of ``[telemetry] chain_record``: whether each
        node keeps every commit whole, and whether a node's data_dir drops the commits its
        latest snapshot covers. A restart starts from that snapshot when every profile of the
        run has the ``reconstruction`` gate, and then skips those commits anyway; only a
        retained record trims (tests read the data_dir back)."""
        keep = self.scenario.telemetry.chain_record == "full"
        configs = (self.config, *self.group_configs, *self.stage_configs)
        rebuilt = all(c.rollout.feature_gates.reconstruction for c in configs)
        return keep, not keep and rebuilt

    def _new_node(
        self,
        i: int,
        commits: list[Commit] | None = None,
        sign_state: SignState | None = None,
        disk: PersistedState | None = None,
    ) -> Node:
        """Node ``i`` from its persisted commits and sign state (data_dir) and what survived
        in its snapshot_dir and proof_cache_dir (``disk``)."""
        return Node(
            self.node_configs[i],
            self.keys[i],
            rules=self.scenario.rules,
            proofs=self.proofs,
            commits=commits or (),
            sign_state=sign_state,
            restore=disk,
            keep_chain=self.keep_chain,
        )

    def _region_names(self) -> list[str]:
        regions = self.scenario.network.regions
        if regions is None:
            return [""] * len(self.keys)
        return [regions.names[int(r)] for r in self.network.links.node_region]

    # --- running ---------------------------------------------------------------------------

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Run to the end of the scenario; ``progress(now_ms, height)`` is called every second."""
        self.progress = progress
        self.start()
        self.advance(self.duration_ms)
        self.finish()

    def start(self) -> None:
        """Record the nodes and schedule the starts, fault transitions and traffic (once)."""
        if self.started:
            return
        self.started = True
        byzantine = frozenset().union(*(b.nodes for b in self.byzantine))
        self.recording.record_nodes(self._region_names(), byzantine)
        for i in range(len(self.slots)):
            self._at(0, self._start, i)
        self._at(0, self.recording.record_first_electorate)
        for transition in self.faults.transitions:
            if transition.time_ms < self.duration_ms:
                self._at(transition.time_ms, self.lifecycle.on_transition, transition)
        self.traffic.start()
        if self.progress is not None:
            self._at(0, self._on_progress)
        if self.attacks is not None:
            self.attacks.start(self)

    def advance(self, until_ms: int) -> None:
        """Process every event before ``until_ms`` (capped at the run's duration)."""
        self.start()
        until = min(until_ms, self.duration_ms)
        if until > self.env.now:
            self.env.run(until=until)

    def finish(self) -> None:
        """Record each node's cumulative rejections at the end of the run (once)."""
        if self.finished:
            return
        self.finished = True
        self.recording.record_final(self.duration_ms)

    def _at(self, time_ms: int, callback: Callable[..., None], *args: Any) -> None:
        env = self.env
        env.schedule(Call(env, callback, args), NORMAL, max(time_ms - env.now, 0))

    def _now(self) -> int:
        return int(self.env.now)

    def _on_progress(self) -> None:
        if self.progress is not None:
            self.progress(self._now(), self.get_height())
        self._at(self._now() + PROGRESS_EVERY_MS, self._on_progress)

    def get_height(self) -> int:
        """The highest finalized height among running nodes."""
        return max((s.node.height for s in self.slots if s.node is not None), default=0)

    def local_ms(self, i: int, t_ms: int) -> int:
        """Node ``i``'s clock at true time ``t_ms``."""
        skews = self.skews[i]
        return compute_local_ms(skews, t_ms) if skews else t_ms

    # --- node inputs -----------------------------------------------------------------------

    def _start(self, i: int) -> None:
        node = self.slots[i].node
        if node is not None:
            now = self._now()
            self._emit(i, node, now, node.on_start(self.local_ms(i, now)))

    def _process(self, i: int, cost_us: int, handler: Handler, *args: Any) -> None:
        """Run one input on node ``i`` as a single processor and emit its effects."""
        attacks = self.attacks
        if attacks is not None and attacks.filters and attacks.is_dropped(self, i, handler, args):
            return
        slot = self.slots[i]
        node = slot.node
        assert node is not None
        start_us = cast(int, self.env.now) * 1000  # simpy's time stays int: every delay is int
        start_us = max(start_us, slot.busy_until_us)
        start_ms = start_us // 1000
        effects = handler(node, self.local_ms(i, start_ms) if self.skews[i] else start_ms, *args)
        finish_us = start_us + cost_us
        if effects and self.costs.enabled:
            finish_us += self._proving_us(i, effects)
        slot.busy_until_us = finish_us
        if effects:
            self._emit(i, node, -(-finish_us // 1000), effects)

    def _proving_us(self, i: int, effects: list[Any]) -> int:
        """Proofs the node just produced: its proposed block's and its uptime claim's."""
        cost = 0
        address = self.addresses[i]
        for effect in effects:
            if not isinstance(effect, Publish):
                continue
            message = effect.message
            block = getattr(message, "block", None)
            if block is not None and block.header.proposer == address:
                if block.hash not in self.recording.blocks_seen:
                    for slot in block.proofs:
                        items = (
                            len(block.transactions)
                            if slot.circuit == "transaction"
                            else len(block.vrf_submissions)
                        )
                        cost += self.costs.proving_us(slot.circuit, items)
            elif isinstance(message, UptimeProof) and message.wallet_address == address:
                cost += self.costs.proving_us("uptime", 1)
        return cost

    # --- effects ---------------------------------------------------------------------------

    def _emit(self, i: int, node: Node, at_ms: int, effects: list[Any]) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is Publish:
                if self.attacks is not None:
                    for message in self.attacks.on_publish(self, i, at_ms, effect.message):
                        self._publish(i, at_ms, effect.topic, message)
                else:
                    self._publish(i, at_ms, effect.topic, effect.message)
            elif kind is SetTimer:
                self.timers.set(i, node, at_ms, effect.at_ms, effect.timer)
            elif kind is Send:
                message = effect.message
                if self.attacks is not None:
                    message = self.attacks.on_send(self, i, at_ms, message)
                self._send(i, at_ms, effect.peer, message)
            elif kind is Persist:
                if effect.key == "commit":
                    persisted = self.slots[i].persisted
                    persisted.append(effect.value)
                    if self.trim_persisted and node.snapshot is not None:
                        covered = node.snapshot.height
                        while persisted and persisted[0].block.header.height <= covered:
                            del persisted[0]
                    self.recording.on_commit(i, node, at_ms, effect.value)
                    if self.attacks is not None:
                        self.attacks.on_commit(self, i, at_ms, effect.value)
                else:
                    self.slots[i].sign_state = effect.value
            elif kind is EmitTelemetry:
                self._on_emit(i, node, at_ms, effect)

    def _on_emit(self, i: int, node: Node, at_ms: int, effect: EmitTelemetry) -> None:
        """A telemetry snapshot: the node's sample rows, the collector's outcome, the row."""
        self.recording.record_sample(i, node, at_ms)
        result = self.telemetry.collect(i, node, at_ms, effect)
        if result.ok and self.collector is not None and effect.payload is not None:
            self.collector(i, at_ms, effect.payload)
        error = "" if result.ok else f"{result.error_class}: {result.detail}"
        self.recorder.record_snapshot(
            i, at_ms, effect.snapshot, emit_ok=result.ok, emit_error=error
        )

    # --- messages (``rppsim.sim.transport``; byzantine behaviours call these) ---------------

    def _publish(self, i: int, at_ms: int, topic: str, message: Any) -> None:
        self.transport.publish(i, at_ms, topic, message)

    def _send(self, i: int, at_ms: int, peer: str, message: Any) -> None:
        self.transport.send(i, at_ms, peer, message)

    def _deliver(self, i: int, sender: str, message: Any, cost_us: int) -> None:
        self.transport.deliver(i, sender, message, cost_us)
