"""Guardrails only a live deployment or later work can decide (spec/ops.md §6 rows 25–27)."""

from __future__ import annotations

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import Frames, GuardrailContext, not_applicable, register

LIVE_ONLY = "needs a live deployment (testnet)"


@register(25, "alert-evaluation", "Alert evaluation")
def check_alert_evaluation(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """§6 row 25 replays the §3 alert rules with their ``for`` durations."""
    return not_applicable(25, "the §3 alert rules are not implemented yet (no alert replay)")


@register(26, "rpc-availability", "RPC availability")
def check_rpc_availability(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """§6 row 26: RPC success ratio over 5-minute windows; the simulator serves no RPC."""
    return not_applicable(26, LIVE_ONLY)


@register(27, "health-probes", "Health probes")
def check_health_probes(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """§6 row 27: /health and /health/ready (spec/ops.md §2.7); the simulator serves none."""
    return not_applicable(27, LIVE_ONLY)
