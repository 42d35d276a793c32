"""The simulation kernel (rppsim/sim/kernel.py): real nodes over the network model.

Every run is checked for safety when it is made (``RunCache``): no two different blocks are
finalized at one height, and each node finalizes heights 1, 2, ... in order.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from rppsim.node.effects import Timer, TimerKind
from rppsim.node.node import Node
from rppsim.rng import SeedTree
from rppsim.sim.clocks import compute_local_ms, compute_true_ms
from rppsim.sim.faults import Churn, ClockSkew, Crash, NodeState, Pause, Restart
from rppsim.sim.spec import CostsConfig, Scenario, TrafficConfig, TrafficPhase
from rppsim.sim.traffic import compute_on_off_times, compute_poisson_times, compute_tx_times

from .test_faults import valid_node_faults

TELEMETRY_MS = 15_000
"""The testnet profile's telemetry interval."""


def _flood_rows(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    messages = frames["messages"]
    return messages[(messages["topic"] != "unicast") & ~messages["dropped"]]


def _finalized(frames: dict[str, pd.DataFrame], node: int) -> pd.DataFrame:
    rows = frames["block_finalized"]
    return rows[rows["node"] == node]


def _height_at(frames: dict[str, pd.DataFrame], t_ms: int) -> int:
    """The highest height any node finalized before ``t_ms``."""
    rows = frames["block_finalized"]
    before = rows[rows["finalized_ms"] < t_ms]
    return int(before["height"].max()) if len(before) else 0


def _snapshot_times(frames: dict[str, pd.DataFrame], node: int) -> list[int]:
    snapshots = frames["snapshots"]
    return snapshots[snapshots["node"] == node]["now_ms"].tolist()


# --------------------------------------------------------------------------------------------
# Pure helpers.


def test_poisson_times_are_sorted_inside_the_window_at_the_rate() -> None:
    times = compute_poisson_times(50.0, 1_000, 61_000, np.random.default_rng(1))
    assert times == sorted(times)
    assert all(1_000 <= t < 61_000 for t in times)
    assert 2_700 < len(times) < 3_300  # 50/s over 60 s
    assert compute_poisson_times(0.0, 0, 1_000, np.random.default_rng(1)) == []


def test_on_off_times_fall_only_in_on_windows() -> None:
    phase = TrafficPhase(
        duration_ms=20_000, model="on-off", rate_per_s=20.0, on_ms=2_000, off_ms=3_000
    )
    times = compute_on_off_times(phase, 5_000, np.random.default_rng(2))
    assert times and all(5_000 <= t < 25_000 for t in times)
    assert all((t - 5_000) % 5_000 < 2_000 for t in times)


def test_tx_times_run_phases_back_to_back_then_idle() -> None:
    traffic = TrafficConfig(
        phases=(
            TrafficPhase(duration_ms=10_000, rate_per_s=5.0),
            TrafficPhase(
                duration_ms=5_000, model="on-off", rate_per_s=5.0, on_ms=1_000, off_ms=1_000
            ),
        )
    )
    times = compute_tx_times(traffic, 60_000, SeedTree(3))
    assert times == sorted(times) and times[-1] < 15_000
    assert any(t < 10_000 for t in times) and any(t >= 10_000 for t in times)
    assert compute_tx_times(traffic, 60_000, SeedTree(3)) == times
    assert compute_tx_times(traffic, 60_000, SeedTree(4)) != times


def test_true_time_inverts_the_skewed_clock() -> None:
    drift = (ClockSkew(nodes=(0,), at_ms=1_000, drift_ppm=100_000),)
    for deadline in (1_500, 16_000, 123_457):
        t = compute_true_ms(drift, deadline, 1_000)
        assert compute_local_ms(drift, t) >= deadline > compute_local_ms(drift, t - 1)
    jump = (ClockSkew(nodes=(0,), at_ms=0, offset_ms=2_000),)
    assert compute_true_ms(jump, 30_000, 20_000) == 28_000
    assert compute_true_ms(jump, 21_000, 20_000) == 20_000  # already due
    slow = (ClockSkew(nodes=(0,), drift_ppm=-500_000),)
    assert compute_true_ms(slow, 5_000, 0) == 10_000


# --------------------------------------------------------------------------------------------
# A clean run: the frames agree with each other.


def test_base_run_makes_progress_and_every_node_agrees(runs) -> None:
    sim, _frames = runs.get("base")
    heights = [slot.node.height for slot in sim.slots]
    assert min(heights) >= 9, heights  # 5 s blocks over 60 s
    chains = {tuple(slot.node.finalized_chain()[: min(heights)]) for slot in sim.slots}
    assert len(chains) == 1


def test_blocks_frame_is_one_chain_of_the_finalized_blocks(runs) -> None:
    sim, frames = runs.get("base")
    blocks = frames["blocks"].sort_values("height")
    finalized = frames["block_finalized"][["height", "hash"]].drop_duplicates()
    assert sorted(map(tuple, finalized.values.tolist())) == sorted(
        map(tuple, blocks[["height", "hash"]].values.tolist())
    )
    assert blocks["height"].tolist() == list(range(1, len(blocks) + 1))
    assert blocks["previous_hash"].iloc[1:].tolist() == blocks["hash"].iloc[:-1].tolist()
    validators = sim.scenario.nodes.validators
    assert blocks["proposer"].between(0, validators - 1).all()
    assert blocks["tx_count"].sum() > 0


def test_votes_frame_holds_a_quorum_of_valid_voters_for_each_finalized_block(runs) -> None:
    sim, frames = runs.get("base")
    votes = frames["votes"]
    validators = sim.scenario.nodes.validators
    assert votes["voter"].between(0, validators - 1).all()
    assert set(votes["kind"]) == {"prevote", "precommit"}
    assert (votes["receivers"] == sim.scenario.nodes.count - 1).all()  # no faults, no loss
    precommits = votes[votes["kind"] == "precommit"]
    for row in frames["blocks"].itertuples():
        voters = precommits[
            (precommits["height"] == row.height)
            & (precommits["round"] == row.round)
            & (precommits["block_hash"] == row.hash)
        ]["voter"]
        assert voters.nunique() * 3 > 2 * validators, row.height  # > 2/3 of equal powers


def test_vrf_rounds_and_snapshots_match_the_finalized_blocks(runs) -> None:
    sim, frames = runs.get("base")
    finalized = frames["block_finalized"]
    keys = set(zip(finalized["node"], finalized["height"], strict=True))
    vrf = frames["vrf_rounds"]
    assert set(zip(vrf["node"], vrf["height"], strict=True)) == keys
    assert (vrf["accepted_validators"] == sim.scenario.nodes.validators).all()
    hashes = dict(
        zip(
            zip(finalized["node"], finalized["height"], strict=True), finalized["hash"], strict=True
        )
    )
    snapshots = frames["snapshots"]
    assert len(snapshots) == sim.scenario.nodes.count * ((sim.duration_ms - 1) // TELEMETRY_MS)
    for row in snapshots.itertuples():
        assert row.now_ms % TELEMETRY_MS < 1_000  # costs delay an emit by less than a second
        if row.height > 0:
            assert hashes[(row.node, row.height)] == row.last_hash


def test_messages_rows_are_the_deliveries(runs) -> None:
    sim, frames = runs.get("base")
    messages = frames["messages"]
    assert not messages["dropped"].any() and sim.transport.dropped == 0
    due = messages[messages["recv_ms"] < sim.duration_ms]
    assert len(due) == sim.transport.deliveries
    assert (messages["recv_ms"] > messages["sent_ms"]).all()
    assert (messages["origin"] != messages["receiver"]).all()
    floods = _flood_rows(frames)
    per_flood = floods.groupby("msg_id")["receiver"].agg(["count", "nunique"])
    assert (per_flood["count"] == per_flood["nunique"]).all()
    assert (per_flood["count"] == sim.scenario.nodes.count - 1).all()
    info = dict(zip(frames["run_info"]["key"], frames["run_info"]["value"], strict=True))
    assert int(info["recorder.messages_delivered_seen"]) == len(messages)


def test_proofs_of_a_model_run_are_never_verified(runs) -> None:
    _, frames = runs.get("base")
    proofs = frames["proofs"]
    assert len(proofs) and (proofs["system"] == "model").all()
    assert not proofs["verified"].any()
    assert set(proofs["height"]) <= set(frames["blocks"]["height"])
    assert frames["faults"].empty


def test_costs_change_timings_but_not_safety(runs, scenario, simulation, safe) -> None:
    _on_sim, on = runs.get("base")
    off_sim = simulation(replace(scenario("base"), costs=CostsConfig(enabled=False)))
    off_sim.run()
    off = off_sim.recorder.frames()
    safe(off)
    assert min(slot.node.height for slot in off_sim.slots) >= 9
    key = ["height", "node"]
    both = on["block_finalized"].merge(off["block_finalized"], on=key, suffixes=("_on", "_off"))
    assert len(both) > 50
    assert (both["finalized_ms_on"] > both["finalized_ms_off"]).mean() > 0.9
    snapshots = off["snapshots"]
    assert (snapshots["now_ms"] % TELEMETRY_MS == 0).all()  # no processing delay


# --------------------------------------------------------------------------------------------
# Flood arrivals equal shortest paths.


def _graph(sim, t_ms: int, extra: dict[int, int] | None = None) -> nx.Graph:
    """The up graph at ``t_ms`` weighted by base latency (+ ``extra`` ms on a node's links)."""
    topology, links = sim.topology, sim.network.links
    view = sim.faults.view_at(t_ms)
    graph = nx.Graph()
    graph.add_nodes_from(np.flatnonzero(view.node_ok).tolist())
    for arc in range(topology.arc_count):
        u, v = int(topology.arc_src[arc]), int(topology.indices[arc])
        if u < v and view.node_ok[u] and view.node_ok[v] and not view.arc_down[arc]:
            weight = int(links.arc_base_ms[arc])
            weight += (extra or {}).get(u, 0) + (extra or {}).get(v, 0)
            graph.add_edge(u, v, weight=weight)
    return graph


def test_flood_arrivals_equal_networkx_shortest_paths(runs) -> None:
    sim, frames = runs.get("exact")
    graph = _graph(sim, 0)
    floods = _flood_rows(frames)
    assert len(floods) > 500
    for origin, rows in floods.groupby("origin"):
        lengths = nx.single_source_dijkstra_path_length(graph, int(origin), weight="weight")
        expected = rows["receiver"].map(lengths)
        assert ((rows["recv_ms"] - rows["sent_ms"]) == expected).all(), origin


# --------------------------------------------------------------------------------------------
# Node faults, one per full node (tests/sim/data/faults.toml), observed at chosen instants.


@pytest.fixture(scope="module")
def faults_run(scenario, simulation, safe):
    """The faults scenario run to the end, with what the nodes looked like on the way."""
    sim = simulation(scenario("faults"))
    seen: dict[str, object] = {}
    sim.advance(20_000)
    seen["height_7_at_pause"] = sim.slots[7].node.height
    sim.advance(20_001)
    seen["crashed_5"] = sim.slots[5].node is None
    seen["persisted_5"] = [c.block.header.height for c in sim.slots[5].persisted]
    sim.advance(25_001)
    seen["height_5_after_restart"] = sim.slots[5].node.height
    sim.advance(31_000)
    seen["paused_7"] = sim.slots[7].state is NodeState.PAUSED
    seen["held_7"] = [item for _, item, _ in sim.slots[7].held]
    seen["height_7_in_pause"] = sim.slots[7].node.height
    sim.advance(32_001)
    seen["held_7_after"] = list(sim.slots[7].held)
    sim.run()
    frames = sim.recorder.frames()
    safe(frames)
    return sim, frames, seen


def test_fault_transitions_are_recorded_in_order(faults_run) -> None:
    sim, frames, _ = faults_run
    faults = frames["faults"]
    expected = [(t.time_ms, t.kind) for t in sim.faults.transitions if t.time_ms < sim.duration_ms]
    assert list(zip(faults["at_ms"], faults["kind"], strict=True)) == expected
    phases = dict(zip(faults["kind"], faults["phase"], strict=False))
    assert phases["crash"] == "start" and phases["restart"] == "end"
    assert phases["pause"] == "start" and phases["resume"] == "end"


def test_messages_rows_account_for_every_copy_under_faults(faults_run) -> None:
    sim, frames, _ = faults_run
    messages = frames["messages"]
    delivered = messages[~messages["dropped"] & (messages["recv_ms"] < sim.duration_ms)]
    held = sum(len(slot.held) for slot in sim.slots)
    assert len(delivered) == sim.transport.deliveries + sim.transport.dropped + held
    reasons = set(messages[messages["dropped"]]["drop_reason"])
    assert {"crashed", "paused"} <= reasons
    crashed = messages[messages["drop_reason"] == "crashed"]
    assert set(crashed["receiver"]) <= {5, 6, 11}


def test_a_crashed_node_stops_finalizing_and_keeps_its_persisted_commits(faults_run) -> None:
    _sim, frames, seen = faults_run
    assert seen["crashed_5"]
    rows = _finalized(frames, 5)
    before = rows[rows["finalized_ms"] < 10_000]["height"].tolist()
    assert seen["persisted_5"] == before and before  # what it finalized, it persisted
    assert rows["finalized_ms"].between(10_000, 25_000 - 1).sum() == 0
    assert seen["height_5_after_restart"] == len(before)  # replayed, not re-finalized
    after = rows[rows["finalized_ms"] >= 25_000]["height"]
    assert after.min() == len(before) + 1


def test_a_restarted_node_catches_up_by_sync_and_agrees(faults_run) -> None:
    sim, frames, _ = faults_run
    messages = frames["messages"]
    unicast = messages[messages["topic"] == "unicast"]
    for node, restart in ((5, 25_000), (6, 40_000)):
        asked = unicast[(unicast["origin"] == node) & (unicast["sent_ms"] >= restart)]
        answered = unicast[(unicast["receiver"] == node) & (unicast["sent_ms"] >= restart)]
        assert len(asked) and len(answered), node
        assert sim.slots[node].node.height >= max(s.node.height for s in sim.slots[:4]) - 1
    rows = _finalized(frames, 6)
    assert rows["finalized_ms"].between(12_000, 40_000 - 1).sum() == 0
    assert rows[rows["finalized_ms"] >= 40_000]["height"].min() == (
        rows[rows["finalized_ms"] < 12_000]["height"].max() + 1
    )


def test_a_paused_node_holds_its_inputs_until_it_resumes(faults_run) -> None:
    sim, frames, seen = faults_run
    assert seen["paused_7"]
    assert seen["height_7_in_pause"] == seen["height_7_at_pause"]
    assert Timer(TimerKind.TELEMETRY) in seen["held_7"]  # due at 30 s, while paused
    assert seen["held_7_after"] == []
    rows = _finalized(frames, 7)
    assert rows["finalized_ms"].between(20_000 + 1_000, 32_000 - 1).sum() == 0
    assert _snapshot_times(frames, 7)[:2] == [15_000, 32_000]  # the held timer, at resume
    assert sim.slots[7].node.height >= sim.slots[0].node.height - 1


def test_a_degraded_node_gets_every_copy_later_by_the_extra_delay(faults_run) -> None:
    sim, frames, _ = faults_run
    floods = _flood_rows(frames)
    assert len(floods) > 500
    slower = 0
    for (msg_id, sent), rows in floods.groupby(["msg_id", "sent_ms"]):
        origin = int(rows["origin"].iloc[0])
        window = 35_000 <= sent < 50_000
        graph = _graph(sim, int(sent), {8: 300} if window else None)
        lengths = nx.single_source_dijkstra_path_length(graph, origin, weight="weight")
        assert ((rows["recv_ms"] - sent) == rows["receiver"].map(lengths)).all(), msg_id
        if window and origin != 8 and 8 in rows["receiver"].tolist():
            plain = nx.single_source_dijkstra_path_length(_graph(sim, int(sent)), origin)
            delay = int(rows[rows["receiver"] == 8]["recv_ms"].iloc[0]) - sent
            assert delay == plain[8] + 300
            slower += 1
    assert slower > 20


def test_clock_skew_moves_a_node_s_timers(faults_run) -> None:
    _sim, frames, _ = faults_run
    assert _snapshot_times(frames, 0) == [15_000, 30_000, 45_000]
    assert _snapshot_times(frames, 9) == [15_000, 28_000, 43_000, 58_000]  # +2 s from 20 s
    fast, t, local = [], 0, 0
    for _ in range(4):  # the clock reads t + t/10; each timer is 15 s of that clock later
        deadline = local + TELEMETRY_MS
        while t + t // 10 < deadline:
            t += 1
        fast.append(t)
        local = t + t // 10
    assert _snapshot_times(frames, 10) == fast


def test_churn_takes_nodes_down_and_brings_them_back(faults_run) -> None:
    sim, frames, _ = faults_run
    faults = frames["faults"]
    churn = faults[faults["kind"].isin(["churn_down", "churn_up"])]
    assert set(churn["nodes"]) == {"11"}
    downs = churn[churn["kind"] == "churn_down"]["at_ms"].tolist()
    ups = churn[churn["kind"] == "churn_up"]["at_ms"].tolist()
    assert len(downs) >= 3 and [u - d for d, u in zip(downs, ups, strict=False)] == [3_000] * len(
        ups
    )
    rows = _finalized(frames, 11)
    for down, up in zip(downs, ups, strict=False):
        assert rows["finalized_ms"].between(down, up - 1).sum() == 0
    assert rows["height"].max() >= sim.slots[0].node.height - 1


# --------------------------------------------------------------------------------------------
# One truth for a node's fault state: the schedule's ``get_node_state``.

STATE_FAULTS = (
    Pause(5, 2_000, 10_000),  # then straight into a crash: its held inputs are lost
    Crash(5, 10_000, 13_000),
    Crash(6, 3_000),
    Restart(6, 9_000),
    Pause(6, 9_000, 11_000),  # restarted straight into a pause: it starts at 11 s
    Pause(7, 4_000, 9_000),  # held inputs run at 9 s
    Crash(4, 12_000, 15_000),  # restarts from what it persisted
    Churn(rate_per_min=10.0, downtime_ms=2_000, nodes=(2, 3)),
)


def _short(base: Scenario, faults: tuple, **traffic: float) -> Scenario:
    """``base`` cut to 20 s, costs off, with ``faults`` and some traffic."""
    return replace(
        base,
        run=replace(base.run, duration_ms=20_000),
        costs=CostsConfig(enabled=False),
        traffic=replace(base.traffic, **traffic),
        faults=faults,
    )


def _counted(sim, name: str, handler, calls: list[tuple[int, str, int]]):
    """``handler`` recording (node index, ``name``, true time) before each call."""

    def counted(node, now, *args):
        calls.append((sim.index[node.address], name, sim._now()))
        return handler(node, now, *args)

    return counted


@pytest.fixture(scope="module")
def state_run(scenario, simulation, safe):
    """The base network under ``STATE_FAULTS`` with every node input handler counted:
    (node, handler, true time) per call; and node 4 looked at around its crash."""
    sim = simulation(_short(scenario("base"), STATE_FAULTS, tx_per_s=2.0, identity_per_min=20.0))
    calls: list[tuple[int, str, int]] = []
    seen: dict[str, object] = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("on_start", "on_message", "on_timer", "submit"):
            patch.setattr(Node, name, _counted(sim, name, getattr(Node, name), calls))
        sim.advance(12_000)
        seen["node_4"] = sim.slots[4].node
        seen["persisted_4"] = list(sim.slots[4].persisted)
        sim.advance(12_001)
        seen["crashed_4"] = (sim.slots[4].node, sim.slots[4].state, dict(sim.slots[4].timers))
        sim.advance(15_001)
        new = sim.slots[4].node
        seen["restarted_4"] = (new, list(new.chain), new.height, new.mempool.transactions())
        seen["persisted_4_at_restart"] = list(sim.slots[4].persisted)
        sim.run()
    frames = sim.recorder.frames()
    safe(frames)
    return sim, calls, seen


def test_a_paused_or_crashed_node_processes_nothing(state_run) -> None:
    """Every timer, message, submission and start runs while the schedule says RUNNING."""
    sim, calls, _ = state_run
    assert {name for _, name, _ in calls} == {"on_start", "on_message", "on_timer", "submit"}
    for node, name, t in calls:
        assert sim.faults.get_node_state(node, t) is NodeState.RUNNING, (node, name, t)
    by_node = {v: [t for node, _, t in calls if node == v] for v in range(8)}
    assert not [t for t in by_node[5] if 2_000 <= t < 13_000]
    assert not [t for t in by_node[6] if 3_000 <= t < 11_000]
    assert not [t for t in by_node[7] if 4_000 <= t < 9_000]
    assert by_node[5] and min(t for t in by_node[5] if t >= 2_000) >= 13_000


def test_held_inputs_run_on_resume_and_a_restart_into_a_pause_starts_at_resume(state_run):
    sim, calls, _ = state_run
    at_resume_7 = [name for node, name, t in calls if node == 7 and t == 9_000]
    assert "on_timer" in at_resume_7 or "on_message" in at_resume_7  # held, then run
    starts_6 = [t for node, name, t in calls if node == 6 and name == "on_start"]
    assert starts_6 == [0, 11_000]
    submits = [(node, t) for node, name, t in calls if name == "submit"]
    assert len(submits) > 20
    assert all(sim.faults.get_node_state(node, t) is NodeState.RUNNING for node, t in submits)


def test_a_crash_then_restart_runs_the_node_again_from_its_persisted_commits(state_run):
    sim, calls, seen = state_run
    old, persisted = seen["node_4"], seen["persisted_4"]
    assert persisted and old.finalized_chain() == [
        (c.block.header.height, c.block.hash) for c in persisted
    ]
    assert seen["crashed_4"] == (None, NodeState.CRASHED, {})
    assert seen["persisted_4_at_restart"] == persisted  # nothing persisted while down
    new, chain, height, pending = seen["restarted_4"]
    assert new is not old and chain == persisted and height == len(persisted) and pending == ()
    assert [t for node, name, t in calls if node == 4 and name == "on_start"] == [0, 15_000]
    assert sim.slots[4].node.height >= sim.slots[0].node.height - 1  # it runs again


@settings(max_examples=12, deadline=None)
@given(faults=valid_node_faults())
def test_kernel_node_state_is_the_schedule_s_at_every_transition(scenario, simulation, faults):
    """Random valid crash/restart/pause/churn schedules: after the events of each transition
    time, every slot's state (and whether it has a node) is ``get_node_state``."""
    sim = simulation(_short(scenario("base"), faults, tx_per_s=1.0))
    for t in sorted({tr.time_ms for tr in sim.faults.transitions if tr.time_ms < 20_000}):
        sim.advance(t + 1)
        for v, slot in enumerate(sim.slots):
            state = sim.faults.get_node_state(v, t)
            assert slot.state is state, (v, t)
            assert (slot.node is None) is (state is NodeState.CRASHED)
            assert not slot.held or state is NodeState.PAUSED


# --------------------------------------------------------------------------------------------
# Partitions.


def test_a_minority_partition_stalls_while_the_quorum_side_goes_on(runs) -> None:
    sim, frames = runs.get("partition")
    majority, minority = [0, 1, 2, 4, 5, 6], [3, 7, 8, 9]
    start = _height_at(frames, 15_000)
    finalized = frames["block_finalized"]
    during = finalized[finalized["finalized_ms"].between(15_000, 35_000 - 1)]
    assert not (during[during["node"].isin(minority)]["height"] > start + 1).any()
    assert during[during["node"].isin(majority)]["height"].max() >= start + 2
    heights = [slot.node.height for slot in sim.slots]
    assert min(heights) >= max(heights) - 1
    assert min(heights) >= _height_at(frames, 35_000) + 2  # everyone goes on after the heal


def test_a_split_without_quorum_stalls_everyone_until_it_ends(runs) -> None:
    sim, frames = runs.get("split")
    start = _height_at(frames, 15_000)
    finalized = frames["block_finalized"]
    during = finalized[finalized["finalized_ms"].between(15_000, 35_000 - 1)]
    assert not (during["height"] > start + 1).any()
    assert _height_at(frames, sim.duration_ms) >= _height_at(frames, 35_000) + 3
    heights = [slot.node.height for slot in sim.slots]
    assert min(heights) >= max(heights) - 1


# --------------------------------------------------------------------------------------------
# Byzantine behaviour (tests/sim/data/byzantine.toml).


def test_a_double_signer_is_slashed_and_leaves_the_validator_set(runs) -> None:
    sim, frames = runs.get("byzantine")
    offender, honest = sim.addresses[1], sim.addresses[0]
    for slot in sim.slots:
        ledger = slot.node.ledger
        stake = ledger.get_account(honest).stake
        assert ledger.get_account(offender).stake == stake * 90 // 100
        assert not slot.node.previous_set.is_member(offender)
        assert slot.node.previous_set.is_member(honest)
    votes = frames["votes"]
    signed = votes[votes["voter"] == 1]
    doubled = signed.groupby(["height", "round", "kind"])["block_hash"].nunique()
    assert (doubled > 1).any()
    assert signed["height"].max() < frames["blocks"]["height"].max() - 3
    assert (frames["snapshots"]["slashing_events"] > 0).any()


def test_a_vote_withholder_s_votes_are_absent(runs) -> None:
    sim, frames = runs.get("byzantine")
    voters = set(frames["votes"]["voter"])
    assert 2 not in voters
    assert {0, 3, 4, 5, 6} <= voters
    assert sim.slots[0].node.previous_set.is_member(sim.addresses[2])


def test_spam_is_distinct_transactions_and_bad_signatures(runs) -> None:
    _, frames = runs.get("byzantine")
    _, clean = runs.get("base")
    rejections = frames["rejections"]
    final = rejections[rejections["now_ms"] == rejections["now_ms"].max()]  # end-of-run totals
    counts = final.groupby("reason")["count"].sum()
    assert counts["transaction: invalid signature"] > 100
    assert "transaction: transaction already queued" not in counts
    assert "transaction: invalid signature" not in set(clean["rejections"]["reason"])
    floods = frames["messages"].drop_duplicates("msg_id")
    spam = floods[(floods["origin"] == 8) & floods["topic"].str.contains("proofs")]
    assert len(spam) > 20 * 50  # 20 a second for 60 s


def test_invalid_uptime_proofs_are_rejected(runs) -> None:
    sim, frames = runs.get("invalid_proof")
    rejections = frames["rejections"]
    rejections = rejections[rejections["now_ms"] == sim.duration_ms]  # end-of-run totals
    invalid = rejections[rejections["reason"] == "uptime: invalid proof"]
    assert sorted(invalid["node"]) == [0, 2, 3] and (invalid["count"] == 1).all()
    blocks = frames["blocks"]
    assert blocks["uptime_count"].sum() == 3  # every claim but the corrupted one
    proofs = frames["proofs"]
    assert (proofs["circuit"] == "uptime").sum() == 3


# --------------------------------------------------------------------------------------------
# Traffic features.


def test_identity_requests_and_zipf_phases_reach_the_chain(runs) -> None:
    _sim, frames = runs.get("determinism")
    assert frames["blocks"]["identity_count"].sum() > 0
    assert frames["blocks"]["tx_count"].sum() > 0
    regions = frames["nodes"]["region"].tolist()
    assert regions == ["eu", "us"] * 5


def test_publishers_are_zipf_by_position_in_the_live_list(scenario, simulation) -> None:
    zipf = simulation(scenario("determinism"))  # zipf_s = 1.2
    pick = zipf.traffic.compute_publisher
    counts = np.bincount([pick(list(range(10))) for _ in range(3000)], minlength=10)
    assert counts[0] > counts[1] > counts[4] > counts[9] > 0
    expected = 3000 / sum(r**-1.2 for r in range(1, 11))
    assert abs(counts[0] - expected) < 0.15 * expected
    uniform = simulation(scenario("base"))
    pick = uniform.traffic.compute_publisher
    counts = np.bincount([pick([2, 5, 7]) for _ in range(3000)], minlength=8)
    assert set(np.flatnonzero(counts)) == {2, 5, 7} and counts[[2, 5, 7]].min() > 900


def test_sample_interval_ms_overrides_the_profile(scenario, simulation) -> None:
    base = scenario("base")
    short = replace(
        base,
        run=replace(base.run, duration_ms=12_000),
        telemetry=replace(base.telemetry, sample_interval_ms=4_000),
        costs=CostsConfig(enabled=False),
    )
    sim = simulation(short)
    sim.run()
    snapshots = sim.recorder.frames()["snapshots"]
    assert sorted(set(snapshots["now_ms"])) == [4_000, 8_000]
    assert len(snapshots) == 2 * base.nodes.count
    assert (snapshots["sample_interval_secs"] == 4).all()
