"""Reputation score, tiers and permissions (docs/protocol.md#reputation; vectors of
docs/protocol.md#test-vectors items 2, 11)."""

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.reputation import (
    GOSSIP_TOPICS,
    PUBLISH_TIERS,
    TIER_RULES,
    ReputationProfile,
    ReputationWeights,
    Tier,
    TierThresholds,
    compute_minimum_transaction_tier,
    compute_score,
    compute_tier,
    compute_transaction_problem,
    is_allowed_to_publish,
    parse_tier,
    process_consensus_success,
    process_recompute,
    validate_weights,
)
from rppsim.node.timetoke import TimetokeBalance

WEIGHTS = ReputationWeights()
THRESHOLDS = TierThresholds()
TEST_THRESHOLDS = TierThresholds(12, 4, 7, 0.8)


def _score(hours: int, successes: int, validated: bool = True) -> float:
    return compute_score(
        zsi_validated=validated,
        hours_online=hours,
        consensus_success=successes,
        peer_feedback=0,
        last_decay_timestamp=0,
        weights=WEIGHTS,
        now=0,
    )


def _tier(hours: int, successes: int, score: float, thresholds=TEST_THRESHOLDS) -> Tier:
    return compute_tier(
        zsi_validated=True,
        hours_online=hours,
        consensus_success=successes,
        score=score,
        thresholds=thresholds,
    )


def test_worked_scores():
    assert round(_score(24, 10), 4) == 0.5415
    assert round(_score(720, 100), 4) == 0.7084


def test_trusted_at_720_hours_needs_178_successes():
    assert _tier(720, 178, _score(720, 178), THRESHOLDS) is Tier.Tl5
    assert _tier(720, 177, _score(720, 177), THRESHOLDS) is Tier.Tl4


def test_decay_term_grows_with_time_since_recompute():
    fresh = _score(24, 10)
    week_later = compute_score(
        zsi_validated=True,
        hours_online=24,
        consensus_success=10,
        peer_feedback=0,
        last_decay_timestamp=0,
        weights=WEIGHTS,
        now=7 * 86400,
    )
    assert week_later == pytest.approx(fresh - 0.05 * (1 - math.exp(-1)))


def test_weight_validation_vectors():
    assert "OutOfRange(w_v)" in validate_weights(ReputationWeights(-0.1, 0.5, 0.5, 0.1, 0.0))
    assert "NotNormalized" in validate_weights(ReputationWeights(0.5, 0.3, 0.3, 0.1, 0.0))
    assert validate_weights(ReputationWeights(0.4000002, 0.1999999, 0.2, 0.15, 0.05)) is None
    assert validate_weights(WEIGHTS) is None
    assert "OutOfRange(w_d)" in validate_weights(replace(WEIGHTS, decay=math.nan))


@pytest.mark.parametrize(
    ("below", "at", "low"),
    [
        ((11, 3, 0.8), (12, 3, 0.8), Tier.Tl1),  # hours
        ((12, 3, 0.8), (12, 4, 0.8), Tier.Tl2),  # successes, tier 3 threshold
        ((12, 6, 0.79), (12, 7, 0.79), Tier.Tl3),  # successes, tier 4 threshold
        ((12, 7, 0.79), (12, 7, 0.8), Tier.Tl4),  # score
    ],
)
def test_tier_boundaries_both_directions(below, at, low):
    """Thresholds (12 h, 4, 7, 0.8): up at the boundary, down again just below it."""
    assert _tier(*below) is low
    assert _tier(*at) is Tier(low + 1)
    assert _tier(*below) is low


def test_unvalidated_is_always_new():
    tier = compute_tier(
        zsi_validated=False,
        hours_online=720,
        consensus_success=500,
        score=1.0,
        thresholds=TEST_THRESHOLDS,
    )
    assert tier is Tier.Tl0
    assert TIER_RULES[0][0] is Tier.Tl0
    assert TIER_RULES[-1][0] is Tier.Tl5


def test_recompute_sets_score_tier_and_decay_reference():
    profile = ReputationProfile(
        zsi_validated=True,
        timetoke=TimetokeBalance(hours_online=24),
        consensus_success=10,
        last_decay_timestamp=500,
    )
    updated = process_recompute(profile, WEIGHTS, THRESHOLDS, 500)
    assert round(updated.score, 4) == 0.5415
    assert updated.tier is Tier.Tl3
    assert updated.last_decay_timestamp == 500
    assert updated.hours_online == 24


def test_names_and_parsing():
    assert [t.display_name for t in Tier] == [
        "New",
        "Validated",
        "Available",
        "Committed",
        "Reliable",
        "Trusted",
    ]
    assert parse_tier("Tl3") is Tier.Tl3
    assert parse_tier("Committed") is Tier.Tl3
    assert parse_tier("Tl9") is None
    assert parse_tier(3) is None


def test_publish_permissions_per_topic():
    assert GOSSIP_TOPICS["vrf/proofs"] == "/rpp/gossip/vrf/proofs/1.0.0"
    assert PUBLISH_TIERS[GOSSIP_TOPICS["blocks"]] is Tier.Tl3
    assert not is_allowed_to_publish(Tier.Tl2, GOSSIP_TOPICS["votes"])
    assert is_allowed_to_publish(Tier.Tl3, GOSSIP_TOPICS["votes"])
    assert is_allowed_to_publish(Tier.Tl2, GOSSIP_TOPICS["witness/proofs"])
    assert not is_allowed_to_publish(Tier.Tl0, GOSSIP_TOPICS["snapshots"])
    assert is_allowed_to_publish(Tier.Tl0, GOSSIP_TOPICS["meta"])
    assert not is_allowed_to_publish(Tier.Tl5, "/rpp/gossip/unknown/1.0.0")


@settings(max_examples=100)
@given(st.floats(min_value=0.0, max_value=9.999, allow_nan=False))
def test_peer_score_admission(score):
    """docs/protocol.md#test-vectors item 11: witness_proofs iff ⌊score⌋ ≥ 2, votes iff ⌊score⌋ ≥
    3."""
    tier = Tier(min(math.floor(score), 5))
    assert is_allowed_to_publish(tier, GOSSIP_TOPICS["witness/proofs"]) == (math.floor(score) >= 2)
    assert is_allowed_to_publish(tier, GOSSIP_TOPICS["votes"]) == (math.floor(score) >= 3)


def test_minimum_transaction_tier_and_problems():
    assert compute_minimum_transaction_tier(THRESHOLDS) is Tier.Tl2
    assert compute_minimum_transaction_tier(replace(THRESHOLDS, tier2_min_uptime_hours=0)) is (
        Tier.Tl1
    )
    ok = process_recompute(
        ReputationProfile(zsi_validated=True, timetoke=TimetokeBalance(hours_online=30)),
        WEIGHTS,
        THRESHOLDS,
        0,
    )
    assert compute_transaction_problem(ok, THRESHOLDS) is None
    assert compute_transaction_problem(replace(ok, zsi_validated=False), THRESHOLDS) == (
        "zsi_not_validated"
    )
    short = replace(ok, timetoke=TimetokeBalance(hours_online=5))
    assert compute_transaction_problem(short, THRESHOLDS) == "insufficient_uptime"
    stale = replace(ok, consensus_success=20, tier=Tier.Tl2)  # counters say Tl3
    assert compute_transaction_problem(stale, THRESHOLDS) == "tier_too_low"


counters = st.tuples(
    st.booleans(),
    st.integers(0, 2000),
    st.integers(0, 1000),
    st.integers(-100, 500),
    st.integers(0, 10**7),
)


@settings(max_examples=100)
@given(counters)
def test_score_stays_in_unit_interval(values):
    validated, hours, successes, feedback, elapsed = values
    score = compute_score(
        zsi_validated=validated,
        hours_online=hours,
        consensus_success=successes,
        peer_feedback=feedback,
        last_decay_timestamp=0,
        weights=WEIGHTS,
        now=elapsed,
    )
    assert 0.0 <= score <= 1.0


@settings(max_examples=100)
@given(counters, st.integers(0, 100), st.integers(0, 100))
def test_tier_is_monotone_in_its_counters(values, more_hours, more_successes):
    """More hours, more successes or a validated ZSI never lower the tier (score recomputed)."""
    validated, hours, successes, feedback, elapsed = values

    def tier_of(v: bool, h: int, c: int) -> Tier:
        score = compute_score(
            zsi_validated=v,
            hours_online=h,
            consensus_success=c,
            peer_feedback=feedback,
            last_decay_timestamp=0,
            weights=WEIGHTS,
            now=elapsed,
        )
        return compute_tier(
            zsi_validated=v,
            hours_online=h,
            consensus_success=c,
            score=score,
            thresholds=THRESHOLDS,
        )

    base = tier_of(validated, hours, successes)
    assert tier_of(validated, hours + more_hours, successes) >= base
    assert tier_of(validated, hours, successes + more_successes) >= base
    assert tier_of(True, hours, successes) >= base


@settings(max_examples=50, deadline=None)
@given(
    validated=st.booleans(),
    hours=st.integers(0, 10_000),
    successes=st.integers(0, 1_000),
    feedback=st.integers(-100, 100),
    elapsed=st.integers(0, 30 * 86400),
)
def test_consensus_success_is_one_more_success_then_a_recompute(
    validated, hours, successes, feedback, elapsed
):
    """process_consensus_success = process_recompute of the profile with one more success."""
    profile = ReputationProfile(
        zsi_validated=validated,
        timetoke=TimetokeBalance(hours_online=hours),
        consensus_success=successes,
        peer_feedback=feedback,
        last_decay_timestamp=1_000,
    )
    now = 1_000 + elapsed
    expected = process_recompute(
        replace(profile, consensus_success=successes + 1), WEIGHTS, TEST_THRESHOLDS, now
    )
    assert process_consensus_success(profile, WEIGHTS, TEST_THRESHOLDS, now) == expected
    assert expected.consensus_success == successes + 1
