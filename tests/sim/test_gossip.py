"""Gossip propagation (rppsim/sim/gossip.py; docs/architecture.md#network-model): fast path ==
per-hop reference."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.rng import SeedTree
from rppsim.sim.faults import Crash, FaultSchedule, Partition, Pause, compute_clear_view
from rppsim.sim.gossip import (
    DEFAULT_MESH,
    INF,
    OFF,
    DropReason,
    MeshParams,
    Network,
    compute_arrivals,
    compute_arrivals_reference,
    compute_flood_result,
    compute_mesh,
    get_topic_name,
    measure_flood_throughput,
)
from rppsim.sim.links import DOWN, LOST, LinkParams, build_link_model
from rppsim.sim.topology import TopologyParams, build_topology, compute_topology


@st.composite
def flood_cases(draw):
    """A random graph, per-arc delays (with LOST/DOWN/OFF codes), node states and an origin.

    Hypothesis draws the size, density and a seed; numpy fills in edges and small delays, so
    equal-time ties (where the tie-breaking rules matter) are frequent.
    """
    n = draw(st.integers(1, 24))
    density = draw(st.sampled_from([0.1, 0.2, 0.4, 0.8]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    upper = np.triu(rng.random((n, n)) < density, k=1)
    topology = compute_topology(n, np.argwhere(upper))
    delay = rng.integers(0, 4, size=topology.arc_count)
    codes = rng.random(topology.arc_count) < 0.25
    delay[codes] = rng.choice([LOST, DOWN, OFF], size=int(codes.sum()))
    node_ok = rng.random(n) < 0.85
    origin = draw(st.integers(0, n - 1))
    return topology, delay.astype(np.int64), node_ok, origin


@settings(max_examples=100, deadline=None)
@given(flood_cases())
def test_fast_path_equals_per_hop_reference(case):
    """Dijkstra gives the reference's arrivals, hops, senders and traffic counts exactly."""
    topology, delay, node_ok, origin = case
    dist, hops, pred, order, sent, delivered = compute_arrivals(topology, delay, node_ok, origin)
    ref = compute_arrivals_reference(topology, delay, node_ok, origin)
    assert np.array_equal(dist, ref[0])
    assert np.array_equal(hops, ref[1])
    assert np.array_equal(pred, ref[2])
    assert (sent, delivered) == (ref[3], ref[4])
    reached = np.flatnonzero(dist < INF)
    keys = sorted((dist[v], hops[v], pred[v], v) for v in reached)
    assert order.tolist() == [k[3] for k in keys]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 25),
    density=st.sampled_from([0.05, 0.15, 0.3, 0.6]),
    seed=st.integers(0, 2**32),
    origin=st.integers(0, 24),
)
def test_no_jitter_no_loss_equals_networkx_dijkstra(n, density, seed, origin):
    """With jitter 0, loss 0, unlimited bandwidth: networkx distances; fewest hops; least sender."""
    origin %= n
    upper = np.triu(np.random.default_rng(seed).random((n, n)) < density, k=1)
    topology = compute_topology(n, np.argwhere(upper))
    tree = SeedTree(seed)
    links = build_link_model(topology, LinkParams((0, 2)), tree)
    arrivals = Network(topology, links, "flood", tree).flood(origin, 0, 1000, "blocks")
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for (u, v), w in zip(
        topology.edges.tolist(),
        links.arc_base_ms[[topology.arc_index(u, v) for u, v in topology.edges.tolist()]],
        strict=True,
    ):
        graph.add_edge(u, v, w=int(w), lex=int(w) * (n + 1) + 1)
    expected = nx.single_source_dijkstra_path_length(graph, origin, weight="w")
    lex = nx.single_source_dijkstra_path_length(graph, origin, weight="lex")
    got = dict(zip(arrivals.receivers.tolist(), arrivals.recv_ms.tolist(), strict=True))
    assert got == {v: d for v, d in expected.items() if v != origin}
    hops = dict(zip(arrivals.receivers.tolist(), arrivals.hops.tolist(), strict=True))
    assert hops == {v: d % (n + 1) for v, d in lex.items() if v != origin}
    for v, sender in zip(arrivals.receivers.tolist(), arrivals.senders.tolist(), strict=True):
        best = [u for u in graph.neighbors(v) if u in lex and lex[u] + graph[u][v]["lex"] == lex[v]]
        assert sender == min(best)
    assert set(arrivals.dropped.tolist()) == set(range(n)) - set(expected)
    assert all(r == DropReason.DISCONNECTED for r in arrivals.dropped_reason)


def _network(n=40, degree=4, link=None, gossip="flood", seed=3):
    tree = SeedTree(seed)
    topology = build_topology(TopologyParams("small-world", degree=degree, rewire=0.2), n, tree)
    links = build_link_model(topology, link or LinkParams((10, 50), 7, 0.05, 20), tree)
    return Network(topology, links, gossip, tree)


@pytest.mark.parametrize("gossip", ["flood", "mesh"])
def test_network_flood_equals_reference_under_faults(gossip):
    """Two identically seeded networks, one fast and one per hop, agree message by message."""
    fast, ref = _network(gossip=gossip), _network(gossip=gossip)
    faults = (Partition(((0, 1, 2, 3, 4, 5),), 100, 300), Crash(7, 50), Pause(9, 0, 200))
    schedule = FaultSchedule(faults, fast.topology, 1000, SeedTree(3))
    for i in range(30):
        t = 20 * i
        view = schedule.view_at(t)
        a = fast.flood(i % 40, t, 3000, "blocks", view=view)
        b = ref.flood(i % 40, t, 3000, "blocks", view=view, reference=True)
        for name in ("receivers", "recv_ms", "hops", "senders", "dropped", "dropped_reason"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert (a.sent, a.duplicates) == (b.sent, b.duplicates)


def test_arrivals_are_ordered_and_offset_by_publish_time():
    """Receivers sorted by (time, hops, sender, node); times are absolute."""
    arrivals = _network().flood(0, 5000, 100, "blocks")
    keys = list(
        zip(arrivals.recv_ms, arrivals.hops, arrivals.senders, arrivals.receivers, strict=True)
    )
    assert keys == sorted(keys)
    assert arrivals.recv_ms.min() > 5000
    assert 0 not in arrivals.receivers.tolist()
    assert arrivals.sent >= len(arrivals.receivers)


def _line(n=4, loss=0.0):
    """A path 0 - 1 - ... - n-1 with 10 ms links."""
    topology = compute_topology(n, np.array([[i, i + 1] for i in range(n - 1)]))
    links = build_link_model(topology, LinkParams((10, 10), loss=loss), SeedTree(0))
    return Network(topology, links, "flood", SeedTree(0))


def _reasons(arrivals):
    return dict(zip(arrivals.dropped.tolist(), arrivals.dropped_reason.tolist(), strict=True))


def test_drop_reasons():
    """Crashed, paused, partitioned, lost, disconnected and origin-down receivers."""
    net = _line(5)
    faults = (Crash(2, 0, 100), Pause(4, 200, 300), Partition(((0,),), 400, 500), Crash(0, 600))
    schedule = FaultSchedule(faults, net.topology, 1000, SeedTree(0))
    assert _reasons(net.flood(0, 0, 10, "x", view=schedule.view_at(0))) == {
        2: DropReason.CRASHED,
        3: DropReason.PARTITIONED,
        4: DropReason.PARTITIONED,
    }
    assert _reasons(net.flood(0, 250, 10, "x", view=schedule.view_at(250))) == {
        4: DropReason.PAUSED
    }
    partitioned = net.flood(0, 450, 10, "x", view=schedule.view_at(450))
    assert set(_reasons(partitioned).values()) == {DropReason.PARTITIONED}
    assert set(_reasons(net.flood(0, 700, 10, "x", view=schedule.view_at(700))).values()) == {
        DropReason.ORIGIN_DOWN
    }
    lossy = _line(3, loss=1.0).flood(0, 0, 10, "x")
    assert _reasons(lossy) == {1: DropReason.LOST, 2: DropReason.LOST}
    split = Network(
        compute_topology(3, np.array([[0, 1]])),
        build_link_model(compute_topology(3, np.array([[0, 1]])), LinkParams(), SeedTree(0)),
        "flood",
        SeedTree(0),
    )
    assert _reasons(split.flood(0, 0, 10, "x")) == {2: DropReason.DISCONNECTED}


def test_mesh_is_symmetric_bounded_and_seeded():
    """Mesh edges are graph edges, degrees stay ≤ high, the same seed gives the same mesh."""
    topology = build_topology(TopologyParams("k-regular", degree=12), 60, SeedTree(1))
    params = MeshParams(6, 4, 8)
    mesh = compute_mesh(topology, params, SeedTree(1).generator("m"))
    again = compute_mesh(topology, params, SeedTree(1).generator("m"))
    assert np.array_equal(mesh, again)
    degree = np.bincount(topology.edges[mesh].ravel(), minlength=60)
    assert degree.max() <= params.high
    assert np.mean(degree) >= params.low
    small = compute_mesh(_line(5).topology, params, SeedTree(1).generator("m"))
    assert small.all()


def test_mesh_mode_forwards_only_along_the_topic_mesh():
    """In mesh mode every first receipt comes over a mesh arc of that topic."""
    net = _network(n=60, degree=12, gossip="mesh")
    arcs = net.mesh_arcs("/rpp/gossip/meta/1.0.0")
    assert arcs is net.mesh_arcs("meta")
    assert arcs.sum() < net.topology.arc_count
    arrivals = net.flood(0, 0, 100, "/rpp/gossip/meta/1.0.0")
    for v, u in zip(arrivals.receivers.tolist(), arrivals.senders.tolist(), strict=True):
        assert arcs[net.topology.arc_index(u, v)]
    with pytest.raises(ValueError, match="no mesh parameters"):
        net.mesh_arcs("unknown")


def test_default_mesh_degrees_follow_the_chain():
    """Per-topic mesh_n/low/high from docs/simnet.md#the-chains-simnet."""
    assert DEFAULT_MESH["blocks"] == MeshParams(10, 8, 16)
    assert DEFAULT_MESH["vrf/proofs"] == MeshParams(8, 6, 12)
    assert DEFAULT_MESH["snapshots"] == MeshParams(6, 4, 10)
    assert get_topic_name("/rpp/gossip/witness/meta/1.0.0") == "witness/meta"


def test_unicast_follows_the_least_base_latency_route():
    """Without jitter or loss the unicast time is the base-latency shortest path."""
    net = _network(link=LinkParams((5, 40)))
    graph = nx.Graph()
    for a in range(net.topology.arc_count):
        graph.add_edge(
            int(net.topology.arc_src[a]),
            int(net.topology.indices[a]),
            w=int(net.links.arc_base_ms[a]),
        )
    for dst in (1, 17, 33):
        delivery = net.unicast(0, dst, 1000, 0)
        assert delivery.delivered
        assert delivery.recv_ms == 1000 + nx.dijkstra_path_length(graph, 0, dst, weight="w")
        assert delivery.path[0] == 0 and delivery.path[-1] == dst
    assert net.unicast(4, 4, 7, 10).recv_ms == 7


def test_unicast_failures():
    """A crashed target, a partition, a lost hop and a down origin each give their reason."""
    net = _line(4)
    faults = (Crash(3, 0, 10), Partition(((0, 1),), 20, 30), Pause(0, 40, 50))
    schedule = FaultSchedule(faults, net.topology, 100, SeedTree(0))
    assert net.unicast(0, 3, 0, 1, schedule.view_at(0)).reason == DropReason.CRASHED
    assert net.unicast(0, 3, 20, 1, schedule.view_at(20)).reason == DropReason.PARTITIONED
    assert net.unicast(0, 3, 40, 1, schedule.view_at(40)).reason == DropReason.ORIGIN_DOWN
    assert net.unicast(0, 3, 60, 1, schedule.view_at(60)).delivered
    lost = _line(4, loss=1.0).unicast(0, 3, 0, 1)
    assert lost.reason == DropReason.LOST and lost.hops == 3


def test_flood_is_deterministic_per_seed():
    """Same seed, same message sequence; another seed differs."""

    def run(seed):
        net = _network(seed=seed)
        return [net.flood(i, i, 500, "blocks").recv_ms.tolist() for i in range(5)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_clear_view_matches_default():
    """flood without a view uses the fault-free view."""
    a, b = _network(), _network()
    x = a.flood(2, 0, 10, "blocks")
    y = b.flood(2, 0, 10, "blocks", view=compute_clear_view(b.topology))
    assert np.array_equal(x.recv_ms, y.recv_ms)


def test_compute_flood_result_reference_flag():
    """The reference path through compute_flood_result gives the same Arrivals."""
    net = _network()
    view = compute_clear_view(net.topology)
    delay = net.sample(800, "blocks", view)
    fast = compute_flood_result(net.topology, delay, view, 5, 100)
    ref = compute_flood_result(net.topology, delay, view, 5, 100, reference=True)
    assert np.array_equal(fast.receivers, ref.receivers)
    assert fast.duplicates == ref.duplicates


def test_measure_flood_throughput_runs():
    """The benchmark helper returns a positive rate (speed itself is not asserted)."""
    assert measure_flood_throughput(n=50, degree=4, messages=5) > 0
