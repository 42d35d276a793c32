"""Gossip propagation: flood and mesh, a fast path and a per-hop reference
(docs/architecture.md#network-model).

A published message is forwarded by every node once, on first receipt, to all its gossip
neighbours except the one it came from. ``flood`` gossips over every topology link; ``mesh``
over a per-topic symmetric mesh of degree about ``mesh_n`` chosen from the graph neighbours
by the seed (gossipsub-like, without heartbeat re-grafting or IHAVE/IWANT repair).

Each directed link carries a message at most once, so one sampled delay per arc is exact
(links.py). The arrival time at every node is then the shortest path from the origin over
those delays, with lost arcs, down arcs and crashed or paused nodes removed. The fast path
(``compute_arrivals``) is a numba Dijkstra on the CSR arrays; the reference
(``compute_arrivals_reference``) replays the forwarding event by event with a heap. Both
break ties the same way: earlier time, then fewer hops, then the smaller forwarder id; so
the *sender* of every first receipt is defined, and both agree exactly (tested).

The fault view is taken at publish time for the whole propagation; a kernel that wants a
receiver crashed mid-flight to miss the message checks the view again at delivery.

Mesh degrees (docs/simnet.md#the-chains-simnet, the chain's per-topic configs, mesh_n / low / high):
blocks and votes 10/8/16; proofs, vrf/proofs and witness/proofs 8/6/12; snapshots, meta,
vrf/meta and witness/meta 6/4/10 (our reading: "vrf" and "witness" *meta* go with meta).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numba import njit

from rppsim.rng import SeedTree
from rppsim.sim.faults import NetworkView, compute_clear_view
from rppsim.sim.links import DOWN, LOST, LinkModel, LinkParams, LinkSampler, build_link_model
from rppsim.sim.topology import Topology, TopologyParams, build_topology

INF = np.iinfo(np.int64).max
OFF = -3
"""Arc code: not a link of this topic's gossip graph (mesh mode)."""
GOSSIP_MODES = ("flood", "mesh")


class DropReason(IntEnum):
    """Why a node did not receive a message (the ``messages`` frame's dropped rows)."""

    CRASHED = 1
    """The node was crashed at publish time."""
    PAUSED = 2
    """The node was paused at publish time."""
    PARTITIONED = 3
    """No path over links and relays that were up (partition, crashed relays)."""
    LOST = 4
    """Paths over up links existed, but every one lost the message on some hop."""
    DISCONNECTED = 5
    """No path in the gossip graph (topology or topic mesh) even without faults."""
    ORIGIN_DOWN = 6
    """The origin itself was crashed or paused."""


@dataclass(frozen=True, slots=True)
class MeshParams:
    """Gossipsub mesh degrees of a topic: target ``n``, ``low`` and ``high`` bounds."""

    n: int
    low: int
    high: int


_META = MeshParams(6, 4, 10)
_PROOFS = MeshParams(8, 6, 12)
DEFAULT_MESH: dict[str, MeshParams] = {
    "blocks": MeshParams(10, 8, 16),
    "votes": MeshParams(10, 8, 16),
    "proofs": _PROOFS,
    "vrf/proofs": _PROOFS,
    "witness/proofs": _PROOFS,
    "snapshots": _META,
    "meta": _META,
    "vrf/meta": _META,
    "witness/meta": _META,
}


def get_topic_name(topic: str) -> str:
    """Short name of a topic: ``/rpp/gossip/<name>/1.0.0`` -> ``<name>``; others unchanged."""
    prefix, suffix = "/rpp/gossip/", "/1.0.0"
    if topic.startswith(prefix) and topic.endswith(suffix):
        return topic[len(prefix) : -len(suffix)]
    return topic


@dataclass(frozen=True, eq=False)
class Arrivals:
    """Who got a message, when, over how many hops and from whom; who did not, and why.

    Receivers exclude the origin and are sorted by (recv_ms, hops, sender, node): schedule the
    deliveries in this order. ``sent`` counts copies put on up links (lost ones included);
    ``duplicates`` counts delivered copies beyond each receiver's first (copies that come
    back to the origin included). ``dropped`` lists the other nodes, origin excluded, with a
    ``DropReason`` code each. ``hops`` is int32 (a 100k-node ring exceeds int16).
    """

    origin: int
    t_ms: int
    receivers: np.ndarray
    recv_ms: np.ndarray
    hops: np.ndarray
    senders: np.ndarray
    dropped: np.ndarray
    dropped_reason: np.ndarray
    sent: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """Outcome of a unicast: delivered or not (with a reason), arrival time, path."""

    delivered: bool
    recv_ms: int
    path: tuple[int, ...]
    reason: DropReason | None = None

    @property
    def hops(self) -> int:
        """Number of hops of the path (0 when no path)."""
        return max(len(self.path) - 1, 0)


# --------------------------------------------------------------------------------------------
# numba kernels: Dijkstra with (time, hops, predecessor) labels, and reachability.


@njit(cache=True, fastmath=False)
def _heap_push(k1, k2, hv, size, y1, y2, w):
    """Push entry (y1, y2, w) on the binary heap ordered by (k1, k2); return the new size."""
    j = size
    while j > 0:
        parent = (j - 1) // 2
        if y1 < k1[parent] or (y1 == k1[parent] and y2 < k2[parent]):
            k1[j], k2[j], hv[j] = k1[parent], k2[parent], hv[parent]
            j = parent
        else:
            break
    k1[j], k2[j], hv[j] = y1, y2, w
    return size + 1


@njit(cache=True, fastmath=False)
def _heap_drop_root(k1, k2, hv, size):
    """Remove the root (read it first); return the new size."""
    size -= 1
    x1, x2, xv = k1[size], k2[size], hv[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and (k1[c + 1] < k1[c] or (k1[c + 1] == k1[c] and k2[c + 1] < k2[c])):
            c += 1
        if k1[c] < x1 or (k1[c] == x1 and k2[c] < x2):
            k1[i], k2[i], hv[i] = k1[c], k2[c], hv[c]
            i = c
        else:
            break
    k1[i], k2[i], hv[i] = x1, x2, xv
    return size


@njit(cache=True, fastmath=False)
def _dijkstra(indptr, indices, arc_delay, node_ok, origin, dist, hops, pred, order):
    """Fill dist/hops/pred with the least (time, hops, pred) label of every node.

    Heap keys are (time, hops << 32 | pred + 1): lexicographic on the label. Entries are lazy:
    a popped entry whose label is no longer the node's is stale and skipped. Each arc relaxes
    at most once, so the heap never holds more than arcs + 1 entries. ``order`` receives the
    reached nodes in settle order, which is (time, hops, pred) order; returns their count.
    """
    n = indptr.shape[0] - 1
    for v in range(n):
        dist[v] = INF
        hops[v] = -1
        pred[v] = -1
    if not node_ok[origin]:
        return 0
    cap = indices.shape[0] + 1
    k1 = np.empty(cap, np.int64)
    k2 = np.empty(cap, np.int64)
    hv = np.empty(cap, np.int32)
    settled = np.zeros(n, np.bool_)
    dist[origin] = 0
    hops[origin] = 0
    size = _heap_push(k1, k2, hv, 0, 0, 0, origin)
    count = 0
    while size > 0:
        d, key, v = k1[0], k2[0], hv[0]
        size = _heap_drop_root(k1, k2, hv, size)
        h = key >> 32
        if settled[v] or d != dist[v] or h != hops[v] or (key & 0xFFFFFFFF) - 1 != pred[v]:
            continue
        settled[v] = True
        order[count] = v
        count += 1
        for a in range(indptr[v], indptr[v + 1]):
            w = indices[a]
            delay = arc_delay[a]
            if delay < 0 or settled[w] or not node_ok[w]:
                continue
            nd, nh = d + delay, h + 1
            if nd < dist[w] or (
                nd == dist[w] and (nh < hops[w] or (nh == hops[w] and v < pred[w]))
            ):
                dist[w], hops[w], pred[w] = nd, nh, v
                size = _heap_push(k1, k2, hv, size, nd, (nh << 32) | (v + 1), w)
    return count


@njit(cache=True, fastmath=False)
def _sort_equal_labels(order, count, dist, hops, pred):
    """Order runs of equal (time, hops, pred) labels by node id (insertion sort)."""
    for i in range(1, count):
        v = order[i]
        j = i
        while j > 0:
            u = order[j - 1]
            if dist[u] != dist[v] or hops[u] != hops[v] or pred[u] != pred[v] or u < v:
                break
            order[j] = u
            j -= 1
        order[j] = v


@njit(cache=True, fastmath=False)
def _count_traffic(indptr, indices, arc_delay, node_ok, order, count, pred):
    """(sent, delivered): copies reached nodes put on up arcs except back to their sender."""
    sent = 0
    delivered = 0
    for i in range(count):
        v = order[i]
        for a in range(indptr[v], indptr[v + 1]):
            w = indices[a]
            if w == pred[v] or arc_delay[a] < -1:
                continue
            sent += 1
            if arc_delay[a] >= 0 and node_ok[w]:
                delivered += 1
    return sent, delivered


@njit(cache=True, fastmath=False)
def _flood(indptr, indices, arc_delay, node_ok, origin, dist, hops, pred, order):
    """Dijkstra, receiver order and traffic counts in one call: (count, sent, delivered)."""
    count = _dijkstra(indptr, indices, arc_delay, node_ok, origin, dist, hops, pred, order)
    _sort_equal_labels(order, count, dist, hops, pred)
    sent, delivered = _count_traffic(indptr, indices, arc_delay, node_ok, order, count, pred)
    return count, sent, delivered


@njit(cache=True, fastmath=False)
def _reachable(indptr, indices, arc_ok, node_ok, origin):
    """Nodes reachable from ``origin`` over usable arcs through usable nodes (BFS)."""
    n = indptr.shape[0] - 1
    seen = np.zeros(n, np.bool_)
    if not node_ok[origin]:
        return seen
    queue = np.empty(n, np.int32)
    seen[origin] = True
    queue[0] = origin
    head, tail = 0, 1
    while head < tail:
        v = queue[head]
        head += 1
        for a in range(indptr[v], indptr[v + 1]):
            w = indices[a]
            if arc_ok[a] and node_ok[w] and not seen[w]:
                seen[w] = True
                queue[tail] = w
                tail += 1
    return seen


# --------------------------------------------------------------------------------------------
# Arrivals: fast path and reference.


def compute_arrivals(
    topology: Topology, arc_delay: np.ndarray, node_ok: np.ndarray, origin: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Fast path: (dist, hops, pred, order, sent, delivered).

    dist is INF and hops/pred -1 where unreached; ``order`` lists the reached nodes (origin
    first) by (time, hops, pred, node); sent/delivered count copies as the reference does.
    """
    n = topology.n
    dist, hops, pred = np.empty(n, np.int64), np.empty(n, np.int32), np.empty(n, np.int32)
    order = np.empty(n, np.int32)
    count, sent, delivered = _flood(
        topology.indptr, topology.indices, arc_delay, node_ok, origin, dist, hops, pred, order
    )
    return dist, hops, pred, order[:count], int(sent), int(delivered)


def compute_arrivals_reference(
    topology: Topology, arc_delay: np.ndarray, node_ok: np.ndarray, origin: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Per-hop reference: (dist, hops, pred, sent, delivered) by replaying every forward.

    Events ``(time, hops, sender, node)`` pop in that order; a node forwards on first receipt
    to every gossip neighbour except its sender. Copies on down/off arcs are not sent; lost
    copies are sent but not delivered; copies to crashed or paused nodes are not delivered.
    """
    n = topology.n
    dist, hops, pred = np.full(n, INF, np.int64), np.full(n, -1, np.int32), np.full(n, -1, np.int32)
    if not node_ok[origin]:
        return dist, hops, pred, 0, 0
    events: list[tuple[int, int, int, int]] = [(0, 0, -1, origin)]
    sent = delivered = 0
    while events:
        t, h, sender, v = heapq.heappop(events)
        if sender >= 0:
            delivered += 1
        if hops[v] >= 0:
            continue
        dist[v], hops[v], pred[v] = t, h, sender
        for a in range(int(topology.indptr[v]), int(topology.indptr[v + 1])):
            w, delay = int(topology.indices[a]), int(arc_delay[a])
            if w == sender or delay < LOST:
                continue
            sent += 1
            if delay >= 0 and node_ok[w]:
                heapq.heappush(events, (t + delay, h + 1, v, w))
    return dist, hops, pred, sent, delivered


def compute_drop_reasons(
    topology: Topology,
    arc_delay: np.ndarray,
    view: NetworkView,
    origin: int,
    unreached: np.ndarray,
) -> np.ndarray:
    """A DropReason code for each unreached node (see DropReason for the precedence)."""
    reasons = np.full(len(unreached), DropReason.LOST, np.int8)
    if not view.node_ok[origin]:
        reasons[:] = DropReason.ORIGIN_DOWN
        return reasons
    everyone = np.ones(topology.n, np.bool_)
    in_graph = _reachable(topology.indptr, topology.indices, arc_delay != OFF, everyone, origin)
    up = _reachable(topology.indptr, topology.indices, arc_delay >= LOST, view.node_ok, origin)
    reasons[~up[unreached]] = DropReason.PARTITIONED
    reasons[~in_graph[unreached]] = DropReason.DISCONNECTED
    reasons[view.node_paused[unreached]] = DropReason.PAUSED
    reasons[view.node_crashed[unreached]] = DropReason.CRASHED
    return reasons


def compute_flood_result(
    topology: Topology,
    arc_delay: np.ndarray,
    view: NetworkView,
    origin: int,
    t_ms: int,
    *,
    reference: bool = False,
) -> Arrivals:
    """Arrivals of one message from its sampled per-arc delays (fast path or reference)."""
    if reference:
        dist, hops, pred, sent, delivered = compute_arrivals_reference(
            topology, arc_delay, view.node_ok, origin
        )
        nodes = np.flatnonzero(dist < INF).astype(np.int32)
        nodes = nodes[np.lexsort((nodes, pred[nodes], hops[nodes], dist[nodes]))]
    else:
        dist, hops, pred, nodes, sent, delivered = compute_arrivals(
            topology, arc_delay, view.node_ok, origin
        )
    nodes = nodes[1:]
    unreached = np.flatnonzero(dist == INF).astype(np.int32)
    unreached = unreached[unreached != origin]
    reasons = np.zeros(0, np.int8)
    if len(unreached):
        reasons = compute_drop_reasons(topology, arc_delay, view, origin, unreached)
    return Arrivals(
        origin=origin,
        t_ms=t_ms,
        receivers=nodes,
        recv_ms=dist[nodes] + t_ms,
        hops=hops[nodes],
        senders=pred[nodes],
        dropped=unreached,
        dropped_reason=reasons,
        sent=sent,
        duplicates=delivered - len(nodes),
    )


# --------------------------------------------------------------------------------------------
# Mesh overlay.


def compute_mesh(topology: Topology, params: MeshParams, rng: np.random.Generator) -> np.ndarray:
    """A symmetric mesh (bool per edge): nodes in seeded order graft random neighbours.

    Each node, in a random order, grafts up to ``n`` minus its current mesh degree random
    graph neighbours whose mesh degree is below ``high`` (gossipsub GRAFT/PRUNE bounds). A node
    with fewer than ``n`` neighbours meshes with all that accept.
    """
    degree = np.zeros(topology.n, np.int64)
    in_mesh = np.zeros(topology.edge_count, bool)
    for u in rng.permutation(topology.n):
        need = params.n - degree[u]
        if need <= 0:
            continue
        arcs = np.arange(topology.indptr[u], topology.indptr[u + 1])
        free = ~in_mesh[topology.arc_edge[arcs]] & (degree[topology.indices[arcs]] < params.high)
        chosen = arcs[free][rng.permutation(int(free.sum()))][:need]
        in_mesh[topology.arc_edge[chosen]] = True
        degree[u] += len(chosen)
        np.add.at(degree, topology.indices[chosen], 1)
    return in_mesh


# --------------------------------------------------------------------------------------------
# The network a kernel talks to.


class Network:
    """Topology + link model + gossip mode of one run; samples and propagates messages.

    ``flood`` and ``unicast`` consume the run's link streams in call order: call them in the
    simulator's deterministic event order.
    """

    def __init__(
        self,
        topology: Topology,
        links: LinkModel,
        gossip: str,
        tree: SeedTree,
        mesh: dict[str, MeshParams] | None = None,
    ) -> None:
        if gossip not in GOSSIP_MODES:
            raise ValueError(f"gossip mode must be one of {GOSSIP_MODES}, got {gossip!r}")
        self.topology = topology
        self.links = links
        self.gossip = gossip
        self.tree = tree
        self.mesh_params = {**DEFAULT_MESH, **(mesh or {})}
        self.sampler = LinkSampler(links, tree)
        self._meshes: dict[str, np.ndarray] = {}
        self._routes: OrderedDict[tuple[int, int], tuple[NetworkView, np.ndarray, np.ndarray]] = (
            OrderedDict()
        )
        self.clear_view = compute_clear_view(topology)

    def mesh_arcs(self, topic: str) -> np.ndarray:
        """Bool per arc: ``topic``'s mesh (built once, from stream ``("net", "mesh", name)``)."""
        name = get_topic_name(topic)
        if name not in self._meshes:
            if name not in self.mesh_params:
                raise ValueError(f"no mesh parameters for topic {topic!r}")
            rng = self.tree.generator("net", "mesh", name)
            edges = compute_mesh(self.topology, self.mesh_params[name], rng)
            arcs = edges[self.topology.arc_edge]
            arcs.flags.writeable = False
            self._meshes[name] = arcs
        return self._meshes[name]

    def sample(self, size_bytes: int, topic: str, view: NetworkView) -> np.ndarray:
        """One message's per-arc delays (ms, or LOST / DOWN / OFF codes)."""
        delay = self.sampler.sample_arc_delays(size_bytes, view)
        if self.gossip == "mesh":
            delay[~self.mesh_arcs(topic)] = OFF
        return delay

    def flood(
        self,
        origin: int,
        t_ms: int,
        size_bytes: int,
        topic: str,
        view: NetworkView | None = None,
        *,
        reference: bool = False,
    ) -> Arrivals:
        """Publish a message at ``t_ms`` from ``origin``; ``reference`` replays it per hop."""
        view = self.clear_view if view is None else view
        delay = self.sample(size_bytes, topic, view)
        return compute_flood_result(self.topology, delay, view, origin, t_ms, reference=reference)

    def _route(self, src: int, view: NetworkView) -> tuple[np.ndarray, np.ndarray]:
        """(dist, pred) of routes from ``src`` over base latencies of the up graph (cached).

        The cache is keyed by the view object (held in the entry, so its id stays unique).
        """
        key = (id(view), src)
        if key not in self._routes:
            weight = self.links.arc_base_ms.copy()
            if view.arc_extra_delay_ms is not None:
                weight += view.arc_extra_delay_ms
            weight[view.arc_down] = DOWN
            dist, _, pred, *_ = compute_arrivals(self.topology, weight, view.node_ok, src)
            self._routes[key] = (view, dist, pred)
            if len(self._routes) > 1024:
                self._routes.popitem(last=False)
        _, dist, pred = self._routes[key]
        return dist, pred

    def unicast(
        self, src: int, dst: int, t_ms: int, size_bytes: int, view: NetworkView | None = None
    ) -> Delivery:
        """A direct message along the least-base-latency path of the up graph.

        The route ignores jitter and loss (ties: fewer hops, smaller relay id); each hop then
        samples jitter, serialization, extra delay and loss like a flood hop. A loss on any hop
        loses the message. Mesh mode does not restrict unicast routes.
        """
        view = self.clear_view if view is None else view
        if not view.node_ok[src]:
            return Delivery(False, -1, (), DropReason.ORIGIN_DOWN)
        if not view.node_ok[dst]:
            crashed = bool(view.node_crashed[dst])
            return Delivery(False, -1, (), DropReason.CRASHED if crashed else DropReason.PAUSED)
        if src == dst:
            return Delivery(True, t_ms, (src,))
        dist, pred = self._route(src, view)
        if dist[dst] == INF:
            return Delivery(False, -1, (), DropReason.PARTITIONED)
        path = [dst]
        while path[-1] != src:
            path.append(int(pred[path[-1]]))
        path.reverse()
        arcs = np.array([self.topology.arc_index(u, v) for u, v in itertools.pairwise(path)])
        delay = self.sampler.sample_arc_delays(size_bytes, view, arcs)
        if np.any(delay < 0):
            return Delivery(False, -1, tuple(path), DropReason.LOST)
        return Delivery(True, t_ms + int(delay.sum()), tuple(path))


def build_network(
    n: int,
    topology: TopologyParams,
    link: LinkParams,
    gossip: str,
    tree: SeedTree,
) -> Network:
    """A network from parameters (no regions or classes): for benchmarks and tests."""
    topo = build_topology(topology, n, tree)
    return Network(topo, build_link_model(topo, link, tree), gossip, tree)


def measure_flood_throughput(
    *,
    n: int = 1000,
    degree: int = 8,
    messages: int = 2000,
    seed: int = 1,
    gossip: str = "flood",
    link: LinkParams | None = None,
) -> float:
    """Flood deliveries (receivers) per wall second on a small-world graph, sampling included."""
    link = LinkParams((20, 80), 5, 0.01, 100) if link is None else link
    params = TopologyParams("small-world", degree=degree, rewire=0.1)
    network = build_network(n, params, link, gossip, SeedTree(seed))
    origins = SeedTree(seed).generator("bench", "origins").integers(0, n, size=messages)
    network.flood(0, 0, 1024, "blocks")
    delivered = 0
    start = time.perf_counter()
    for i, origin in enumerate(origins):
        delivered += len(network.flood(int(origin), i, 1024, "blocks").receivers)
    return delivered / (time.perf_counter() - start)
