"""Reputation score and tiers of the runtime path [RT] (spec/consensus.md §3, spec/ops.md §1.6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReputationWeights:
    """Score weights w_v, w_u, w_c, w_p, w_d; config keys of ``[reputation.weights]``."""

    validation: float = 0.4
    uptime: float = 0.2
    consensus: float = 0.2
    peer_feedback: float = 0.15
    decay: float = 0.05


@dataclass(frozen=True)
class TierThresholds:
    """``[reputation.tier_thresholds]``: counters that move an account up the tiers."""

    tier2_min_uptime_hours: int = 24
    tier3_min_consensus_success: int = 10
    tier4_min_consensus_success: int = 100
    tier5_min_score: float = 0.75
