"""Each vectorised rule of rppsim.model.rules equals the node's scalar function."""

from __future__ import annotations

import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.model import rules
from rppsim.node import selection
from rppsim.node.ledger import Ledger, LedgerParams, compute_leader_bonus
from rppsim.node.participation import Misses, ParticipationParams
from rppsim.node.participation import compute_misses as scalar_misses
from rppsim.node.reputation import (
    ReputationWeights,
    Tier,
    TierThresholds,
    compute_score,
    compute_tier,
)
from rppsim.node.selection import (
    EpochThresholdStrategy,
    VrfProof,
    VrfSubmission,
    compute_epoch_threshold_strategy,
    compute_quorum,
    compute_round_half_away,
    compute_submission_weight,
    compute_voting_power,
    select_leader,
    select_validators,
)
from rppsim.node.timetoke import (
    TimetokeBalance,
    TimetokeParams,
    process_decay,
    process_record_proof,
)
from rppsim.node.vrf_input import PoseidonVrfInput, derive_tier_seed

D = selection.VRF_RANDOMNESS_DOMAIN
U53 = 1 << 53
tiers_st = st.integers(0, 5)
hours_st = st.integers(0, 2000)
SETTINGS = settings(max_examples=60, deadline=None)


def _u(r: int) -> float:
    """The model's 53-bit fraction of a 256-bit randomness."""
    return (r >> 203) / U53


@SETTINGS
@given(st.lists(st.tuples(tiers_st, hours_st), min_size=1, max_size=30))
def test_weights_equal(rows):
    tiers, hours = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    got = rules.compute_weights(tiers, hours)
    assert got.tolist() == [compute_submission_weight(Tier(t), h) for t, h in rows]


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, D - 1), st.integers(1, 6 * 720)), min_size=1))
def test_weighted_randomness_within_bound(rows):
    r = [x >> 203 << 203 for x, _ in rows]  # randomness the model can represent
    w = np.array([w for _, w in rows], np.int64)
    got = rules.compute_weighted_u(np.array([_u(x) for x in r]), w)
    for value, x, wi in zip(got, r, w, strict=True):
        exact = (x // int(wi)) / D
        assert abs(value - exact) <= 2.0**-52 * exact + 2.0**-53 / wi


@SETTINGS
@given(
    st.lists(st.integers(1, D - 1), min_size=1, max_size=200),
    st.integers(-2, 250),
)
def test_threshold_base_within_bound(values, target):
    strategy = compute_epoch_threshold_strategy(0, target, values)
    base_u, span_u = rules.compute_threshold_base_u(np.array([v / D for v in values]), target)
    assert abs(base_u - strategy.base_threshold / D) <= 2.0**-48 * max(base_u, 2.0**-200)
    if strategy.adjustment_span > 1:
        assert abs(span_u - strategy.adjustment_span / D) <= 2.0**-48 * span_u


@SETTINGS
@given(
    st.integers(0, D),
    st.integers(1, 4000),
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=20),
)
def test_thresholds_within_bound(base, n, seeds):
    span = max(D // (4 * n), 1)
    strategy = EpochThresholdStrategy(3, base, base, span)
    exact = [strategy.threshold_for_seed(s) for s in seeds]
    jitters = [hashlib.blake2s(strategy.jitter_prefix + s).digest() for s in seeds]
    offsets = np.array([(int.from_bytes(j, "big") % span) / D for j in jitters])
    lower = np.array([bool(j[0] & 1) for j in jitters])
    got = rules.compute_thresholds_u(base / D, span / D, offsets, lower)
    for value, e in zip(got, exact, strict=True):
        assert abs(value - e / D) <= 2.0**-48 * max(e / D, 2.0**-200)


def _submission(i: int, tier: int, hours: int, r: int) -> VrfSubmission:
    address = hashlib.blake2s(i.to_bytes(4, "big")).hexdigest()
    vrf_input = PoseidonVrfInput(bytes(32), 5, derive_tier_seed(address, hours))
    proof = VrfProof(r, r.to_bytes(32, "big") + bytes(32), bytes(80))
    return VrfSubmission(address, b"k" * 32, vrf_input, proof, Tier(tier), hours)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(3, 5), st.integers(1, 720), st.integers(1, U53 - 1)),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 70),
)
def test_selection_equals_select_validators(rows, target):
    """Weights, threshold with jitter, acceptance, fallback and leader against the node's
    ``select_validators`` and ``select_leader`` on one pool (proofs taken as verified)."""
    subs = [_submission(i, t, h, u << 203) for i, (t, h, u) in enumerate(rows)]
    result = select_validators(subs, target, verify=lambda s: True)
    by_address = sorted(range(len(subs)), key=lambda i: subs[i].address)
    tiers = np.array([rows[i][0] for i in by_address], np.int64)
    hours = np.array([rows[i][1] for i in by_address], np.int64)
    r_u = np.array([rows[i][2] / U53 for i in by_address])
    weights = rules.compute_weights(tiers, hours)
    wr = rules.compute_weighted_u(r_u, weights)
    base_u, span_u = rules.compute_threshold_base_u(wr, target)
    strategy = compute_epoch_threshold_strategy(
        5, target, [v.weighted_randomness for v in result.verified]
    )
    jit = [
        hashlib.blake2s(strategy.jitter_prefix + subs[i].input.tier_seed).digest()
        for i in by_address
    ]
    offsets = np.array([(int.from_bytes(j, "big") % strategy.adjustment_span) / D for j in jit])
    lower = np.array([bool(j[0] & 1) for j in jit])
    thresholds = rules.compute_thresholds_u(base_u, span_u, offsets, lower)
    exact = [t / D for t in result.thresholds]
    wr_exact = [v.weighted_randomness / D for v in result.verified]
    near = [abs(a - b) <= 2.0**-44 * max(a, b) for a, b in zip(wr_exact, exact, strict=True)]
    accepted = wr < thresholds
    want = [
        v.weighted_randomness < t for v, t in zip(result.verified, result.thresholds, strict=True)
    ]
    assert [a for a, n in zip(accepted, near, strict=True) if not n] == [
        w for w, n in zip(want, near, strict=True) if not n
    ]
    assert not any(near)  # the band is measure-zero on 53-bit draws
    order = rules.compute_leader_order(tiers, hours, weights, wr)
    leader = select_leader(result.verified)
    assert leader is not None and result.verified[order[0]].address == leader.address
    if result.fallback is not None:
        misses = np.flatnonzero(~accepted)
        best = rules.compute_fallback_index(
            tiers[misses], hours[misses], weights[misses], wr[misses]
        )
        assert result.verified[misses[best]].address == result.fallback.submission.address


@SETTINGS
@given(st.floats(-1e6, 1e6, allow_nan=False))
def test_round_half_away_equal(value):
    assert rules.compute_round_half_away(value) == compute_round_half_away(value)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 10**7), st.floats(0.0, 1.0), st.integers(0, 5000)),
        min_size=1,
        max_size=30,
    )
)
def test_voting_power_and_quorum_equal(rows):
    stakes, scores, hours = (np.array(c) for c in zip(*rows, strict=True))
    powers = rules.compute_voting_powers(stakes.astype(np.int64), scores, hours.astype(np.int64))
    exact = [compute_voting_power(s, sc, h) for s, sc, h in rows]
    assert powers.tolist() == exact
    total = rules.compute_total_power(powers)
    assert total == sum(exact)
    assert rules.compute_quorum(total) == compute_quorum(sum(exact))


def test_total_power_refuses_overflow():
    try:
        rules.compute_total_power(np.array([1 << 61, 1 << 61], np.int64))
    except OverflowError:
        return
    raise AssertionError("no OverflowError")


@SETTINGS
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 2000), st.integers(0, 3000), st.integers(0, 10**7)),
        min_size=1,
        max_size=20,
    ),
    st.integers(0, 10**7),
    st.sampled_from([ReputationWeights(), ReputationWeights(0.2, 0.3, 0.3, 0.1, 0.1)]),
)
def test_score_and_tier_within_bound(rows, now, weights):
    thresholds = TierThresholds()
    zsi, hours, successes, last = (np.array(c) for c in zip(*rows, strict=True))
    w = np.array(
        [
            weights.validation,
            weights.uptime,
            weights.consensus,
            weights.peer_feedback,
            weights.decay,
        ]
    )
    scores = rules.compute_scores(
        zsi, hours.astype(np.int64), successes.astype(np.int64), last.astype(np.int64), now, w
    )
    t = np.array(
        [
            thresholds.tier2_min_uptime_hours,
            thresholds.tier3_min_consensus_success,
            thresholds.tier4_min_consensus_success,
            thresholds.tier5_min_score,
        ]
    )
    tiers = rules.compute_tiers(zsi, hours.astype(np.int64), successes.astype(np.int64), scores, t)
    for (z, h, c, ld), score, tier in zip(rows, scores, tiers, strict=True):
        exact = compute_score(
            zsi_validated=z,
            hours_online=h,
            consensus_success=c,
            peer_feedback=0,
            last_decay_timestamp=ld,
            weights=weights,
            now=now,
        )
        assert abs(score - exact) <= 1e-12
        if abs(exact - thresholds.tier5_min_score) > 1e-12:
            assert tier == compute_tier(
                zsi_validated=z,
                hours_online=h,
                consensus_success=c,
                score=exact,
                thresholds=thresholds,
            )


@SETTINGS
@given(st.integers(0, 800), st.integers(1, 900), st.integers(0, 20), st.integers(3600, 90_000))
def test_credit_equal(hours, cap, last_hours_ago, duration):
    params = TimetokeParams(accrual_cap_hours=cap)
    balance = TimetokeBalance(hours, last_proof_timestamp=10**6)
    end = 10**6 + duration
    start = end - 3600 * (last_hours_ago + 1)
    _, credited = process_record_proof(balance, params, start, end)
    effective = end - max(start, 10**6)
    earned = effective // 3600 if effective >= params.minimum_window_secs else 0
    got = rules.compute_credits(np.array([hours]), np.array([earned]), cap)[0]
    assert got == (-1 if credited is None else credited)


@SETTINGS
@given(st.integers(0, 800), st.integers(0, 10**7), st.integers(1, 5), st.integers(1, 86400))
def test_decay_equal(hours, elapsed, step, interval):
    params = TimetokeParams(decay_interval_secs=interval, decay_step_hours=step)
    balance = TimetokeBalance(hours, last_decay_timestamp=1000)
    after, _ = process_decay(balance, params, 1000 + elapsed)
    periods = np.array([elapsed // interval])
    assert hours - rules.compute_decay(np.array([hours]), periods, step)[0] == after.hours_online


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.booleans(), st.booleans()
        ),
        min_size=1,
        max_size=20,
    ),
    st.integers(0, 4),
    st.integers(0, 5),
)
def test_misses_equal(rows, votes, inactivity):
    params = ParticipationParams(censorship_vote_threshold=votes, inactivity_threshold=inactivity)
    counters = np.array([[a, b, c] for a, b, c, _, _ in rows], np.int64)
    members = np.arange(len(rows)) % 3 != 2  # every third validator is not a member
    before = counters.copy()
    found = rules.compute_misses(
        counters,
        members,
        np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows]),
        votes,
        inactivity,
    )
    assert (counters[~members] == before[~members]).all() and not found[~members].any()
    for (a, b, c, pv, pc), after, hits in zip(
        [r for r, m in zip(rows, members, strict=True) if m],
        counters[members],
        found[members],
        strict=True,
    ):
        misses, detections = scalar_misses(Misses(a, b, c), pv, pc, params)
        assert after.tolist() == [misses.prevotes, misses.precommits, misses.inactive]
        kinds = {"censorship_prevote": 0, "censorship_precommit": 1, "inactivity": 2}
        assert sorted(kinds[k.value] for k, _ in detections) == np.flatnonzero(hits).tolist()


class _Profile:
    def __init__(self, address, tier, hours, randomness):
        self.address, self.tier, self.timetoke_hours, self.randomness = (
            address,
            tier,
            hours,
            randomness,
        )


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(3, 5), st.integers(0, 5), st.integers(1, U53 - 1)),
        min_size=1,
        max_size=25,
        unique_by=lambda r: r[2],
    ),
    st.integers(0, 500),
    st.integers(0, 40),
    st.data(),
)
def test_payouts_equal(rows, fees, pct, data):
    ledger = Ledger(LedgerParams(leader_bonus_percent=pct))
    profiles = [_Profile(f"v{i:03d}", Tier(t), h, u << 203) for i, (t, h, u) in enumerate(rows)]
    leader = data.draw(st.integers(-1, len(rows) - 1))
    leader_address = profiles[leader].address if leader >= 0 else "outsider"
    outcome = ledger.process_consensus_rewards(profiles, leader_address, fees, 100)
    owed = {address: amount for address, amount, _ in outcome.payouts}
    got = rules.compute_payouts(
        5 + fees,
        np.array([r[0] for r in rows], np.int64),
        np.array([r[1] for r in rows], np.int64),
        np.array([r[2] / U53 for r in rows]),
        leader,
        pct,
    )
    assert got.tolist() == [owed[p.address] for p in profiles]
    if leader < 0:
        assert owed.get("outsider", 0) == compute_leader_bonus(5 + fees, pct)


@SETTINGS
@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=10), st.sampled_from([10, 25, 50]))
def test_slashed_stakes_equal(stakes, percent):
    got = rules.compute_slashed_stakes(np.array(stakes, np.int64), percent)
    assert got.tolist() == [s * (100 - percent) // 100 for s in stakes]


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.integers(3, 5), st.integers(0, 3), st.integers(1, 40), st.integers(1, U53 - 1)
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda r: r[3],
    )
)
def test_leader_index_is_first_of_order(rows):
    tiers, hours, weights, wr = (np.array(c) for c in zip(*rows, strict=True))
    wr = wr / U53
    order = rules.compute_leader_order(tiers, hours, weights, wr)
    assert rules.compute_leader_index(tiers, hours, weights, wr) == order[0]


@SETTINGS
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 900), st.integers(0, 6000), st.integers(0, 10**6)),
        min_size=1,
        max_size=20,
    ),
    st.integers(0, 10**6),
)
def test_tabled_scores_equal_scores(rows, now):
    zsi, hours, successes, last = (np.array(c) for c in zip(*rows, strict=True))
    hours, successes, last = (a.astype(np.int64) for a in (hours, successes, last))
    w = np.array([0.4, 0.2, 0.2, 0.15, 0.05])
    tables = (
        rules.compute_saturation_table(rules.UPTIME_SCALE_HOURS, 721),
        rules.compute_saturation_table(rules.CONSENSUS_SCALE, 4096),
        rules.compute_saturation_table(rules.DECAY_SCALE_SECS, 4096),
    )
    plain = rules.compute_scores(zsi, hours, successes, last, now, w)
    tabled = rules.compute_scores_tabled(zsi, hours, successes, last, now, w, tables)
    assert plain.tolist() == tabled.tolist()


@SETTINGS
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300), st.data())
def test_kth_smallest_equal(values, data):
    k = data.draw(st.integers(1, len(values)))
    assert rules.compute_kth_smallest(np.array(values), k) == sorted(values)[k - 1]


@SETTINGS
@given(
    st.integers(128, 1000),
    st.integers(1, 40),
    st.sampled_from(["random", "sorted", "reversed", "constant"]),
    st.integers(0, 2**32),
    st.data(),
)
def test_kth_smallest_of_large_arrays_equal(n, distinct, shape, seed, data):
    """Random draws, few distinct values, and orders that defeat a median-of-three pivot."""
    values = np.random.default_rng(seed).integers(0, distinct, n).astype(float)
    values += np.random.default_rng(seed + 1).random(n) if shape == "random" else 0.0
    values = {"sorted": np.sort(values), "reversed": np.sort(values)[::-1].copy()}.get(
        shape, np.full(n, 3.0) if shape == "constant" else values
    )
    k = data.draw(st.integers(1, n))
    assert rules.compute_kth_smallest(values, k) == np.sort(values)[k - 1]
