"""Live-only guardrails g26–g27 (rppsim/guardrails/live.py): never a pass. g25 (alert
evaluation) is tested with the promotion gate in test_promotion.py."""

from __future__ import annotations

from rppsim.guardrails.live import check_health_probes, check_rpc_availability
from tests.guardrails.frames_b import build_context, build_frames


def test_live_guardrails_are_not_applicable_with_a_reason() -> None:
    frames = build_frames()
    context = build_context(frames)
    for check in (check_rpc_availability, check_health_probes):
        verdict = check(frames, context)
        assert verdict.passed is None
        assert verdict.message == "needs a live deployment (testnet)"
