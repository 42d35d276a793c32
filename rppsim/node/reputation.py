"""Reputation score and tiers of the runtime path [RT] (docs/protocol.md#reputation,
docs/operations.md#reputation-timetoke-and-governance-keys).

The tier is re-derived from counters on every recompute (first matching rule of ``TIER_RULES``);
it is never sticky. The chain's ``apply_decay_if_needed`` (score × (1 − decay_factor) once per
``decay_interval_secs``) has no runtime caller, so it is deliberately NOT ported: the live decay
is the timetoke decay (docs/protocol.md#timetoke) plus the score's w_d term.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import lru_cache
from typing import NamedTuple

from rppsim.node.timetoke import TimetokeBalance

__all__ = [
    "DECAY_SCALE_SECS",
    "GOSSIP_TOPICS",
    "NORMALIZATION_TOLERANCE",
    "PUBLISH_TIERS",
    "TIER_EVENTS",
    "TIER_RULES",
    "ReputationProfile",
    "ReputationWeights",
    "Tier",
    "TierThresholds",
    "compute_gossip_topic",
    "compute_minimum_transaction_tier",
    "compute_saturation",
    "compute_score",
    "compute_tier",
    "compute_transaction_problem",
    "is_allowed_to_publish",
    "parse_tier",
    "process_consensus_success",
    "process_recompute",
    "process_score_penalty",
    "validate_weights",
]

NORMALIZATION_TOLERANCE = 1e-6
"""|Σ weights − 1| must not exceed this (``ReputationWeights::NORMALIZATION_TOLERANCE``)."""
UPTIME_SCALE_HOURS = 24.0
CONSENSUS_SCALE = 128.0
PEER_FEEDBACK_SCALE = 50.0
DECAY_SCALE_SECS = 7 * 86400.0
"""The w_d term saturates over 7 days since the previous recompute (docs/protocol.md#reputation)."""


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


class Tier(IntEnum):
    """Reputation tiers Tl0..Tl5, ordered (docs/protocol.md#submissions-and-rejections names:
    ``Tier::name``)."""

    Tl0 = 0
    Tl1 = 1
    Tl2 = 2
    Tl3 = 3
    Tl4 = 4
    Tl5 = 5

    @property
    def display_name(self) -> str:
        """The chain's ``Display`` of the tier: New, Validated, ..., Trusted."""
        return _TIER_NAMES[self]


_TIER_NAMES = {
    Tier.Tl0: "New",
    Tier.Tl1: "Validated",
    Tier.Tl2: "Available",
    Tier.Tl3: "Committed",
    Tier.Tl4: "Reliable",
    Tier.Tl5: "Trusted",
}
_TIERS_BY_TEXT = {tier.name: tier for tier in Tier} | {name: t for t, name in _TIER_NAMES.items()}


def parse_tier(text: object) -> Tier | None:
    """The tier written as its variant ("Tl3", gossip form) or its name ("Committed")."""
    return _TIERS_BY_TEXT.get(text) if isinstance(text, str) else None


def validate_weights(weights: ReputationWeights) -> str | None:
    """The chain's weight check, or None: each in [0, 1], then Σ = 1 ± 1e-6
    (docs/protocol.md#reputation)."""
    named = (
        ("w_v", weights.validation),
        ("w_u", weights.uptime),
        ("w_c", weights.consensus),
        ("w_p", weights.peer_feedback),
        ("w_d", weights.decay),
    )
    total = 0.0
    for field, value in named:
        if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            return f"OutOfRange({field}): weight `{field}` must be within [0, 1], got {value}"
        total += value
    if abs(total - 1.0) > NORMALIZATION_TOLERANCE:
        return (
            f"NotNormalized: weights must sum to 1.0 within tolerance "
            f"{NORMALIZATION_TOLERANCE}, got {total}"
        )
    return None


def compute_saturation(value: float, scale: float) -> float:
    """sat(x, s) = 1 − e^(−x/s); 0 for a non-positive scale (``saturating_curve``)."""
    if scale <= 0.0:
        return 0.0
    return 1.0 - math.exp(-value / scale)


def compute_score(
    *,
    zsi_validated: bool,
    hours_online: int,
    consensus_success: int,
    peer_feedback: int,
    last_decay_timestamp: int,
    weights: ReputationWeights,
    now: int,
) -> float:
    """clamp(w_v·v + w_u·u + w_c·c + w_p·p − w_d·d, 0, 1) (docs/protocol.md#reputation "Score")."""
    v = 1.0 if zsi_validated else 0.0
    u = compute_saturation(float(hours_online), UPTIME_SCALE_HOURS)
    c = compute_saturation(float(consensus_success), CONSENSUS_SCALE)
    p = compute_saturation(float(max(peer_feedback, 0)), PEER_FEEDBACK_SCALE)
    d = compute_saturation(float(max(now - last_decay_timestamp, 0)), DECAY_SCALE_SECS)
    score = (
        weights.validation * v
        + weights.uptime * u
        + weights.consensus * c
        + weights.peer_feedback * p
        - weights.decay * d
    )
    return min(max(score, 0.0), 1.0)


class _TierInputs(NamedTuple):
    """The counters a tier rule reads (a tuple: built on every recompute, so kept cheap)."""

    zsi_validated: bool
    hours_online: int
    consensus_success: int
    score: float


_TierRule = tuple[Tier, str, Callable[[_TierInputs, TierThresholds], bool]]

TIER_RULES: tuple[_TierRule, ...] = (
    (Tier.Tl0, "ZSI identity not validated", lambda i, t: not i.zsi_validated),
    (
        Tier.Tl1,
        "hours_online < tier2_min_uptime_hours",
        lambda i, t: i.hours_online < t.tier2_min_uptime_hours,
    ),
    (
        Tier.Tl2,
        "consensus_success < tier3_min_consensus_success",
        lambda i, t: i.consensus_success < t.tier3_min_consensus_success,
    ),
    (
        Tier.Tl3,
        "consensus_success < tier4_min_consensus_success",
        lambda i, t: i.consensus_success < t.tier4_min_consensus_success,
    ),
    (Tier.Tl4, "score < tier5_min_score", lambda i, t: i.score < t.tier5_min_score),
    (Tier.Tl5, "otherwise", lambda i, t: True),
)
"""First match wins (``update_tier_with``,
docs/operations.md#reputation-timetoke-and-governance-keys table)."""

TIER_EVENTS: dict[str, str] = {
    "register_identity": "zsi_validated ← true (Tl0 → Tl1)",
    "uptime_proof": "hours_online += credited hours (Tl1 → Tl2 at tier2_min_uptime_hours)",
    "timetoke_decay": "hours_online −= decay_step_hours per interval (can drop Tl2 → Tl1)",
    "timetoke_merge": "hours_online ← a peer's newer balance (either direction)",
    "consensus_reward": "consensus_success += 1 (Tl2 → Tl3 → Tl4; only Tl3+ are ever paid)",
    "recompute": "score from the counters and the time since the previous recompute (Tl4 ↔ Tl5)",
    "slash": "zsi invalidated, counters and timetoke zeroed, score 0 (any → Tl0, permanently)",
}
"""Which ledger event moves which counter; the tier follows from ``TIER_RULES``
(docs/protocol.md#reputation)."""


def compute_tier(
    *,
    zsi_validated: bool,
    hours_online: int,
    consensus_success: int,
    score: float,
    thresholds: TierThresholds,
) -> Tier:
    """The first rule of ``TIER_RULES`` that matches the counters (docs/protocol.md#reputation
    "Tier")."""
    inputs = _TierInputs(zsi_validated, hours_online, consensus_success, score)
    for tier, _, matches in TIER_RULES:
        if matches(inputs, thresholds):
            return tier
    raise AssertionError("TIER_RULES ends with a catch-all rule")


_NEVER_ONLINE = TimetokeBalance()


@dataclass(frozen=True, slots=True)
class ReputationProfile:
    """An account's reputation (``ReputationProfile``, docs/protocol.md#reputation); holds its
    timetoke balance."""

    zsi_validated: bool = False
    timetoke: TimetokeBalance = _NEVER_ONLINE
    consensus_success: int = 0
    peer_feedback: int = 0
    last_decay_timestamp: int = 0
    score: float = 0.0
    tier: Tier = Tier.Tl0

    @property
    def hours_online(self) -> int:
        """Credited timetoke hours (``timetokes.hours_online``)."""
        return self.timetoke.hours_online


def process_recompute(
    profile: ReputationProfile,
    weights: ReputationWeights,
    thresholds: TierThresholds,
    now: int,
) -> ReputationProfile:
    """Score, then tier, then last_decay = now (``recompute_with_params`` + caller,
    docs/protocol.md#reputation)."""
    return _compute_recomputed(profile, profile.consensus_success, weights, thresholds, now)


def process_consensus_success(
    profile: ReputationProfile,
    weights: ReputationWeights,
    thresholds: TierThresholds,
    now: int,
) -> ReputationProfile:
    """consensus_success + 1, then the recompute (``reward_with_source``,
    docs/protocol.md#reputation, docs/protocol.md#rewards-and-treasury)."""
    return _compute_recomputed(profile, profile.consensus_success + 1, weights, thresholds, now)


@lru_cache(maxsize=1 << 12)
def _compute_recomputed(
    profile: ReputationProfile,
    consensus_success: int,
    weights: ReputationWeights,
    thresholds: TierThresholds,
    now: int,
) -> ReputationProfile:
    """``profile`` with ``consensus_success``, recomputed at ``now`` (one record built).

    Memoized process-wide by value (all inputs are frozen): the nodes of a run apply the same
    rewards to the same profiles, and the result is a pure function of these inputs.
    """
    score = compute_score(
        zsi_validated=profile.zsi_validated,
        hours_online=profile.timetoke.hours_online,
        consensus_success=consensus_success,
        peer_feedback=profile.peer_feedback,
        last_decay_timestamp=profile.last_decay_timestamp,
        weights=weights,
        now=now,
    )
    tier = compute_tier(
        zsi_validated=profile.zsi_validated,
        hours_online=profile.timetoke.hours_online,
        consensus_success=consensus_success,
        score=score,
        thresholds=thresholds,
    )
    return ReputationProfile(  # the constructor: several times faster than replace() here
        profile.zsi_validated,
        profile.timetoke,
        consensus_success,
        profile.peer_feedback,
        now,
        score,
        tier,
    )


def process_score_penalty(
    profile: ReputationProfile, factor: float, thresholds: TierThresholds
) -> ReputationProfile:
    """score × ``factor`` (clamped to [0, 1]), tier re-derived, counters and last_decay kept
    (the crate's ``record_censorship`` / ``record_inactivity``; ``rppsim.node.participation``).

    The next recompute (a reward, an uptime credit, a transfer) derives the score from the
    counters again, so the cut lasts until then.
    """
    score = min(max(profile.score * factor, 0.0), 1.0)
    tier = compute_tier(
        zsi_validated=profile.zsi_validated,
        hours_online=profile.timetoke.hours_online,
        consensus_success=profile.consensus_success,
        score=score,
        thresholds=thresholds,
    )
    return replace(profile, score=score, tier=tier)


def compute_minimum_transaction_tier(thresholds: TierThresholds) -> Tier:
    """Tl2 if tier2_min_uptime_hours > 0, else Tl1
    (docs/operations.md#reputation-timetoke-and-governance-keys)."""
    return Tier.Tl2 if thresholds.tier2_min_uptime_hours > 0 else Tier.Tl1


def compute_transaction_problem(
    profile: ReputationProfile, thresholds: TierThresholds
) -> str | None:
    """Why ``profile`` may not send a transaction, or None (docs/protocol.md#reputation
    "Permissions").

    Needs a validated ZSI, ≥ tier2_min_uptime_hours, and a tier at least the one its counters
    give and at least the minimum transacting tier. Labels: ``zsi_not_validated``,
    ``insufficient_uptime``, ``tier_too_low``.
    """
    if not profile.zsi_validated:
        return "zsi_not_validated"
    if profile.timetoke.hours_online < thresholds.tier2_min_uptime_hours:
        return "insufficient_uptime"
    derived = compute_tier(
        zsi_validated=True,
        hours_online=profile.timetoke.hours_online,
        consensus_success=profile.consensus_success,
        score=profile.score,
        thresholds=thresholds,
    )
    if profile.tier < max(derived, compute_minimum_transaction_tier(thresholds)):
        return "tier_too_low"
    return None


def compute_gossip_topic(name: str) -> str:
    """The topic string ``/rpp/gossip/<name>/1.0.0`` (docs/protocol.md#reputation "Permissions")."""
    return f"/rpp/gossip/{name}/1.0.0"


GOSSIP_TOPICS: dict[str, str] = {
    name: compute_gossip_topic(name)
    for name in (
        "blocks",
        "votes",
        "proofs",
        "snapshots",
        "meta",
        "vrf/proofs",
        "vrf/meta",
        "witness/proofs",
        "witness/meta",
    )
}
"""Short topic name → topic string."""

PUBLISH_TIERS: dict[str, Tier] = {
    GOSSIP_TOPICS["blocks"]: Tier.Tl3,
    GOSSIP_TOPICS["votes"]: Tier.Tl3,
    GOSSIP_TOPICS["vrf/proofs"]: Tier.Tl2,
    GOSSIP_TOPICS["witness/proofs"]: Tier.Tl2,
    GOSSIP_TOPICS["proofs"]: Tier.Tl1,
    GOSSIP_TOPICS["snapshots"]: Tier.Tl1,
    GOSSIP_TOPICS["vrf/meta"]: Tier.Tl1,
    GOSSIP_TOPICS["witness/meta"]: Tier.Tl1,
    GOSSIP_TOPICS["meta"]: Tier.Tl0,
}
"""Minimum tier to publish per topic (``TopicPermission::default_for``); subscribing needs Tl0."""


def is_allowed_to_publish(tier: Tier, topic: str) -> bool:
    """Whether a peer of ``tier`` may publish on ``topic``; unknown topics are refused."""
    required = PUBLISH_TIERS.get(topic)
    return required is not None and tier >= required
