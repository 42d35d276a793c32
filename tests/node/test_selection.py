"""VRF selection, leader, participants, power and quorum
(docs/protocol.md#submissions-and-rejections to docs/protocol.md#epochs-and-replay-protection,
docs/protocol.md#rounds-and-quorum).

Vectors of docs/protocol.md#test-vectors items 1, 5 and 6.
"""

import dataclasses
import hashlib
from collections import Counter
from dataclasses import replace
from fractions import Fraction
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node import selection as sel
from rppsim.node import vrf
from rppsim.node.reputation import ReputationProfile, Tier
from rppsim.node.selection import (
    DEFAULT_ENTROPY_STATE,
    VRF_RANDOMNESS_DOMAIN,
    RejectionKind,
    ValidatorCandidate,
    VerifiedSubmission,
    VrfEpochManager,
    VrfProof,
    VrfSubmission,
    classify_participants,
    compute_capped_committee,
    compute_entropy_update,
    compute_epoch_threshold_strategy,
    compute_quorum,
    compute_round_half_away,
    compute_round_validators,
    compute_submission,
    compute_threshold_for_seed,
    compute_total_power,
    compute_validation,
    compute_voting_power,
    parse_vrf_proof,
    select_leader,
    select_validators,
)
from rppsim.node.timetoke import TimetokeBalance
from rppsim.node.vrf_input import PoseidonVrfInput, derive_tier_seed

HEADER = bytes([0x11]) * 32
EPOCH = 42
D = VRF_RANDOMNESS_DOMAIN


@cache
def _keys(label: str) -> tuple[bytes, bytes]:
    return vrf.keypair(hashlib.blake2s(b"test-selection/" + label.encode()).digest())


@cache
def real_submission(address: str, tier: Tier = Tier.Tl3, hours: int = 12) -> VrfSubmission:
    secret, public_key = _keys(address)
    return compute_submission(
        address=address,
        secret=secret,
        public_key=public_key,
        last_block_header=HEADER,
        epoch=EPOCH,
        tier=tier,
        timetoke_hours=hours,
    )


def fake_submission(
    address: str, tier: Tier, hours: int, randomness: int, epoch: int = EPOCH
) -> VrfSubmission:
    """A submission whose proof is never checked (tests pass ``verify=ALWAYS``)."""
    proof = VrfProof(randomness, bytes(64), bytes(80))
    vrf_input = PoseidonVrfInput(HEADER, epoch, derive_tier_seed(address, max(hours, 0)))
    return VrfSubmission(address, b"\x01" * 32, vrf_input, proof, tier, hours)


def ALWAYS(_: VrfSubmission) -> bool:
    return True


def verified(address: str, tier: Tier, hours: int, randomness: int) -> VerifiedSubmission:
    outcome = compute_validation(fake_submission(address, tier, hours, randomness), ALWAYS)
    assert isinstance(outcome, VerifiedSubmission)
    return outcome


# --- docs/protocol.md#test-vectors item 1: select_validators reasons
# -------------------------------------------------


def test_valid_submission_verifies_and_is_accepted():
    result = select_validators([real_submission("addr_ok")], 1)
    assert [v.address for v in result.validators] == ["addr_ok"]
    assert result.fallback is None
    assert result.metrics.verified_submissions == 1


def test_zeroed_proof_is_invalid_without_fallback():
    good = real_submission("addr_invalid")
    zeroed = replace(good, proof=replace(good.proof, preoutput=bytes(64), proof=bytes(80)))
    result = select_validators([zeroed], 1)
    assert result.validators == ()
    assert result.rejected[0].reason.kind is RejectionKind.INVALID_PROOF
    assert result.fallback is None


@pytest.mark.parametrize("field", ["randomness", "preoutput", "proof"])
def test_tampered_outputs_are_rejected(field):
    good = real_submission("addr_tamper")
    value = getattr(good.proof, field)
    flip_top_byte = {"randomness": lambda v: v ^ (0xFF << 248)}
    tampered = flip_top_byte.get(field, lambda v: bytes([v[0] ^ 0xFF]) + v[1:])(value)
    bad = replace(good, proof=replace(good.proof, **{field: tampered}))
    reason = select_validators([bad], 1).rejected[0].reason
    assert str(reason) == "invalid proof: VRF verification failed"


def test_length_checks_give_malformed_proof():
    good = real_submission("addr_lengths")
    short = replace(good, proof=replace(good.proof, preoutput=bytes(63)))
    long = replace(good, proof=replace(good.proof, proof=bytes(81)))
    for bad in (short, long):
        reason = select_validators([bad], 1).rejected[0].reason
        assert reason.kind is RejectionKind.MALFORMED_PROOF
        assert str(reason).startswith("malformed proof: invalid VRF input: VRF ")


def test_randomness_beyond_32_bytes_is_an_encoding_mismatch():
    good = real_submission("addr_wide")
    wide = replace(good, proof=replace(good.proof, randomness=good.proof.randomness + D))
    reason = select_validators([wide], 1).rejected[0].reason
    assert str(reason) == "invalid proof: randomness encoding mismatch"


def test_target_zero_selects_nobody_and_flags_fallback():
    result = select_validators([real_submission("addr2")], 0)
    assert result.validators == ()
    assert result.fallback is not None
    assert result.fallback.reason.kind is RejectionKind.THRESHOLD_NOT_MET
    assert str(result.fallback.reason) == "randomness above threshold 0"
    assert result.metrics.fallback_selected
    assert result.metrics.accepted_validators == 0


def test_low_tier_is_rejected_with_the_chain_string():
    low = replace(real_submission("addr_low_tier"), tier=Tier.Tl2)
    result = select_validators([low], 1)
    assert result.validators == ()
    reason = result.rejected[0].reason
    assert reason.label == "tier_too_low"
    assert str(reason) == "tier too low (required Committed, received Available)"
    assert result.metrics.rejections_by_reason == {str(reason): 1}
    assert result.metrics.rejections_by_label == {"tier_too_low": 1}


def test_missing_public_key():
    keyless = replace(real_submission("addr_missing_pk"), public_key=None)
    reason = select_validators([keyless], 1).rejected[0].reason
    assert reason.kind is RejectionKind.MISSING_PUBLIC_KEY
    assert str(reason) == "missing VRF public key"


def test_audit_records_with_and_without_weight_fields():
    valid = real_submission("addr_audit")
    no_hours = replace(real_submission("addr_reject", hours=12), timetoke_hours=0)
    result = select_validators([no_hours, valid], 10)
    assert [record.address for record in result.audit] == ["addr_audit", "addr_reject"]
    accepted, rejected = result.audit
    assert accepted.verified and accepted.accepted
    assert accepted.threshold is not None and accepted.rejection_reason is None
    assert accepted.weight == 4 * 12 and accepted.weighted_randomness is not None
    assert not rejected.accepted and not rejected.verified
    assert str(rejected.rejection_reason) == "insufficient timetoke (minimum 1h, received 0h)"
    assert rejected.weight is None and rejected.weighted_randomness is None
    assert result.metrics.accepted_validators >= 1
    assert result.metrics.participation_rate > 0.0
    assert rejected.to_json_dict()["weight"] is None
    assert accepted.to_json_dict()["weight"] == "48"


# --- leader order ------------------------------------------------------------------------------


def test_leader_prefers_higher_tier_despite_higher_randomness():
    higher = verified("leader-tier", Tier.Tl4, 12, 50)
    lower = verified("follower-tier", Tier.Tl3, 12, 5)
    assert select_leader([lower, higher]) == higher


def test_leader_prefers_more_timetoke():
    more = verified("leader-tt", Tier.Tl3, 24, 50)
    fewer = verified("follower-tt", Tier.Tl3, 12, 5)
    assert select_leader([fewer, more]) == more


def test_leader_with_equal_tier_and_hours_has_minimum_randomness():
    result = select_validators(
        [real_submission("addr3", hours=10), real_submission("addr4", hours=10)], 10
    )
    assert len(result.validators) == 2
    leader = select_leader(result.validators)
    assert leader == min(result.validators, key=lambda v: v.randomness)


def test_leader_ties_break_on_smaller_address():
    a = verified("a", Tier.Tl3, 12, 7)
    b = verified("b", Tier.Tl3, 12, 7)
    assert select_leader([b, a]) == a
    assert select_leader([]) is None


# --- threshold ---------------------------------------------------------------------------------


def test_threshold_zero_when_target_is_zero():
    strategy = compute_epoch_threshold_strategy(5, 0, [10] * 5)
    assert strategy.base_threshold == 0
    assert compute_threshold_for_seed(strategy, bytes([0x11]) * 32) == 0


def test_threshold_saturates_when_target_covers_everyone():
    strategy = compute_epoch_threshold_strategy(7, 10, [10, 20])
    assert strategy.base_threshold == D
    assert strategy.threshold_for_seed(bytes([0x22]) * 32) == D


def test_threshold_tracks_the_quantile():
    strategy = compute_epoch_threshold_strategy(9, 2, [5, 15, 25, 35])
    assert strategy.quantile_threshold == 15
    assert strategy.base_threshold >= 15
    assert 15 <= strategy.threshold_for_seed(bytes([0x33]) * 32) <= D
    assert strategy.base_threshold == (D * 3 // 6 + 15) // 2
    assert strategy.adjustment_span == D // 16


def test_jitter_direction_follows_the_first_byte():
    strategy = compute_epoch_threshold_strategy(9, 2, [5, 15, 25, 35])
    for i in range(40):
        seed = bytes([i]) * 32
        jitter = hashlib.blake2s(b"chain.vrf.threshold" + (9).to_bytes(8, "big") + seed).digest()
        offset = int.from_bytes(jitter, "big") % strategy.adjustment_span
        sign = -1 if jitter[0] & 1 else 1
        assert compute_threshold_for_seed(strategy, seed) == strategy.base_threshold + sign * offset


def test_entropy_beacon_start_value():
    assert DEFAULT_ENTROPY_STATE.hex() == (
        "3864a46b9c61172ae0db6bcfa4006d45dd48cc9f08bf40d4996f06736d1bc715"
    )


# --- docs/protocol.md#test-vectors item 5: metrics
# -------------------------------------------------------------------


def test_single_submission_at_target_100_counts_one_one_one():
    metrics = select_validators([real_submission("single")], 100).metrics
    assert (metrics.pool_entries, metrics.verified_submissions, metrics.accepted_validators) == (
        1,
        1,
        1,
    )
    assert metrics.success_rate == pytest.approx(0.01)
    assert metrics.participation_rate == 1.0
    assert metrics.active_epoch_threshold == str(D)
    assert metrics.active_threshold_ratio == 1.0
    assert metrics.total_weight == "48"
    expected = compute_entropy_update(
        DEFAULT_ENTROPY_STATE,
        real_submission("single").proof.randomness,
        real_submission("single").input.tier_seed,
    )
    assert metrics.entropy_beacon == expected.hex()


def test_metrics_json_shape():
    empty = select_validators([], 100).metrics.to_json_dict()
    assert empty["total_weight"] == "0"
    assert empty["entropy_beacon"] == DEFAULT_ENTROPY_STATE.hex()
    assert "rejections_by_reason" not in empty
    assert "active_epoch_threshold" not in empty
    assert empty["latest_epoch"] is None
    missed = select_validators([real_submission("addr2")], 0).metrics
    data = missed.with_round(3).to_json_dict()
    assert data["rejections_by_reason"] == {"randomness above threshold 0": 1}
    assert data["latest_round"] == 3 and data["latest_epoch"] == EPOCH
    assert data["fallback_selected"] is True
    assert missed.rejection_rate == 1.0


def test_fallback_flag_is_set_even_when_others_pass():
    pool = [fake_submission(f"h{i}", Tier.Tl3, 1, (D - 1) - i) for i in range(20)]
    pool.append(fake_submission("lucky", Tier.Tl3, 1, 0))
    result = select_validators(pool, 1, verify=ALWAYS)
    assert result.validators  # someone passed
    assert result.metrics.fallback_selected
    missed = [r.submission.address for r in result.rejected]
    assert result.fallback.submission.address in missed


def test_fallback_is_the_best_threshold_miss():
    pool = [
        fake_submission("a", Tier.Tl3, 5, D - 1),
        fake_submission("b", Tier.Tl4, 5, D - 1),
        fake_submission("c", Tier.Tl4, 5, D - 1000),
        fake_submission("d", Tier.Tl3, 9, 10),
    ]
    result = select_validators(pool, 0, verify=ALWAYS)
    assert result.fallback.submission.address == "c"


def test_latest_epoch_is_the_highest_and_pool_last_insert_wins():
    first = fake_submission("x", Tier.Tl3, 5, 10, epoch=3)
    second = fake_submission("x", Tier.Tl3, 5, 11, epoch=4)
    other = fake_submission("y", Tier.Tl3, 5, 12, epoch=2)
    result = select_validators([first, other, second], 100, verify=ALWAYS)
    assert result.metrics.pool_entries == 2
    assert result.metrics.latest_epoch == 4
    assert {v.randomness for v in result.validators} == {11, 12}


def test_capped_committee_keeps_the_lowest_weighted_randomness():
    vs = [verified(name, Tier.Tl3, 1, r) for name, r in (("a", 40), ("b", 8), ("c", 20))]
    assert [v.address for v in compute_capped_committee(vs, 2)] == ["b", "c"]
    assert compute_capped_committee(vs, 0) == ()


# --- replay protection -------------------------------------------------------------------------


def test_epoch_manager_rejects_replays_and_tracks_entropy():
    submission = real_submission("epoch_mgr")
    manager = VrfEpochManager(64, submission.input.epoch)
    assert manager.process_submission(submission)
    assert not manager.process_submission(submission)
    manager.process_entropy(submission.input.epoch, bytes([0x42]) * 32)
    assert manager.entropy_hex == "42" * 32
    later = replace(submission, input=replace(submission.input, epoch=submission.input.epoch + 1))
    assert manager.process_submission(later)
    assert not manager.process_submission(submission)  # older epoch now


def test_proof_json_round_trip():
    proof = real_submission("json").proof
    data = proof.to_json_dict()
    assert data["randomness"] == str(proof.randomness)
    assert parse_vrf_proof(data) == proof
    assert parse_vrf_proof({**data, "proof": "zz"}) is None
    assert parse_vrf_proof({**data, "randomness": "-5"}) is None


# --- docs/protocol.md#rounds-and-quorum, docs/protocol.md#test-vectors item 6: participants, power,
# quorum -----------------------------------------


def test_voting_power_and_quorum_examples():
    power = compute_voting_power(1000, 1.0, 720)
    assert power == 1_442_000_000
    assert compute_quorum(power) == 961_333_335
    assert compute_quorum(0) == 0
    assert compute_voting_power(1000, 1.0, 10_000) == power  # hours saturate at 720


def test_rust_rounding_is_half_away_from_zero():
    assert [compute_round_half_away(x) for x in (0.5, 1.5, 2.5, -2.5, 2.4999999999999996)] == [
        1,
        2,
        3,
        -3,
        2,
    ]


@settings(max_examples=100)
@given(st.integers(min_value=1, max_value=10**30))
def test_quorum_is_ceil_two_thirds_plus_one(total):
    ceiling = -(-Fraction(2 * total, 3).numerator // Fraction(2 * total, 3).denominator)
    assert compute_quorum(total) == ceiling + 1
    assert compute_quorum(total) * 3 > 2 * total


class _Account:
    def __init__(self, address: str, tier: Tier, stake: int = 100) -> None:
        self.address = address
        self.stake = stake
        self.reputation = ReputationProfile(
            zsi_validated=tier > Tier.Tl0,
            timetoke=TimetokeBalance(hours_online=30),
            score=0.7,
            tier=tier,
        )


def test_classify_participants():
    accounts = [_Account(name, Tier(i)) for i, name in enumerate("fedcba")]
    candidates, observers = classify_participants(accounts)
    assert [c.address for c in candidates] == ["a", "b", "c"]
    assert [o.address for o in observers] == ["d", "e"]
    assert candidates[0] == ValidatorCandidate("a", 100, 0.7, Tier.Tl5, 30)


def test_round_validators_are_accepted_candidates_else_fallback():
    pool = [fake_submission(name, Tier.Tl3, 24, 1000 + i) for i, name in enumerate("abc")]
    candidates = [ValidatorCandidate(name, 10, 0.5, Tier.Tl3, 24) for name in "bcz"]
    result = select_validators(pool, 100, verify=ALWAYS)
    profiles = compute_round_validators(result, candidates)
    assert [p.address for p in profiles] == ["b", "c"]
    total = compute_total_power(profiles)
    assert total == sum(compute_voting_power(10, 0.5, 24) for _ in profiles)
    nobody = select_validators(pool, 0, verify=ALWAYS)
    assert nobody.fallback.submission.address == "a"  # lowest randomness, not a candidate
    assert compute_round_validators(nobody, candidates) == ()
    with_a = [*candidates, ValidatorCandidate("a", 10, 0.5, Tier.Tl3, 24)]
    assert [p.address for p in compute_round_validators(nobody, with_a)] == ["a"]


# --- determinism and the fast paths ------------------------------------------------------------
#
# ``select_validators`` is optimised (one Python pass, then C-level map/zip/compress);
# ``reference_selection`` below is the same selection written plainly from the per-submission
# rules, and the property tests require the two to agree on every field, order and type.


def reference_strategy(epoch: int, target: int, values: list[int]) -> sel.EpochThresholdStrategy:
    """docs/protocol.md#selection-weight-threshold-and-fallback "Per-epoch strategy", with a full
    sort for the k-th smallest value."""
    n = len(values)
    if target <= 0 or n == 0:
        return sel.EpochThresholdStrategy(epoch, 0, 0, 1)
    k = min(target, n)
    if k >= n:
        return sel.EpochThresholdStrategy(epoch, D, D, 1)
    quantile = sorted(values)[k - 1]
    base = min(max((D * (k + 1) // (n + 2) + quantile) // 2, quantile), D)
    return sel.EpochThresholdStrategy(epoch, base, quantile, max(D // (4 * n), 1))


def fallback_key(v: VerifiedSubmission) -> tuple[int, int, int, int, str]:
    """min of this = max of (tier, hours, weight, lower wr, smaller address)
    (docs/protocol.md#selection-weight-threshold-and-fallback)."""
    return (-v.tier, -v.timetoke_hours, -v.weight, v.weighted_randomness, v.address)


def reference_selection(pool, target: int, verify) -> sel.VrfSelectionResult:
    """select_validators written plainly from the per-submission rules
    (docs/protocol.md#submissions-and-rejections to
    docs/protocol.md#selection-weight-threshold-and-fallback)."""
    entries = sorted(sel.compute_submission_pool(pool).values(), key=lambda s: s.address)
    verified: list[tuple[VrfSubmission, VerifiedSubmission]] = []
    invalid: list[sel.RejectedSubmission] = []
    for submission in entries:
        outcome = compute_validation(submission, verify)
        if isinstance(outcome, VerifiedSubmission):
            verified.append((submission, outcome))
        else:
            invalid.append(sel.RejectedSubmission(submission, None, outcome))
    by_epoch: dict[int, list[int]] = {}
    for _, v in verified:
        by_epoch.setdefault(v.input.epoch, []).append(v.weighted_randomness)
    strategies = {e: reference_strategy(e, target, w) for e, w in sorted(by_epoch.items())}
    accepted, misses, thresholds, entropy = [], [], [], DEFAULT_ENTROPY_STATE
    missed: list[tuple[VerifiedSubmission, sel.RejectionReason]] = []
    for submission, v in verified:
        threshold = compute_threshold_for_seed(strategies[v.input.epoch], v.input.tier_seed)
        thresholds.append(threshold)
        if v.weighted_randomness < threshold:
            accepted.append(v)
            entropy = compute_entropy_update(entropy, v.randomness, v.input.tier_seed)
        else:
            reason = sel.RejectionReason(RejectionKind.THRESHOLD_NOT_MET, "", threshold)
            misses.append(sel.RejectedSubmission(submission, v.randomness, reason))
            missed.append((v, reason))
    rejected = sorted(invalid + misses, key=lambda r: r.submission.address)
    best = min(missed, key=lambda miss: fallback_key(miss[0]), default=None)
    latest = strategies[max(strategies)] if strategies else None
    reasons = Counter(str(r.reason) for r in rejected)
    labels = Counter(r.reason.label for r in rejected)
    n = len(entries)
    metrics = sel.VrfSelectionMetrics(
        pool_entries=n,
        unique_addresses=n,
        target_validator_count=target,
        verified_submissions=len(verified),
        accepted_validators=len(accepted),
        rejected_candidates=len(rejected),
        fallback_selected=bool(misses),
        rejections_by_reason=dict(sorted(reasons.items())),
        participation_rate=len(accepted) / n if n else 0.0,
        success_rate=min(len(accepted) / target, 1.0) if target > 0 else 0.0,
        total_weight=str(sum(v.weight for v in accepted)),
        active_epoch_threshold=None if latest is None else str(latest.base_threshold),
        active_threshold_ratio=None if latest is None else min(latest.base_threshold / D, 1.0),
        entropy_beacon=entropy.hex(),
        latest_epoch=None if latest is None else latest.epoch,
        rejections_by_label=dict(sorted(labels.items())),
    )
    return sel.VrfSelectionResult(
        validators=tuple(accepted),
        rejected=tuple(rejected),
        fallback=None if best is None else sel.FallbackCandidate(*best),
        metrics=metrics,
        verified=tuple(v for _, v in verified),
        thresholds=tuple(thresholds),
    )


def _shape(value: object) -> object:
    """Value with every type and dict order made explicit, so == also compares those."""
    if isinstance(value, tuple | list):
        return (type(value).__name__, [_shape(item) for item in value])
    if isinstance(value, dict):
        return ("dict", [(key, _shape(item)) for key, item in value.items()])
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__name__, [_shape(getattr(value, f.name)) for f in fields])
    return (type(value).__name__, value)


def assert_same_selection(pool, target: int, verify=None) -> sel.VrfSelectionResult:
    """The optimised selection equals the reference, field by field, type by type."""
    calls: dict[str, list[str]] = {"fast": [], "reference": []}

    def recording(name):
        def check(submission):
            calls[name].append(submission.address)
            return True if verify is None else verify(submission)

        return check

    fast = select_validators(pool, target, verify=recording("fast"))
    reference = reference_selection(pool, target, recording("reference"))
    assert calls["fast"] == calls["reference"]  # same calls, same (address) order
    assert fast == reference
    for name in ("validators", "rejected", "fallback", "metrics", "verified", "thresholds"):
        assert _shape(getattr(fast, name)) == _shape(getattr(reference, name)), name
    assert _shape(fast.audit) == _shape(reference.audit)
    assert fast.metrics.to_json_dict() == reference.metrics.to_json_dict()
    return fast


def _proof(randomness: int, preoutput_len: int = 64, proof_len: int = 80) -> VrfProof:
    return VrfProof(randomness, bytes(preoutput_len), bytes(proof_len))


ADDRESS_NUMBERS = st.integers(0, 40)
HOURS = st.integers(0, 800)
RANDOMNESS = st.one_of(
    st.integers(0, D - 1),
    st.integers(0, 50),  # ties and tiny weighted values
    st.sampled_from([0, D - 1, D, D + 5, -1]),
)


@st.composite
def submissions(draw, addresses=ADDRESS_NUMBERS, hours=HOURS, randomness=RANDOMNESS):
    """A submission, valid or not: every field drawn, edge values included."""
    address = f"addr{draw(addresses):02d}"
    tier = draw(st.sampled_from(list(Tier)))
    hour = draw(hours)
    randomness = draw(randomness)
    epoch = draw(st.integers(1, 3))
    malformed = draw(st.sampled_from(["", "", "", "", "short", "long", "keyless"]))
    proof = _proof(
        randomness, 63 if malformed == "short" else 64, 81 if malformed == "long" else 80
    )
    vrf_input = PoseidonVrfInput(HEADER, epoch, derive_tier_seed(address, max(hour, 0)))
    key = None if malformed == "keyless" else b"\x01" * 32
    return VrfSubmission(address, key, vrf_input, proof, tier, hour)


pools = st.lists(submissions(), max_size=40)


@settings(max_examples=80, deadline=None)
@given(pools, st.integers(0, 45), st.sets(st.integers(0, 40), max_size=5))
def test_selection_equals_the_reference(pool, target, failing):
    failed = {f"addr{a:02d}" for a in failing}
    assert_same_selection(pool, target, lambda s: s.address not in failed)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        submissions(st.integers(0, 200), st.integers(1, 2), st.integers(D // 2, D - 1)),
        max_size=120,
    ),
    st.integers(0, 2),
)
def test_selection_with_many_threshold_misses_equals_the_reference(pool, target):
    """High outputs, 1–2 hours, target ≤ 2: most verified submissions miss their thresholds."""
    result = assert_same_selection(pool, target)
    if target == 0:
        misses = result.metrics.rejections_by_label.get("threshold_not_met", 0)
        assert misses == result.metrics.verified_submissions


@settings(max_examples=40, deadline=None)
@given(pools, st.integers(0, 45), st.randoms(use_true_random=False))
def test_selection_does_not_depend_on_pool_order(pool, target, rng):
    by_address = sel.compute_submission_pool(pool)
    shuffled = list(by_address.values())
    rng.shuffle(shuffled)
    first = select_validators(by_address, target, verify=ALWAYS)
    second = select_validators(shuffled, target, verify=ALWAYS)
    assert first == second
    assert first.audit == second.audit
    assert list(first.metrics.rejections_by_reason) == list(second.metrics.rejections_by_reason)
    assert len(first.audit) == first.metrics.pool_entries


@pytest.mark.parametrize("target", [0, 1, 3, 59, 60, 61, 100])
@pytest.mark.parametrize("hours", [1, 720])
def test_bench_like_pools_equal_the_reference(target, hours):
    """Distinct random outputs, one epoch, Tl3–Tl5: the shape ``rppsim bench vrf`` times."""
    pool = []
    for i in range(60):
        address = hashlib.blake2s(b"pool-%d" % i).hexdigest()
        beta = hashlib.sha512(b"beta-%d" % i).digest()
        hour = 1 + i * 7919 % hours
        vrf_input = PoseidonVrfInput(HEADER, 9, derive_tier_seed(address, hour))
        proof = VrfProof(int.from_bytes(beta[:32], "big"), beta, bytes(80))
        pool.append(VrfSubmission(address, b"\x02" * 32, vrf_input, proof, Tier(3 + i % 3), hour))
    result = assert_same_selection(pool, target)
    if hours == 1 and target < 10:  # the bench's "many misses" shape
        assert len(result.rejected) > len(result.validators)


def test_duplicate_threshold_reasons_are_counted_once_per_key():
    """Two misses with the same seed and epoch share a threshold, hence a metric key."""
    twin = fake_submission("twin", Tier.Tl3, 1, D - 1)
    other = replace(twin, address="twin2")  # same tier seed, so the same jitter
    result = assert_same_selection([twin, other, fake_submission("x", Tier.Tl3, 1, 5)], 1)
    counts = result.metrics.rejections_by_reason
    assert sorted(counts.values()) == [2]


@settings(max_examples=100)
@given(
    st.integers(1, D),
    st.integers(1, D),
    st.lists(st.binary(min_size=32, max_size=32), max_size=20),
    st.integers(0, 2**64 - 1),
)
def test_epoch_thresholds_equal_threshold_for_seed(base, span, seeds, epoch):
    """Both branches of the fast path, including bases near 0 and near D (the cap)."""
    strategy = sel.EpochThresholdStrategy(epoch, base, 0, span)
    jitters = [hashlib.blake2s(strategy.jitter_prefix + seed).digest() for seed in seeds]
    expected = [compute_threshold_for_seed(strategy, seed) for seed in seeds]
    assert sel._compute_epoch_thresholds(strategy, jitters) == expected


@settings(max_examples=100)
@given(st.lists(st.integers(0, 2**256), min_size=1, max_size=80), st.data())
def test_kth_smallest_equals_the_sorted_index(values, data):
    k = data.draw(st.integers(1, len(values)))
    assert sel._compute_kth_smallest(values, k) == sorted(values)[k - 1]


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(st.sampled_from(list(Tier)[3:]), st.integers(1, 4), st.integers(0, 6)),
        min_size=1,
        max_size=30,
    )
)
def test_fallback_index_is_the_lexicographic_best(specs):
    rows = [verified(f"a{i:02d}", tier, hours, r) for i, (tier, hours, r) in enumerate(specs)]
    best = min(range(len(rows)), key=lambda i: fallback_key(rows[i]))
    assert sel._compute_fallback_index(rows) == best


@settings(max_examples=100)
@given(
    st.tuples(
        st.sampled_from(list(Tier)),
        st.sampled_from([-1, 0, 1, 3, True, 2.5]),
        st.sampled_from([0, 5, D - 1, D, -1, 5.0, True, "7"]),
        st.sampled_from([63, 64]),
        st.sampled_from([79, 80]),
        st.booleans(),
    ),
    st.booleans(),
)
def test_validation_fast_path_equals_the_reference(fields, verdict):
    """Odd field types included: wherever the inline test fails, the reference decides."""
    tier, hours, randomness, preoutput_len, proof_len, has_key = fields
    submission = VrfSubmission(
        "addr",
        b"\x02" * 32 if has_key else None,
        PoseidonVrfInput(HEADER, 1, bytes(32)),
        VrfProof(randomness, bytes(preoutput_len), bytes(proof_len)),
        tier,
        hours,
    )
    calls: list[int] = []

    def verify(_: VrfSubmission) -> bool:
        calls.append(1)
        return verdict

    reference = compute_validation(submission, verify)
    reference_calls = len(calls)
    validated = sel._validate_pool([submission], verify)
    assert len(calls) == 2 * reference_calls  # the fast path verifies exactly as often
    if isinstance(reference, VerifiedSubmission):
        assert _shape(validated.rows) == _shape([reference])
    else:
        assert validated.invalid[0].reason == reference
