"""Network topologies (docs/architecture.md#network-model; docs/simnet.md#topologies,
docs/simnet.md#where-rppsim-goes-further "Topologies").

Generators are networkx's, seeded with an integer drawn from the run's seed tree, so a
topology depends only on (scenario, seed). The result is an immutable CSR structure:
nodes ``0..n-1``; every undirected edge ``e = (u, v)`` with ``u < v`` gives two *arcs*
(``u -> v`` and ``v -> u``); arcs are grouped by source with neighbours sorted ascending.
Per-message sampling and shortest paths work on the arc arrays.

Parameter semantics follow simnet (docs/simnet.md#topologies) where it has them:

* ``ring``: each node connects to its ``degree/2`` nearest nodes on each side (degree even).
* ``k-regular``: ``networkx.random_regular_graph`` (``n * degree`` even, ``degree < n``).
* ``erdos-renyi``: each pair is an edge with probability ``p`` (or ``p = degree / (n - 1)``);
  ``networkx.fast_gnp_random_graph``; connectivity is not guaranteed (see the stats).
* ``small-world``: ``networkx.connected_watts_strogatz_graph(n, degree, rewire)``.
* ``scale-free``: ``networkx.barabasi_albert_graph(n, m)`` with ``m = ceil(degree / 2)``.
* ``complete``: every pair.
* ``edge-list``: a CSV file with a header naming ``u``, ``v`` and optionally ``latency_ms``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np

from rppsim.errors import UserError
from rppsim.rng import SeedTree

TOPOLOGIES = (
    "ring",
    "k-regular",
    "erdos-renyi",
    "small-world",
    "scale-free",
    "complete",
    "edge-list",
)
EDGE_LIST_COLUMNS = ("u", "v", "latency_ms")


@dataclass(frozen=True, slots=True)
class EdgeList:
    """Edges read from a CSV file; ``latency_ms[i]`` is ``None`` where the file gives none."""

    edges: tuple[tuple[int, int], ...]
    latency_ms: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class TopologyParams:
    """What a scenario's ``[network]`` table says about the graph (validated there)."""

    kind: str
    degree: int | None = None
    rewire: float | None = None
    p: float | None = None
    edge_list: EdgeList | None = None


@dataclass(frozen=True, eq=False)
class Topology:
    """An immutable undirected graph on nodes ``0..n-1`` in CSR form (arrays are read-only).

    ``edges[e] = (u, v)`` with ``u < v``, sorted; arc ``a`` goes ``arc_src[a] -> indices[a]``
    and belongs to edge ``arc_edge[a]``; the arcs of node ``u`` are
    ``indptr[u]:indptr[u + 1]``, their targets sorted ascending. ``edge_latency_ms[e]`` is the
    latency an edge list file gave for edge ``e`` or -1.
    """

    n: int
    edges: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    arc_src: np.ndarray
    arc_edge: np.ndarray
    edge_latency_ms: np.ndarray

    @property
    def edge_count(self) -> int:
        """Number of undirected edges."""
        return int(self.edges.shape[0])

    @property
    def arc_count(self) -> int:
        """Number of directed arcs (twice the edges)."""
        return int(self.indices.shape[0])

    def neighbours(self, node: int) -> np.ndarray:
        """Sorted neighbours of ``node``."""
        return self.indices[self.indptr[node] : self.indptr[node + 1]]

    def degrees(self) -> np.ndarray:
        """Degree of every node."""
        return np.diff(self.indptr)

    def edge_index(self, u: int, v: int) -> int:
        """Index of edge ``{u, v}``, or -1 when it is not an edge."""
        a = self.arc_index(u, v)
        return -1 if a < 0 else int(self.arc_edge[a])

    def arc_index(self, u: int, v: int) -> int:
        """Index of arc ``u -> v``, or -1 when it is not an edge."""
        if not (0 <= u < self.n and 0 <= v < self.n):
            return -1
        lo, hi = int(self.indptr[u]), int(self.indptr[u + 1])
        pos = lo + int(np.searchsorted(self.indices[lo:hi], v))
        return pos if pos < hi and int(self.indices[pos]) == v else -1

    def to_networkx(self) -> nx.Graph:
        """The same graph as a networkx ``Graph`` (for analysis and tests)."""
        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(map(tuple, self.edges.tolist()))
        return graph


def _frozen(array: np.ndarray) -> np.ndarray:
    """Mark an array read-only and return it."""
    array.flags.writeable = False
    return array


def compute_topology(
    n: int, edges: np.ndarray, edge_latency_ms: np.ndarray | None = None
) -> Topology:
    """Build the CSR structure from an undirected edge array of shape (m, 2)."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    lo, hi = np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1])
    if edges.size and (lo.min() < 0 or hi.max() >= n or np.any(lo == hi)):
        raise ValueError("edges must join two distinct nodes in 0..n-1")
    order = np.lexsort((hi, lo))
    canon = np.stack([lo[order], hi[order]], axis=1).astype(np.int32)
    if len(canon) > 1 and np.any(np.all(canon[1:] == canon[:-1], axis=1)):
        raise ValueError("duplicate edge")
    latency = np.full(len(canon), -1, dtype=np.int64)
    if edge_latency_ms is not None:
        latency = np.asarray(edge_latency_ms, dtype=np.int64)[order]
    m = len(canon)
    src = np.concatenate([canon[:, 0], canon[:, 1]])
    dst = np.concatenate([canon[:, 1], canon[:, 0]])
    eid = np.concatenate([np.arange(m), np.arange(m)])
    arc_order = np.lexsort((dst, src))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return Topology(
        n=n,
        edges=_frozen(canon),
        indptr=_frozen(indptr),
        indices=_frozen(dst[arc_order].astype(np.int32)),
        arc_src=_frozen(src[arc_order].astype(np.int32)),
        arc_edge=_frozen(eid[arc_order].astype(np.int32)),
        edge_latency_ms=_frozen(latency),
    )


def compute_topology_from_graph(graph: nx.Graph) -> Topology:
    """CSR topology of a networkx graph whose nodes are ``0..n-1``."""
    edges = np.array(sorted(graph.edges()), dtype=np.int64).reshape(-1, 2)
    return compute_topology(graph.number_of_nodes(), edges)


def generate_graph(params: TopologyParams, n: int, seed: int) -> nx.Graph:
    """The networkx graph of a generated topology (not ``edge-list``); raises ValueError."""
    kind, k = params.kind, params.degree or 0
    if kind == "ring":
        return nx.circulant_graph(n, range(1, k // 2 + 1)) if n > 1 else nx.empty_graph(n)
    if kind == "k-regular":
        return nx.random_regular_graph(k, n, seed=seed)
    if kind == "erdos-renyi":
        p = params.p if params.p is not None else k / max(n - 1, 1)
        return nx.fast_gnp_random_graph(n, p, seed=seed)
    if kind == "small-world":
        rewire = 0.1 if params.rewire is None else params.rewire
        try:
            return nx.connected_watts_strogatz_graph(n, k, rewire, tries=100, seed=seed)
        except nx.NetworkXError as error:
            raise ValueError(f"no connected small-world graph in 100 tries: {error}") from error
    if kind == "scale-free":
        return nx.barabasi_albert_graph(n, math.ceil(k / 2), seed=seed)
    if kind == "complete":
        return nx.complete_graph(n)
    raise ValueError(f"unknown topology {kind!r}")


def build_topology(params: TopologyParams, n: int, tree: SeedTree) -> Topology:
    """The run's topology; the generator's seed is ``tree.integer("net", "topology")``."""
    if params.kind == "edge-list":
        if params.edge_list is None:
            raise ValueError("edge-list topology without edges")
        lat = [-1 if x is None else x for x in params.edge_list.latency_ms]
        edges = np.array(params.edge_list.edges, dtype=np.int64).reshape(-1, 2)
        return compute_topology(n, edges, np.array(lat, dtype=np.int64))
    seed = tree.integer("net", "topology") % (2**32)
    return compute_topology_from_graph(generate_graph(params, n, seed))


def compute_topology_stats(topology: Topology) -> dict[str, float | int | bool]:
    """Connectivity and degree statistics (docs/simnet.md#where-rppsim-goes-further: "Report
    connectivity")."""
    degrees = topology.degrees()
    graph = topology.to_networkx()
    components = [len(c) for c in nx.connected_components(graph)] if topology.n else [0]
    has_nodes = topology.n > 0
    return {
        "nodes": topology.n,
        "edges": topology.edge_count,
        "connected": has_nodes and len(components) == 1,
        "components": len(components) if has_nodes else 0,
        "largest_component": max(components),
        "isolated_nodes": int(np.count_nonzero(degrees == 0)),
        "degree_min": int(degrees.min()) if has_nodes else 0,
        "degree_max": int(degrees.max()) if has_nodes else 0,
        "degree_mean": float(degrees.mean()) if has_nodes else 0.0,
        "degree_median": float(np.median(degrees)) if has_nodes else 0.0,
    }


def _parse_cell(text: str, path: str, where: str, column: str) -> int:
    """One integer cell of an edge-list file."""
    try:
        return int(text.strip())
    except ValueError:
        raise UserError(path, f"{where}.{column}", "an integer", repr(text)) from None


def read_edge_list(path: Path, n: int) -> EdgeList:
    """Read and check an edge-list CSV: header, node ids in 0..n-1, no self-loops/duplicates."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(name, "", "a readable UTF-8 edge-list CSV file", str(error)) from None
    rows = list(csv.reader(text.splitlines()))
    header = [cell.strip() for cell in rows[0]] if rows else []
    if "u" not in header or "v" not in header:
        raise UserError(
            name, "line 1", "a header naming columns u, v[, latency_ms]", ",".join(header)
        )
    unknown = [c for c in header if c not in EDGE_LIST_COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise UserError(name, "line 1", "columns u, v and optionally latency_ms", ",".join(header))
    col = {c: header.index(c) for c in header}
    edges: list[tuple[int, int]] = []
    latency: list[int | None] = []
    seen: set[tuple[int, int]] = set()
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"line {lineno}"
        if len(row) != len(header):
            raise UserError(name, where, f"{len(header)} cells", f"{len(row)}")
        u, v = (_parse_cell(row[col[c]], name, where, c) for c in ("u", "v"))
        for column, node in (("u", u), ("v", v)):
            if not 0 <= node < n:
                raise UserError(name, f"{where}.{column}", f"a node id in 0..{n - 1}", str(node))
        if u == v:
            raise UserError(name, where, "an edge between two different nodes", f"{u},{v}")
        key = (min(u, v), max(u, v))
        if key in seen:
            raise UserError(name, where, "each edge once", f"duplicate edge {u},{v}")
        seen.add(key)
        edges.append(key)
        cell = row[col["latency_ms"]].strip() if "latency_ms" in col else ""
        lat = _parse_cell(cell, name, where, "latency_ms") if cell else None
        if lat is not None and lat < 0:
            raise UserError(name, f"{where}.latency_ms", "a non-negative integer", str(lat))
        latency.append(lat)
    return EdgeList(edges=tuple(edges), latency_ms=tuple(latency))
