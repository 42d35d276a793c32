"""Long runs in bounded memory: ``[telemetry] chain_record`` and ``message_sample_rate``
change what a run keeps in memory, never what it does (docs: scenarios/README.md) while the
run is shorter than ``[pruning] retention_depth`` heights (past it a retained node's snapshots
carry only its header window: docs/operations.md#pruning-and-storage)."""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.bench.sim import compute_growth_per_hour, share
from rppsim.errors import UserError
from rppsim.node.pruning import is_pruned_block
from rppsim.scenario import Scenario, parse_scenario
from rppsim.sim.kernel import Simulation
from rppsim.telemetry.frames import compute_sample_key
from tests.sim.conftest import get_scenario_path, load_test_scenario, run_simulation


def _with_telemetry(scenario: Scenario, **keys: Any) -> Scenario:
    return replace(scenario, telemetry=replace(scenario.telemetry, **keys))


def _without_scenario_digest(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    info = frames["run_info"]
    kept = info[info["key"] != "scenario_digest"].reset_index(drop=True)
    return {**frames, "run_info": kept}


def _frames(sim: Simulation) -> dict[str, pd.DataFrame]:
    return _without_scenario_digest(sim.recorder.frames())


@pytest.fixture(scope="module")
def faults_runs() -> tuple[Simulation, Simulation]:
    """The faults scenario (crashes, restarts, pauses, churn) with the full and the retained
    chain record."""
    scenario = load_test_scenario("faults")
    full = run_simulation(scenario)
    retained = run_simulation(_with_telemetry(scenario, chain_record="retained"))
    return full, retained


def test_retained_chain_record_changes_no_frame(faults_runs):
    full, retained = faults_runs
    a, b = _frames(full), _frames(retained)
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def test_retained_nodes_keep_only_what_pruning_retains(faults_runs):
    full, retained = faults_runs
    for slot in retained.slots:
        node = slot.node
        if node is None or node.height < 2:
            continue
        assert node.chain is node.stored
        assert all(is_pruned_block(c.block) for c in node.chain[:-1])
        assert not is_pruned_block(node.chain[-1].block)  # the tip's payload stays
    whole = full.slots[0].node
    assert whole is not None and not any(is_pruned_block(c.block) for c in whole.chain)


def test_retained_data_dir_keeps_only_commits_above_the_snapshot(faults_runs):
    full, retained = faults_runs
    assert retained.trim_persisted and not full.trim_persisted
    for slot, whole in zip(retained.slots, full.slots, strict=True):
        node = slot.node
        if node is None or node.snapshot is None:
            continue
        heights = [c.block.header.height for c in slot.persisted]
        assert all(h > node.snapshot.height for h in heights)
        assert len(heights) <= node.snapshot_interval
        assert len(whole.persisted) > len(heights)  # the full record keeps every commit


def test_message_sample_rate_keeps_the_messages_below_it():
    scenario = _with_telemetry(load_test_scenario("base"), message_sample_rate=0.25)
    frames = run_simulation(scenario).recorder.frames()
    ids = frames["messages"]["msg_id"].unique()
    assert len(ids) > 0
    assert all(compute_sample_key(int(i)) < 0.25 for i in ids)
    info = dict(zip(frames["run_info"]["key"], frames["run_info"]["value"], strict=True))
    assert info["recorder.messages"] == "sampled"
    assert info["recorder.message_sample_rate"] == "0.25"
    everything = run_simulation(load_test_scenario("base")).recorder.frames()["messages"]
    assert len(ids) < everything["msg_id"].nunique()


def _base_data() -> dict[str, Any]:
    with get_scenario_path("base").open("rb") as handle:
        return tomllib.load(handle)


def _parse(telemetry: dict[str, Any]) -> Scenario:
    data = _base_data()
    data["telemetry"] = telemetry
    return parse_scenario(data, get_scenario_path("base"))


def test_new_telemetry_keys_are_parsed():
    scenario = _parse({"message_sample_rate": 0.5, "chain_record": "retained"})
    assert scenario.telemetry.message_sample_rate == 0.5
    assert scenario.telemetry.chain_record == "retained"


@pytest.mark.parametrize(
    ("telemetry", "key"),
    [
        ({"message_sample_rate": 0.0}, "telemetry.message_sample_rate"),
        ({"message_sample_rate": 1.5}, "telemetry.message_sample_rate"),
        ({"message_sample_rate": "all"}, "telemetry.message_sample_rate"),
        ({"chain_record": "none"}, "telemetry.chain_record"),
        ({"chain_record": 1}, "telemetry.chain_record"),
    ],
)
def test_bad_telemetry_keys_are_one_line_errors(telemetry, key):
    with pytest.raises(UserError) as caught:
        _parse(telemetry)
    assert key in str(caught.value)
    assert "\n" not in str(caught.value)


def test_default_telemetry_keys_leave_the_scenario_digest_alone():
    scenario = _parse({})
    explicit = _parse({"message_sample_rate": 1.0, "chain_record": "full"})
    assert scenario.digest() == explicit.digest()
    assert "message_sample_rate" not in scenario.canonical()["telemetry"]
    assert _parse({"chain_record": "retained"}).digest() != scenario.digest()


@given(
    base=st.integers(0, 2**30),
    per_hour=st.integers(-(2**20), 2**26),
    before=st.integers(0, 2**28),
    count=st.integers(2, 30),
)
def test_growth_per_hour_is_the_slope_after_the_first_hour(base, per_hour, before, count):
    hour = 3_600_000
    step = 300_000
    samples = [(t, before * t // hour) for t in range(0, hour, step)]
    samples += [(hour + k * step, base + per_hour * k * step // hour) for k in range(count)]
    assert compute_growth_per_hour(samples) == pytest.approx(per_hour, abs=1e-3 * hour)
    assert compute_growth_per_hour(samples[:-count] + samples[-1:]) == 0.0  # one sample after


@pytest.mark.parametrize("text", ["-0.1", "1.5", "x", "nan"])
def test_bench_sample_rate_refuses_what_is_no_share(text):
    with pytest.raises(argparse.ArgumentTypeError):
        share(text)
    assert share("0") == 0.0 and share("0.25") == 0.25
