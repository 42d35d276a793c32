"""VRF health (docs/operations.md#guardrails row 10, thresholds
docs/operations.md#telemetry-configuration ``vrf_thresholds``) from the
``vrf_rounds`` frame: one row per node per (height, round) it selected in."""

from __future__ import annotations

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import Frames, GuardrailContext, make_verdict, not_applicable, register
from rppsim.telemetry.scalars import to_int

GID = "g10-vrf-health"


def get_vrf_threshold(ctx: GuardrailContext, name: str) -> float:
    """A ``vrf_thresholds`` value of the profile, overridable as ``[guardrails.g10-vrf-health]``."""
    default = ctx.get_config("rollout", "telemetry", "vrf_thresholds", name)
    return float(ctx.threshold(GID, name, default))


def get_first_row(rounds: pd.DataFrame, mask: pd.Series) -> pd.Series:
    """The earliest row of ``rounds`` where ``mask`` holds."""
    return rounds[mask].sort_values(["now_ms", "node"], kind="stable").iloc[0]


def compute_fallback_ratios(rounds: pd.DataFrame) -> pd.Series:
    """Per node: the fraction of its rounds that fell back (``fallback_selected``)."""
    return rounds["fallback_selected"].fillna(False).astype(bool).groupby(rounds["node"]).mean()


@register(10, "vrf-health", "VRF health per round", needs=("vrf_rounds", "vrf_rejections"))
def check_vrf_health(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 10: per round participation ≥ min_participation_rate (0.66)
    and rejection
    rate ≤ max_rejection_rate (0.25); per node the fraction of fallback rounds ≤
    max_fallback_ratio (0.10). ``vrf_rejections`` totals are reported, not bounded."""
    rounds = frames["vrf_rounds"].dropna(subset=["participation_rate", "rejection_rate"])
    if rounds.empty:
        return not_applicable(10, "the run has no VRF rounds with selection metrics")
    min_part = get_vrf_threshold(ctx, "min_participation_rate")
    max_rej = get_vrf_threshold(ctx, "max_rejection_rate")
    max_fb = get_vrf_threshold(ctx, "max_fallback_ratio")
    participation = rounds["participation_rate"].astype(float)
    rejection = rounds["rejection_rate"].astype(float)
    low = participation < min_part
    if low.any():
        row = get_first_row(rounds, low)
        message = f"{int(low.sum())} round(s) with participation < {min_part:g}, first height "
        message += (
            f"{int(row['height'])} round {int(row['round'])}: {row['participation_rate']:.3f}"
        )
        return make_verdict(
            10,
            False,
            float(participation.min()),
            min_part,
            message,
            int(row["node"]),
            int(row["now_ms"]),
        )
    high = rejection > max_rej
    if high.any():
        row = get_first_row(rounds, high)
        message = f"{int(high.sum())} round(s) with rejection rate > {max_rej:g}, first height "
        message += f"{int(row['height'])} round {int(row['round'])}: {row['rejection_rate']:.3f}"
        return make_verdict(
            10,
            False,
            float(rejection.max()),
            max_rej,
            message,
            int(row["node"]),
            int(row["now_ms"]),
        )
    ratios = compute_fallback_ratios(rounds)
    worst_node = to_int(ratios.idxmax())
    if ratios.max() > max_fb:
        fell = rounds["fallback_selected"].fillna(False).astype(bool)
        row = get_first_row(rounds, fell & (rounds["node"] == worst_node))
        message = f"node {worst_node} fell back in {ratios.max():.2%} of its rounds > {max_fb:g}"
        return make_verdict(
            10, False, float(ratios.max()), max_fb, message, worst_node, int(row["now_ms"])
        )
    rejected = int(frames["vrf_rejections"]["count"].sum())
    message = f"{len(rounds)} node-rounds: participation ≥ {participation.min():.3f}, rejection "
    message += f"≤ {rejection.max():.3f}, fallback ≤ {ratios.max():.2%}; {rejected} VRF rejections"
    return make_verdict(10, True, float(participation.min()), min_part, message)
