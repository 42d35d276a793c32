"""Consensus guardrails 14, 17, 18, 19 (docs/operations.md#guardrails,
docs/operations.md#alert-rules) on hand-made frames and a
real run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.guardrails.base import GUARDRAILS
from rppsim.guardrails.consensus import (
    check_consensus_availability,
    check_finality,
    check_liveness,
    check_recursive_commitment,
)

from .conftest import build_chain, build_context, build_frames, build_snapshot, run_scenario

CHECKS = (check_recursive_commitment, check_consensus_availability, check_liveness, check_finality)


def _chain(count: int = 50, **rows: list[dict]) -> dict:
    return build_frames(**{**build_chain(count), **rows})


def test_all_four_are_registered():
    ids = {"g14-recursive-commitment", "g17-consensus-availability", "g18-liveness",
           "g19-finality"}  # fmt: skip
    assert ids <= set(GUARDRAILS)


@pytest.mark.parametrize("check", CHECKS)
def test_a_healthy_chain_passes(check):
    frames = _chain(60)
    verdict = check(frames, build_context(frames))
    assert verdict.passed is True, verdict.message


@pytest.mark.parametrize("check", [c for c in CHECKS if c is not check_liveness])
def test_no_blocks_is_not_applicable(check):
    frames = build_frames()
    verdict = check(frames, build_context(frames, duration_ms=600_000))
    assert verdict.passed is None and verdict.message


def test_g18_no_blocks_is_a_stall_unless_nothing_is_offered():
    frames = build_frames()
    verdict = check_liveness(frames, build_context(frames, duration_ms=600_000))
    assert verdict.passed is False and verdict.time_ms == 300_000
    assert verdict.message.startswith("stall (height delta 0) in 0–300000 ms")
    idle = build_context(frames, has_work=False)
    assert check_liveness(frames, idle).passed is None


def test_g14_a_stale_previous_commitment_fails():
    rows = build_chain(10)
    rows["blocks"][6]["recursive_previous_commitment"] = "c1"
    frames = build_frames(**rows)
    verdict = check_recursive_commitment(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms, verdict.figure) == (False, 3, 7000, 1)
    assert "height 7: previous commitment ≠ commitment of height 6" in verdict.message


def test_g14_a_repeated_commitment_and_a_gap_fail():
    rows = build_chain(10)
    rows["blocks"][3]["recursive_commitment"] = "c3"
    rows["blocks"][4]["recursive_previous_commitment"] = "c3"
    del rows["blocks"][7]
    frames = build_frames(**rows)
    verdict = check_recursive_commitment(frames, build_context(frames))
    assert (verdict.passed, verdict.time_ms, verdict.figure) == (False, 4000, 2)
    assert "height 4: commitment equals that of height 3" in verdict.message


def test_g17_a_block_without_consensus_proof_fails():
    rows = build_chain(10)
    rows["blocks"][4]["consensus_proof"] = False
    frames = build_frames(**rows)
    verdict = check_consensus_availability(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms, verdict.figure) == (False, 1, 5000, 1)
    assert "without a consensus proof, first height 5" in verdict.message
    assert "5 of 10 blocks without uptime proofs" in verdict.message


def test_g18_a_short_run_uses_the_whole_run_after_a_warm_up():
    frames = _chain(60)
    verdict = check_liveness(frames, build_context(frames))
    assert verdict.passed is True and verdict.figure == pytest.approx(1.0)
    assert "whole run after a 1000 ms warm-up" in verdict.message


def test_g18_a_slow_chain_fails_on_sliding_windows():
    rows = build_chain(60)
    for block in rows["blocks"][30:]:
        block["proposed_ms"] = 30_000 + (block["height"] - 30) * 2000
    for row in rows["block_finalized"]:
        if row["height"] > 30:
            row["finalized_ms"] = 30_000 + (row["height"] - 30) * 2000 + 100
    frames = build_frames(**rows)
    ctx = build_context(
        frames, duration_ms=90_000, overrides={"g18-liveness": {"window_ms": 20_000}}
    )
    verdict = check_liveness(frames, ctx)
    assert verdict.passed is False and verdict.threshold == 0.75
    assert verdict.figure == pytest.approx(0.5)
    assert "critical breach in" in verdict.message and "20 slots" in verdict.message


def test_g18_a_stall_fails():
    frames = _chain(10)
    ctx = build_context(
        frames, duration_ms=60_000, overrides={"g18-liveness": {"window_ms": 20_000}}
    )
    verdict = check_liveness(frames, ctx)
    assert verdict.passed is False and verdict.figure == 0
    assert verdict.message.startswith("stall (height delta 0) in 11000–31000 ms")
    assert verdict.time_ms == 31_000


def test_g19_a_late_finalization_fails():
    rows = build_chain(20)
    late = next(r for r in rows["block_finalized"] if r["height"] == 12 and r["node"] == 2)
    late["finalized_ms"] = 12_000 + 30_000
    frames = build_frames(**rows)
    verdict = check_finality(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms) == (False, 2, 42_000)
    assert verdict.figure == pytest.approx(30.0) and verdict.threshold == 24
    assert "height 12 finalized 30.00 slots after proposal" in verdict.message


def test_g19_a_node_behind_the_tip_fails_at_its_sample():
    rows = build_chain(20)
    rows["block_finalized"] = [
        r for r in rows["block_finalized"] if r["node"] != 1 or r["height"] <= 5
    ]
    samples = [build_snapshot(n, t * 1000) for n in range(4) for t in range(1, 21)]
    frames = build_frames(snapshots=samples, **rows)
    verdict = check_finality(frames, build_context(frames))
    assert (verdict.passed, verdict.node, verdict.time_ms) == (False, 1, 15_000)
    assert "finalized height 9 below the tip" in verdict.message


def test_a_healthy_run_passes(tmp_path: Path):
    frames, ctx = run_scenario(tmp_path)
    for check in CHECKS:
        verdict = check(frames, ctx)
        assert verdict.passed is True, f"{verdict.id}: {verdict.message}"
