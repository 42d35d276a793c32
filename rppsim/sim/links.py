"""The link model: base latency, jitter, loss and bandwidth per hop
(docs/architecture.md#network-model).

simnet delays only each link's first dial and applies loss as a *percent* once per dial
(docs/simnet.md#links-and-latency). Here every message gets its own delay and loss on every hop:

``delay(arc) = base(arc) + jitter(arc) + serialization(bytes) + extra_delay(arc, t)``

* ``base``: per edge, a uniform integer in ``latency_ms = [lo, hi]`` drawn once from
  ``("net", "latency")``; or the region matrix entry ``[region(u)][region(v)]``; an edge-list
  ``latency_ms`` cell overrides either. Peer classes add the *target* node's class
  ``extra_delay_ms`` (simnet's class overlay, docs/simnet.md#links-and-latency).
* ``jitter``: per message per hop, an integer uniform in ``[0, jitter_ms]`` (inclusive;
  ``floor(u * (jitter_ms + 1))`` of a uniform double u from ``("net", "jitter")``), plus the
  target class's jitter drawn the same way from ``("net", "class-jitter")``. Jitter only
  adds: a hop never arrives before its base latency.
* ``loss``: per message per hop Bernoulli with the fraction as written (``u < loss`` with u
  from ``("net", "loss")``); degradation faults combine as ``1 - (1 - p)(1 - extra)``.
* ``serialization``: ``ceil(bytes * 8 / (bandwidth_mbps * 1000))`` ms per hop, 0 when the
  bandwidth is 0 (unlimited). No queueing: concurrent messages on a link do not wait for each
  other in the fast path.

Sampling consumes one uniform per arc per stream for every message (``sample_arc_delays``;
class jitter only when classes are set), whatever the jitter and loss values, in the order
the simulator asks (its event order is deterministic, ties broken by sequence number). So a
message's draws depend only on how many messages came before it, and two runs that differ
only in jitter or loss see the same uniforms (common random numbers: raising the loss only
adds losses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rppsim.rng import SeedTree
from rppsim.sim.faults import NetworkView
from rppsim.sim.topology import Topology

LOST = -1
DOWN = -2


@dataclass(frozen=True, slots=True)
class LinkParams:
    """``[network.link]``: latency range, jitter, loss fraction and bandwidth."""

    latency_ms: tuple[int, int] = (20, 80)
    jitter_ms: int = 0
    loss: float = 0.0
    bandwidth_mbps: int = 0


@dataclass(frozen=True, slots=True)
class RegionParams:
    """``[network.regions]``: names, node assignment and per-region-pair matrices."""

    names: tuple[str, ...]
    latency_ms: tuple[tuple[int, ...], ...]
    assignment: tuple[str, ...] | None = None
    jitter_ms: tuple[tuple[int, ...], ...] | None = None
    loss: tuple[tuple[float, ...], ...] | None = None


@dataclass(frozen=True, slots=True)
class ClassLatency:
    """Latency overlay of a peer class (simnet ``latency_profile``,
    docs/simnet.md#scenario-model)."""

    extra_delay_ms: int = 0
    jitter_ms: int = 0


@dataclass(frozen=True, slots=True)
class ClassParams:
    """``[network.classes]``: which nodes are trusted and each class's overlay."""

    trusted_nodes: tuple[int, ...] | None = None
    trusted_fraction: float | None = None
    trusted: ClassLatency = ClassLatency()
    untrusted: ClassLatency = ClassLatency()


@dataclass(frozen=True, eq=False)
class LinkModel:
    """Per-arc link parameters of a run (arrays are read-only, indexed like the topology arcs)."""

    arc_base_ms: np.ndarray
    arc_jitter_ms: np.ndarray
    arc_class_jitter_ms: np.ndarray | None
    arc_loss: np.ndarray
    bandwidth_mbps: int
    node_region: np.ndarray
    node_trusted: np.ndarray


def compute_serialization_ms(size_bytes: int, bandwidth_mbps: int) -> int:
    """Serialization delay of one hop: ceil(bits / (Mbit/s * 1000 bit/ms)); 0 if unlimited."""
    if bandwidth_mbps <= 0:
        return 0
    return -(-size_bytes * 8 // (bandwidth_mbps * 1000))


def compute_node_regions(regions: RegionParams | None, n: int) -> np.ndarray:
    """Region index of every node: round-robin, or the explicit assignment by name."""
    if regions is None:
        return np.zeros(n, np.int16)
    if regions.assignment is None:
        return (np.arange(n) % len(regions.names)).astype(np.int16)
    index = {name: i for i, name in enumerate(regions.names)}
    return np.array([index[name] for name in regions.assignment], dtype=np.int16)


def compute_trusted(classes: ClassParams | None, n: int, tree: SeedTree) -> np.ndarray:
    """Which nodes are trusted: the listed ones, or a seeded fraction ``("net", "classes")``."""
    trusted = np.zeros(n, bool)
    if classes is None:
        return trusted
    if classes.trusted_nodes is not None:
        trusted[list(classes.trusted_nodes)] = True
    elif classes.trusted_fraction is not None:
        count = round(classes.trusted_fraction * n)
        trusted[tree.generator("net", "classes").permutation(n)[:count]] = True
    return trusted


def _edge_matrix(matrix: tuple[tuple, ...], region: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per-edge values of a region-pair matrix."""
    table = np.array(matrix)
    return table[region[edges[:, 0]], region[edges[:, 1]]]


def build_link_model(
    topology: Topology,
    params: LinkParams,
    tree: SeedTree,
    regions: RegionParams | None = None,
    classes: ClassParams | None = None,
) -> LinkModel:
    """Draw per-edge base latencies and lay every parameter out per arc."""
    edges, n = topology.edges, topology.n
    lo, hi = params.latency_ms
    drawn = tree.generator("net", "latency").integers(lo, hi + 1, size=len(edges), dtype=np.int64)
    region = compute_node_regions(regions, n)
    base = drawn if regions is None else _edge_matrix(regions.latency_ms, region, edges)
    given = topology.edge_latency_ms >= 0
    base = np.where(given, topology.edge_latency_ms, base).astype(np.int64)
    jitter = np.full(len(edges), params.jitter_ms, np.int64)
    loss = np.full(len(edges), params.loss, np.float64)
    if regions is not None and regions.jitter_ms is not None:
        jitter = _edge_matrix(regions.jitter_ms, region, edges).astype(np.int64)
    if regions is not None and regions.loss is not None:
        loss = _edge_matrix(regions.loss, region, edges).astype(np.float64)
    trusted = compute_trusted(classes, n, tree)
    arc_base = base[topology.arc_edge]
    class_jitter = None
    if classes is not None:
        extra = np.array([classes.untrusted.extra_delay_ms, classes.trusted.extra_delay_ms])
        spread = np.array([classes.untrusted.jitter_ms, classes.trusted.jitter_ms])
        target = trusted[topology.indices].astype(np.int64)
        arc_base = arc_base + extra[target]
        class_jitter = spread[target].astype(np.int64)
    arc_jitter, arc_loss = jitter[topology.arc_edge], loss[topology.arc_edge]
    for array in (arc_base, arc_jitter, class_jitter, arc_loss, region, trusted):
        if array is not None:
            array.flags.writeable = False
    return LinkModel(
        arc_base, arc_jitter, class_jitter, arc_loss, params.bandwidth_mbps, region, trusted
    )


def _uniform_int(rng: np.random.Generator, highs: np.ndarray) -> np.ndarray:
    """Integers uniform in ``[0, highs]`` from one double per element."""
    draws = (rng.random(highs.shape[0]) * (highs + 1)).astype(np.int64)
    return np.minimum(draws, highs)


class LinkSampler:
    """Per-message per-hop delay and loss draws for one run (streams of the seed tree)."""

    def __init__(self, model: LinkModel, tree: SeedTree) -> None:
        self.model = model
        self._jitter = tree.generator("net", "jitter")
        self._class_jitter = tree.generator("net", "class-jitter")
        self._loss = tree.generator("net", "loss")

    def sample_arc_delays(
        self, size_bytes: int, view: NetworkView, arcs: np.ndarray | None = None
    ) -> np.ndarray:
        """Delay of a message on each arc (all arcs, or the given ones): ms, LOST or DOWN."""
        m = self.model
        pick = slice(None) if arcs is None else arcs
        delay = m.arc_base_ms[pick] + compute_serialization_ms(size_bytes, m.bandwidth_mbps)
        delay = delay + _uniform_int(self._jitter, m.arc_jitter_ms[pick])
        if m.arc_class_jitter_ms is not None:
            delay += _uniform_int(self._class_jitter, m.arc_class_jitter_ms[pick])
        loss = m.arc_loss[pick]
        if view.arc_extra_delay_ms is not None:
            delay += view.arc_extra_delay_ms[pick]
        if view.arc_extra_loss is not None:
            loss = 1.0 - (1.0 - loss) * (1.0 - view.arc_extra_loss[pick])
        delay[self._loss.random(delay.shape[0]) < loss] = LOST
        delay[view.arc_down[pick]] = DOWN
        return delay
