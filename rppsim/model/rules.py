"""The node's protocol rules, vectorised over all validators (numba, for the fast model).

Each function here is the array form of one pure function of ``rppsim.node`` (named in its
docstring) and is property-tested equal to it in tests/model/test_rules.py: exactly on
integers and booleans; within a stated bound where the model replaces 256-bit arithmetic by
float64 fractions of the randomness domain D = 2^256 (``*_u`` values are x / D):

* ``compute_weighted_u``: |wr_u − ⌊r/w⌋/D| ≤ 2^-52·wr_u + 2^-53/w for r = u·D with a 53-bit u;
* ``compute_threshold_base_u`` and ``compute_thresholds_u``: relative error ≤ 2^-48;
* an acceptance (wr < threshold) can differ from the exact one only when the two values are
  within 2^-44 of each other relatively; the tests draw inputs away from that band and
  assert equality, and measure that the band is never hit on random pools.
* ``compute_scores``: |Δ| ≤ 1e-12 (numba's ``exp`` may differ from ``math.exp`` by an ulp);
  ``compute_tiers`` is exact whenever the score is not within 1e-12 of ``tier5_min_score``.

Integer rules (weights, voting power, quorum, payouts, timetoke, misses, slashing) are exact
in int64 as long as the values fit: a total voting power below 2^62 (stake × 2000 × 721 per
validator), which ``compute_total_power`` checks.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "MAX_TIMETOKE_HOURS",
    "MIN_VALIDATOR_TIER",
    "compute_credits",
    "compute_decay",
    "compute_fallback_index",
    "compute_kth_smallest",
    "compute_leader_index",
    "compute_leader_order",
    "compute_misses",
    "compute_misses_row",
    "compute_payouts",
    "compute_quorum",
    "compute_round_half_away",
    "compute_saturation_table",
    "compute_score_tabled",
    "compute_scores",
    "compute_scores_tabled",
    "compute_slashed_stakes",
    "compute_threshold_base_u",
    "compute_threshold_u",
    "compute_thresholds_u",
    "compute_tier",
    "compute_tiers",
    "compute_total_power",
    "compute_voting_power",
    "compute_voting_powers",
    "compute_weight",
    "compute_weighted_u",
    "compute_weights",
]

MAX_TIMETOKE_HOURS = 720
"""``rppsim.node.selection.MAX_TIMETOKE_HOURS``."""
MIN_VALIDATOR_TIER = 3
"""Tl3: the lowest tier a VRF submission may declare (``MIN_VALIDATOR_TIER``)."""
UPTIME_SCALE_HOURS = 24.0
CONSENSUS_SCALE = 128.0
PEER_FEEDBACK_SCALE = 50.0
DECAY_SCALE_SECS = 7 * 86400.0
POWER_LIMIT = 1 << 62


# --- VRF selection (rppsim.node.selection) ---------------------------------------------------


@njit(cache=True)
def compute_weight(tier: int, hours: int) -> int:
    """``compute_submission_weight``: (tier + 1) × max(hours, 1)."""
    return (tier + 1) * max(hours, 1)


@njit(cache=True)
def compute_weights(tiers: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """``compute_weight`` of each validator."""
    out = np.empty(tiers.shape[0], np.int64)
    for i in range(tiers.shape[0]):
        out[i] = compute_weight(tiers[i], hours[i])
    return out


@njit(cache=True)
def compute_weighted_u(randomness_u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``VerifiedSubmission.weighted_randomness`` / D: randomness_u / weight."""
    out = np.empty(randomness_u.shape[0], np.float64)
    for i in range(randomness_u.shape[0]):
        out[i] = randomness_u[i] / weights[i]
    return out


@njit(cache=True)
def compute_kth_smallest(values: np.ndarray, k: int) -> float:
    """The k-th smallest value (1-based, ``sorted(values)[k - 1]``): quickselect on a copy
    (``_compute_kth_smallest``; numba's ``np.partition`` costs several times more)."""
    return _select_kth(values.copy(), k)


@njit(cache=True)
def _select_kth(a: np.ndarray, k: int) -> float:
    """``compute_kth_smallest`` overwriting ``a``: quickselect around the median of three,
    partitioning branch-free into a second buffer (the lower values from its front, the rest
    from its back), then back, so no step waits on the one before (random draws defeat
    branch prediction and in-place swaps chain through memory)."""
    source, target = a, np.empty(a.shape[0])
    start, count, rank = 0, a.shape[0], k - 1
    while count > 1:
        x, y, z = source[start], source[start + count // 2], source[start + count - 1]
        pivot = max(min(x, y), min(max(x, y), z))
        low = _partition(source, target, start, count, pivot, False)
        if low == 0:  # nothing below the pivot: it is the least; split off its equals
            low = _partition(source, target, start, count, pivot, True)
            if rank < low:
                return pivot
        if rank < low:
            count = low
        else:
            start, count, rank = start + low, count - low, rank - low
        source, target = target, source
    return source[start]


@njit(cache=True)
def _partition(
    source: np.ndarray, target: np.ndarray, start: int, count: int, pivot: float, equal: bool
) -> int:
    """source[start:start + count] into target's same slots: the values below the pivot (or
    equal to it) first, the others after; how many came first."""
    front, back = start, start + count - 1
    for i in range(start, start + count):
        value = source[i]
        first = value == pivot if equal else value < pivot
        target[front] = value  # the slot not taken is overwritten later
        target[back] = value
        front += first
        back -= 1 - first
    return front - start


@njit(cache=True)
def compute_threshold_base_u(weighted_u: np.ndarray, target: int) -> tuple[float, float]:
    """``compute_epoch_threshold_strategy``: (base, span) / D for one epoch's pool.

    base = min(max((smoothed + k-th smallest) / 2, k-th smallest), 1) with smoothed =
    (k + 1)/(n + 2); span = 1/(4n); (0, 1/D-ish) for an empty pool or target ≤ 0; (1, 0) when
    k ≥ n (the chain's span 1 is below float resolution).
    """
    n = weighted_u.shape[0]
    if target <= 0 or n == 0:
        return 0.0, 0.0
    k = min(target, n)
    if k >= n:
        return 1.0, 0.0
    smoothed = (k + 1) / (n + 2)
    quantile = compute_kth_smallest(weighted_u, k)
    base = min(max((smoothed + quantile) / 2.0, quantile), 1.0)
    return base, 1.0 / (4 * n)


@njit(cache=True)
def compute_threshold_u(base_u: float, span_u: float, offset_u: float, lower: bool) -> float:
    """``compute_threshold_for_seed`` / D: base ± offset (offset < span), floored at 0 and
    capped at 1; ``lower`` is the jitter hash's odd first byte."""
    if base_u == 0.0:
        return 0.0
    below = max(base_u - offset_u, 0.0)  # both sides, then a select: the sign is a coin flip
    above = min(base_u + offset_u, 1.0)
    return below if lower else above


@njit(cache=True)
def compute_thresholds_u(
    base_u: float, span_u: float, offset_u: np.ndarray, lower: np.ndarray
) -> np.ndarray:
    """``compute_threshold_u`` of each candidate."""
    out = np.empty(offset_u.shape[0], np.float64)
    for i in range(offset_u.shape[0]):
        out[i] = compute_threshold_u(base_u, span_u, offset_u[i], lower[i])
    return out


@njit(cache=True)
def compute_leader_order(
    tiers: np.ndarray, hours: np.ndarray, weights: np.ndarray, weighted_u: np.ndarray
) -> np.ndarray:
    """``select_leader`` order: tier desc, hours desc, weight desc, lowest weighted randomness
    (then index: addresses tie only with equal randomness, which a 53-bit draw makes rare)."""
    keys = np.empty((tiers.shape[0], 4), np.float64)
    for i in range(tiers.shape[0]):
        keys[i, 0] = -tiers[i]
        keys[i, 1] = -hours[i]
        keys[i, 2] = -weights[i]
        keys[i, 3] = weighted_u[i]
    order = np.argsort(keys[:, 3], kind="mergesort")
    for column in (2, 1, 0):
        order = order[np.argsort(keys[order, column], kind="mergesort")]
    return order


@njit(cache=True)
def compute_leader_index(
    tiers: np.ndarray, hours: np.ndarray, weights: np.ndarray, weighted_u: np.ndarray
) -> int:
    """``compute_leader_order(...)[0]`` in one pass (−1 for none)."""
    best = -1
    for i in range(tiers.shape[0]):
        if best < 0:
            best = i
            continue
        a = (-tiers[i], -hours[i], -weights[i], weighted_u[i])
        b = (-tiers[best], -hours[best], -weights[best], weighted_u[best])
        if a < b:
            best = i
    return best


@njit(cache=True)
def compute_fallback_index(
    tiers: np.ndarray, hours: np.ndarray, weights: np.ndarray, weighted_u: np.ndarray
) -> int:
    """``_compute_fallback_index``: the best miss by the leader order; −1 for none."""
    return compute_leader_index(tiers, hours, weights, weighted_u)


# --- Voting power and quorum (rppsim.node.selection) -----------------------------------------


@njit(cache=True)
def compute_round_half_away(value: float) -> int:
    """``compute_round_half_away``: Rust's ``f64::round`` (ties away from zero)."""
    magnitude = abs(value)
    whole = np.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1.0
    return int(-whole) if value < 0 else int(whole)


@njit(cache=True)
def compute_voting_power(stake: int, score: float, hours: int) -> int:
    """``compute_voting_power``: stake × max(1, round(score·1000) + 1000) × (min(h, 720) + 1)."""
    multiplier = max(1, compute_round_half_away(score * 1000.0) + 1000)
    return stake * multiplier * (min(hours, MAX_TIMETOKE_HOURS) + 1)


@njit(cache=True)
def compute_voting_powers(stakes: np.ndarray, scores: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """``compute_voting_power`` of each validator."""
    out = np.empty(stakes.shape[0], np.int64)
    for i in range(stakes.shape[0]):
        out[i] = compute_voting_power(stakes[i], scores[i], hours[i])
    return out


@njit(cache=True)
def compute_total_power(powers: np.ndarray) -> int:
    """``compute_total_power``; raises when it would leave the exact int64 range."""
    total = 0
    for p in powers:
        if p >= POWER_LIMIT or total >= POWER_LIMIT - p:
            raise OverflowError("total voting power above 2^62: not exact in int64")
        total += p
    return total


@njit(cache=True)
def compute_quorum(total_power: int) -> int:
    """``compute_quorum``: ⌈2T/3⌉ + 1, 0 when T = 0."""
    if total_power <= 0:
        return 0
    return -(-2 * total_power // 3) + 1


# --- Reputation (rppsim.node.reputation) -----------------------------------------------------


@njit(cache=True)
def _saturation(value: float, scale: float) -> float:
    if scale <= 0.0:
        return 0.0
    return 1.0 - np.exp(-value / scale)


@njit(cache=True)
def compute_scores(
    zsi: np.ndarray,
    hours: np.ndarray,
    successes: np.ndarray,
    last_decay: np.ndarray,
    now: int,
    weights: np.ndarray,
) -> np.ndarray:
    """``compute_score`` (peer feedback 0): clamp(w·(v, u, c, p) − w_d·d, 0, 1).

    ``weights`` = (w_v, w_u, w_c, w_p, w_d)."""
    out = np.empty(zsi.shape[0], np.float64)
    p = _saturation(0.0, PEER_FEEDBACK_SCALE)
    for i in range(zsi.shape[0]):
        v = 1.0 if zsi[i] else 0.0
        u = _saturation(float(hours[i]), UPTIME_SCALE_HOURS)
        c = _saturation(float(successes[i]), CONSENSUS_SCALE)
        d = _saturation(float(max(now - last_decay[i], 0)), DECAY_SCALE_SECS)
        score = weights[0] * v + weights[1] * u + weights[2] * c + weights[3] * p - weights[4] * d
        out[i] = min(max(score, 0.0), 1.0)
    return out


@njit(cache=True)
def compute_saturation_table(scale: float, size: int) -> np.ndarray:
    """sat(x, scale) for x = 0..size − 1 (the score terms of integer counters)."""
    out = np.empty(size, np.float64)
    for x in range(size):
        out[x] = _saturation(float(x), scale)
    return out


@njit(cache=True)
def _lookup(table: np.ndarray, x: int, scale: float) -> float:
    return table[x] if x < table.shape[0] else _saturation(float(x), scale)


@njit(cache=True)
def compute_scores_tabled(
    zsi: np.ndarray,
    hours: np.ndarray,
    successes: np.ndarray,
    last_decay: np.ndarray,
    now: int,
    weights: np.ndarray,
    tables: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """``compute_scores`` with the saturation terms read from tables of
    ``compute_saturation_table`` (hours / 24, successes / 128, seconds / 7 days): the same
    values, since each table entry is the same computation."""
    out = np.empty(zsi.shape[0], np.float64)
    for i in range(zsi.shape[0]):
        out[i] = compute_score_tabled(
            zsi[i], hours[i], successes[i], last_decay[i], now, weights, tables
        )
    return out


@njit(cache=True)
def compute_score_tabled(
    zsi: bool,
    hours: int,
    successes: int,
    last_decay: int,
    now: int,
    weights: np.ndarray | tuple[float, float, float, float, float],
    tables: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> float:
    """One validator's ``compute_scores_tabled`` (``weights`` an array or a tuple)."""
    sat_u, sat_c, sat_d = tables
    p = _saturation(0.0, PEER_FEEDBACK_SCALE)
    v = 1.0 if zsi else 0.0
    u = _lookup(sat_u, hours, UPTIME_SCALE_HOURS)
    c = _lookup(sat_c, successes, CONSENSUS_SCALE)
    d = _lookup(sat_d, max(now - last_decay, 0), DECAY_SCALE_SECS)
    score = weights[0] * v + weights[1] * u + weights[2] * c + weights[3] * p - weights[4] * d
    return min(max(score, 0.0), 1.0)


@njit(cache=True)
def compute_tiers(
    zsi: np.ndarray,
    hours: np.ndarray,
    successes: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray,
) -> np.ndarray:
    """``compute_tier``: the first matching rule of ``TIER_RULES``.

    ``thresholds`` = (tier2_min_uptime_hours, tier3_min_consensus_success,
    tier4_min_consensus_success, tier5_min_score)."""
    out = np.empty(zsi.shape[0], np.int64)
    for i in range(zsi.shape[0]):
        out[i] = compute_tier(zsi[i], hours[i], successes[i], scores[i], thresholds)
    return out


@njit(cache=True)
def compute_tier(
    zsi: bool,
    hours: int,
    successes: int,
    score: float,
    thresholds: np.ndarray | tuple[float, float, float, float],
) -> int:
    """One validator's ``compute_tiers`` (``thresholds`` an array or a tuple)."""
    if not zsi:
        return 0
    if hours < thresholds[0]:
        return 1
    if successes < thresholds[1]:
        return 2
    if successes < thresholds[2]:
        return 3
    if score < thresholds[3]:
        return 4
    return 5


# --- Timetoke (rppsim.node.timetoke) ---------------------------------------------------------


@njit(cache=True)
def compute_credits(hours: np.ndarray, earned: np.ndarray, cap: int) -> np.ndarray:
    """``process_record_proof``'s credit for ``earned`` whole hours: min(earned, cap − hours),
    0 at or above the cap (−1: nothing earned, the chain's None)."""
    out = np.empty(hours.shape[0], np.int64)
    for i in range(hours.shape[0]):
        if earned[i] <= 0:
            out[i] = -1
        else:
            out[i] = min(earned[i], max(cap - hours[i], 0))
    return out


@njit(cache=True)
def compute_decay(hours: np.ndarray, periods: np.ndarray, step: int) -> np.ndarray:
    """``process_decay``'s hours removed after ``periods`` full intervals: min(step·periods,
    hours)."""
    out = np.empty(hours.shape[0], np.int64)
    for i in range(hours.shape[0]):
        out[i] = min(step * max(periods[i], 0), hours[i])
    return out


# --- Participation detectors (rppsim.node.participation) -------------------------------------


@njit(cache=True)
def compute_misses(
    misses: np.ndarray,
    members: np.ndarray,
    prevoted: np.ndarray,
    precommitted: np.ndarray,
    vote_threshold: int,
    inactivity_threshold: int,
) -> np.ndarray:
    """``compute_misses`` over the validators of ``members``: updates ``misses`` (n × 3:
    prevotes, precommits, inactive) in place, other rows untouched; returns the detections
    (n × 3 booleans, same columns)."""
    found = np.zeros(misses.shape, np.bool_)
    for i in range(misses.shape[0]):
        if members[i]:
            compute_misses_row(
                misses[i], found[i], prevoted[i], precommitted[i], vote_threshold,
                inactivity_threshold,
            )  # fmt: skip
    return found


@njit(cache=True)
def compute_misses_row(
    misses: np.ndarray,
    found: np.ndarray,
    prevoted: bool,
    precommitted: bool,
    vote_threshold: int,
    inactivity_threshold: int,
) -> None:
    """One member's ``compute_misses``: its row of ``misses`` updated in place and its
    detections written to ``found`` (3 booleans)."""
    for column, participated, threshold in (
        (0, prevoted, vote_threshold),
        (1, precommitted, vote_threshold),
        (2, prevoted or precommitted, inactivity_threshold),
    ):
        found[column] = False
        if participated or threshold <= 0:
            misses[column] = 0
        else:
            misses[column] += 1
            if misses[column] >= threshold:
                misses[column] = 0
                found[column] = True


# --- Rewards and slashing (rppsim.node.ledger) -----------------------------------------------


@njit(cache=True)
def compute_payouts(
    reward: int,
    tiers: np.ndarray,
    hours: np.ndarray,
    randomness_u: np.ndarray,
    leader: int,
    bonus_percent: int,
) -> np.ndarray:
    """``process_consensus_rewards`` amounts owed to the round's validators (by position):
    ⌊R/n⌋, +1 for the first R mod n in payout order (tier, hours, randomness desc), and the
    leader's bonus ⌈R·pct/100⌉ (``leader`` = −1 when the leader is not a member)."""
    n = tiers.shape[0]
    out = np.zeros(n, np.int64)
    if n == 0:
        return out
    share, remainder = reward // n, reward % n
    out[:] = share
    taken = np.zeros(n, np.bool_)
    negated = np.empty(n)
    while remainder > 0:  # the (tier, hours) groups from the top, whole or in part
        best_tier, best_hours = -1, -1
        for i in range(n):
            if not taken[i] and (tiers[i], hours[i]) > (best_tier, best_hours):
                best_tier, best_hours = int(tiers[i]), int(hours[i])
        size = 0
        for i in range(n):
            if not taken[i] and tiers[i] == best_tier and hours[i] == best_hours:
                negated[size] = -randomness_u[i]
                size += 1
        # the whole group, or its highest randomness (distinct draws)
        cut = _select_kth(negated[:size], remainder) if size > remainder else np.inf
        for i in range(n):
            chosen = -randomness_u[i] <= cut
            if chosen and not taken[i] and tiers[i] == best_tier and hours[i] == best_hours:
                out[i] += 1
                taken[i] = True
                remainder -= 1
    if leader >= 0 and bonus_percent > 0:
        out[leader] += (reward * bonus_percent + 99) // 100
    return out


@njit(cache=True)
def compute_slashed_stakes(stakes: np.ndarray, percent: int) -> np.ndarray:
    """``Ledger.process_slash``'s stake: ⌊stake·(100 − p)/100⌋."""
    out = np.empty(stakes.shape[0], np.int64)
    for i in range(stakes.shape[0]):
        out[i] = stakes[i] * (100 - percent) // 100
    return out
