"""The promotion gate (rppsim/guardrails/promotion.py), g24 (soak) and g25 (alert evaluation)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rppsim.guardrails.live import check_alert_evaluation
from rppsim.guardrails.promotion import PROMOTION_IDS, evaluate_promotions
from rppsim.guardrails.rollout import check_soak_windows
from tests.guardrails.frames_b import build_context, build_frames, get_testnet_config

EPOCH = 10  # heights per epoch in these fixtures


def _frames(heights: int, alerts: list[dict[str, object]] | None = None):
    """4 validators finalizing one height every 5 s, and the given alert firings."""
    finalized = [
        {"height": h, "node": n, "hash": f"h{h}", "finalized_ms": 5000 * h}
        for h in range(1, heights + 1)
        for n in range(4)
    ]
    return build_frames(block_finalized=finalized, alerts=alerts or [])


def _context(frames, channel: str = "testnet", duration_ms: int | None = None, **overrides):
    config = get_testnet_config(epoch_length=EPOCH)
    config["rollout"] = {**config["rollout"], "release_channel": channel}
    if channel == "canary":
        gates = {**config["rollout"]["feature_gates"], "timetoke_rewards": True}
        config["rollout"] = {**config["rollout"], "feature_gates": gates}
    ctx = build_context(frames, config=config, overrides=overrides)
    height = int(frames["block_finalized"]["height"].max()) if len(frames["block_finalized"]) else 0
    duration = duration_ms if duration_ms is not None else 5000 * height
    return replace(ctx, checks=replace(ctx.checks, duration_ms=duration))


def _alert(name: str, severity: str, start_ms: int, end_ms: int | None, node: int | None = 1):
    return {"name": name, "severity": severity, "node": node, "start_ms": start_ms,
            "end_ms": end_ms, "detail": "", "labels": "{}"}  # fmt: skip


def _by_id(frames, ctx):
    return {v.id: v for v in evaluate_promotions(frames, ctx)}


def test_only_the_transition_leaving_the_runs_channel_applies() -> None:
    frames = _frames(120)
    verdicts = _by_id(frames, _context(frames))
    assert tuple(verdicts) == PROMOTION_IDS
    assert verdicts["promote-canary"].passed is True
    for other in ("promote-testnet", "promote-mainnet", "mainnet-watch"):
        assert verdicts[other].passed is None
        assert "the run is on channel testnet" in verdicts[other].message


def test_a_critical_alert_inside_the_soak_blocks_promotion() -> None:
    """Pass fixture above; fail fixture: a critical firing overlapping the last 10 epochs."""
    frames = _frames(120, [_alert("ConsensusLivenessStall", "critical", 400_000, 450_000, None)])
    verdict = _by_id(frames, _context(frames))["promote-canary"]
    assert verdict.passed is False
    assert verdict.time_ms == 400_000 and verdict.node is None
    assert "ConsensusLivenessStall" in verdict.message


def test_alerts_before_the_soak_window_or_below_the_blocking_severity_do_not_block() -> None:
    """The soak is the trailing 10 epochs (heights 21–120 from 100 s); a critical alert that
    ended at 50 s and a warning inside the window do not block testnet → canary."""
    alerts = [
        _alert("ConsensusFinalityLagCritical", "critical", 10_000, 50_000),
        _alert("ConsensusMissedSlotsWarning", "warning", 300_000, None),
    ]
    frames = _frames(120, alerts)
    verdict = _by_id(frames, _context(frames))["promote-canary"]
    assert verdict.passed is True, verdict.message


def test_a_still_firing_alert_blocks_until_the_end() -> None:
    frames = _frames(120, [_alert("StateSyncTamperDetected", "critical", 20_000, None)])
    assert _by_id(frames, _context(frames))["promote-canary"].passed is False


def test_a_run_shorter_than_its_soak_decides_nothing_and_names_the_override() -> None:
    frames = _frames(50)
    verdict = _by_id(frames, _context(frames))["promote-canary"]
    assert verdict.passed is None
    assert "covers 5 of the 10 epochs soak" in verdict.message
    assert "guardrails.promote-canary.soak_epochs" in verdict.message
    shorter = _by_id(frames, _context(frames, **{"promote-canary": {"soak_epochs": 4}}))
    assert shorter["promote-canary"].passed is True


def test_canary_to_mainnet_blocks_on_warnings_and_needs_rewards() -> None:
    frames = _frames(80, [_alert("ConsensusMissedSlotsWarning", "warning", 390_000, 395_000)])
    verdict = _by_id(frames, _context(frames, "canary"))["promote-mainnet"]
    assert verdict.passed is False and "ConsensusMissedSlotsWarning" in verdict.message
    config = get_testnet_config(epoch_length=EPOCH)
    config["rollout"] = {**config["rollout"], "release_channel": "canary"}
    ctx = build_context(frames, config=config)
    off = _by_id(frames, replace(ctx, checks=replace(ctx.checks, duration_ms=400_000)))
    assert off["promote-mainnet"].passed is False
    assert "timetoke_rewards" in off["promote-mainnet"].message


@pytest.mark.parametrize(("channel", "gate"), [("development", "promote-testnet"),
                                               ("mainnet", "mainnet-watch")])  # fmt: skip
def test_hour_soaks(channel: str, gate: str) -> None:
    """48 h (development) and 24 h (mainnet) of simulated time: a 10-minute run decides
    nothing; with the soak shortened to 0.1 h it passes, and a page alert fails it."""
    frames = _frames(120)
    ctx = _context(frames, channel, duration_ms=600_000)
    assert _by_id(frames, ctx)[gate].passed is None
    short = _context(frames, channel, duration_ms=600_000, **{gate: {"soak_hours": 0.1}})
    assert _by_id(frames, short)[gate].passed is True
    paged = _frames(120, [_alert("ConsensusQuorumVerificationFailure", "page", 500_000, 515_000)])
    assert _by_id(paged, short)[gate].passed is False


def test_g24_follows_the_gate_of_the_runs_channel() -> None:
    frames = _frames(120)
    assert check_soak_windows(frames, _context(frames)).passed is True
    blocked = _frames(120, [_alert("ConsensusLivenessStall", "critical", 590_000, None)])
    verdict = check_soak_windows(blocked, _context(blocked))
    assert verdict.passed is False and verdict.message.startswith("promote-canary:")
    assert check_soak_windows(_frames(5), _context(_frames(5))).passed is None


def test_g25_fails_on_a_page_or_critical_alert_only() -> None:
    warning = _frames(10, [_alert("CacheEvictionSpike", "warning", 1000, 2000)])
    verdict = check_alert_evaluation(warning, _context(warning))
    assert verdict.passed is True and "1 warning/info firing" in verdict.message
    paged = _frames(10, [_alert("ConsensusVRFFailureBurst", "page", 3000, None, 2)])
    verdict = check_alert_evaluation(paged, _context(paged))
    assert (verdict.passed, verdict.node, verdict.time_ms) == (False, 2, 3000)
    assert "ConsensusVRFFailureBurst" in verdict.message
