"""Rollout stages and data-losing restarts (rppsim/sim/stages.py, rppsim/sim/lifecycle.py,
``[[stage]]`` and ``keep_data`` in rppsim/scenario.py): parsing and its errors, the batches
and their timing, the profile a staged node runs, restarts from genesis that catch up, and
determinism of a staged run."""

from __future__ import annotations

import copy
import itertools
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.errors import UserError
from rppsim.scenario import parse_scenario
from rppsim.sim.faults import NodeState
from rppsim.sim.run import compute_genesis_facts
from rppsim.sim.spec import StageSpec
from rppsim.sim.stages import compute_stage_batches, compute_stage_windows
from rppsim.telemetry import compute_frames_digest

from .conftest import assert_safe, build_simulation, get_scenario_path

BASE = get_scenario_path("base")
PROFILES = "../../../node/profiles"


def make_data(**tables: Any) -> dict[str, Any]:
    """``tests/sim/data/base.toml`` (8 nodes, 4 validators, testnet) for 30 s with telemetry
    every 2 s, and ``tables`` set."""
    data = tomllib.loads(BASE.read_text(encoding="utf-8"))
    data["run"]["duration_ms"] = 30_000
    data["telemetry"] = {"sample_interval_ms": 2_000}
    data.update(copy.deepcopy(tables))
    return data


def parse(**tables: Any) -> Any:
    return parse_scenario(make_data(**tables), BASE)


def stage(**keys: Any) -> dict[str, Any]:
    """A ``[[stage]]`` table to canary at 10 s, with ``keys`` set."""
    return {"at_ms": 10_000, "profile": f"{PROFILES}/canary.toml", **keys}


# --------------------------------------------------------------------------------------------
# Parsing


def test_a_stage_parses_with_its_defaults() -> None:
    scenario = parse(stage=[stage(nodes=[3, 1], batch=1, params={"target_validator_count": 3})])
    (spec,) = scenario.stages
    assert (spec.name, spec.channel, spec.batch, spec.nodes) == ("canary", None, 1, (3, 1))
    assert (spec.interval_ms, spec.downtime_ms, spec.keep_data) == (0, 1000, True)
    assert spec.params == (("target_validator_count", 3),)


def test_stages_and_keep_data_leave_other_scenarios_digests_alone() -> None:
    """A scenario without stages, and a restart that keeps its data, keep their canonical
    form; a stage or ``keep_data = false`` changes the digest."""
    crash = {"kind": "crash", "node": 2, "at_ms": 1000}
    plain = parse(fault=[crash, {"kind": "restart", "node": 2, "at_ms": 2000}])
    kept = parse(fault=[crash, {"kind": "restart", "node": 2, "at_ms": 2000, "keep_data": True}])
    wiped = parse(fault=[crash, {"kind": "restart", "node": 2, "at_ms": 2000, "keep_data": False}])
    assert "stages" not in plain.canonical()
    assert "keep_data" not in plain.canonical()["faults"][1]
    assert kept.digest() == plain.digest()
    assert wiped.digest() != plain.digest()
    assert parse(stage=[stage()]).digest() != parse().digest()


CROSSING = [stage(nodes=[0, 1], batch=1, downtime_ms=2000)]

STAGE_ERRORS = [
    pytest.param({"stage": [{"at_ms": 10_000}]}, "stage[0].profile", "required", id="no-profile"),
    pytest.param(
        {"stage": [stage(profile="missing.toml")]}, "stage[0].profile", "profile file", id="file"
    ),
    pytest.param(
        {"stage": [stage(channel="testnet")]},
        "stage[0].channel",
        '"canary" (the release_channel of',
        id="channel",
    ),
    pytest.param({"stage": [stage(at_ms=30_000)]}, "stage[0].at_ms", "[0, 29999]", id="at-end"),
    pytest.param({"stage": [stage(batch=0)]}, "stage[0].batch", "≥ 1", id="batch"),
    pytest.param({"stage": [stage(downtime_ms=0)]}, "stage[0].downtime_ms", "≥ 1", id="down"),
    pytest.param({"stage": [stage(interval_ms=-1)]}, "stage[0].interval_ms", "≥ 0", id="gap"),
    pytest.param({"stage": [stage(nodes=[8])]}, "stage[0].nodes[0]", "[0, 7]", id="node"),
    pytest.param({"stage": [stage(nodes=[1, 1])]}, "stage[0].nodes", "distinct", id="twice"),
    pytest.param({"stage": [stage(keep_data="no")]}, "stage[0].keep_data", "boolean", id="keep"),
    pytest.param({"stage": [stage(batches=2)]}, "stage[0].batches", '"batch"', id="unknown"),
    pytest.param(
        {"stage": [stage(params={"rules.round_timeout_ms": 3000})]},
        'stage[0].params."rules.round_timeout_ms"',
        "[rules] apply to the whole run",
        id="rules",
    ),
    pytest.param(
        {"stage": [stage(params={"target_validator_cnt": 3})]},
        'stage[0].params."target_validator_cnt"',
        "did you mean target_validator_count",
        id="param-path",
    ),
    pytest.param(
        {"stage": [stage(params={"target_validator_count": "many"})]},
        'stage[0].params."target_validator_count"',
        "integer",
        id="param-value",
    ),
    pytest.param(
        {"stage": CROSSING, "fault": [{"kind": "pause", "node": 1, "at_ms": 11_000}]},
        "stage[0].at_ms",
        "outside its pause window [11000, end of run) (fault[0])",
        id="pause",
    ),
    pytest.param(
        {"stage": [*CROSSING, stage(at_ms=12_500, nodes=[1])]},
        "stage[1].at_ms",
        "outside its upgrade window [12000, 14000) (stage[0])",
        id="stages",
    ),
    pytest.param(
        {"fault": [{"kind": "restart", "node": 1, "at_ms": 5, "keep_data": 0}]},
        "fault[0].keep_data",
        "boolean",
        id="restart-keep",
    ),
]


@pytest.mark.parametrize(("tables", "key", "expected"), STAGE_ERRORS)
def test_stage_error(tables: dict[str, Any], key: str, expected: str) -> None:
    """Each mistake is one ``UserError`` naming the file and the key."""
    with pytest.raises(UserError) as caught:
        parse(**tables)
    error = caught.value
    assert (Path(error.file), error.key) == (BASE, key)
    assert expected in error.expected
    assert "\n" not in str(error)


# --------------------------------------------------------------------------------------------
# Batches and timing


def _spec(**keys: Any) -> StageSpec:
    fields = {"at_ms": 10_000, "profile": "p", "profile_path": Path("p"), "name": "p"}
    return StageSpec(**{**fields, **keys})


def test_batches_go_down_one_downtime_and_interval_apart() -> None:
    spec = _spec(nodes=(5, 2, 7, 0, 1), batch=2, downtime_ms=1500, interval_ms=500)
    assert compute_stage_batches(spec, 8) == [
        (10_000, (5, 2)),
        (12_000, (7, 0)),
        (14_000, (1,)),
    ]
    assert compute_stage_batches(_spec(), 3) == [(10_000, (0, 1, 2))]


@given(
    n=st.integers(1, 12),
    batch=st.one_of(st.none(), st.integers(1, 13)),
    down=st.integers(1, 5000),
    gap=st.integers(0, 5000),
)
def test_every_node_goes_down_once_and_batches_never_overlap(
    n: int, batch: int | None, down: int, gap: int
) -> None:
    spec = _spec(batch=batch, downtime_ms=down, interval_ms=gap)
    windows = compute_stage_windows((spec,), n)
    assert sorted(w.node for w in windows) == list(range(n))
    assert all(w.end_ms - w.start_ms == down and w.cause == "upgrade" for w in windows)
    starts = sorted({w.start_ms for w in windows})
    assert all(b - a == down + gap for a, b in itertools.pairwise(starts))
    assert all(sum(w.start_ms == t for w in windows) <= (batch or n) for t in starts)


def test_a_stage_restarts_its_batches_on_time_and_records_them() -> None:
    scenario = parse(stage=[stage(nodes=[1, 2, 3], batch=2, interval_ms=500)])
    sim = build_simulation(scenario)
    sim.advance(10_500)
    assert [s.state for s in sim.slots[:4]] == [
        NodeState.RUNNING,
        NodeState.CRASHED,
        NodeState.CRASHED,
        NodeState.RUNNING,
    ]
    sim.advance(11_600)
    assert sim.slots[3].state is NodeState.CRASHED
    assert sim.slots[1].state is sim.slots[2].state is NodeState.RUNNING
    sim.run()
    faults = sim.recorder.frames()["faults"]
    rows = [
        (int(t), k, n)
        for t, k, n in zip(faults["at_ms"], faults["kind"], faults["nodes"], strict=True)
    ]
    assert [r for r in rows if r[2] == "3"] == [
        (11_500, "upgrade_down", "3"),
        (12_500, "upgrade_up", "3"),
    ]
    assert set(faults["detail"]) == {f"node:{i} stage:0 profile:canary" for i in (1, 2, 3)}


# --------------------------------------------------------------------------------------------
# The profile switches


def test_staged_nodes_run_and_advertise_the_stage_profile() -> None:
    scenario = parse(stage=[stage(nodes=[0, 1], batch=1)])
    sim = build_simulation(scenario)
    old = sim.slots[0].node
    sim.run()
    assert old is not None and old.config.rollout.release_channel.value == "testnet"
    channels = [s.node.config.rollout.release_channel.value for s in sim.slots]
    assert channels == ["canary", "canary"] + ["testnet"] * 6
    assert sim.slots[0].node.config.genesis == old.config.genesis  # the run's genesis
    snapshots = sim.recorder.frames()["snapshots"]
    first = snapshots[snapshots["node"] == 0].sort_values("now_ms")
    seen = first["release_channel"].tolist()
    assert seen[0] == "testnet" and seen[-1] == "canary"
    assert set(first[first["now_ms"] < 10_000]["release_channel"]) == {"testnet"}
    assert set(snapshots[snapshots["node"] == 5]["release_channel"]) == {"testnet"}


def test_stage_params_flip_a_gate_on_the_staged_nodes_only() -> None:
    gate = "rollout.feature_gates.timetoke_rewards"
    params = {gate: True}
    scenario = parse(
        stage=[stage(profile=f"{PROFILES}/testnet.toml", nodes=[4], params=params)],
        params={"target_validator_count": 50},
    )
    sim = build_simulation(scenario)
    sim.run()
    gates = [s.node.config.rollout.feature_gates.timetoke_rewards for s in sim.slots]
    assert gates == [False] * 4 + [True] + [False] * 3
    assert sim.slots[4].node.config.target_validator_count == 50  # [params] still apply


# --------------------------------------------------------------------------------------------
# Restarts without data


@pytest.mark.parametrize(
    "tables",
    [
        pytest.param({"stage": [stage(nodes=[2], keep_data=False)]}, id="stage"),
        pytest.param(
            {
                "fault": [
                    {"kind": "crash", "node": 2, "at_ms": 10_000},
                    {"kind": "restart", "node": 2, "at_ms": 11_000, "keep_data": False},
                ]
            },
            id="restart",
        ),
    ],
)
def test_a_restart_without_data_starts_from_genesis_and_catches_up(
    tables: dict[str, Any],
) -> None:
    sim = build_simulation(parse(**tables))
    sim.advance(10_999)
    before = list(sim.slots[2].persisted)
    assert before and sim.slots[2].state is NodeState.CRASHED
    sim.advance(11_001)
    node = sim.slots[2].node
    assert node is not None and node.height < len(before)  # from genesis, not from its data
    sim.run()
    finalized = sim.recorder.frames()["block_finalized"]
    assert_safe({"block_finalized": finalized[finalized["node"] != 2]})
    assert finalized.groupby("height")["hash"].nunique().max() == 1  # node 2 too: no fork
    again = finalized[(finalized["node"] == 2) & (finalized["finalized_ms"] > 11_000)]
    assert again["height"].min() == 1  # it finalized the chain again, from its peers
    wiped, honest = sim.slots[2].node, sim.slots[0].node
    assert wiped.height >= honest.height - 1
    assert wiped.chain[-1].block.hash == honest.chain[wiped.height - 1].block.hash


def test_a_restart_with_data_resumes_from_what_it_persisted() -> None:
    crash = {"kind": "crash", "node": 2, "at_ms": 10_000}
    sim = build_simulation(parse(fault=[crash, {"kind": "restart", "node": 2, "at_ms": 11_000}]))
    sim.advance(10_999)
    persisted = len(sim.slots[2].persisted)
    sim.advance(11_001)
    assert sim.slots[2].node.height == persisted


# --------------------------------------------------------------------------------------------
# Determinism


def test_a_staged_run_is_deterministic() -> None:
    tables = {
        "stage": [
            stage(batch=3, interval_ms=200),
            stage(at_ms=20_000, keep_data=False, profile=f"{PROFILES}/testnet.toml", nodes=[6, 7]),
        ]
    }
    digests = []
    for _ in range(2):
        sim = build_simulation(parse(**tables))
        sim.run()
        digests.append(compute_frames_digest(sim.recorder.frames()))
    assert digests[0] == digests[1]
    plain = build_simulation(parse())
    plain.run()
    assert compute_frames_digest(plain.recorder.frames()) != digests[0]


# --------------------------------------------------------------------------------------------
# A node group that ships another genesis


def test_a_group_genesis_changes_its_nodes_genesis_hash_only() -> None:
    group = {"profile": f"{PROFILES}/testnet.toml", "nodes": [5], "genesis": {"chain_id": "x"}}
    scenario = parse(nodes={**make_data()["nodes"], "group": [group]})
    sim = build_simulation(scenario)
    chain_ids = [c.genesis.chain_id for c in sim.start_configs]
    assert chain_ids[5] == "x" and set(chain_ids[:5] + chain_ids[6:]) == {"rpp-local"}
    assert sim.start_configs[5].genesis.accounts == sim.config.genesis.accounts
    facts = compute_genesis_facts(sim)
    hashes = dict(json.loads(facts["genesis_hashes"]))
    assert len(set(hashes.values())) == 2 and hashes[5] != hashes[0]
    assert compute_genesis_facts(build_simulation(parse())) == {}
    assert "genesis_chain_id" not in str(parse().canonical())


@pytest.mark.parametrize(
    ("genesis", "key", "expected"),
    [
        ({"chain_id": " "}, "nodes.group[0].genesis.chain_id", "non-empty"),
        ({}, "nodes.group[0].genesis.chain_id", "required"),
        ({"chain_id": "x", "accounts": 3}, "nodes.group[0].genesis.accounts", "one of chain_id"),
    ],
)
def test_group_genesis_errors(genesis: dict[str, Any], key: str, expected: str) -> None:
    group = {"profile": f"{PROFILES}/testnet.toml", "nodes": [5], "genesis": genesis}
    with pytest.raises(UserError) as caught:
        parse(nodes={**make_data()["nodes"], "group": [group]})
    assert (caught.value.key, expected in caught.value.expected) == (key, True)


# --------------------------------------------------------------------------------------------
# The drills
