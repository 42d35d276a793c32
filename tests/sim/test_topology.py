"""Topologies (rppsim/sim/topology.py; docs/architecture.md#network-model,
docs/simnet.md#topologies)."""

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.errors import UserError
from rppsim.rng import SeedTree
from rppsim.sim.topology import (
    TopologyParams,
    build_topology,
    compute_topology,
    compute_topology_stats,
    generate_graph,
    read_edge_list,
)


def _edges(topology):
    return sorted(map(tuple, topology.edges.tolist()))


@pytest.mark.parametrize(
    ("params", "n"),
    [
        (TopologyParams("ring", degree=4), 12),
        (TopologyParams("k-regular", degree=3), 10),
        (TopologyParams("erdos-renyi", p=0.3), 20),
        (TopologyParams("erdos-renyi", degree=4), 20),
        (TopologyParams("small-world", degree=6, rewire=0.2), 30),
        (TopologyParams("scale-free", degree=3), 25),
        (TopologyParams("complete"), 7),
    ],
    ids=lambda x: getattr(x, "kind", str(x)),
)
def test_generated_topology_is_networkx_with_the_tree_seed(params, n):
    """Each generator is networkx's, seeded with tree.integer("net", "topology")."""
    tree = SeedTree(42)
    topology = build_topology(params, n, tree)
    seed = tree.integer("net", "topology") % 2**32
    expected = sorted(tuple(sorted(e)) for e in generate_graph(params, n, seed).edges())
    assert topology.n == n
    assert _edges(topology) == expected


def test_generator_parameter_semantics():
    """Degrees follow simnet's semantics: ring/k-regular exact, BA m = ceil(degree/2)."""
    tree = SeedTree(5)
    ring = build_topology(TopologyParams("ring", degree=4), 10, tree)
    assert set(ring.degrees().tolist()) == {4}
    assert ring.edge_index(0, 2) >= 0 and ring.edge_index(0, 3) == -1
    regular = build_topology(TopologyParams("k-regular", degree=5), 12, tree)
    assert set(regular.degrees().tolist()) == {5}
    m = math.ceil(5 / 2)
    scale_free = build_topology(TopologyParams("scale-free", degree=5), 40, tree)
    assert scale_free.edge_count == m * (40 - m)
    small_world = build_topology(TopologyParams("small-world", degree=6, rewire=0.3), 50, tree)
    assert small_world.edge_count == 50 * 3
    assert compute_topology_stats(small_world)["connected"] is True
    complete = build_topology(TopologyParams("complete"), 6, tree)
    assert complete.edge_count == 15


def test_topology_is_deterministic_per_seed():
    """Same seed, same graph; another seed, another graph."""
    params = TopologyParams("small-world", degree=4, rewire=0.3)
    a = build_topology(params, 60, SeedTree(1))
    b = build_topology(params, 60, SeedTree(1))
    c = build_topology(params, 60, SeedTree(2))
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.indptr, b.indptr)
    assert _edges(a) != _edges(c)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 25),
    pairs=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=80),
)
def test_csr_invariants(n, pairs):
    """Arcs come in pairs, grouped by source, neighbours sorted, edges canonical."""
    edges = sorted({(min(u, v), max(u, v)) for u, v in pairs if u != v and u < n and v < n})
    topology = compute_topology(n, np.array(edges, dtype=np.int64).reshape(-1, 2))
    assert _edges(topology) == edges
    assert topology.arc_count == 2 * len(edges)
    assert topology.indptr[0] == 0 and topology.indptr[-1] == topology.arc_count
    graph = nx.Graph(edges)
    for u in range(n):
        neighbours = topology.neighbours(u).tolist()
        assert neighbours == sorted(graph.neighbors(u)) if u in graph else neighbours == []
        assert all(topology.arc_src[topology.indptr[u] : topology.indptr[u + 1]] == u)
    for a in range(topology.arc_count):
        u, v = int(topology.arc_src[a]), int(topology.indices[a])
        assert tuple(topology.edges[topology.arc_edge[a]]) == (min(u, v), max(u, v))
        assert topology.arc_index(u, v) == a
    assert not topology.indices.flags.writeable


def test_compute_topology_rejects_bad_edges():
    """Self-loops, duplicates and unknown nodes are rejected."""
    for edges in ([[0, 0]], [[0, 1], [1, 0]], [[0, 5]]):
        with pytest.raises(ValueError):
            compute_topology(3, np.array(edges))


def test_stats_of_a_disconnected_graph():
    """Stats report components, isolated nodes and degrees."""
    topology = compute_topology(5, np.array([[0, 1], [1, 2]]))
    stats = compute_topology_stats(topology)
    assert stats["connected"] is False
    assert stats["components"] == 3
    assert stats["largest_component"] == 3
    assert stats["isolated_nodes"] == 2
    assert (stats["degree_min"], stats["degree_max"]) == (0, 2)
    assert stats["degree_mean"] == pytest.approx(4 / 5)


def test_erdos_renyi_degree_gives_p():
    """ER with a degree uses p = degree / (n - 1): mean degree close to it."""
    topology = build_topology(TopologyParams("erdos-renyi", degree=8), 400, SeedTree(3))
    assert compute_topology_stats(topology)["degree_mean"] == pytest.approx(8, rel=0.1)


def test_read_edge_list(tmp_path):
    """Header, optional latency cells (blank = none), blank lines skipped."""
    path = tmp_path / "e.csv"
    path.write_text("u,v,latency_ms\n0,1,12\n2,1,\n\n3, 0 ,7\n", encoding="utf-8")
    edge_list = read_edge_list(path, 4)
    assert edge_list.edges == ((0, 1), (1, 2), (0, 3))
    assert edge_list.latency_ms == (12, None, 7)
    topology = build_topology(TopologyParams("edge-list", edge_list=edge_list), 4, SeedTree(0))
    assert topology.edge_latency_ms[topology.edge_index(0, 3)] == 7
    assert topology.edge_latency_ms[topology.edge_index(1, 2)] == -1


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("0,1\n", "line 1", "a header"),
        ("u,w\n0,1\n", "line 1", "a header"),
        ("u,v,cost\n0,1,3\n", "line 1", "optionally latency_ms"),
        ("u,v\n0,x\n", "line 2.v", "an integer"),
        ("u,v\n0,4\n", "line 2.v", "a node id in 0..3"),
        ("u,v\n2,2\n", "line 2", "two different nodes"),
        ("u,v\n0,1\n1,0\n", "line 3", "each edge once"),
        ("u,v\n0,1,5\n", "line 2", "2 cells"),
        ("u,v,latency_ms\n0,1,-5\n", "line 2.latency_ms", "non-negative"),
    ],
)
def test_read_edge_list_errors(tmp_path, text, key, expected):
    """Each malformed edge-list file is a one-line UserError naming the line."""
    path = tmp_path / "e.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as info:
        read_edge_list(path, 4)
    assert info.value.file == str(path)
    assert info.value.key == key
    assert expected in str(info.value)
