"""VRF health g10 (rppsim/guardrails/vrf.py)."""

from __future__ import annotations

from rppsim.guardrails.vrf import check_vrf_health
from tests.guardrails.frames_b import build_context, build_frames


def build_rounds(count: int = 10, **changes: dict[str, object]) -> list[dict[str, object]]:
    """``count`` healthy rounds of node 0 and 1; ``changes`` keyed "node:height"."""
    rows = []
    for node in (0, 1):
        for height in range(1, count + 1):
            row = {"node": node, "now_ms": 5000 * height + node, "height": height, "round": 0}
            row |= {"participation_rate": 1.0, "rejection_rate": 0.0, "fallback_selected": False}
            rows.append(row | changes.get(f"n{node}h{height}", {}))
    return rows


def test_vrf_passes_on_healthy_rounds() -> None:
    frames = build_frames(vrf_rounds=build_rounds())
    verdict = check_vrf_health(frames, build_context(frames))
    assert verdict.passed is True
    assert (verdict.figure, verdict.threshold) == (1.0, 0.66)


def test_vrf_fails_on_low_participation() -> None:
    frames = build_frames(vrf_rounds=build_rounds(n1h4={"participation_rate": 0.5}))
    verdict = check_vrf_health(frames, build_context(frames))
    assert verdict.passed is False
    assert "participation" in verdict.message
    assert (verdict.figure, verdict.node, verdict.time_ms) == (0.5, 1, 20_001)


def test_vrf_fails_on_high_rejection_rate() -> None:
    frames = build_frames(vrf_rounds=build_rounds(n0h2={"rejection_rate": 0.3}))
    verdict = check_vrf_health(frames, build_context(frames))
    assert verdict.passed is False
    assert "rejection rate" in verdict.message
    assert (verdict.node, verdict.time_ms) == (0, 10_000)


def test_vrf_fails_on_fallback_ratio_and_threshold_is_overridable() -> None:
    rounds = build_rounds(n1h3={"fallback_selected": True}, n1h7={"fallback_selected": True})
    frames = build_frames(vrf_rounds=rounds)
    verdict = check_vrf_health(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.figure, verdict.node, verdict.time_ms) == (0.2, 1, 15_001)
    relaxed = {"g10-vrf-health": {"max_fallback_ratio": 0.25}}
    assert check_vrf_health(frames, build_context(frames, overrides=relaxed)).passed is True


def test_vrf_not_applicable_without_rounds() -> None:
    frames = build_frames()
    assert check_vrf_health(frames, build_context(frames)).passed is None
