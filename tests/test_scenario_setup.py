"""Scenario tables that shape the chain: ``[params]``, ``[genesis]``, ``[[nodes.group]]``
(rppsim/scenario.py, rppsim/sim/genesis.py): parsing, every error, and the run's genesis."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from rppsim.errors import UserError
from rppsim.node.config import apply_overrides, load_config
from rppsim.node.genesis import TREASURY_ACCOUNTS, compute_genesis_hash
from rppsim.node.ledger import Ledger
from rppsim.node.reputation import Tier
from rppsim.rng import SeedTree
from rppsim.scenario import build_node_config, compute_group_nodes, parse_scenario
from rppsim.sim.genesis import (
    AccountClass,
    Draw,
    GenesisSpec,
    build_run_genesis,
    compute_hours_range,
    compute_stakes,
    compute_successes,
)

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "scenarios" / "smoke.toml"
PROFILES = ROOT / "node" / "profiles"
GENESIS_FILE = ROOT / "node" / "genesis.toml"
TESTNET, _ = load_config(PROFILES / "testnet.toml")


def smoke_data(**tables: Any) -> dict[str, Any]:
    """The smoke scenario (16 nodes, 7 validators) with ``tables`` merged in."""
    data = tomllib.loads(SMOKE.read_text(encoding="utf-8"))
    return _merge(data, copy.deepcopy(tables))


def parse(**tables: Any) -> Any:
    """The smoke scenario with ``tables``, parsed."""
    return parse_scenario(smoke_data(**tables), SMOKE)


def _merge(data: dict[str, Any], tables: dict[str, Any]) -> dict[str, Any]:
    """``tables`` merged into ``data`` (sub-tables merge, values replace)."""
    for key, value in tables.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _merge(data[key], value)
        else:
            data[key] = value
    return data


def _addresses(n: int) -> list[str]:
    return [f"{i:064x}" for i in range(1, n + 1)]


# --------------------------------------------------------------------------------------------
# [params]


def test_params_set_profile_values_by_key_path() -> None:
    """Quoted and nested key paths read alike; the node config carries the values."""
    scenario = parse(
        params={
            "reputation.timetoke.accrual_cap_hours": 360,
            "target_validator_count": 5,
            "rollout": {"telemetry": {"vrf_thresholds": {"min_participation_rate": 0.5}}},
        }
    )
    config = build_node_config(scenario)
    assert config.reputation.timetoke.accrual_cap_hours == 360
    assert config.target_validator_count == 5
    assert config.rollout.telemetry.vrf_thresholds.min_participation_rate == 0.5
    assert scenario.params[0][0] == "reputation.timetoke.accrual_cap_hours"  # sorted by path


def test_params_reach_the_rules_and_change_the_digest() -> None:
    """``rules.<knob>`` values join ``[rules]``; any override changes the scenario's digest."""
    plain = parse()
    tuned = parse(params={"rules.round_timeout_ms": 3000, "rules.allow_empty_blocks": True})
    assert (tuned.rules.round_timeout_ms, tuned.rules.allow_empty_blocks) == (3000, True)
    assert tuned.digest() != plain.digest()
    assert parse(params={"target_validator_count": 5}).digest() != plain.digest()


def test_a_scenario_without_the_new_tables_keeps_its_canonical_form() -> None:
    """No genesis, params or node groups in the canonical JSON: older digests still hold."""
    canonical = parse().canonical()
    assert "genesis" not in canonical and "params" not in canonical
    assert "groups" not in canonical["nodes"]


def test_a_tier_threshold_override_completes_the_table_from_the_defaults() -> None:
    """The chain needs all four tier thresholds once the table exists: a document without it
    gets the defaults before the override, and the original document is not touched."""
    data: dict[str, Any] = {"reputation": {"weights": {"validation": 0.4}}}
    out = apply_overrides(data, {"reputation.tier_thresholds.tier2_min_uptime_hours": 1})
    thresholds = out["reputation"]["tier_thresholds"]
    assert thresholds["tier2_min_uptime_hours"] == 1
    assert thresholds["tier3_min_consensus_success"] == 10
    assert data == {"reputation": {"weights": {"validation": 0.4}}}


# --------------------------------------------------------------------------------------------
# Every error: (case id, tables, key, expected substring).

STAKES = [1000] * 7

ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "params-unknown-path",
        {"params": {"reputation.timetoke.acrual_cap_hours": 1}},
        'params."reputation.timetoke.acrual_cap_hours"',
        "did you mean reputation.timetoke.accrual_cap_hours",
    ),
    (
        "params-genesis-path",
        {"params": {"genesis.chain_id": "x"}},
        'params."genesis.chain_id"',
        "unknown key path",
    ),
    (
        "params-out-of-range",
        {"params": {"reputation.timetoke.accrual_cap_hours": 0}},
        'params."reputation.timetoke.accrual_cap_hours"',
        "an integer > 0",
    ),
    (
        "params-wrong-type",
        {"params": {"target_validator_count": "5"}},
        'params."target_validator_count"',
        "a non-negative integer",
    ),
    (
        "params-ratio",
        {"params": {"rollout.telemetry.vrf_thresholds.min_participation_rate": 1.5}},
        'params."rollout.telemetry.vrf_thresholds.min_participation_rate"',
        "a ratio in [0, 1]",
    ),
    (
        "params-weight-sum",
        {"params": {"reputation.weights.validation": 0.9}},
        'params."reputation.weights.validation"',
        "summing to 1",
    ),
    (
        "params-rule-value",
        {"params": {"rules.round_timeout_ms": 0}},
        'params."rules.round_timeout_ms"',
        "a positive integer",
    ),
    (
        "params-rule-twice",
        {"params": {"rules.round_timeout_ms": 3000}, "rules": {"round_timeout_ms": 4000}},
        'params."rules.round_timeout_ms"',
        "in [rules] or in [params]",
    ),
    (
        "stake-negative",
        {"genesis": {"stake": [*STAKES[:6], -1]}},
        "genesis.stake[6]",
        "[0, 2^128 − 1]",
    ),
    (
        "stake-list-length",
        {"genesis": {"accounts": 9, "stake": STAKES}},
        "genesis.stake",
        "a list of 9 integers",
    ),
    (
        "stake-validator-zero",
        {"genesis": {"stake": [0, *STAKES[1:]]}},
        "genesis.stake[0]",
        "a stake > 0 for every validator",
    ),
    (
        "stake-total-too-small",
        {"genesis": {"accounts": 20, "stake": "zipf", "stake_total": 3}},
        "genesis.stake_total",
        "a stake > 0 for every validator",
    ),
    ("stake-shape", {"genesis": {"stake": "gauss"}}, "genesis.stake", '"equal", "zipf"'),
    ("zipf-s-without-zipf", {"genesis": {"zipf_s": 1.2}}, "genesis.zipf_s", 'stake = "zipf"'),
    (
        "stake-total-with-list",
        {"genesis": {"stake": STAKES, "stake_total": 7000}},
        "genesis.stake_total",
        "explicit stake list",
    ),
    ("accounts-below-validators", {"genesis": {"accounts": 3}}, "genesis.accounts", "≥ 7"),
    ("chain-id-empty", {"genesis": {"chain_id": " "}}, "genesis.chain_id", "non-empty"),
    (
        "validator-tier-too-low",
        {"genesis": {"validators": {"tier": 2}}},
        "genesis.validators.tier",
        "[3, 5]",
    ),
    (
        "others-tier-list-length",
        {"genesis": {"accounts": 10, "others": {"tier": [2, 2]}}},
        "genesis.others.tier",
        "a list of 3",
    ),
    (
        "validator-hours-below-tier",
        {"genesis": {"validators": {"timetoke_hours": 5}}},
        "genesis.validators.timetoke_hours",
        "[24, 720] for an account of tier 3",
    ),
    (
        "validator-hours-in-a-list",
        {"genesis": {"validators": {"timetoke_hours": [24, 24, 24, 24, 24, 24, 900]}}},
        "genesis.validators.timetoke_hours[6]",
        "[24, 720]",
    ),
    (
        "tier-out-of-reach",
        {"genesis": {"validators": {"tier": 5, "timetoke_hours": 24}}},
        "genesis.validators.timetoke_hours",
        "[34, 720] for an account of tier 5",
    ),
    (
        "tier-thresholds-leave-tier-3-out-of-reach",
        {
            "params": {"reputation.tier_thresholds.tier4_min_consensus_success": 5},
            "genesis": {"stake": "equal"},
        },
        "genesis.validators.tier",
        "a tier the profile's tier thresholds and weights reach",
    ),
    (
        "draw-values-and-range",
        {"genesis": {"accounts": 9, "others": {"tier": {"values": [1], "range": [0, 2]}}}},
        "genesis.others.tier.values",
        "exactly one of values",
    ),
    (
        "draw-weights-length",
        {"genesis": {"accounts": 9, "others": {"tier": {"values": [1, 2], "weights": [1]}}}},
        "genesis.others.tier.weights",
        "a list of 2 numbers",
    ),
    (
        "draw-range-reversed",
        {"genesis": {"accounts": 9, "others": {"timetoke_hours": {"range": [9, 3]}}}},
        "genesis.others.timetoke_hours.range",
        "a ≤ b",
    ),
    (
        "nodeless-candidates-hold-a-third",
        {"genesis": {"accounts": 11, "others": {"tier": 3}}},
        "genesis.others.tier",
        "< 1/3 of the genesis voting power",
    ),
    (
        "genesis-file-missing",
        {"genesis": {"file": "no-such-genesis.toml"}},
        "genesis.file",
        "a genesis file",
    ),
    (
        "genesis-file-and-accounts",
        {"genesis": {"file": str(GENESIS_FILE), "accounts": 9}},
        "genesis.accounts",
        "with file",
    ),
    (
        "genesis-file-validator-count",
        {"genesis": {"file": str(GENESIS_FILE)}},
        "nodes.validators",
        "4 (the validator accounts of genesis file",
    ),
    (
        "group-nodes-and-count",
        {"nodes": {"group": [{"nodes": [1], "count": 1, "profile": "x"}]}},
        "nodes.group[0].nodes",
        "exactly one of nodes and count",
    ),
    (
        "group-profile-missing",
        {"nodes": {"group": [{"count": 2, "profile": "no-such-profile.toml"}]}},
        "nodes.group[0].profile",
        "a node profile file",
    ),
    (
        "group-node-out-of-range",
        {"nodes": {"group": [{"nodes": [16], "profile": str(PROFILES / "canary.toml")}]}},
        "nodes.group[0].nodes[0]",
        "[0, 15]",
    ),
    (
        "groups-overlap",
        {
            "nodes": {
                "group": [
                    {"nodes": [1, 2], "profile": str(PROFILES / "canary.toml")},
                    {"nodes": [2], "profile": str(PROFILES / "mainnet.toml")},
                ]
            }
        },
        "nodes.group[1].nodes",
        "node 2 in groups 0 and 1",
    ),
    (
        "group-counts-too-many",
        {
            "nodes": {
                "group": [
                    {"nodes": [0, 1], "profile": str(PROFILES / "canary.toml")},
                    {"count": 15, "profile": str(PROFILES / "mainnet.toml")},
                ]
            }
        },
        "nodes.group",
        "at most 14 in total",
    ),
    (
        "group-genesis-empty-chain-id",
        {
            "nodes": {
                "group": [
                    {"nodes": [3], "profile": str(PROFILES / "testnet.toml"), "genesis": {}},
                ]
            }
        },
        "nodes.group[0].genesis.chain_id",
        "(required)",
    ),
    (
        "stage-channel-not-the-profiles",
        {
            "stage": [
                {"at_ms": 1000, "profile": str(PROFILES / "mainnet.toml"), "channel": "canary"}
            ]
        },
        "stage[0].channel",
        '"mainnet" (the release_channel of',
    ),
    (
        "stage-rules-knob",
        {
            "stage": [
                {
                    "at_ms": 1000,
                    "profile": str(PROFILES / "mainnet.toml"),
                    "params": {"rules.allow_empty_blocks": True},
                }
            ]
        },
        'stage[0].params."rules.allow_empty_blocks"',
        "[rules] apply to the whole run",
    ),
    (
        "restart-keep-data-not-a-boolean",
        {
            "fault": [
                {"kind": "crash", "node": 1, "at_ms": 1000},
                {"kind": "restart", "node": 1, "at_ms": 2000, "keep_data": "no"},
            ]
        },
        "fault[1].keep_data",
        "a boolean",
    ),
]


@pytest.mark.parametrize(
    ("tables", "key", "expected"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_setup_error(tables: dict[str, Any], key: str, expected: str) -> None:
    """Each invalid table fails with one line naming the scenario file, the key and the rule."""
    data = smoke_data(**tables)
    with pytest.raises(UserError) as info:
        parse_scenario(data, SMOKE)
    error = info.value
    assert (error.file, error.key) == (str(SMOKE), key), str(error)
    assert expected in str(error)
    assert "\n" not in str(error)


def test_setup_error_ids_are_unique() -> None:
    """The table above names each case once."""
    ids = [c[0] for c in ERRORS]
    assert len(ids) == len(set(ids))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ACCOUNT = """
[[genesis.accounts]]
address = "{address}"
balance = 1000
stake = "10"
{extra}
"""


def test_a_genesis_file_without_validators_is_one_line(tmp_path: Path) -> None:
    """A genesis file whose accounts include no validator names ``genesis.file``."""
    text = '[genesis]\nchain_id = "x"\n' + ACCOUNT.format(address="treasury-fees", extra="")
    path = _write(tmp_path / "g.toml", text)
    with pytest.raises(UserError) as info:
        parse(genesis={"file": str(path)})
    assert info.value.key == "genesis.file"
    assert "at least one validator" in str(info.value)


def test_a_genesis_file_validator_without_key_seed_is_one_line(tmp_path: Path) -> None:
    """No node can run a validator account without ``key_seed``."""
    extra = "validator = true\nzsi_validated = true\nuptime_hours = 24\nconsensus_success = 10"
    text = '[genesis]\nchain_id = "x"\n' + ACCOUNT.format(address="a" * 64, extra=extra)
    path = _write(tmp_path / "g.toml", text)
    with pytest.raises(UserError) as info:
        parse(genesis={"file": str(path)})
    assert (info.value.key, "key_seed" in str(info.value)) == ("genesis.file", True)


def test_an_error_inside_the_genesis_file_names_that_file(tmp_path: Path) -> None:
    """The file's own rules (here: an unparsable stake) name the file and its key."""
    text = GENESIS_FILE.read_text(encoding="utf-8").replace('stake = "1000"', 'stake = "-5"', 1)
    path = _write(tmp_path / "g.toml", text)
    with pytest.raises(UserError) as info:
        parse(genesis={"file": str(path)})
    assert (info.value.file, info.value.key) == (str(path), "genesis.accounts[0].stake")


def test_a_genesis_file_sets_the_validators_and_its_content_the_digest(tmp_path: Path) -> None:
    """The file's four validators are the validator nodes; its content is in the digest."""
    data = smoke_data(genesis={"file": str(GENESIS_FILE)})
    data["nodes"]["validators"] = 4
    scenario = parse_scenario(data, SMOKE)
    assert scenario.genesis is not None and scenario.genesis.file_digest
    text = GENESIS_FILE.read_text(encoding="utf-8").replace('"rpp-local"', '"rpp-other"')
    data["genesis"]["file"] = str(_write(tmp_path / "g.toml", text))
    assert parse_scenario(data, SMOKE).digest() != scenario.digest()


# --------------------------------------------------------------------------------------------
# The generated genesis (rppsim/sim/genesis.py).


@pytest.mark.parametrize("shape", ["equal", "zipf", "pareto"])
def test_stakes_split_the_total_and_follow_the_seed(shape: str) -> None:
    """Every shape sums to ``stake_total``; the draws are a function of the seed."""
    spec = GenesisSpec(accounts=30, stake=shape, stake_total=1_000_003)
    stakes = compute_stakes(spec, 30, SeedTree(4))
    assert sum(stakes) == 1_000_003 and min(stakes) > 0
    assert stakes == compute_stakes(spec, 30, SeedTree(4))
    if shape == "equal":
        assert max(stakes) - min(stakes) == 1
    else:
        assert max(stakes) > 5 * min(stakes)
        assert stakes != compute_stakes(spec, 30, SeedTree(5))


def test_zipf_ranks_weigh_rank_to_the_minus_s() -> None:
    """Sorted Zipf stakes are proportional to 1, 2^-s, 3^-s, ..."""
    spec = GenesisSpec(accounts=4, stake="zipf", zipf_s=1.0, stake_total=25_000)
    stakes = sorted(compute_stakes(spec, 4, SeedTree(1)), reverse=True)
    assert stakes == [12000, 6000, 4000, 3000]


def test_a_tier_becomes_the_fewest_counters_that_give_it() -> None:
    """Tl3 and Tl4 take their thresholds; Tl5 at 720 h needs 178 successes (128·ln 4 = 177.4);
    Tl1 lives below 24 h and Tl5 from 34 h (the score's uptime term must reach 0.75)."""
    assert compute_successes(3, 24, TESTNET) == 10
    assert compute_successes(4, 24, TESTNET) == 100
    assert compute_successes(5, 720, TESTNET) == 178
    assert compute_successes(5, 24, TESTNET) is None
    assert compute_hours_range(1, TESTNET) == (0, 23)
    assert compute_hours_range(2, TESTNET) == (24, 720)
    assert compute_hours_range(5, TESTNET) == (34, 720)


def test_a_generated_genesis_gives_the_ledger_the_requested_tiers() -> None:
    """Validators first (their nodes' addresses), node-less accounts with drawn tiers and
    hours clamped into their tier's range, then wallets and the treasury."""
    draw = Draw(values=(0, 1, 2, 3), weights=(1.0, 1.0, 1.0, 0.2))
    spec = GenesisSpec(
        accounts=20,
        stake="zipf",
        stake_total=10**6,
        others=AccountClass(tier=draw, timetoke_hours=Draw(range=(0, 720))),
    )
    validators = _addresses(5)
    genesis = build_run_genesis(spec, validators, ["f" * 64], [TESTNET], SeedTree(3), "s.toml")
    assert len(genesis.accounts) == 20 + 1 + len(TREASURY_ACCOUNTS)
    assert {a.address for a in genesis.validators} == set(validators)
    ledger = Ledger.from_genesis(genesis.accounts)
    tiers = [ledger.get_account(a.address).tier for a in genesis.accounts]  # type: ignore[union-attr]
    assert all(ledger.get_account(v).tier == Tier.Tl3 for v in validators)  # type: ignore[union-attr]
    assert {Tier.Tl0, Tier.Tl1, Tier.Tl2} <= set(tiers)
    again = build_run_genesis(spec, validators, ["f" * 64], [TESTNET], SeedTree(3), "s.toml")
    assert compute_genesis_hash(again) == compute_genesis_hash(genesis)


def test_without_genesis_a_run_keeps_the_development_genesis() -> None:
    """No ``[genesis]``: 1000 stake per validator, 24 h, 10 successes, as before."""
    genesis = build_run_genesis(None, _addresses(3), [], [TESTNET], SeedTree(1), "s.toml")
    stakes = {a.stake for a in genesis.validators}
    assert stakes == {"1000"} and {a.uptime_hours for a in genesis.validators} == {24}


# --------------------------------------------------------------------------------------------
# [[nodes.group]]


def test_groups_take_listed_nodes_and_draw_counts_from_the_seed() -> None:
    """Listed nodes as given; a count draws from the nodes no group lists, seeded, disjoint."""
    canary = str(PROFILES / "canary.toml")
    scenario = parse(
        nodes={"group": [{"nodes": [3, 1], "profile": canary}, {"count": 4, "profile": canary}]}
    )
    listed, drawn = compute_group_nodes(scenario.nodes, SeedTree(1))
    assert listed == (1, 3) and len(drawn) == 4 and not set(drawn) & {1, 3}
    assert compute_group_nodes(scenario.nodes, SeedTree(1))[1] == drawn
    draws: set[tuple[int, ...]] = {
        compute_group_nodes(scenario.nodes, SeedTree(k))[1] for k in range(8)
    }
    assert len(draws) > 1
    assert scenario.nodes.groups[0].name == "canary"
    config = build_node_config(scenario, scenario.nodes.groups[0].profile_path)
    assert config.rollout.release_channel.value == "canary"


def test_explore_repro_files_keep_the_genesis_file_and_group_profiles(tmp_path: Path) -> None:
    """A repro written elsewhere points at the same genesis file and group profiles."""
    from rppsim.explore import rewrite_paths

    plan = smoke_data(
        genesis={"file": "../node/genesis.toml"},
        nodes={"group": [{"nodes": [1], "profile": "../node/profiles/canary.toml"}]},
        stage=[{"at_ms": 1000, "profile": "../node/profiles/mainnet.toml"}],
    )
    target = tmp_path / "repro"
    out = rewrite_paths(plan, SMOKE.parent, target)
    assert (target / out["genesis"]["file"]).resolve() == GENESIS_FILE
    group = out["nodes"]["group"][0]["profile"]
    assert (target / group).resolve() == PROFILES / "canary.toml"
    assert (target / out["stage"][0]["profile"]).resolve() == PROFILES / "mainnet.toml"


# --------------------------------------------------------------------------------------------
# The command line: bad setup tables exit 2 with one line.


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from rppsim.cli import main

    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = int(stop.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_bad_genesis_exits_2_with_one_line(capsys, tmp_path, command) -> None:
    """``rppsim run`` and ``rppsim validate`` reject a negative stake before anything runs."""
    text = SMOKE.read_text(encoding="utf-8").replace("../node/", f"{ROOT.as_posix()}/node/")
    text += "\n[genesis]\nstake = [1000, 1000, 1000, 1000, 1000, 1000, -3]\n"
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    code, stderr = _main(capsys, command, str(path))
    assert code == 2
    assert stderr.strip().splitlines() == [stderr.strip()]
    assert "genesis.stake[6]" in stderr and "found -3" in stderr
