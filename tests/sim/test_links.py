"""The link model (rppsim/sim/links.py; docs/architecture.md#network-model,
docs/simnet.md#links-and-latency)."""

import numpy as np
import pytest

from rppsim.rng import SeedTree
from rppsim.sim.faults import Degrade, FaultSchedule, Partition, compute_clear_view
from rppsim.sim.links import (
    DOWN,
    LOST,
    ClassLatency,
    ClassParams,
    LinkParams,
    LinkSampler,
    RegionParams,
    build_link_model,
    compute_node_regions,
    compute_serialization_ms,
)
from rppsim.sim.topology import TopologyParams, build_topology, compute_topology


def _ring(n=10, degree=4, seed=1):
    return build_topology(TopologyParams("ring", degree=degree), n, SeedTree(seed))


@pytest.mark.parametrize(
    ("size", "mbps", "ms"),
    [
        (1000, 100, 1),
        (12_500, 100, 1),
        (12_501, 100, 2),
        (125_000, 1, 1000),
        (0, 10, 0),
        (10**6, 0, 0),
    ],
)
def test_serialization_delay(size, mbps, ms):
    """ceil(bytes * 8 / (mbps * 1000)) ms; 0 bandwidth is unlimited."""
    assert compute_serialization_ms(size, mbps) == ms


def test_base_latency_is_a_per_edge_draw_in_range():
    """Uniform integers in [lo, hi] per edge, both arcs of an edge equal, deterministic."""
    topology = _ring(50)
    model = build_link_model(topology, LinkParams((20, 80)), SeedTree(9))
    again = build_link_model(topology, LinkParams((20, 80)), SeedTree(9))
    base = model.arc_base_ms
    assert base.min() >= 20 and base.max() <= 80 and len(np.unique(base)) > 10
    assert np.array_equal(base, again.arc_base_ms)
    for a in range(topology.arc_count):
        u, v = int(topology.arc_src[a]), int(topology.indices[a])
        assert base[a] == base[topology.arc_index(v, u)]
    fixed = build_link_model(topology, LinkParams((33, 33)), SeedTree(9))
    assert set(fixed.arc_base_ms.tolist()) == {33}


def test_region_matrix_and_edge_list_override():
    """Region matrix entry per edge; an edge-list latency cell wins over it."""
    topology = compute_topology(4, np.array([[0, 1], [1, 2], [2, 3]]), np.array([-1, 7, -1]))
    regions = RegionParams(names=("a", "b"), latency_ms=((10, 100), (100, 20)))
    model = build_link_model(topology, LinkParams(), SeedTree(0), regions=regions)
    assert compute_node_regions(regions, 4).tolist() == [0, 1, 0, 1]
    assert model.arc_base_ms[topology.arc_index(0, 1)] == 100
    assert model.arc_base_ms[topology.arc_index(1, 2)] == 7
    explicit = RegionParams(("a", "b"), ((10, 100), (100, 20)), assignment=("b", "b", "a", "a"))
    model = build_link_model(topology, LinkParams(), SeedTree(0), regions=explicit)
    assert model.arc_base_ms[topology.arc_index(0, 1)] == 20
    assert model.arc_base_ms[topology.arc_index(3, 2)] == 10
    assert model.arc_base_ms[topology.arc_index(2, 1)] == 7


def test_region_jitter_and_loss_matrices():
    """Per-region-pair jitter and loss replace the link scalars."""
    topology = compute_topology(2, np.array([[0, 1]]))
    regions = RegionParams(
        ("a", "b"), ((5, 50), (50, 5)), jitter_ms=((0, 9), (9, 0)), loss=((0.0, 0.5), (0.5, 0.0))
    )
    model = build_link_model(topology, LinkParams(jitter_ms=1, loss=0.1), SeedTree(0), regions)
    assert model.arc_jitter_ms.tolist() == [9, 9]
    assert model.arc_loss.tolist() == [0.5, 0.5]


def test_peer_classes_add_the_target_class_overlay():
    """Trusted/untrusted extra delay is the target node's; the fraction is seeded."""
    topology = compute_topology(3, np.array([[0, 1], [1, 2]]))
    classes = ClassParams(
        trusted_nodes=(1,), trusted=ClassLatency(5, 2), untrusted=ClassLatency(30, 4)
    )
    model = build_link_model(topology, LinkParams((10, 10)), SeedTree(0), classes=classes)
    assert model.node_trusted.tolist() == [False, True, False]
    assert model.arc_base_ms[topology.arc_index(0, 1)] == 15
    assert model.arc_base_ms[topology.arc_index(1, 0)] == 40
    assert model.arc_class_jitter_ms[topology.arc_index(2, 1)] == 2
    fraction = ClassParams(trusted_fraction=0.25)
    model = build_link_model(_ring(40), LinkParams(), SeedTree(3), classes=fraction)
    assert int(model.node_trusted.sum()) == 10


def test_jitter_is_uniform_on_the_inclusive_range():
    """Delays lie in [base + serialization, + jitter] and every value occurs about equally."""
    topology = _ring(10)
    params = LinkParams((40, 40), jitter_ms=4, bandwidth_mbps=8)
    sampler = LinkSampler(build_link_model(topology, params, SeedTree(2)), SeedTree(2))
    view = compute_clear_view(topology)
    draws = np.concatenate([sampler.sample_arc_delays(2000, view) for _ in range(500)])
    serialization = compute_serialization_ms(2000, 8)
    counts = np.bincount(draws - 40 - serialization, minlength=5)
    assert len(counts) == 5
    expected = len(draws) / 5
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


@pytest.mark.parametrize("loss", [0.0, 0.3, 1.0])
def test_loss_is_a_per_hop_bernoulli_with_the_fraction(loss):
    """loss = p loses each copy with probability p (not a percent, unlike simnet)."""
    topology = _ring(20)
    sampler = LinkSampler(
        build_link_model(topology, LinkParams(loss=loss), SeedTree(4)), SeedTree(4)
    )
    view = compute_clear_view(topology)
    draws = np.concatenate([sampler.sample_arc_delays(100, view) for _ in range(200)])
    rate = np.mean(draws == LOST)
    assert rate == pytest.approx(loss, abs=5 * np.sqrt(0.25 / len(draws)))


def test_common_random_numbers_across_loss_settings():
    """Same seed: raising the loss only adds losses, and jitter draws do not change."""
    topology = _ring(30)
    view = compute_clear_view(topology)
    low = LinkSampler(
        build_link_model(topology, LinkParams(jitter_ms=9, loss=0.1), SeedTree(8)), SeedTree(8)
    )
    high = LinkSampler(
        build_link_model(topology, LinkParams(jitter_ms=9, loss=0.4), SeedTree(8)), SeedTree(8)
    )
    for _ in range(20):
        a, b = low.sample_arc_delays(500, view), high.sample_arc_delays(500, view)
        assert np.all(b[a == LOST] == LOST)
        kept = b != LOST
        assert np.array_equal(a[kept], b[kept])


def test_view_down_arcs_and_degradation():
    """Down arcs are DOWN; degradation adds delay and combines loss 1 - (1-p)(1-x)."""
    topology = _ring(10, degree=2)
    model = build_link_model(topology, LinkParams((10, 10)), SeedTree(0))
    faults = (
        Partition(((0, 1, 2, 3, 4),), at_ms=0),
        Degrade(at_ms=0, links=((5, 6),), extra_delay_ms=25),
        Degrade(at_ms=0, nodes=(8,), extra_loss=1.0),
    )
    view = FaultSchedule(faults, topology, 1000, SeedTree(0)).view_at(10)
    delay = LinkSampler(model, SeedTree(0)).sample_arc_delays(0, view)
    cut = [topology.arc_index(4, 5), topology.arc_index(5, 4), topology.arc_index(9, 0)]
    assert all(delay[a] == DOWN for a in cut)
    assert delay[topology.arc_index(5, 6)] == 35 and delay[topology.arc_index(6, 5)] == 35
    assert delay[topology.arc_index(7, 8)] == LOST and delay[topology.arc_index(8, 9)] == LOST
    assert delay[topology.arc_index(1, 2)] == 10


def test_sampling_a_subset_of_arcs():
    """Unicast hops sample only the given arcs, with the same distributions."""
    topology = _ring(10)
    sampler = LinkSampler(build_link_model(topology, LinkParams((5, 5)), SeedTree(0)), SeedTree(0))
    delay = sampler.sample_arc_delays(0, compute_clear_view(topology), np.array([0, 3]))
    assert delay.tolist() == [5, 5]
