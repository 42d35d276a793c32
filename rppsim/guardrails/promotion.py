"""The promotion gate: may the fleet of this run move to the next release channel?

The chain's staged rollout (``HUBId/chain:docs/deployment/staged_rollout.md``) promotes
development → testnet → canary → mainnet after a soak on the current stage, and the alert
evaluation guardrail names the gate: no blocking alert in the soak window. One verdict of
kind ``promotion`` per stage transition; only the one leaving the run's own channel applies.

| verdict | the run's channel | soak (trailing window of the run) | blocking alerts |
|---|---|---|---|
| ``promote-testnet`` | development | ``soak_hours`` = 48 simulated hours | page or critical |
| ``promote-canary`` | testnet | ``soak_epochs`` = 10 finalized epochs | critical |
| ``promote-mainnet`` | canary | ``soak_epochs`` = 7 epochs, rewards on | warning, critical |
| ``mainnet-watch`` | mainnet | ``soak_hours`` = 24 hours of continuous watch | page or critical |

An epoch is ``epoch_length`` finalized heights. A run shorter than its soak decides nothing
(not applicable, saying how much of the soak it covered); a scenario may shorten a soak with
``[guardrails.<id>] soak_hours`` or ``soak_epochs`` to drill the gate. An alert blocks when
it fires (or still fires) inside the soak window. ``info`` alerts never block.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import Frames, GuardrailContext
from rppsim.guardrails.consensus import compute_tip, get_tip_at

__all__ = ["PROMOTIONS", "PROMOTION_IDS", "Promotion", "evaluate_promotions"]


@dataclass(frozen=True, slots=True)
class Promotion:
    """One stage transition of the gate."""

    id: str
    source: str
    target: str
    soak_unit: str
    """``hours`` or ``epochs``."""
    soak: float
    blocking: tuple[str, ...]
    """Alert severities (rule labels) that block the promotion."""
    needs_rewards: bool = False


PROMOTIONS = (
    Promotion("promote-testnet", "development", "testnet", "hours", 48, ("page", "critical")),
    Promotion("promote-canary", "testnet", "canary", "epochs", 10, ("page", "critical")),
    Promotion(
        "promote-mainnet", "canary", "mainnet", "epochs", 7, ("page", "critical", "warning"),
        needs_rewards=True,
    ),
    Promotion("mainnet-watch", "mainnet", "mainnet", "hours", 24, ("page", "critical")),
)  # fmt: skip
PROMOTION_IDS = tuple(p.id for p in PROMOTIONS)


def _verdict(
    p: Promotion,
    passed: bool | None,
    figure: float | None,
    threshold: float | None,
    message: str,
    node: int | None = None,
    t: int | None = None,
) -> Verdict:
    title = f"promotion {p.source} → {p.target}" if p.source != p.target else "mainnet watch"
    return Verdict(
        p.id, "promotion", title, passed, "critical", figure, threshold, node, t, message
    )


def compute_soak_start(
    p: Promotion, frames: Frames, ctx: GuardrailContext, soak: float
) -> tuple[float | None, float]:
    """(start of the trailing soak window in ms or None when the run is too short, how much
    of the soak the run covers)."""
    end_ms = ctx.checks.duration_ms
    if p.soak_unit == "hours":
        length_ms = soak * 3_600_000
        return (end_ms - length_ms if length_ms <= end_ms else None), end_ms / 3_600_000
    epoch_length = max(int(ctx.get_config("epoch_length")), 1)
    tip = compute_tip(frames, ctx)
    final = get_tip_at(tip, end_ms)
    need = soak * epoch_length
    covered = final / epoch_length
    if final < need or need <= 0:
        return (0 if need <= 0 else None), covered
    reached = tip[tip >= final - need]
    return int(reached.index[0]), covered


def get_blocking(alerts: pd.DataFrame, p: Promotion, start_ms: float) -> pd.DataFrame:
    """Firings of a blocking severity that overlap [start_ms, end of run]."""
    severity = alerts["severity"].astype(str)
    end = alerts["end_ms"].astype("Float64").fillna(float("inf"))
    chosen = alerts[severity.isin(p.blocking) & (end.to_numpy(float) > start_ms)]
    return chosen.sort_values(["start_ms", "name"], kind="stable")


def evaluate_promotion(p: Promotion, frames: Frames, ctx: GuardrailContext) -> Verdict:
    """The gate of one transition on this run."""
    channel = str(ctx.get_config("rollout", "release_channel"))
    if channel != p.source:
        return _verdict(p, None, None, None, f"the run is on channel {channel}, not {p.source}")
    soak = ctx.threshold(p.id, f"soak_{p.soak_unit}", p.soak)
    key = f"guardrails.{p.id}.soak_{p.soak_unit}"
    if p.needs_rewards and not ctx.get_config("rollout", "feature_gates", "timetoke_rewards"):
        why = "the soak needs timetoke_rewards on; the run's profile has it off"
        return _verdict(p, False, 0, soak, why)
    start_ms, covered = compute_soak_start(p, frames, ctx, soak)
    if start_ms is None:
        why = (
            f"the run covers {covered:.3g} of the {soak:g} {p.soak_unit} soak: no decision "
            f"(drill a shorter soak with {key})"
        )
        return _verdict(p, None, round(covered, 6), soak, why)
    blocking = get_blocking(frames["alerts"], p, start_ms)
    window = f"the soak of {soak:g} {p.soak_unit} from {int(start_ms)} ms"
    if blocking.empty:
        kinds = "/".join(p.blocking)
        return _verdict(p, True, 0, 0, f"no {kinds} alert in {window}")
    first = blocking.iloc[0]
    node = None if pd.isna(first["node"]) else int(first["node"])
    names = ", ".join(sorted(set(blocking["name"].astype(str))))
    message = f"{len(blocking)} blocking alert(s) in {window}: {names}"
    return _verdict(p, False, len(blocking), 0, message, node, int(first["start_ms"]))


def evaluate_promotions(frames: Frames, ctx: GuardrailContext) -> list[Verdict]:
    """Every transition's verdict, in stage order."""
    return [evaluate_promotion(p, frames, ctx) for p in PROMOTIONS]
