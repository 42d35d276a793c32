"""Runs shaped by the scenario's ``[genesis]``, ``[params]`` and ``[[nodes.group]]``: the
chain the nodes run is the one the scenario describes (rppsim/sim/genesis.py, kernel)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rppsim.guardrails import evaluate_guardrails
from rppsim.node.genesis import load_genesis
from rppsim.scenario import load_scenario
from rppsim.sim.run import RunResult, execute_run
from rppsim.telemetry.runfolder import get_run_info

from .conftest import get_scenario_path

GENESIS_FILE = Path(__file__).resolve().parents[2] / "node" / "genesis.toml"


def _powers(frames: dict[str, pd.DataFrame], height: int) -> list[int]:
    electorate = frames["electorates"]
    return [int(p) for p in electorate[electorate["height"] == height]["power"]]


def _committee_sizes(frames: dict[str, pd.DataFrame]) -> pd.Series:
    return frames["electorates"].groupby("height").size()


@pytest.fixture(scope="module")
def committee() -> RunResult:
    """7 validators at 1 h, target 1, a Zipf genesis of 12 accounts (40 s)."""
    return execute_run(load_scenario(get_scenario_path("committee")), write=False)


@pytest.fixture(scope="module")
def genesis_file() -> RunResult:
    """The shipped genesis file on 7 nodes, nodes 5 and 6 on the canary profile (32 s)."""
    return execute_run(load_scenario(get_scenario_path("genesis_file")), write=False)


def test_zipf_stakes_give_unequal_electorate_powers(committee, runs) -> None:
    """Height 1 counts every seeded validator, with Zipf-unequal powers; the development
    genesis (equal stakes, equal hours) gives equal ones."""
    zipf = _powers(committee.frames, 1)
    assert len(zipf) == 7 and max(zipf) > 2 * min(zipf)
    _, base = runs.get("base")
    assert len(set(_powers(base, 1))) == 1


def test_node_less_accounts_hold_stake_but_never_vote(committee) -> None:
    """The 5 accounts beyond the validators are in the genesis but in no electorate."""
    info = get_run_info(committee.frames)
    accounts = json.loads(info["profile"])["genesis"]["accounts"]
    staked = [a for a in accounts if int(a["stake"]) > 0]
    assert len(staked) == 12 and sum(int(a["stake"]) for a in staked) == 120_000
    members = set(committee.frames["electorates"]["member"].dropna().astype(int))
    assert members <= set(range(7))


def test_a_small_target_makes_the_vrf_threshold_bind(committee) -> None:
    """With target 1 and 1 h of uptime, most heights elect fewer than the 7 submitters; the
    blocks carry only what their leader's selection accepted, so vrf_rounds sees pools below 7.
    The chain keeps finalizing."""
    sizes = _committee_sizes(committee.frames)
    assert (sizes[sizes.index > 1] < 7).mean() > 0.5
    vrf = committee.frames["vrf_rounds"]
    assert (vrf["target_validator_count"] == 1).all()
    assert (vrf["pool_entries"] < 7).mean() > 0.5
    assert committee.frames["blocks"]["height"].max() >= 5
    assert not committee.unexpected


def test_the_same_seed_gives_the_same_generated_genesis_and_digest(committee) -> None:
    """The genesis draws come from the run's seed tree: a second run is byte-identical."""
    again = execute_run(load_scenario(get_scenario_path("committee")), write=False)
    assert again.summary["digest"] == committee.summary["digest"]


def test_a_genesis_file_is_honoured(genesis_file) -> None:
    """Nodes 0–3 run the file's validators (keys from key_seed); the run's genesis holds the
    file's chain id and accounts, plus the traffic wallets."""
    genesis, _ = load_genesis(GENESIS_FILE)
    frames = genesis_file.frames
    nodes = frames["nodes"].sort_values("node")
    file_validators = [a.address for a in genesis.accounts if a.validator]
    assert nodes["address"].tolist()[:4] == file_validators
    assert nodes["role"].tolist() == ["validator"] * 4 + ["full"] * 3
    run_genesis = json.loads(get_run_info(frames)["profile"])["genesis"]
    assert run_genesis["chain_id"] == genesis.chain_id
    written = {a["address"]: a for a in run_genesis["accounts"]}
    for account in genesis.accounts:
        assert written[account.address]["stake"] == account.stake
        assert written[account.address]["balance"] == account.balance
    assert len(written) == len(genesis.accounts) + 32
    assert frames["blocks"]["height"].max() >= 4


def test_the_genesis_file_content_changes_the_run(genesis_file, tmp_path) -> None:
    """Another chain id in the file: another run digest (and scenario digest)."""
    text = GENESIS_FILE.read_text(encoding="utf-8").replace('"rpp-local"', '"rpp-other"')
    (tmp_path / "genesis.toml").write_text(text, encoding="utf-8")
    source = get_scenario_path("genesis_file").read_text(encoding="utf-8")
    profiles = str(GENESIS_FILE.parent / "profiles")
    source = source.replace("../../../node/profiles", profiles)
    source = source.replace("../../../node/genesis.toml", "genesis.toml")
    (tmp_path / "s.toml").write_text(source, encoding="utf-8")
    other = execute_run(load_scenario(tmp_path / "s.toml"), write=False)
    assert other.summary["digest"] != genesis_file.summary["digest"]
    assert other.summary["scenario_digest"] != genesis_file.summary["scenario_digest"]
    info = json.loads(get_run_info(other.frames)["profile"])
    assert info["genesis"]["chain_id"] == "rpp-other"


def test_a_node_group_runs_its_own_profile(genesis_file) -> None:
    """Nodes 5 and 6 advertise canary in their snapshots, the rest testnet; run_info records
    the group, and the per-node guardrails judge each node by its own profile."""
    frames = genesis_file.frames
    snapshots = frames["snapshots"]
    channels = {
        int(node): set(rows["release_channel"].astype(str))
        for node, rows in snapshots.groupby("node")
    }
    assert channels == {n: {"canary"} if n in (5, 6) else {"testnet"} for n in range(7)}
    groups = json.loads(get_run_info(frames)["profile_groups"])
    assert [(g["name"], g["nodes"]) for g in groups] == [("canary", [5, 6])]
    assert groups[0]["profile"]["rollout"]["feature_gates"]["timetoke_rewards"] is True
    only = ("g01-config-valid", "g02-channel-advertised", "g04-gates-match-stage")
    verdicts = evaluate_guardrails(frames, None, only=only)
    assert [v.passed for v in verdicts] == [True, True, True], [v.message for v in verdicts]
