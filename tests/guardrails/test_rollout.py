"""Rollout guardrails g01–g04, g22–g24 (rppsim/guardrails/rollout.py)."""

from __future__ import annotations

import pytest

from rppsim.guardrails.rollout import (
    check_channel_advertised,
    check_config_valid,
    check_gates_match_stage,
    check_genesis_parity,
    check_promotion_order,
    check_soak_windows,
    check_storage_migration,
)
from rppsim.node.config import load_config
from tests.guardrails.frames_b import (
    ROOT,
    build_context,
    build_frames,
    build_snapshot,
    get_testnet_config,
)

FLEET = [build_snapshot(n, t) for t in (2000, 4000) for n in range(4)]


@pytest.mark.parametrize("stage", ["development", "testnet", "canary", "mainnet"])
def test_every_profile_is_valid_and_matches_its_bundle(stage: str) -> None:
    config = load_config(ROOT / f"node/profiles/{stage}.toml")[0].as_dict()
    frames = build_frames()
    context = build_context(frames, config)
    assert check_config_valid(frames, context).passed is True
    assert check_gates_match_stage(frames, context).passed is True


def test_config_invalid_reports_the_first_error() -> None:
    frames = build_frames()
    verdict = check_config_valid(frames, build_context(frames, get_testnet_config(mempool_limit=0)))
    assert verdict.passed is False
    assert (
        verdict.message
        == "exit code 2: profile: mempool_limit: expected an integer > 0, found 0 (int)"
    )


def test_channel_advertised_passes_and_fails() -> None:
    frames = build_frames(snapshots=FLEET)
    assert check_channel_advertised(frames, build_context(frames)).passed is True
    wrong = [*FLEET[:6], build_snapshot(2, 4000, release_channel="canary"), FLEET[7]]
    frames = build_frames(snapshots=wrong)
    verdict = check_channel_advertised(frames, build_context(frames))
    assert verdict.passed is False
    assert "node 2: 'canary'" in verdict.message
    assert (verdict.node, verdict.time_ms) == (2, 4000)


def test_channel_advertised_fails_for_a_silent_node() -> None:
    frames = build_frames(snapshots=[s for s in FLEET if s["node"] != 3])
    verdict = check_channel_advertised(frames, build_context(frames))
    assert verdict.passed is False
    assert verdict.node == 3


def test_a_node_never_up_for_a_sample_interval_advertised_nothing_and_is_not_judged() -> None:
    """Node 3 restarts every 10 s (the profile samples every 15 s): no sample was ever due."""
    frames = build_frames(snapshots=[s for s in FLEET if s["node"] != 3])
    churn = [
        {"at_ms": t, "kind": kind, "phase": phase, "nodes": "3"}
        for k in range(6)
        for t, kind, phase in ((k * 10_000 + 9_000, "churn_down", "start"),
                               (k * 10_000 + 10_000, "churn_up", "end"))
    ]  # fmt: skip
    frames["faults"] = build_frames(faults=churn)["faults"]
    verdict = check_channel_advertised(frames, build_context(frames))
    assert verdict.passed is True, verdict.message
    frames["faults"] = build_frames(faults=churn[:-4])["faults"]  # up from 40 s to the end
    assert check_channel_advertised(frames, build_context(frames)).passed is False


def test_promotion_order() -> None:
    frames = build_frames(snapshots=FLEET)
    assert check_promotion_order(frames, build_context(frames)).passed is None
    stepped = [build_snapshot(0, 2000, release_channel="development"), build_snapshot(0, 4000)]
    frames = build_frames(snapshots=stepped)
    assert check_promotion_order(frames, build_context(frames)).passed is True
    skipped = [build_snapshot(1, 2000, release_channel="development"),
               build_snapshot(1, 4000, release_channel="canary")]  # fmt: skip
    frames = build_frames(snapshots=skipped)
    verdict = check_promotion_order(frames, build_context(frames))
    assert verdict.passed is False
    assert "development → canary" in verdict.message
    assert (verdict.node, verdict.time_ms) == (1, 4000)


def test_gates_fail_for_a_node_with_other_gates() -> None:
    odd = [*FLEET[:5], build_snapshot(1, 4000, gate_timetoke_rewards=True), *FLEET[6:]]
    frames = build_frames(snapshots=odd)
    verdict = check_gates_match_stage(frames, build_context(frames))
    assert verdict.passed is False
    assert "node 1: timetoke_rewards" in verdict.message
    assert (verdict.node, verdict.time_ms) == (1, 4000)


def test_gates_fail_when_the_profile_leaves_its_stage_bundle() -> None:
    config = get_testnet_config()
    config["rollout"]["feature_gates"]["malachite_consensus"] = False
    frames = build_frames()
    verdict = check_gates_match_stage(frames, build_context(frames, config))
    assert verdict.passed is False
    assert "malachite_consensus" in verdict.message


def test_not_applicable_rollout_guardrails_say_why() -> None:
    frames = build_frames()
    context = build_context(frames)
    for check, why in ((check_genesis_parity, "one genesis by construction"),
                       (check_storage_migration, "no storage schema"),
                       (check_soak_windows, "covers 0 of the 10 epochs soak")):  # fmt: skip
        verdict = check(frames, context)
        assert verdict.passed is None
        assert why in verdict.message
