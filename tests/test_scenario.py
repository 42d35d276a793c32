"""Scenario schema and validation (rppsim/scenario.py; docs/simnet.md#validation)."""

import copy
import os
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rppsim.errors import UserError
from rppsim.rng import SeedTree
from rppsim.scenario import (
    BYZANTINE_KINDS,
    build_fault_schedule,
    build_sim_network,
    compute_byzantine_nodes,
    load_scenario,
    parse_scenario,
)
from rppsim.sim.faults import FAULT_KINDS, get_fault_kind

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SMOKE = SCENARIOS / "smoke.toml"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))


def smoke_data() -> dict[str, Any]:
    """The smoke scenario as a fresh dict to mutate."""
    return tomllib.loads(SMOKE.read_text(encoding="utf-8"))


def test_all_shipped_scenarios_are_present():
    """The scenarios the README and CI name exist."""
    names = {p.name for p in SHIPPED}
    assert {"smoke.toml", "partition.toml", "faults.toml", "edge-list.toml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_validates_and_builds(path):
    """Every shipped scenario validates, and its network and fault schedule build."""
    scenario = load_scenario(path)
    tree = SeedTree(scenario.run.seed)
    network = build_sim_network(scenario, tree)
    schedule = build_fault_schedule(scenario, network.topology, tree)
    assert network.topology.n == scenario.nodes.count
    assert scenario.nodes.profile_path.is_file()
    assert all(0 <= tr.time_ms <= scenario.run.duration_ms for tr in schedule.transitions)


def test_smoke_scenario_matches_the_quick_start_brief():
    """smoke.toml is small: 16 nodes, 7 validators, 60 s, small-world, flood, real prover."""
    s = load_scenario(SMOKE)
    assert (s.nodes.count, s.nodes.validators, s.run.duration_ms) == (16, 7, 60_000)
    assert (s.network.topology.kind, s.network.gossip, s.run.prover) == (
        "small-world",
        "flood",
        "real",
    )


def test_faults_scenario_uses_every_fault_and_byzantine_kind():
    """faults.toml exercises every fault kind and every byzantine kind."""
    s = load_scenario(SCENARIOS / "faults.toml")
    assert {get_fault_kind(f) for f in s.faults} == set(FAULT_KINDS)
    assert {b.kind for b in s.byzantine} == set(BYZANTINE_KINDS)


def test_defaults_of_a_minimal_scenario(tmp_path):
    """Absent optional tables take the documented defaults."""
    shutil.copy(ROOT / "node" / "profiles" / "testnet.toml", tmp_path / "p.toml")
    data = {
        "run": {"seed": 1, "duration_ms": 1000},
        "nodes": {"count": 3, "validators": 1, "profile": "p.toml"},
        "network": {"topology": "complete"},
    }
    s = parse_scenario(data, tmp_path / "s.toml")
    assert s.run.prover == "real"
    assert s.network.gossip == "flood"
    assert s.network.link.latency_ms == (20, 80)
    assert s.network.link.loss == 0.0
    assert s.costs.enabled is True
    assert s.traffic.tx_per_s == 0.0
    assert s.faults == () and s.byzantine == ()
    assert s.rules.round_timeout_ms == 6000


def test_profile_resolves_relative_to_the_current_directory(tmp_path, monkeypatch):
    """A profile path not found beside the scenario is tried from the current directory."""
    data = smoke_data()
    data["nodes"]["profile"] = "node/profiles/testnet.toml"
    monkeypatch.chdir(ROOT)
    s = parse_scenario(data, tmp_path / "elsewhere.toml")
    assert s.nodes.profile_path.resolve() == (ROOT / "node/profiles/testnet.toml").resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"nodes\.profile"):
        parse_scenario(data, tmp_path / "elsewhere.toml")


def test_digest_is_stable_and_ignores_where_the_file_is():
    """Same content gives the same digest from a relative or absolute path; a change differs."""
    data = smoke_data()
    a = parse_scenario(data, SMOKE)
    b = parse_scenario(copy.deepcopy(data), os.path.relpath(SMOKE))
    assert a.digest() == b.digest() == load_scenario(SMOKE).digest()
    assert len(a.digest()) == 64
    data["network"]["link"]["jitter_ms"] = 6
    assert parse_scenario(data, SMOKE).digest() != a.digest()


def test_digest_covers_faults_and_edge_lists():
    """The canonical form names fault kinds and carries the parsed edge list."""
    canon = load_scenario(SCENARIOS / "faults.toml").canonical()
    assert canon["faults"][0]["kind"] == "crash"
    assert "source" not in canon and "profile_path" not in canon["nodes"]
    edges = load_scenario(SCENARIOS / "edge-list.toml").canonical()
    assert edges["network"]["topology"]["edge_list"]["edges"][0] == [0, 1]


def test_region_partition_expands_to_node_groups():
    """partition regions = ["A", "B"] becomes the round-robin node groups."""
    s = load_scenario(SCENARIOS / "partition.toml")
    groups = s.faults[0].groups
    assert groups[0] == tuple(range(0, 24, 2)) and groups[1] == tuple(range(1, 24, 2))
    assert s.faults[1].groups == ((0,),)


def test_toml_syntax_error_and_missing_file(tmp_path):
    """A broken or missing file is a one-line user error."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nseed = 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="valid TOML"):
        load_scenario(bad)
    with pytest.raises(UserError, match="an existing scenario file"):
        load_scenario(tmp_path / "missing.toml")


# --------------------------------------------------------------------------------------------
# Every validation rule: (mutation, key path, expected substring of the message).

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set a dotted key (creating tables)."""

    def apply(data: dict[str, Any]) -> None:
        *tables, last = path.split(".")
        for name in tables:
            data = data.setdefault(name, {})
        data[last] = value

    return apply


def _delete(path: str) -> Mutation:
    """Remove a dotted key."""

    def apply(data: dict[str, Any]) -> None:
        *tables, last = path.split(".")
        for name in tables:
            data = data[name]
        del data[last]

    return apply


def _faults(*faults: dict[str, Any]) -> Mutation:
    """Replace the fault list."""
    return _set("fault", list(faults))


def _both(*mutations: Mutation) -> Mutation:
    """Apply several mutations."""

    def apply(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return apply


CASES: list[tuple[str, Mutation, str, str]] = [
    ("unknown-root-key", _set("netwrok", {}), "netwrok", "unknown key"),
    ("unknown-link-key", _set("network.link.losss", 0.1), "network.link.losss", "did you mean"),
    ("seed-wrong-type", _set("run.seed", "7"), "run.seed", "an integer"),
    ("seed-negative", _set("run.seed", -1), "run.seed", "[0, "),
    ("missing-run", _delete("run"), "run", "a [run] table (required)"),
    ("duration-zero", _set("run.duration_ms", 0), "run.duration_ms", "[1, 86400000]"),
    ("duration-huge", _set("run.duration_ms", 10**30), "run.duration_ms", "[1, 86400000]"),
    ("tx-rate-huge", _set("traffic.tx_per_s", 1e9), "traffic.tx_per_s", "[0.0, 10000.0]"),
    (
        "identity-rate-huge",
        _set("traffic.identity_per_min", 1e7),
        "traffic.identity_per_min",
        "[0.0, 6000.0]",
    ),
    (
        "phase-rate-huge",
        _set("traffic.phase", [{"duration_ms": 1000, "rate_per_s": 1e6}]),
        "traffic.phase[0].rate_per_s",
        "[0.0, 10000.0]",
    ),
    ("nodes-huge", _set("nodes.count", 10**6), "nodes.count", "[1, 10000]"),
    (
        "small-world-one-node",
        _both(_set("nodes.count", 1), _set("nodes.validators", 1)),
        "network.degree",
        'nodes.count ≥ 2 for topology "small-world"',
    ),
    ("unknown-prover", _set("run.prover", "fake"), "run.prover", '"real", "model"'),
    ("loss-above-one", _set("network.link.loss", 1.5), "network.link.loss", "[0.0, 1.0]"),
    ("loss-negative", _set("network.link.loss", -0.1), "network.link.loss", "[0.0, 1.0]"),
    ("loss-wrong-type", _set("network.link.loss", "0.1"), "network.link.loss", "a number"),
    ("degree-ge-count", _set("network.degree", 16), "network.degree", "[1, 15]"),
    ("degree-odd", _set("network.degree", 5), "network.degree", "an even integer"),
    (
        "k-regular-parity",
        _both(
            _set("nodes.count", 15),
            _set("network.topology", "k-regular"),
            _set("network.degree", 3),
            _delete("network.rewire"),
        ),
        "network.degree",
        "even",
    ),
    ("zero-nodes", _set("nodes.count", 0), "nodes.count", "[1, 10000]"),
    ("validators-above-count", _set("nodes.validators", 17), "nodes.validators", "[1, 16]"),
    ("validators-zero", _set("nodes.validators", 0), "nodes.validators", "[1, 16]"),
    ("missing-profile", _set("nodes.profile", "nope.toml"), "nodes.profile", "profile file"),
    ("unknown-topology", _set("network.topology", "torus"), "network.topology", '"ring"'),
    ("unknown-gossip", _set("network.gossip", "push"), "network.gossip", '"flood", "mesh"'),
    ("rewire-with-ring", _set("network.topology", "ring"), "network.rewire", "small-world"),
    ("rewire-range", _set("network.rewire", 1.5), "network.rewire", "[0.0, 1.0]"),
    (
        "er-p-and-degree",
        _both(
            _set("network.topology", "erdos-renyi"),
            _delete("network.rewire"),
            _set("network.p", 0.5),
        ),
        "network.p",
        "exactly one of p and degree",
    ),
    (
        "degree-with-complete",
        _both(_set("network.topology", "complete"), _delete("network.rewire")),
        "network.degree",
        "no degree",
    ),
    (
        "missing-edge-file",
        _both(
            _set("network.topology", "edge-list"),
            _delete("network.degree"),
            _delete("network.rewire"),
            _set("network.edges", "missing.csv"),
        ),
        "network.edges",
        "edge-list CSV file",
    ),
    (
        "latency-lo-gt-hi",
        _set("network.link.latency_ms", [80, 20]),
        "network.link.latency_ms",
        "lo ≤ hi",
    ),
    (
        "latency-not-pair",
        _set("network.link.latency_ms", [5]),
        "network.link.latency_ms",
        "[lo, hi]",
    ),
    ("jitter-negative", _set("network.link.jitter_ms", -1), "network.link.jitter_ms", "≥ 0"),
    (
        "bandwidth-float",
        _set("network.link.bandwidth_mbps", 1.5),
        "network.link.bandwidth_mbps",
        "an integer",
    ),
    ("mesh-with-flood", _set("network.mesh", {"blocks": {"n": 4}}), "network.mesh", "gossip"),
    (
        "mesh-bounds",
        _both(_set("network.gossip", "mesh"), _set("network.mesh", {"blocks": {"n": 4, "low": 5}})),
        "network.mesh.blocks.low",
        "[0, 4]",
    ),
    (
        "regions-not-symmetric",
        _set("network.regions", {"names": ["a", "b"], "latency_ms": [[1, 2], [3, 1]]}),
        "network.regions.latency_ms[1][0]",
        "symmetric",
    ),
    (
        "regions-assignment-length",
        _set("network.regions", {"names": ["a"], "assignment": ["a"], "latency_ms": [[1]]}),
        "network.regions.assignment",
        "16 region names",
    ),
    (
        "regions-unknown-name",
        _set(
            "network.regions",
            {"names": ["a"], "assignment": ["a"] * 15 + ["b"], "latency_ms": [[1]]},
        ),
        "network.regions.assignment[15]",
        "one of a",
    ),
    (
        "classes-both",
        _set("network.classes", {"trusted_nodes": [1], "trusted_fraction": 0.5}),
        "network.classes.trusted_nodes",
        "exactly one",
    ),
    ("rules-unknown", _set("rules.speed", 1), "rules.speed", "unknown key"),
    (
        "rules-wrong-type",
        _set("rules.allow_empty_blocks", 1),
        "rules.allow_empty_blocks",
        "a boolean",
    ),
    ("tx-rate-negative", _set("traffic.tx_per_s", -1), "traffic.tx_per_s", "[0.0, "),
    ("costs-wrong-type", _set("costs.enabled", "yes"), "costs.enabled", "a boolean"),
    (
        "phases-too-long",
        _both(
            _delete("traffic.tx_per_s"),
            _set("traffic.phase", [{"duration_ms": 70_000, "rate_per_s": 1.0}]),
        ),
        "traffic.phase",
        "at most run.duration_ms",
    ),
    (
        "phase-zero-rate",
        _both(
            _delete("traffic.tx_per_s"),
            _set("traffic.phase", [{"duration_ms": 1000, "rate_per_s": 0}]),
        ),
        "traffic.phase[0].rate_per_s",
        "> 0",
    ),
    ("zipf-s-uniform", _set("traffic.zipf_s", 1.1), "traffic.zipf_s", "zipf"),
    (
        "telemetry-interval",
        _set("telemetry.sample_interval_ms", 0),
        "telemetry.sample_interval_ms",
        "[1000, ",
    ),
    (
        "telemetry-interval-not-whole-seconds",
        _set("telemetry.sample_interval_ms", 1_500),
        "telemetry.sample_interval_ms",
        "whole seconds",
    ),
    ("unknown-fault-kind", _faults({"kind": "meteor", "at_ms": 1}), "fault[0].kind", '"crash"'),
    (
        "fault-node-unknown",
        _faults({"kind": "crash", "node": 16, "at_ms": 1}),
        "fault[0].node",
        "[0, 15]",
    ),
    (
        "fault-until-before-at",
        _faults({"kind": "crash", "node": 1, "at_ms": 5000, "until_ms": 5000}),
        "fault[0].until_ms",
        "after at_ms",
    ),
    (
        "fault-window-after-run",
        _faults({"kind": "pause", "node": 1, "at_ms": 60_000}),
        "fault[0].at_ms",
        "[0, 59999]",
    ),
    (
        "fault-until-after-run",
        _faults({"kind": "crash", "node": 1, "at_ms": 1, "until_ms": 60_001}),
        "fault[0].until_ms",
        "60000]",
    ),
    ("fault-missing-at", _faults({"kind": "heal"}), "fault[0].at_ms", "required"),
    (
        "fault-unknown-key",
        _faults({"kind": "heal", "at_ms": 1, "node": 2}),
        "fault[0].node",
        "unknown key",
    ),
    (
        "partition-overlap",
        _faults({"kind": "partition", "groups": [[0, 1, 2], [2, 3]], "at_ms": 1}),
        "fault[0].groups",
        "disjoint",
    ),
    (
        "partition-node-unknown",
        _faults({"kind": "partition", "groups": [[0, 99]], "at_ms": 1}),
        "fault[0].groups[0]",
        "[0, 15]",
    ),
    (
        "partition-two-forms",
        _faults({"kind": "partition", "groups": [[0]], "isolate": 1, "at_ms": 1}),
        "fault[0].groups",
        "exactly one of groups, isolate and regions",
    ),
    (
        "partition-regions-without-table",
        _faults({"kind": "partition", "regions": ["A"], "at_ms": 1}),
        "fault[0].regions",
        "[network.regions]",
    ),
    (
        "partition-bridge-one-group",
        _faults({"kind": "partition", "groups": [[0]], "unlisted": "bridge", "at_ms": 1}),
        "fault[0].groups",
        "at least two groups",
    ),
    (
        "restart-without-crash",
        _faults({"kind": "restart", "node": 3, "at_ms": 100}),
        "fault[0].node",
        "crashed without until_ms",
    ),
    (
        "overlapping-crashes",
        _faults(
            {"kind": "crash", "node": 3, "at_ms": 100, "until_ms": 900},
            {"kind": "crash", "node": 3, "at_ms": 500},
        ),
        "fault[1].at_ms",
        "overlapping crash",
    ),
    (
        "overlapping-pauses",
        _faults(
            {"kind": "pause", "node": 3, "at_ms": 100},
            {"kind": "pause", "node": 3, "at_ms": 500, "until_ms": 600},
        ),
        "fault[1].at_ms",
        "overlapping pause",
    ),
    (
        "pause-overlapping-crash",
        _faults(
            {"kind": "pause", "node": 2, "at_ms": 2_000, "until_ms": 25_000},
            {"kind": "crash", "node": 2, "at_ms": 5_000},
            {"kind": "restart", "node": 2, "at_ms": 8_000},
        ),
        "fault[0]",
        "a pause of node 2 that does not overlap its crash window [5000, 8000) (fault[1])",
    ),
    (
        "pause-starting-in-the-last-ms-of-a-crash",
        _faults(
            {"kind": "pause", "node": 2, "at_ms": 2_000, "until_ms": 5_000},
            {"kind": "crash", "node": 2, "at_ms": 5_000, "until_ms": 8_000},
            {"kind": "pause", "node": 2, "at_ms": 7_999},
        ),
        "fault[2]",
        "a pause of node 2 that does not overlap its crash window [5000, 8000) (fault[1])",
    ),
    (
        "degrade-nothing",
        _faults({"kind": "degrade", "at_ms": 1, "extra_delay_ms": 5}),
        "fault[0].links",
        "at least one",
    ),
    (
        "degrade-self-link",
        _faults({"kind": "degrade", "at_ms": 1, "links": [[2, 2]]}),
        "fault[0].links[0]",
        "distinct node ids",
    ),
    (
        "degrade-loss-range",
        _faults({"kind": "degrade", "at_ms": 1, "nodes": [2], "extra_loss": 2}),
        "fault[0].extra_loss",
        "[0.0, 1.0]",
    ),
    (
        "skew-node-and-nodes",
        _faults({"kind": "clock-skew", "node": 1, "nodes": [2], "offset_ms": 5}),
        "fault[0].node",
        "exactly one of node and nodes",
    ),
    (
        "churn-zero-rate",
        _faults({"kind": "churn", "rate_per_min": 0, "downtime_ms": 100}),
        "fault[0].rate_per_min",
        "> 0",
    ),
    (
        "churn-bad-downtime",
        _faults({"kind": "churn", "rate_per_min": 1, "downtime_ms": 100, "downtime": "weibull"}),
        "fault[0].downtime",
        '"fixed", "exponential"',
    ),
    (
        "churn-duplicate-nodes",
        _faults({"kind": "churn", "rate_per_min": 1, "downtime_ms": 100, "nodes": [1, 1]}),
        "fault[0].nodes",
        "distinct node ids",
    ),
    (
        "byzantine-kind",
        _set("byzantine", [{"kind": "lie", "nodes": [1]}]),
        "byzantine[0].kind",
        '"double-sign"',
    ),
    (
        "byzantine-no-target",
        _set("byzantine", [{"kind": "spam"}]),
        "byzantine[0].nodes",
        "exactly one of nodes and fraction",
    ),
    (
        "byzantine-fraction-zero",
        _set("byzantine", [{"kind": "spam", "fraction": 0.0}]),
        "byzantine[0].fraction",
        "(0, 1]",
    ),
    (
        "byzantine-rate",
        _set("byzantine", [{"kind": "double-sign", "nodes": [1], "rate_per_s": 3.0}]),
        "byzantine[0].rate_per_s",
        'unless kind = "spam"',
    ),
    (
        "byzantine-mode-kind",
        _set("byzantine", [{"kind": "censor", "nodes": [1], "mode": "tamper"}]),
        "byzantine[0].mode",
        "invalid-block",
    ),
    (
        "byzantine-mode",
        _set("byzantine", [{"kind": "invalid-block", "nodes": [1], "mode": "tamper"}]),
        "byzantine[0].mode",
        '"state-root", "transaction", "certificate"',
    ),
    (
        "byzantine-senders",
        _set("byzantine", [{"kind": "censor", "nodes": [1], "senders": [3, 3]}]),
        "byzantine[0].senders",
        "distinct wallet indices in [0, 31]",
    ),
    (
        "byzantine-senders-and-fraction",
        _set(
            "byzantine",
            [{"kind": "censor", "nodes": [1], "senders": [3], "sender_fraction": 0.5}],
        ),
        "byzantine[0].senders",
        "at most one of senders and sender_fraction",
    ),
    (
        "byzantine-delay",
        _set("byzantine", [{"kind": "replay", "nodes": [1], "delay_ms": 0}]),
        "byzantine[0].delay_ms",
        "≥ 1",
    ),
    (
        "byzantine-node",
        _set("byzantine", [{"kind": "spam", "nodes": [16]}]),
        "byzantine[0].nodes[0]",
        "[0, 15]",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "key", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validation_error(mutation, key, expected):
    """Each invalid scenario fails with a one-line UserError naming the key and the rule."""
    data = smoke_data()
    mutation(data)
    with pytest.raises(UserError) as info:
        parse_scenario(data, SMOKE)
    error = info.value
    assert error.file == str(SMOKE)
    assert error.key == key
    assert expected in str(error)
    assert "\n" not in str(error)


def test_validation_case_ids_are_unique():
    """The table above names each case once."""
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_degrade_link_that_is_not_an_edge_fails_at_schedule_build():
    """Degraded links are checked against the built topology (generated graphs are seeded)."""
    data = smoke_data()
    data["network"] = {"topology": "ring", "degree": 2}
    data["fault"] = [{"kind": "degrade", "at_ms": 1, "links": [[0, 5]], "extra_delay_ms": 5}]
    s = parse_scenario(data, SMOKE)
    tree = SeedTree(s.run.seed)
    network = build_sim_network(s, tree)
    with pytest.raises(UserError) as info:
        build_fault_schedule(s, network.topology, tree)
    assert info.value.key == "fault[0].links[0]"


def test_byzantine_parameters_have_kind_defaults():
    """Each kind's parameters default as documented; other kinds carry none."""
    data = smoke_data()
    data["byzantine"] = [
        {"kind": kind, "nodes": [1]}
        for kind in ("invalid-block", "invalid-proof", "vrf-lie", "spam", "censor", "replay")
    ]
    block, proof, lie, spam, censor, replay = parse_scenario(data, SMOKE).byzantine
    assert (block.mode, proof.mode, lie.mode) == ("state-root", "tamper", "inflate-tier")
    assert (spam.rate_per_s, spam.invalid_fraction, spam.mode) == (20.0, 0.25, "")
    assert (censor.senders, censor.sender_fraction) == (None, 0.25)
    assert (replay.delay_ms, replay.rate_per_s, replay.senders) == (10_000, 0.0, None)


def test_byzantine_nodes_from_list_or_seeded_fraction():
    """A list is used as is; a fraction picks round(f·n) nodes (at least one) from the seed."""
    s = load_scenario(SCENARIOS / "faults.toml")
    listed, fraction = s.byzantine[0], s.byzantine[1]
    assert compute_byzantine_nodes(listed, 24, SeedTree(1), 0) == (1,)
    picked = compute_byzantine_nodes(fraction, 24, SeedTree(1), 1)
    assert len(picked) == 2 and len(set(picked)) == 2 and all(0 <= v < 24 for v in picked)
    assert picked == compute_byzantine_nodes(fraction, 24, SeedTree(1), 1)
    others = {compute_byzantine_nodes(fraction, 24, SeedTree(k), 1) for k in range(10)}
    assert len(others) > 1


# --- issue 13: inputs that used to raise or hang ------------------------------------------


def test_a_non_utf8_edge_list_is_one_user_error(tmp_path: Path) -> None:
    (tmp_path / "edges.csv").write_bytes(b"u,v\n0,1\n1,\xff\xfe2\n")
    data = smoke_data()
    data["nodes"]["profile"] = str(ROOT / "node" / "profiles" / "testnet.toml")
    data["network"] = {"topology": "edge-list", "edges": "edges.csv"}
    with pytest.raises(UserError) as info:
        parse_scenario(data, tmp_path / "s.toml")
    assert info.value.file == str(tmp_path / "edges.csv")
    assert "a readable UTF-8 edge-list CSV file" in str(info.value)


def test_a_folder_named_as_the_scenario_is_one_user_error(tmp_path: Path) -> None:
    (tmp_path / "odd.toml").mkdir()
    with pytest.raises(UserError, match="expected a scenario file \\(TOML\\), found a folder"):
        load_scenario(tmp_path / "odd.toml")


def test_a_duration_override_is_validated_like_the_file(tmp_path: Path) -> None:
    profile = (ROOT / "node" / "profiles" / "testnet.toml").as_posix()
    data = SMOKE.read_text(encoding="utf-8").replace(
        '"../node/profiles/testnet.toml"', f'"{profile}"'
    )
    path = tmp_path / "s.toml"
    path.write_text(data + '\n[[fault]]\nkind = "crash"\nnode = 1\nat_ms = 30_000\n', "utf-8")
    assert load_scenario(path, duration_ms=40_000).run.duration_ms == 40_000
    with pytest.raises(UserError) as info:
        load_scenario(path, duration_ms=20_000)
    assert info.value.key == "fault[0].at_ms"
    assert str(info.value).endswith("(with --duration-ms 20000), found 30000 (int)")
    with pytest.raises(UserError) as info:
        load_scenario(path, duration_ms=10**30)
    assert info.value.key == "--duration-ms"


def test_the_fast_engine_takes_runs_of_many_days_and_the_full_one_does_not(tmp_path):
    """``duration_ms`` is bounded by the engine: one simulated day for the full simulator,
    400 for the fast model (``get_duration_max_ms``), in the file and in ``--duration-ms``."""
    from rppsim.scenario import FAST_DURATION_MAX_MS, get_duration_max_ms, load_scenario

    shutil.copy(ROOT / "node" / "profiles" / "testnet.toml", tmp_path / "p.toml")
    days30 = 30 * 86_400_000

    def write(engine: str, duration_ms: int) -> Path:
        path = tmp_path / f"{engine}.toml"
        path.write_text(
            f'[run]\nseed = 1\nduration_ms = {duration_ms}\nprover = "model"\n'
            f'engine = "{engine}"\n\n[nodes]\ncount = 4\nvalidators = 4\nprofile = "p.toml"\n\n'
            '[network]\ntopology = "complete"\n',
            encoding="utf-8",
        )
        return path

    assert load_scenario(write("fast", days30)).run.duration_ms == days30
    full = r"run\.duration_ms: expected an integer in \[1, 86400000\]"
    with pytest.raises(UserError, match=full):
        load_scenario(write("full", days30))
    assert load_scenario(write("fast", 1000), duration_ms=days30).run.duration_ms == days30
    with pytest.raises(UserError, match="--duration-ms"):
        load_scenario(write("fast", 1000), duration_ms=FAST_DURATION_MAX_MS + 1)
    assert get_duration_max_ms("full") == 86_400_000


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("network.link", "jitter_ms", 2**63),
        ("network.link", "latency_ms", [0, 2**63]),
        ("network.regions", "latency_ms", [[1, 2**41], [2**41, 1]]),
    ],
)
def test_integers_beyond_2_to_the_40_are_one_line_errors(tmp_path, table, key, value):
    """No scenario integer reaches the simulator's int64 arrays above 2^40 (found by
    tests/test_fuzz.py: a jitter of 2^63 overflowed)."""
    shutil.copy(ROOT / "node" / "profiles" / "testnet.toml", tmp_path / "p.toml")
    data: dict[str, Any] = {
        "run": {"seed": 1, "duration_ms": 1000},
        "nodes": {"count": 4, "validators": 4, "profile": "p.toml"},
        "network": {"topology": "complete"},
    }
    if table == "network.regions":
        data["network"]["regions"] = {"names": ["a", "b"], "assignment": "round-robin", key: value}
    else:
        data["network"]["link"] = {key: value}
    with pytest.raises(UserError, match=r"at most 1099511627776"):
        parse_scenario(data, tmp_path / "x.toml")
