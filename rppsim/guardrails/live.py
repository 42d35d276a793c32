"""The alert-evaluation guardrail and the two only a live deployment can decide
(docs/operations.md#guardrails rows
25–27)."""

from __future__ import annotations

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import (
    Frames,
    GuardrailContext,
    make_verdict,
    not_applicable,
    register,
)

LIVE_ONLY = "needs a live deployment (testnet)"


@register(25, "alert-evaluation", "Alert evaluation")
def check_alert_evaluation(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 25: the chain's alert rules replayed over the run with
    their ``for`` durations
    (``rppsim.guardrails.alerting`` fills the ``alerts`` frame); the gate is that no page or
    critical alert fired."""
    alerts = frames["alerts"]
    blocking = alerts[alerts["severity"].astype(str).isin(["page", "critical"])]
    if blocking.empty:
        fired = f"{len(alerts)} warning/info firing(s)" if len(alerts) else "no alert fired"
        return make_verdict(25, True, 0, 0, f"no page or critical alert; {fired}")
    blocking = blocking.sort_values(["start_ms", "name"], kind="stable")
    first = blocking.iloc[0]
    node = None if pd.isna(first["node"]) else int(first["node"])
    names = ", ".join(sorted(set(blocking["name"].astype(str))))
    message = f"{len(blocking)} page/critical firing(s): {names}"
    return make_verdict(25, False, len(blocking), 0, message, node, int(first["start_ms"]))


@register(26, "rpc-availability", "RPC availability")
def check_rpc_availability(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 26: RPC success ratio over 5-minute windows; the simulator
    serves no RPC."""
    return not_applicable(26, LIVE_ONLY)


@register(27, "health-probes", "Health probes")
def check_health_probes(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 27: /health and /health/ready
    (docs/operations.md#health-endpoints); the simulator serves none."""
    return not_applicable(27, LIVE_ONLY)
