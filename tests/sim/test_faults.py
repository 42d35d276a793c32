"""Fault schedules and network views (rppsim/sim/faults.py; docs/architecture.md#network-model,
docs/simnet.md#faults)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.errors import UserError
from rppsim.rng import SeedTree
from rppsim.sim.faults import (
    NEVER,
    Churn,
    ClockSkew,
    Crash,
    Degrade,
    FaultSchedule,
    Heal,
    NodeState,
    Partition,
    Pause,
    Restart,
    compute_partition_mask,
    get_fault_kind,
)
from rppsim.sim.topology import TopologyParams, build_topology, compute_topology

RING = build_topology(TopologyParams("ring", degree=2), 10, SeedTree(0))
EIGHT = build_topology(TopologyParams("ring", degree=2), 8, SeedTree(0))
RUNNING, CRASHED, PAUSED = NodeState.RUNNING, NodeState.CRASHED, NodeState.PAUSED


def _schedule(*faults, duration=10_000, topology=RING, seed=0):
    return FaultSchedule(tuple(faults), topology, duration, SeedTree(seed))


def _kinds(schedule):
    return [(tr.time_ms, tr.kind, tr.node) for tr in schedule.transitions]


def _arc(u, v):
    return RING.arc_index(u, v)


def test_crash_with_until_and_restart():
    """A crash window [at, until) and an open crash closed by an explicit restart."""
    s = _schedule(Crash(1, 100, 200), Crash(2, 150), Restart(2, 400))
    assert not s.view_at(99).node_crashed[1]
    assert s.view_at(100).node_crashed[1] and s.view_at(199).node_crashed[1]
    assert not s.view_at(200).node_crashed[1]
    assert s.view_at(399).node_crashed[2] and not s.view_at(400).node_crashed[2]
    assert _kinds(s) == [
        (100, "crash", 1),
        (150, "crash", 2),
        (200, "restart", 1),
        (400, "restart", 2),
    ]


def test_open_crash_lasts_to_the_end_without_a_restart_transition():
    """A crash without until or restart stays; no restart is listed."""
    s = _schedule(Crash(4, 500))
    assert s.view_at(9_999).node_crashed[4]
    assert _kinds(s) == [(500, "crash", 4)]


@pytest.mark.parametrize(
    ("faults", "key", "expected"),
    [
        ((Restart(1, 10),), "fault[0].node", "crashed without until_ms"),
        ((Crash(1, 10, 20), Restart(1, 15)), "fault[1].node", "crashed without until_ms"),
        ((Crash(1, 10, 50), Crash(1, 40)), "fault[1].at_ms", "overlapping crash"),
        ((Crash(1, 10), Crash(1, 40, 60)), "fault[1].at_ms", "overlapping crash"),
        ((Pause(3, 10), Pause(3, 40, 60)), "fault[1].at_ms", "overlapping pause"),
        ((Degrade(0, links=((0, 5),)),), "fault[0].links[0]", "an edge of the topology"),
    ],
)
def test_inconsistent_faults_are_user_errors(faults, key, expected):
    """Restart without crash, overlapping windows and non-edge links are rejected."""
    with pytest.raises(UserError) as info:
        _schedule(*faults)
    assert info.value.key == key and expected in str(info.value)


def test_back_to_back_crashes_are_fine():
    """A crash may start when the previous one ends."""
    s = _schedule(Crash(1, 10, 50), Crash(1, 50, 60), Crash(2, 5), Restart(2, 8), Crash(2, 9))
    assert s.view_at(55).node_crashed[1] and s.view_at(9).node_crashed[2]


@pytest.mark.parametrize(
    ("faults", "key", "window", "found"),
    [
        (
            (Pause(2, 2000, 25_000), Crash(2, 5000, 8000)),
            "fault[0]",
            "[5000, 8000) (fault[1])",
            "pause [2000, 25000)",
        ),
        (
            (Crash(2, 5000), Restart(2, 8000), Pause(2, 7000, 9000)),
            "fault[2]",
            "[5000, 8000) (fault[0])",
            "pause [7000, 9000)",
        ),
        (
            (Crash(2, 5000), Pause(2, 9000)),
            "fault[1]",
            "[5000, end of run) (fault[0])",
            "pause [9000, end of run)",
        ),
        (
            (Pause(2, 100), Crash(2, 5000, 6000)),
            "fault[0]",
            "[5000, 6000) (fault[1])",
            "pause [100, end of run)",
        ),
    ],
)
def test_a_pause_overlapping_a_crash_of_its_node_is_a_user_error(faults, key, window, found):
    """Explicit, open-ended and restart-ended crash windows all count; the pause is named."""
    with pytest.raises(UserError) as info:
        _schedule(*faults)
    expected = f"a pause of node 2 that does not overlap its crash window {window}"
    assert (info.value.key, info.value.expected, info.value.found) == (key, expected, found)
    assert "\n" not in str(info.value)


def test_touching_pause_and_crash_windows_give_one_state_at_a_time():
    """A pause may end when a crash starts and start when it ends; other nodes are apart."""
    s = _schedule(Pause(1, 0, 50), Crash(1, 50, 70), Pause(1, 70, 100), Pause(2, 0), Crash(3, 60))
    expected = {
        49: (PAUSED, PAUSED, RUNNING),
        50: (CRASHED, PAUSED, RUNNING),
        69: (CRASHED, PAUSED, CRASHED),
        70: (PAUSED, PAUSED, CRASHED),
        100: (RUNNING, PAUSED, CRASHED),
    }
    for t, states in expected.items():
        assert tuple(s.get_node_state(v, t) for v in (1, 2, 3)) == states, t
        view = s.view_at(t)
        assert not (view.node_crashed & view.node_paused).any()
        assert view.node_ok[0] and view.node_ok[1] == (states[0] is RUNNING)
    assert (100, "resume", 1) in _kinds(s)


def test_churn_avoids_paused_nodes():
    """Churn only takes down nodes that are neither crashed nor paused over the downtime."""
    churn = Churn(rate_per_min=60, downtime_ms=500, nodes=(1, 2))
    s = _schedule(Pause(1, 0, 9000), Crash(2, 0, 2000), churn, duration=10_000)
    churned = [w for w in s.crash_windows if w.cause == "churn"]
    assert churned and all(w.node == 2 and w.start_ms >= 2000 for w in churned)
    assert any(w.node == 1 for w in _schedule(churn, duration=10_000).crash_windows)


@st.composite
def valid_node_faults(draw, n: int = 8, duration: int = 20_000, step: int = 250):
    """Crash (with until, open, or ended by a restart), pause and churn specs of ``n`` nodes
    whose windows never overlap per node (they may touch), in a random file order."""
    faults: list = []
    for node in range(n):
        t = 0
        for _ in range(draw(st.integers(0, 3))):
            start = t + draw(st.integers(0, 12)) * step
            if start >= duration:
                break
            end = min(start + draw(st.integers(1, 16)) * step, duration)
            kind = draw(st.sampled_from(["crash", "restart", "pause", "open crash", "open pause"]))
            if kind == "crash":
                faults.append(Crash(node, start, end))
            elif kind == "pause":
                faults.append(Pause(node, start, end))
            elif kind == "restart" and end < duration:
                faults += [Crash(node, start), Restart(node, end)]
            else:
                faults.append(Pause(node, start) if kind == "open pause" else Crash(node, start))
                break
            t = end
    if draw(st.booleans()):
        downtime = draw(st.integers(1, 12)) * step
        rate = draw(st.sampled_from([3.0, 10.0, 30.0]))
        process = draw(st.sampled_from(["poisson", "sequential"]))
        faults.append(Churn(rate_per_min=rate, downtime_ms=downtime, process=process))
    return tuple(draw(st.permutations(faults)))


def _brute_state(schedule, node, t):
    """The state from the windows themselves, asserting a node is never crashed and paused."""

    def active(windows):
        return any(w.node == node and w.start_ms <= t < w.end_ms for w in windows)

    crashed, paused = active(schedule.crash_windows), active(schedule.pause_windows)
    assert not (crashed and paused), (node, t)
    return CRASHED if crashed else PAUSED if paused else RUNNING


@settings(max_examples=60, deadline=None)
@given(faults=valid_node_faults(), seed=st.integers(0, 2**16))
def test_node_state_is_one_of_three_and_matches_the_windows(faults, seed):
    """Valid schedules (churn included) never overlap a node's crash and pause windows, and
    ``get_node_state`` agrees with the windows and the view at and just before each change."""
    s = _schedule(*faults, duration=20_000, topology=EIGHT, seed=seed)
    times = {tr.time_ms for tr in s.transitions} | {0}
    for t in sorted(times | {t - 1 for t in times if t > 0}):
        view = s.view_at(t)
        for node in range(8):
            state = s.get_node_state(node, t)
            assert state is _brute_state(s, node, t)
            assert view.node_crashed[node] == (state is CRASHED)
            assert view.node_paused[node] == (state is PAUSED)


def test_partition_group_semantics():
    """Unlisted nodes form one group; bridge keeps their links; oneway cuts one direction."""
    topology = compute_topology(6, np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [0, 5]]))

    def cut(**kw):
        mask = compute_partition_mask(Partition(at_ms=0, **kw), topology)
        return {(int(topology.arc_src[a]), int(topology.indices[a])) for a in np.flatnonzero(mask)}

    assert cut(groups=((0, 1),)) == {(1, 2), (2, 1), (0, 5), (5, 0)}
    assert cut(groups=((0, 1), (3, 4)), unlisted="bridge") == set()
    assert cut(groups=((0, 1), (2, 3)), unlisted="bridge") == {(1, 2), (2, 1)}
    assert cut(groups=((0, 1), (2, 3)), oneway=True) == {(1, 2), (3, 4), (0, 5)}


def test_partitions_combine_and_heal_ends_them():
    """Active partitions OR together; a heal ends those running at its time, not later ones."""
    s = _schedule(
        Partition(((0, 1, 2),), 100, 900),
        Partition(((5,),), 200),
        Heal(500),
        Partition(((7,),), 500, 800),
    )
    both = s.view_at(300).arc_down
    assert both[_arc(2, 3)] and both[_arc(4, 5)] and both[_arc(5, 6)]
    after = s.view_at(600).arc_down
    assert not after[_arc(2, 3)] and not after[_arc(4, 5)]
    assert after[_arc(6, 7)] and after[_arc(7, 8)]
    assert not s.view_at(800).arc_down.any()
    kinds = _kinds(s)
    assert kinds.index((500, "partition_end", -1)) < kinds.index((500, "heal", -1))
    assert kinds.index((500, "heal", -1)) < kinds.index((500, "partition_start", -1))
    assert sum(k == "partition_end" for _, k, _ in kinds) == 3


def test_degradation_adds_delay_and_combines_loss():
    """Listed links (both ways) and a node's links; overlaps add delay and combine loss."""
    s = _schedule(
        Degrade(100, 300, links=((3, 4),), extra_delay_ms=20, extra_loss=0.5),
        Degrade(200, 400, nodes=(4,), extra_delay_ms=5, extra_loss=0.5),
    )
    assert s.view_at(50).arc_extra_delay_ms is None
    view = s.view_at(250)
    assert view.arc_extra_delay_ms[_arc(3, 4)] == 25 and view.arc_extra_delay_ms[_arc(4, 3)] == 25
    assert view.arc_extra_delay_ms[_arc(5, 4)] == 5 and view.arc_extra_delay_ms[_arc(1, 2)] == 0
    assert view.arc_extra_loss[_arc(3, 4)] == pytest.approx(0.75)
    assert view.arc_extra_loss[_arc(4, 5)] == pytest.approx(0.5)


def test_clock_skew():
    """Local time = t + offset + floor((t - at) * ppm / 1e6) during the window."""
    s = _schedule(ClockSkew((2, 3), at_ms=1000, until_ms=5000, offset_ms=250, drift_ppm=1000))
    assert s.local_time_ms(2, 999) == 999
    assert s.local_time_ms(2, 3000) == 3000 + 250 + 2
    assert s.local_time_ms(4, 3000) == 3000
    assert s.local_time_ms(3, 5000) == 5000
    view = s.view_at(2000)
    assert view.skew_offset_ms[3] == 250 and view.skew_drift_ppm[2] == 1000
    assert [k for _, k, _ in _kinds(s)] == ["skew_start"] * 2 + ["skew_end"] * 2


def test_views_are_cached_per_epoch_and_next_change():
    """One view object per interval between transitions; next_change_ms names the boundary."""
    s = _schedule(Crash(1, 100, 200))
    assert s.view_at(120) is s.view_at(199)
    assert s.view_at(99) is not s.view_at(100)
    assert s.next_change_ms(0) == 100 and s.next_change_ms(100) == 200
    assert s.next_change_ms(200) is None


def _check_churn_windows(windows, spec, duration):
    """Windows lie in the churn period, on candidate nodes, never overlapping per node."""
    by_node = {}
    for w in windows:
        assert spec.at_ms < w.start_ms < (spec.until_ms or duration)
        assert spec.nodes is None or w.node in spec.nodes
        assert w.end_ms == NEVER or w.end_ms <= duration
        by_node.setdefault(w.node, []).append(w)
    for ws in by_node.values():
        ws.sort(key=lambda w: w.start_ms)
        assert all(a.end_ms <= b.start_ms for a, b in itertools.pairwise(ws))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    rate=st.floats(0.5, 60),
    downtime=st.integers(1, 5000),
    exponential=st.booleans(),
    sequential=st.booleans(),
)
def test_churn_expansion_properties(seed, rate, downtime, exponential, sequential):
    """Churn is deterministic per seed, in its window, on candidates, and avoids crashes."""
    spec = Churn(
        rate_per_min=rate,
        downtime_ms=downtime,
        at_ms=1000,
        until_ms=50_000,
        downtime="exponential" if exponential else "fixed",
        process="sequential" if sequential else "poisson",
        nodes=(1, 2, 3, 4),
    )
    a = _schedule(Crash(2, 0), spec, duration=60_000, seed=seed)
    b = _schedule(Crash(2, 0), spec, duration=60_000, seed=seed)
    assert a.crash_windows == b.crash_windows
    churned = [w for w in a.crash_windows if w.cause == "churn"]
    assert all(w.node != 2 for w in churned)
    _check_churn_windows(churned, spec, 60_000)
    if not exponential:
        assert all(w.end_ms - w.start_ms == downtime for w in churned if w.end_ms != NEVER)
    if sequential:
        ordered = sorted(churned, key=lambda w: w.start_ms)
        assert all(x.end_ms <= y.start_ms for x, y in itertools.pairwise(ordered))


def test_churn_rate_and_labels():
    """Poisson churn at 30/min over 10 min gives about 300 events, labelled like simnet."""
    spec = Churn(rate_per_min=30, downtime_ms=100)
    s = _schedule(
        spec,
        duration=600_000,
        topology=build_topology(TopologyParams("ring", degree=2), 100, SeedTree(0)),
    )
    downs = [tr for tr in s.transitions if tr.kind == "churn_down"]
    assert 300 - 4 * 300**0.5 < len(downs) < 300 + 4 * 300**0.5
    assert downs[0].detail == f"node:{downs[0].node}"
    assert s.view_at(downs[0].time_ms).node_crashed[downs[0].node]
    other = _schedule(
        spec,
        duration=600_000,
        seed=1,
        topology=build_topology(TopologyParams("ring", degree=2), 100, SeedTree(0)),
    )
    assert other.crash_windows != s.crash_windows


def test_sequential_churn_matches_simnet_spacing():
    """Sequential churn: wait 60000/rate, one node down for its downtime, repeat."""
    s = _schedule(Churn(rate_per_min=6, downtime_ms=2000, process="sequential"), duration=60_000)
    starts = [w.start_ms for w in s.crash_windows]
    assert starts == [10_000, 22_000, 34_000, 46_000, 58_000]
    assert s.crash_windows[-1].end_ms == 60_000
    shorter = _schedule(
        Churn(rate_per_min=6, downtime_ms=2000, process="sequential"), duration=59_000
    )
    assert shorter.crash_windows[-1].end_ms == NEVER
    assert shorter.transitions[-1].kind == "churn_down"


def test_transitions_are_sorted_and_within_the_run():
    """Transitions come in time order with ends before starts at equal times."""
    s = _schedule(
        Crash(1, 100, 300), Pause(2, 300, 900), Partition(((1,),), 300, 20_000), duration=1000
    )
    times = [tr.time_ms for tr in s.transitions]
    assert times == sorted(times) and max(times) <= 1000
    assert [k for t, k, _ in _kinds(s) if t == 300] == ["restart", "pause", "partition_start"]


def test_fault_kind_names():
    """Each spec maps back to its scenario kind."""
    assert get_fault_kind(Heal(1)) == "heal"
    assert get_fault_kind(ClockSkew((1,))) == "clock-skew"
    with pytest.raises(TypeError):
        get_fault_kind("crash")
