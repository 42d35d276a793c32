"""The fast model's runs: deterministic, schema-true frames, and the protocol's behaviour
under faults and byzantine validators."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rppsim.errors import UserError
from rppsim.model import run_fast, run_model
from rppsim.scenario import parse_scenario
from rppsim.telemetry.frames import get_empty_frame

ROOT = Path(__file__).resolve().parents[2]
PROFILE = str(ROOT / "node" / "profiles" / "testnet.toml")


def scenario(duration_ms: int = 60_000, **tables: object):
    data = {
        "run": {"seed": 5, "duration_ms": duration_ms, "prover": "model", "name": "model-test"},
        "nodes": {"count": 9, "validators": 7, "profile": PROFILE},
        "network": {"topology": "small-world", "degree": 4, "rewire": 0.2},
        "traffic": {"tx_per_s": 2.0},
        **tables,
    }
    return parse_scenario(data, str(ROOT / "tests" / "model" / "data" / "inline.toml"))


def info(frames: dict[str, pd.DataFrame]) -> dict[str, str]:
    return dict(zip(frames["run_info"]["key"], frames["run_info"]["value"], strict=True))


def test_same_seed_same_frames_other_seed_other_chain():
    first, again = run_fast(scenario()), run_fast(scenario())
    assert first.keys() == again.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    other = run_fast(scenario(), seed=6)
    assert not first["blocks"]["proposer"].equals(other["blocks"]["proposer"])


def test_frames_follow_the_schemas_and_metadata_says_fast():
    frames = run_fast(scenario())
    for name, frame in frames.items():
        empty = get_empty_frame(name)
        assert list(frame.columns) == list(empty.columns), name
        assert list(frame.dtypes) == list(empty.dtypes), name
    facts = info(frames)
    assert facts["engine"] == "fast" and facts["vrf"] == "counter-splitmix64"
    assert "network latency" in facts["model.not_modelled"]
    assert "messages" not in frames and "votes" not in frames
    blocks = frames["blocks"]
    assert blocks["height"].tolist() == list(range(1, len(blocks) + 1))
    assert (blocks["proposed_ms"].diff().dropna() == 5000).all()


def test_crash_of_a_third_of_the_power_stalls_then_recovers():
    faults = [{"kind": "crash", "node": i, "at_ms": 20_000, "until_ms": 50_000} for i in (0, 1, 2)]
    frames = run_fast(scenario(90_000, rules={"rotate_leader_on_round_change": True}, fault=faults))
    proposed = frames["blocks"]["proposed_ms"]
    assert not ((proposed > 20_000) & (proposed < 50_000)).any()
    assert (proposed >= 50_000).sum() >= 5
    assert (frames["blocks"]["round"] > 0).any()


def test_dead_leader_stalls_without_rotation():
    base = run_fast(scenario(90_000))
    leader = int(base["blocks"].set_index("height").loc[5, "proposer"])
    fault = [{"kind": "crash", "node": leader, "at_ms": 22_000, "until_ms": 60_000}]
    chain = run_fast(scenario(90_000, fault=fault))
    rotate = run_fast(scenario(90_000, fault=fault, rules={"rotate_leader_on_round_change": True}))
    stalled = chain["blocks"]["proposed_ms"]
    assert not ((stalled > 22_000) & (stalled < 60_000)).any()
    assert len(rotate["blocks"]) > len(chain["blocks"])


def test_withholding_is_detected_and_only_the_withholder():
    frames = run_fast(scenario(90_000, byzantine=[{"kind": "withhold-votes", "nodes": [3]}]))
    evidence = frames["evidence"]
    assert set(evidence["offender"]) == {3}
    assert {"censorship_prevote", "censorship_precommit", "inactivity"} <= set(evidence["kind"])
    last = frames["ledger"].groupby("node").tail(1).set_index("node")
    assert (
        last.loc[3, "consensus_success"] < last.loc[[0, 1, 2, 4, 5, 6], "consensus_success"].min()
    )


def test_double_sign_is_slashed_for_good():
    frames = run_fast(
        scenario(90_000, byzantine=[{"kind": "double-sign", "nodes": [4], "at_ms": 20_000}])
    )
    last = frames["ledger"].groupby("node").tail(1).set_index("node")
    assert last.loc[4, "slashed"] == 100 and last.loc[4, "tier"] == 0
    assert not last.loc[4, "zsi_validated"]
    later = frames["electorates"][frames["electorates"]["height"] > 10]
    assert 4 not in set(later["member"])
    assert list(frames["evidence"]["kind"]) == ["double_sign"]


def test_vrf_lie_leads_unless_declared_tiers_are_checked():
    lie = [{"kind": "vrf-lie", "mode": "inflate-tier", "nodes": [2]}]
    chain = run_fast(scenario(byzantine=lie))
    assert (chain["blocks"]["proposer"] == 2).all()
    fixed = run_fast(scenario(byzantine=lie, rules={"check_declared_tier": True}))
    assert 2 not in set(fixed["electorates"]["member"])


def test_timetoke_accrues_hourly_and_decays_when_asked():
    frames = run_fast(scenario(3 * 3_600_000))
    hours = frames["ledger"].groupby("node")["timetoke_hours"].last()
    assert hours.loc[0] == 24 + 3  # ticks at 600 s, 4200 s, 7800 s
    hourly = {"reputation.timetoke.decay_interval_secs": 3600}
    decayed = run_model(scenario(3 * 3_600_000, params=hourly), decay_every_ms=1_800_000).frames
    # decay clock from the first credit (600 s), one hour off per hour after it
    assert frames_hours(decayed) == 24 + 3 - 2
    assert info(decayed)["model.decay_every_ms"] == "1800000"


def frames_hours(frames: dict[str, pd.DataFrame]) -> int:
    return int(frames["ledger"].groupby("node")["timetoke_hours"].last().loc[0])


def test_ecvrf_is_selectable():
    frames = run_fast(scenario(30_000), vrf="ecvrf")
    assert info(frames)["vrf"] == "ecvrf"
    assert len(frames["blocks"]) == len(run_fast(scenario(30_000))["blocks"]) == 5


def test_bad_vrf_mode_is_a_user_error():
    with pytest.raises(UserError):
        run_fast(scenario(), vrf="sha1")


def test_engine_key_is_parsed_and_kept_out_of_the_digest_when_full():
    full = scenario()
    fast = scenario(run={"seed": 5, "duration_ms": 60_000, "prover": "model",
                         "name": "model-test", "engine": "fast"})  # fmt: skip
    assert full.run.engine == "full" and fast.run.engine == "fast"
    assert "engine" not in full.canonical()["run"]
    assert full.digest() != fast.digest()
    with pytest.raises(UserError):
        scenario(run={"seed": 5, "duration_ms": 1000, "engine": "quick"})


def test_execute_run_dispatches_to_the_model(tmp_path):
    from rppsim.sim.run import execute_run

    fast = replace(scenario(), run=replace(scenario().run, engine="fast"))
    result = execute_run(fast, out_dir=tmp_path / "run")
    assert (tmp_path / "run" / "summary.json").exists()
    verdicts = {v.id: v for v in result.verdicts}
    assert verdicts["safety"].passed is None  # needs block_finalized: not applicable
    assert "g17-consensus-availability" not in verdicts
    assert result.unexpected == ()
    assert np.isfinite(result.summary["wall"]["wall_time_s"])


def test_long_runs_record_every_kth_electorate_in_full(monkeypatch):
    from rppsim.model import engine

    monkeypatch.setattr(engine, "MAX_ELECTORATE_ROWS", 70)
    frames = run_fast(scenario())
    every = int(info(frames)["model.electorate_every"])
    assert every > 1
    sizes = frames["electorates"].groupby("height").size()
    assert (sizes == 7).all() and (sizes.index % every == 0).all()
    assert len(sizes) == len(frames["blocks"]) // every
