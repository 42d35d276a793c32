"""Live-only guardrails g25–g27 (rppsim/guardrails/live.py): never a pass."""

from __future__ import annotations

from rppsim.guardrails.live import (
    check_alert_evaluation,
    check_health_probes,
    check_rpc_availability,
)
from tests.guardrails.frames_b import build_context, build_frames


def test_live_guardrails_are_not_applicable_with_a_reason() -> None:
    frames = build_frames()
    context = build_context(frames)
    assert "alert rules" in check_alert_evaluation(frames, context).message
    for check in (check_rpc_availability, check_health_probes):
        verdict = check(frames, context)
        assert verdict.passed is None
        assert verdict.message == "needs a live deployment (testnet)"
