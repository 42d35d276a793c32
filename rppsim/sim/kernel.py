"""The simulation kernel: simpy drives many real ``Node`` objects over the network model.

Time is integer milliseconds; simpy breaks ties by event id (insertion order), so a run is a
deterministic function of (scenario, seed). Every input a node gets passes through one place
(``_process``), which models the node as a single processor:

    start = max(arrival, busy_until); finish = start + cost(input)

The handler runs with ``now`` = the node's local clock at ``start`` (clock-skew faults shift
it); its effects leave at ``finish``: a publish is flooded over the network with this
message's own sampled per-link delays and losses (``Network.flood``), and each receiver gets
its copy at its own arrival time. A timer fires when the node's local clock reaches its
deadline (so drift stretches or shrinks it, and a skew starting or ending moves the timers
pending then). Crashed nodes drop what reaches them; paused nodes keep what was in flight
towards them (and their timers) until they resume. A crash loses everything but the node's
persisted commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from rppsim.node.blocks import build_identity_request
from rppsim.node.config import NodeConfig
from rppsim.node.effects import EmitResult, EmitTelemetry, Persist, Publish, Send, SetTimer, Timer
from rppsim.node.messages import (
    Commit,
    ProofSlot,
    SignedBftVote,
    Transaction,
    UptimeProof,
    VoteKind,
    sign_transaction,
)
from rppsim.node.node import Node, NodeKeys, SignState
from rppsim.node.proofs import ProofService
from rppsim.node.signing import Keypair, generate_keypair
from rppsim.rng import SeedTree
from rppsim.scenario import (
    TRAFFIC_WALLETS,
    Scenario,
    TrafficConfig,
    TrafficPhase,
    build_fault_schedule,
    build_node_config,
    build_sim_network,
    compute_group_nodes,
)
from rppsim.sim.byzantine import build_attacks, build_entry
from rppsim.sim.costs import CostModel
from rppsim.sim.faults import ClockSkew, NodeState, Transition
from rppsim.sim.genesis import build_run_genesis, compute_file_key_seeds, load_genesis_file
from rppsim.sim.gossip import DropReason
from rppsim.telemetry.frames import RunRecorder

WALLETS = TRAFFIC_WALLETS
PROGRESS_EVERY_MS = 1000
COLLECTOR_LATENCY_MS = 5
"""Round trip of an emit to the simulated telemetry collector."""
DEFAULT_TELEMETRY_TIMEOUT_MS = 5000
"""``[rollout.telemetry] timeout_ms`` default (spec/ops.md §1.4), if the profile says 0."""
OUTAGE_STATUS_DETAIL = "telemetry endpoint responded with status 503"
NEVER_MS = 2**62
START_KINDS = ("crash", "churn_down", "pause", "partition_start", "degrade_start", "skew_start")
INSTANT_KINDS = ("heal",)
REASON_NAMES = {int(r): r.name.lower() for r in DropReason}

Handler = Callable[..., list[Any]]


class Call(simpy.Event):
    """A triggered simpy event that calls ``fn(*args)`` when processed (a lean Timeout)."""

    def __init__(self, env: simpy.Environment, fn: Callable[..., None], args: tuple) -> None:
        self.env = env
        self.callbacks = _INVOKE  # type: ignore[assignment]
        self._ok = True
        self._value = None
        self.fn = fn
        self.args = args


def _invoke(event: Call) -> None:
    event.fn(*event.args)


_INVOKE = (_invoke,)


@dataclass(slots=True)
class NodeSlot:
    """The kernel's view of one node: the object, its processor, timers and fault state."""

    node: Node | None
    busy_until_us: int = 0
    state: NodeState = NodeState.RUNNING
    """Set only from the fault schedule (``Simulation._enter``); CRASHED iff ``node`` is None."""
    held: list[tuple[str, Any, int]] = field(default_factory=list)
    """(sender, message or Timer, cost µs) that reached the node while it was paused; an item
    None is the start of a node restarted straight into a pause."""
    persisted: list[Commit] = field(default_factory=list)
    sign_state: SignState | None = None
    """The node's last persisted ``SignState`` (what it signed at the undecided height)."""
    timers: dict[int, tuple[int, Timer]] = field(default_factory=dict)
    """Pending timers: token → (local deadline ms, timer)."""
    lost_rejections: Counter[str] = field(default_factory=Counter)
    """Rejection counts of generations lost in crashes (the node's counts are cumulative)."""


@dataclass(slots=True)
class Flight:
    """One published message on its way: receivers in arrival order, the next one to land."""

    message: Any
    cost_us: int
    times: list[int]
    receivers: list[int]
    senders: list[int]
    next: int = 0


# --------------------------------------------------------------------------------------------
# Pure helpers: traffic times, clocks, configuration.


def compute_poisson_times(
    rate_per_s: float, start_ms: int, end_ms: int, rng: np.random.Generator
) -> list[int]:
    """Poisson arrival times (integer ms) in [start, end) at ``rate_per_s`` (spec/simnet §1.4)."""
    out: list[int] = []
    if rate_per_s <= 0:
        return out
    mean_ms, t = 1000.0 / rate_per_s, float(start_ms)
    while True:
        t += float(rng.exponential(mean_ms))
        if t >= end_ms:
            return out
        out.append(int(t))


def compute_on_off_times(phase: TrafficPhase, start_ms: int, rng: np.random.Generator) -> list[int]:
    """On/off bursts: Poisson while ON; a draw overrunning ON idles to its end, then OFF."""
    out: list[int] = []
    end, t = start_ms + phase.duration_ms, float(start_ms)
    mean_ms = 1000.0 / phase.rate_per_s
    while t < end:
        on_end = min(t + phase.on_ms, end)
        while True:
            wait = float(rng.exponential(mean_ms))
            if t + wait >= on_end:
                break
            t += wait
            out.append(int(t))
        t = on_end + phase.off_ms
    return out


def compute_tx_times(traffic: TrafficConfig, duration_ms: int, tree: SeedTree) -> list[int]:
    """Every transaction's submission time: ``tx_per_s``, or the phases back to back (each
    with its own stream ``("traffic", "phase", k)``), then idle to the end."""
    if not traffic.phases:
        return compute_poisson_times(
            traffic.tx_per_s, 0, duration_ms, tree.generator("traffic", "tx")
        )
    out: list[int] = []
    start = 0
    for k, phase in enumerate(traffic.phases):
        rng = tree.generator("traffic", "phase", k)
        if phase.model == "on-off":
            out += compute_on_off_times(phase, start, rng)
        else:
            out += compute_poisson_times(phase.rate_per_s, start, start + phase.duration_ms, rng)
        start += phase.duration_ms
    return out


def compute_local_ms(skews: tuple[ClockSkew, ...], t_ms: int) -> int:
    """A clock under ``skews`` (those active at ``t_ms`` count): t + offset + drift."""
    local = t_ms
    for spec in skews:
        until = NEVER_MS if spec.until_ms is None else spec.until_ms
        if spec.at_ms <= t_ms < until:
            local += spec.offset_ms + (t_ms - spec.at_ms) * spec.drift_ppm // 1_000_000
    return local


def compute_true_ms(skews: tuple[ClockSkew, ...], deadline_ms: int, now_ms: int) -> int:
    """The first true time ≥ ``now_ms`` at which the clock reads ``deadline_ms``, assuming
    the skews active at ``now_ms`` stay active (the kernel reschedules when they change)."""
    active = tuple(
        s for s in skews if s.at_ms <= now_ms < (NEVER_MS if s.until_ms is None else s.until_ms)
    )
    frozen = tuple(replace(s, until_ms=None) for s in active)
    local_now = compute_local_ms(frozen, now_ms)
    if local_now >= deadline_ms:
        return now_ms
    rate = 1_000_000 + sum(s.drift_ppm for s in frozen)
    t = now_ms + -(-(deadline_ms - local_now) * 1_000_000 // rate)
    while compute_local_ms(frozen, t) < deadline_ms:
        t += 1
    while t - 1 > now_ms and compute_local_ms(frozen, t - 1) >= deadline_ms:
        t -= 1
    return t


def build_node_keys(scenario: Scenario, tree: SeedTree) -> list[NodeKeys]:
    """Each node's keys: from ``("node", i, "keys")``, except that with a genesis file the
    validator nodes run its validator accounts (the keys their ``key_seed`` derives)."""
    n, spec = scenario.nodes.count, scenario.genesis
    seeds = [tree.seed_bytes("node", i, "keys") for i in range(n)]
    if spec is not None and spec.file is not None:
        genesis = load_genesis_file(spec, build_node_config(scenario), scenario.source)
        for i, seed in enumerate(compute_file_key_seeds(genesis)):
            seeds[i] = seed
    return [NodeKeys.from_seed(seed) for seed in seeds]


def build_run_configs(
    scenario: Scenario, keys: list[NodeKeys], wallets: list[Keypair], tree: SeedTree
) -> list[NodeConfig]:
    """The scenario's node config (``build_node_config``), then each ``[[nodes.group]]``'s,
    all with the run's genesis (``rppsim.sim.genesis``: built under the scenario's profile,
    checked under each)."""
    profiles = [build_node_config(scenario)]
    profiles += [build_node_config(scenario, g.profile_path) for g in scenario.nodes.groups]
    validators = [k.address for k in keys[: scenario.nodes.validators]]
    genesis = build_run_genesis(
        scenario.genesis, validators, [w.address for w in wallets], profiles, tree, scenario.source
    )
    return [replace(profile, genesis=genesis) for profile in profiles]


# --------------------------------------------------------------------------------------------
# The kernel.


class Simulation:
    """One run of a scenario with a seed (DESIGN.md §3, §4).

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
        self.wallets = [generate_keypair(self.tree.seed_bytes("wallet", j)) for j in range(WALLETS)]
        self.groups = compute_group_nodes(scenario.nodes, self.tree)
        """The nodes of each ``[[nodes.group]]``."""
        profiles = build_run_configs(scenario, self.keys, self.wallets, self.tree)
        self.config = profiles[0]
        """The ``[nodes]`` profile with the run's genesis (every node outside a group)."""
        self.group_configs = tuple(profiles[1:])
        self.node_configs = [self.config] * n
        for nodes, config in zip(self.groups, self.group_configs, strict=True):
            for i in nodes:
                self.node_configs[i] = config
        self.index = {address: i for i, address in enumerate(self.addresses)}
        self.skews = self._node_skews(n)
        self.slots = [NodeSlot(self._new_node(i)) for i in range(n)]
        keep = scenario.telemetry.record_messages if record_messages is None else record_messages
        self.recorder = RunRecorder(record_messages=keep)
        self.env = simpy.Environment()
        self.msg_ids = 0
        self.timer_ids = 0
        self.deliveries = 0
        self.dropped = 0
        self.nonces = {w.address: 0 for w in self.wallets}
        self.tx_times = compute_tx_times(scenario.traffic, self.duration_ms, self.tree)
        self.identity_times = compute_poisson_times(
            scenario.traffic.identity_per_min / 60.0,
            0,
            self.duration_ms,
            self.tree.generator("traffic", "identity"),
        )
        self.traffic_rng = self.tree.generator("traffic", "choice")
        self.byzantine = tuple(
            build_entry(k, spec, n, self.duration_ms, self.tree)
            for k, spec in enumerate(scenario.byzantine)
        )
        self.attacks = build_attacks(self, self.byzantine)
        """The run's byzantine behaviours (``rppsim.sim.byzantine``), None without any."""
        self.equivocation = None if self.attacks is None else self.attacks.equivocation
        self.blocks_seen: set[str] = set()
        self.progress: Callable[[int, int], None] | None = None
        self.collector: Callable[[int, int, bytes], None] | None = None
        """Called with (node, at_ms, payload) for every emit the simulated collector accepts:
        the canonical JSON a live collector would store (``rppsim.telemetry.jsonl``)."""
        self.started = False
        self.finished = False

    # --- building --------------------------------------------------------------------------

    def _new_node(
        self, i: int, commits: list[Commit] | None = None, sign_state: SignState | None = None
    ) -> Node:
        return Node(
            self.node_configs[i],
            self.keys[i],
            rules=self.scenario.rules,
            proofs=self.proofs,
            commits=commits or (),
            sign_state=sign_state,
        )

    def _node_skews(self, n: int) -> list[tuple[ClockSkew, ...]]:
        """Each node's clock-skew specs (most nodes have none: their clock is true time)."""
        skews: list[list[ClockSkew]] = [[] for _ in range(n)]
        for spec in self.scenario.faults:
            if isinstance(spec, ClockSkew):
                for node in spec.nodes:
                    skews[node].append(spec)
        return [tuple(s) for s in skews]

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
        self.electorate_heights: set[int] = set()
        regions = self._region_names()
        byzantine = frozenset().union(*(b.nodes for b in self.byzantine))
        for i, address in enumerate(self.addresses):
            role = "validator" if i < self.scenario.nodes.validators else "full"
            self.recorder.record_node(i, address, role, regions[i], byzantine=i in byzantine)
        for i in range(len(self.slots)):
            self._at(0, self._start, i)
        self._at(0, self._record_first_electorate)
        for transition in self.faults.transitions:
            if transition.time_ms < self.duration_ms:
                self._at(transition.time_ms, self._on_transition, transition)
        if self.tx_times:
            self._at(self.tx_times[0], self._on_traffic, 0)
        if self.identity_times:
            self._at(self.identity_times[0], self._on_identity, 0)
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
        for i, slot in enumerate(self.slots):
            counts = Counter(slot.lost_rejections)
            if slot.node is not None:
                counts.update(slot.node.rejections)
            if counts:
                self.recorder.record_rejections(i, self.duration_ms, dict(counts))

    def _record_sample(self, i: int, node: Node, at_ms: int) -> None:
        """At a telemetry sample of node ``i``: its own account in its own ledger and its
        cumulative rejections (with those lost in its crashes), as ``finish`` records them."""
        address = node.address
        genesis = node.config.genesis.get_account(address)
        stake = None if genesis is None else genesis.stake_value
        self.recorder.record_ledger(i, at_ms, address, node.ledger.get_account(address), stake)
        counts = Counter(self.slots[i].lost_rejections)
        counts.update(node.rejections)
        self.recorder.record_rejections(i, at_ms, dict(counts))

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

    def _deliver(self, i: int, sender: str, message: Any, cost_us: int) -> None:
        slot = self.slots[i]
        state = slot.state
        if state is NodeState.RUNNING:
            self.deliveries += 1
            self._process(i, cost_us, Node.on_message, sender, message)
        elif state is NodeState.PAUSED:
            slot.held.append((sender, message, cost_us))
        else:
            self.dropped += 1

    def _fire(self, i: int, generation: Node, token: int) -> None:
        slot = self.slots[i]
        if slot.node is not generation:
            return
        entry = slot.timers.pop(token, None)
        if entry is None:
            return  # rescheduled after a clock change
        if slot.state is NodeState.PAUSED:
            slot.held.append(("", entry[1], self.costs.timer_us()))  # runs on resume
            return
        self._process(i, self.costs.timer_us(), Node.on_timer, entry[1])

    def _process(self, i: int, cost_us: int, handler: Handler, *args: Any) -> None:
        """Run one input on node ``i`` as a single processor and emit its effects."""
        attacks = self.attacks
        if attacks is not None and attacks.filters and attacks.is_dropped(self, i, handler, args):
            return
        slot = self.slots[i]
        node = slot.node
        assert node is not None
        start_us = self.env.now * 1000
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
                if block.hash not in self.blocks_seen:
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
                self._set_timer(i, node, at_ms, effect.at_ms, effect.timer)
            elif kind is Send:
                message = effect.message
                if self.attacks is not None:
                    message = self.attacks.on_send(self, i, at_ms, message)
                self._send(i, at_ms, effect.peer, message)
            elif kind is Persist:
                if effect.key == "commit":
                    self.slots[i].persisted.append(effect.value)
                    self._on_commit(i, node, at_ms, effect.value)
                    if self.attacks is not None:
                        self.attacks.on_commit(self, i, at_ms, effect.value)
                else:
                    self.slots[i].sign_state = effect.value
            elif kind is EmitTelemetry:
                self._record_sample(i, node, at_ms)
                result = self._collect(i, node, at_ms, effect)
                if result.ok and self.collector is not None and effect.payload is not None:
                    self.collector(i, at_ms, effect.payload)
                error = "" if result.ok else f"{result.error_class}: {result.detail}"
                self.recorder.record_snapshot(
                    i, at_ms, effect.snapshot, emit_ok=result.ok, emit_error=error
                )

    def _collect(self, i: int, node: Node, at_ms: int, effect: EmitTelemetry) -> EmitResult:
        """The simulated collector: the outcome of an emit node ``i`` sends at ``at_ms`` (true
        time), answered to the node after the collector's latency, at once (``down``) or after
        the request timeout (``slow``). An encode failure sends nothing and gets no answer."""
        if effect.payload is None:
            return EmitResult(effect.seq, False, "encode", effect.error)
        mode = self.faults.get_telemetry_outage(i, at_ms)
        delay = COLLECTOR_LATENCY_MS
        if mode is None:
            result = EmitResult(effect.seq, True)
        elif mode == "error-status":
            result = EmitResult(effect.seq, False, "status", OUTAGE_STATUS_DETAIL)
        elif mode == "slow":
            delay = node.config.rollout.telemetry.timeout_ms or DEFAULT_TELEMETRY_TIMEOUT_MS
            detail = f"unable to dispatch telemetry snapshot: timed out after {delay} ms"
            result = EmitResult(effect.seq, False, "transport", detail)
        else:
            delay = 0
            detail = "unable to dispatch telemetry snapshot: connection refused"
            result = EmitResult(effect.seq, False, "transport", detail)
        self._at(at_ms + delay, self._answer_emit, i, node, result)
        return result

    def _answer_emit(self, i: int, generation: Node, result: EmitResult) -> None:
        """Hand the collector's answer to the node that sent the emit, at no processing cost:
        lost if it crashed since; while it is paused the answer waits for the resume."""
        slot = self.slots[i]
        if slot.node is not generation:
            return
        if slot.state is NodeState.PAUSED:
            now = self._now()
            ends = [w.end_ms for w in self.faults.pause_windows if w.node == i]
            end = min((e for e in ends if e > now), default=self.duration_ms)
            if end < self.duration_ms:
                self._at(end, self._answer_emit, i, generation, result)
            return
        self._process(i, 0, Node.on_emit_result, result)  # bookkeeping: moves no other input

    def _set_timer(self, i: int, node: Node, at_ms: int, deadline: int, timer: Timer) -> None:
        """Fire ``timer`` when node ``i``'s clock reads ``deadline`` (not before ``at_ms``)."""
        self.timer_ids += 1
        token = self.timer_ids
        self.slots[i].timers[token] = (deadline, timer)
        skews = self.skews[i]
        fire = compute_true_ms(skews, deadline, at_ms) if skews else max(deadline, at_ms)
        self._at(fire, self._fire, i, node, token)

    def _reschedule_timers(self, i: int) -> None:
        """Node ``i``'s clock jumped or changed rate: move its pending timers."""
        slot = self.slots[i]
        if slot.node is None:
            return
        pending, slot.timers = slot.timers, {}
        for deadline, timer in pending.values():
            self._set_timer(i, slot.node, self._now(), deadline, timer)

    def _publish(self, i: int, at_ms: int, topic: str, message: Any) -> None:
        self.msg_ids += 1
        msg_id = self.msg_ids
        size = message.size_bytes
        topic = str(topic)
        arrivals = self.network.flood(i, at_ms, size, topic, self.faults.view_at(at_ms))
        self.recorder.record_flood(
            msg_id,
            topic,
            i,
            at_ms,
            size,
            arrivals.receivers,
            arrivals.recv_ms,
            arrivals.hops,
            arrivals.dropped,
            arrivals.dropped_reason,
            REASON_NAMES,
        )
        if isinstance(message, SignedBftVote):
            vote = message.vote
            kind = "prevote" if vote.kind is VoteKind.PRE_VOTE else "precommit"
            self.recorder.record_vote(
                vote.height, vote.round, kind, i, vote.block_hash, at_ms, len(arrivals.receivers)
            )
        if len(arrivals.receivers):
            flight = Flight(
                message,
                self.costs.message_us(message),
                arrivals.recv_ms.tolist(),
                arrivals.receivers.tolist(),
                arrivals.senders.tolist(),
            )
            self._at(flight.times[0], self._land, flight)

    def _land(self, flight: Flight) -> None:
        """Deliver every copy of ``flight`` due now (flood order), then wait for the next."""
        times, k = flight.times, flight.next
        now, count = times[k], len(times)
        receivers, senders, addresses = flight.receivers, flight.senders, self.addresses
        slots, message, cost = self.slots, flight.message, flight.cost_us
        running, paused = NodeState.RUNNING, NodeState.PAUSED
        while k < count and times[k] == now:
            i = receivers[k]
            slot = slots[i]
            state = slot.state
            if state is running:
                self.deliveries += 1
                self._process(i, cost, Node.on_message, addresses[senders[k]], message)
            elif state is paused:
                slot.held.append((addresses[senders[k]], message, cost))
            else:
                self.dropped += 1
            k += 1
        flight.next = k
        if k < count:
            self._at(times[k], self._land, flight)

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
            cost = self.costs.message_us(message)
            self._at(delivery.recv_ms, self._deliver, j, self.addresses[i], message, cost)

    def _on_commit(self, i: int, node: Node, at_ms: int, commit: Commit) -> None:
        block = commit.block
        header = block.header
        self.recorder.record_block_finalized(header.height, i, block.hash, at_ms)
        if node.vrf_metrics is not None:
            self.recorder.record_vrf_round(
                i, at_ms, header.height, commit.certificate.round, node.vrf_metrics.to_json_dict()
            )
        if node.height == header.height:
            self._record_electorate(header.height + 1, node)
        if block.hash in self.blocks_seen:
            return
        self.blocks_seen.add(block.hash)
        self._record_block(commit, node)

    def _record_first_electorate(self) -> None:
        """The electorate of height 1, from the first running node once every node started."""
        node = next((s.node for s in self.slots if s.node is not None), None)
        if node is not None:
            self._record_electorate(1, node)

    def _record_electorate(self, height: int, node: Node) -> None:
        """The set counting the votes of ``height`` as ``node`` holds it (first one seen)."""
        if height in self.electorate_heights:
            return
        electorate = node.electorate
        self.electorate_heights.add(height)
        members = [(self.index.get(a), a, p) for a, p in electorate.powers]
        self.recorder.record_electorate(height, members, electorate.total_power, electorate.quorum)

    def _record_block(self, commit: Commit, node: Node) -> None:
        """The first commit of a block: its row, its evidence rows (the double signs it
        carries, and what the participation detectors found when ``node`` applied it) and
        its proofs' rows."""
        block = commit.block
        header = block.header
        self.recorder.record_block(
            height=header.height,
            block_hash=block.hash,
            proposer=self.index.get(header.proposer),
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
        for item in block.evidence:
            offender = self.index.get(item.address)
            kind = item.kind.name.lower()
            self.recorder.record_evidence(
                header.height, block.hash, offender, item.height, item.round, kind
            )
        for event in node.ledger.participation_log:
            if event.height == header.height:
                self.recorder.record_evidence(
                    header.height,
                    block.hash,
                    self.index.get(event.address),
                    event.offense_height,
                    event.round,
                    str(event.kind),
                )
        slots = list(block.proofs) + [u.proof for u in block.uptime_proofs if u.proof is not None]
        per_circuit: dict[str, int] = {}
        for slot in slots:
            index = per_circuit.get(slot.circuit, 0)
            per_circuit[slot.circuit] = index + 1
            self.recorder.record_proof(
                header.height,
                slot.circuit,
                slot.system,
                len(slot.data),
                self._is_verified(slot),
                index=index,
            )

    def _is_verified(self, slot: ProofSlot) -> bool:
        """A proof counts as verified only when a real verifier checked it (never in model mode)."""
        return slot.system != "model"

    # --- faults ----------------------------------------------------------------------------

    def _on_transition(self, transition: Transition) -> None:
        kind, i, now = transition.kind, transition.node, self._now()
        phase = "start" if kind in START_KINDS else "instant" if kind in INSTANT_KINDS else "end"
        if kind == "telemetry_outage_start":  # the collector reads the schedule at each emit
            phase = "start"
        self.recorder.record_fault(now, kind, phase, [] if i < 0 else [i], transition.detail)
        if kind in ("crash", "churn_down", "restart", "churn_up", "pause", "resume"):
            state = self.faults.get_node_state(i, now)
            self._enter(i, state)
            slot = self.slots[i]
            assert slot.state is state and (slot.node is None) is (state is NodeState.CRASHED)
            assert state is NodeState.PAUSED or not slot.held, (i, now, state)
        elif kind in ("skew_start", "skew_end"):
            self._reschedule_timers(i)

    def _enter(self, i: int, state: NodeState) -> None:
        """Move node ``i`` to the schedule's ``state`` (several transitions of one instant
        resolve to the state at that instant; the later ones find nothing to do)."""
        slot = self.slots[i]
        old, slot.state = slot.state, state
        if old is state:
            return
        if state is NodeState.CRASHED:
            self._crash(i)
        elif old is NodeState.CRASHED:
            self._restart(i)
        elif state is NodeState.RUNNING:
            self._resume(i)

    def _crash(self, i: int) -> None:
        """Lose everything but the persisted commits: the node, its timers and held inputs."""
        slot = self.slots[i]
        if slot.node is not None:
            slot.lost_rejections.update(slot.node.rejections)
        slot.node = None
        slot.held.clear()
        slot.timers.clear()

    def _restart(self, i: int) -> None:
        """A new node from the persisted commits; it starts now, or at resume if paused."""
        slot = self.slots[i]
        slot.node = self._new_node(i, list(slot.persisted), slot.sign_state)
        slot.busy_until_us = self._now() * 1000
        if slot.state is NodeState.PAUSED:
            slot.held.append(("", None, 0))
        else:
            self._start(i)

    def _resume(self, i: int) -> None:
        """Run what was held during the pause, in arrival order, at the resume time."""
        slot = self.slots[i]
        held, slot.held = slot.held, []
        for sender, item, cost in held:
            if item is None:
                self._start(i)
            elif isinstance(item, Timer):
                self._process(i, cost, Node.on_timer, item)
            else:
                self.deliveries += 1
                self._process(i, cost, Node.on_message, sender, item)

    # --- traffic ---------------------------------------------------------------------------

    def _live(self) -> list[int]:
        """Running (neither crashed nor paused) nodes by index (the publisher list of
        spec/simnet.md §1.4): the only targets of transactions and identity requests."""
        return [i for i, s in enumerate(self.slots) if s.state is NodeState.RUNNING]

    def _pick_publisher(self, live: list[int]) -> int:
        """Uniform over the live list, or Zipf by position in it (weight rank^-s)."""
        traffic = self.scenario.traffic
        if traffic.publisher == "zipf":
            weights = np.arange(1, len(live) + 1, dtype=np.float64) ** -traffic.zipf_s
            return live[int(self.traffic_rng.choice(len(live), p=weights / weights.sum()))]
        return live[int(self.traffic_rng.integers(len(live)))]

    def _on_traffic(self, k: int) -> None:
        live = self._live()
        if live:
            self._submit_transaction(self._pick_publisher(live))
        if k + 1 < len(self.tx_times):
            self._at(self.tx_times[k + 1], self._on_traffic, k + 1)

    def _submit_transaction(self, target: int) -> None:
        rng = self.traffic_rng
        sender, recipient = rng.choice(len(self.wallets), size=2, replace=False)
        wallet: Keypair = self.wallets[int(sender)]
        node = self.slots[target].node
        assert node is not None and self.slots[target].state is NodeState.RUNNING
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
        self._process(target, self.costs.message_us(signed), Node.submit, signed)

    def _on_identity(self, k: int) -> None:
        live = self._live()
        if live:
            target = live[int(self.traffic_rng.integers(len(live)))]
            node = self.slots[target].node
            assert node is not None and self.slots[target].state is NodeState.RUNNING
            request = build_identity_request(node.ledger, self.tree.seed_bytes("identity", k))
            self._process(target, self.costs.message_us(request), Node.submit, request)
        if k + 1 < len(self.identity_times):
            self._at(self.identity_times[k + 1], self._on_identity, k + 1)
