"""Telemetry guardrails 5–8 (docs/operations.md#guardrails rows 5–8) on hand-made frames and real
runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.guardrails.base import GUARDRAILS
from rppsim.guardrails.telemetry import (
    check_snapshot_cadence,
    check_telemetry_enabled,
    check_telemetry_not_stalled,
    check_telemetry_payload_emittable,
)

from .conftest import (
    OUTAGE,
    build_chain,
    build_context,
    build_frames,
    build_snapshot,
    load_profile,
    run_scenario,
)

CHECKS = (
    check_snapshot_cadence,
    check_telemetry_not_stalled,
    check_telemetry_payload_emittable,
)


def _healthy(samples: int = 10) -> dict:
    """4 nodes (3 validators) sampling every second; last_observed_height follows the tip."""
    rows = [
        build_snapshot(n, t * 1000, height=t, last_observed_height=t - 1 if t > 1 else None)
        for n in range(4)
        for t in range(1, samples + 1)
    ]
    return build_frames(snapshots=rows, **build_chain(samples))


def test_all_four_are_registered():
    ids = {"g05-telemetry-enabled", "g06-snapshot-cadence", "g07-telemetry-not-stalled",
           "g08-payload-emittable"}  # fmt: skip
    assert ids <= set(GUARDRAILS)


@pytest.mark.parametrize("check", [check_telemetry_enabled, *CHECKS])
def test_a_healthy_fleet_passes(check):
    frames = _healthy()
    verdict = check(frames, build_context(frames))
    assert verdict.passed is True, verdict.message


@pytest.mark.parametrize("check", CHECKS)
def test_no_snapshots_is_not_applicable(check):
    frames = build_frames(**build_chain(5))
    verdict = check(frames, build_context(frames))
    assert verdict.passed is None
    assert verdict.message == "telemetry off: no snapshots"


def test_g05_a_validator_without_snapshots_fails():
    frames = _healthy()
    frames["snapshots"] = frames["snapshots"][frames["snapshots"]["node"] != 1]
    verdict = check_telemetry_enabled(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.node, verdict.time_ms, verdict.figure) == (1, None, 1)
    assert "node 1: emitted no snapshot" in verdict.message


def test_g05_a_full_node_without_snapshots_is_fine():
    frames = _healthy()
    frames["snapshots"] = frames["snapshots"][frames["snapshots"]["node"] != 3]
    assert check_telemetry_enabled(frames, build_context(frames)).passed is True


def test_g05_a_snapshot_saying_disabled_fails():
    rows = [build_snapshot(n, t * 1000) for n in range(3) for t in range(1, 4)]
    rows[4] = build_snapshot(1, 2000, telemetry_enabled=False)
    rows[8] = build_snapshot(2, 3000, sample_interval_secs=None)
    frames = build_frames(snapshots=rows)
    verdict = check_telemetry_enabled(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms, verdict.figure) == (False, 1, 2000, 2)
    assert "telemetry_enabled = False" in verdict.message


def test_g05_telemetry_off_in_the_profile_fails_for_validators():
    config = load_profile()
    config["rollout"]["telemetry"]["enabled"] = False
    frames = build_frames()
    verdict = check_telemetry_enabled(frames, build_context(frames, config))
    assert (verdict.passed, verdict.node, verdict.figure) == (False, 0, 3)
    assert "rollout.telemetry.enabled = false" in verdict.message


def test_g05_an_invalid_endpoint_fails():
    config = load_profile()
    config["rollout"]["telemetry"]["endpoint"] = "collector:9000"
    frames = _healthy()
    verdict = check_telemetry_enabled(frames, build_context(frames, config))
    assert verdict.passed is False and "invalid rollout.telemetry.endpoint" in verdict.message


def test_g06_missed_ticks_fail_at_the_first_late_emit():
    frames = _healthy()
    snapshots = frames["snapshots"]
    gone = (snapshots["node"] == 2) & snapshots["now_ms"].isin([4000, 5000])
    frames["snapshots"] = snapshots[~gone]
    verdict = check_snapshot_cadence(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms, verdict.figure) == (False, 2, 6000, 2)
    assert "successful emits 3000 ms apart (interval 1000 ms)" in verdict.message


def test_g06_failed_emits_count_as_missed_and_the_limit_is_overridable():
    frames = _healthy()
    snapshots = frames["snapshots"]
    failed = (snapshots["node"] == 0) & (snapshots["now_ms"] == 3000)
    snapshots.loc[failed, "emit_ok"] = False
    verdict = check_snapshot_cadence(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms) == (False, 0, 4000)
    loose = build_context(frames, overrides={"g06-snapshot-cadence": {"max_missed_ticks": 1}})
    assert check_snapshot_cadence(frames, loose).passed is True


def test_g06_an_early_emit_fails():
    frames = _healthy()
    snapshots = frames["snapshots"]
    snapshots.loc[(snapshots["node"] == 1) & (snapshots["now_ms"] == 5000), "now_ms"] = 4700
    verdict = check_snapshot_cadence(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms, verdict.figure) == (False, 1, 4700, 0)


def test_g07_a_stuck_observed_height_fails_while_the_tip_advances():
    frames = _healthy()
    snapshots = frames["snapshots"]
    stuck = (snapshots["node"] == 2) & (snapshots["now_ms"] >= 5000)
    snapshots.loc[stuck, "last_observed_height"] = 3
    verdict = check_telemetry_not_stalled(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms, verdict.figure) == (False, 2, 5000, 6)
    assert "node 2: last_observed_height stuck at 3 for 6 samples" in verdict.message


def test_g07_one_sample_behind_passes_and_a_chain_stall_is_not_blamed():
    frames = _healthy()
    snapshots = frames["snapshots"]
    snapshots.loc[
        (snapshots["node"] == 2) & (snapshots["now_ms"] == 5000), "last_observed_height"
    ] = 3
    assert check_telemetry_not_stalled(frames, build_context(frames)).figure == 1
    assert check_telemetry_not_stalled(frames, build_context(frames)).passed is True
    halted = _healthy()
    halted["snapshots"]["last_observed_height"] = 1
    halted["blocks"] = halted["blocks"].iloc[:1]
    halted["block_finalized"] = halted["block_finalized"].iloc[:4]
    assert check_telemetry_not_stalled(halted, build_context(halted)).passed is True


def test_g08_emit_errors_fail_naming_the_first_node_and_time():
    frames = _healthy()
    snapshots = frames["snapshots"]
    for node, t, error in (
        (3, 7000, "status: telemetry endpoint responded with status 503"),
        (1, 4000, "encode: unable to encode telemetry snapshot: too big"),
    ):
        at = (snapshots["node"] == node) & (snapshots["now_ms"] == t)
        snapshots.loc[at, "emit_ok"] = False
        snapshots.loc[at, "emit_error"] = error
    verdict = check_telemetry_payload_emittable(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms, verdict.figure) == (False, 1, 4000, 2)
    assert "(encode: 1, status: 1)" in verdict.message
    assert "first: node 1 at 4000 ms: encode: unable to encode" in verdict.message


def test_a_healthy_run_passes(tmp_path: Path):
    frames, ctx = run_scenario(tmp_path)
    for check in (check_telemetry_enabled, *CHECKS):
        verdict = check(frames, ctx)
        assert verdict.passed is True, f"{verdict.id}: {verdict.message}"


def test_a_telemetry_outage_fails_g07_and_g08_on_node_3(tmp_path: Path):
    frames, ctx = run_scenario(tmp_path, [OUTAGE])
    stalled = check_telemetry_not_stalled(frames, ctx)
    assert (stalled.passed, stalled.node) == (False, 3), stalled.message
    assert 10_000 <= stalled.time_ms <= 30_000
    errors = check_telemetry_payload_emittable(frames, ctx)
    assert (errors.passed, errors.node) == (False, 3), errors.message
    assert errors.time_ms >= 10_000 and "transport: " in errors.message
    assert check_telemetry_enabled(frames, ctx).passed is True


def _down_up(node: int, down_ms: int, up_ms: int, kind: str = "churn") -> list[dict]:
    """``faults`` rows: node down at ``down_ms`` and up again at ``up_ms``."""
    return [
        {"at_ms": down_ms, "kind": f"{kind}_down", "phase": "start", "nodes": str(node)},
        {"at_ms": up_ms, "kind": f"{kind}_up", "phase": "end", "nodes": str(node)},
    ]


def _restarted(frames: dict, node: int, down_ms: int, up_ms: int, shift_ms: int) -> None:
    """Node ``node`` is down in [down_ms, up_ms): its samples in the window are gone, and the
    new node's loop ticks ``shift_ms`` off the old grid."""
    snapshots = frames["snapshots"]
    mine = snapshots["node"] == node
    snapshots = snapshots[~(mine & snapshots["now_ms"].between(down_ms, up_ms))].copy()
    later = (snapshots["node"] == node) & (snapshots["now_ms"] > up_ms)
    snapshots.loc[later, "now_ms"] += shift_ms
    frames["snapshots"] = snapshots.sort_values(["now_ms", "node"], kind="stable")
    frames["faults"] = build_frames(faults=_down_up(node, down_ms, up_ms))["faults"]


def test_g06_a_restart_starts_the_cadence_over():
    """The gap across a crash is downtime, not missed ticks; the new node's grid is its own."""
    frames = _healthy()
    _restarted(frames, 2, 3500, 5200, 300)
    verdict = check_snapshot_cadence(frames, build_context(frames))
    assert verdict.passed is True, verdict.message
    frames["faults"] = build_frames()["faults"]  # the same gap without the restart fails
    assert check_snapshot_cadence(frames, build_context(frames)).passed is False


def test_g06_missed_ticks_between_restarts_still_fail():
    frames = _healthy()
    _restarted(frames, 2, 3500, 5200, 300)
    snapshots = frames["snapshots"]
    frames["snapshots"] = snapshots[~((snapshots["node"] == 2) & (snapshots["now_ms"] == 8300))]
    verdict = check_snapshot_cadence(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms) == (False, 2, 9300)


def test_g07_a_restarted_node_observes_nothing_yet_and_is_no_stall():
    frames = _healthy()
    _restarted(frames, 2, 3500, 5200, 300)
    snapshots = frames["snapshots"]
    fresh = (snapshots["node"] == 2) & (snapshots["now_ms"] == 6300)
    snapshots.loc[fresh, "last_observed_height"] = None
    verdict = check_telemetry_not_stalled(frames, build_context(frames))
    assert verdict.passed is True, verdict.message


def test_g05_a_validator_never_up_for_a_whole_interval_is_not_judged():
    """Validator 1 is churned down every few seconds (the profile samples every 15 s): no
    sample was ever due from it. Up for 20 s at a stretch, it must have emitted."""
    frames = _healthy()
    frames["snapshots"] = frames["snapshots"][frames["snapshots"]["node"] != 1]
    faults = _down_up(1, 5_000, 8_000) + _down_up(1, 20_000, 22_000)
    config = load_profile()
    frames["faults"] = build_frames(faults=faults)["faults"]
    verdict = check_telemetry_enabled(frames, build_context(frames, config))
    assert verdict.passed is False  # up 22 s – 60 s: a sample was due
    faults.append({"at_ms": 30_000, "kind": "crash", "phase": "start", "nodes": "1"})
    frames["faults"] = build_frames(faults=faults)["faults"]
    verdict = check_telemetry_enabled(frames, build_context(frames, config))
    assert verdict.passed is True, verdict.message
