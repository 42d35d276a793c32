"""The fast model's height loop, compiled (numba): one call steps the protocol over all
validators from height ``carry[H]`` until ``height_end`` or the end of the run.

Liveness model (per height, no messages, no per-node event loop):

* height h is proposed at t; its committee is fixed from the submissions block h − 1 carried,
  those of the validators up when h − 1 was committed (every genesis validator for h = 1), as
  the ``committed`` electorate does (``rppsim.model.rules``: weights, threshold with jitter,
  acceptance, the cap of ``threshold_caps_committee``, the fallback, the previous committee,
  then every Tl3+ candidate, as ``rppsim.node.electorate`` falls back);
* round r is led by the first validator of the leader order (``rotate_leader_on_round_change``:
  the (r mod m)-th); the block commits at t when its leader is up and the voting power of the
  members that are up and vote (not withholding) reaches the quorum ⌈2T/3⌉ + 1;
* otherwise the round times out: t += ``round_timeout_ms``, r += 1 (a dead leader stalls the
  height for good without rotation, as on the chain); with ``allow_empty_blocks = false`` and
  nothing pending the leader waits a block time instead;
* after a commit at t the next height is proposed at t + ``block_time_ms``; the ledger takes
  the block ``COMMIT_DELAY_MS`` after its proposal (the votes' round trip), which is when the
  ledger samples first see it.

"Up" = not crashed, paused, churned down or cut off from the largest partition side. Votes
arrive instantly: the model has no latency, no late votes and no sync.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rppsim.model import rules
from rppsim.model.vrf import (
    STREAM_FEES,
    STREAM_JITTER,
    STREAM_RANDOMNESS,
    STREAM_TXS,
    compute_hash,
    compute_uniform,
)

# carry slots
H, T, EV, TICK, SAMPLE, NSAMPLES, NBLOCKS, NELECT, PENDING_TX, NEVID, DECAY, NPREV = range(12)
ARRIVED, DRAWS, DROPPED = 12, 13, 14
CARRY_SIZE = 15
# byzantine kinds (columns of the window arrays)
WITHHOLD, DOUBLE_SIGN, INFLATE_TIER, INFLATE_HOURS, FORGED_PROOF, GRIND, CENSOR = range(7)
BYZ_KINDS = 7
# evidence kinds
EVIDENCE_KINDS = ("censorship_prevote", "censorship_precommit", "inactivity", "double_sign")
MAX_BLOCK_TRANSACTIONS = 512
COMMIT_DELAY_MS = 250
SLASH_PERCENT = 10  # SlashingReason.ConsensusFault
EVIDENCE_LAG = 2  # a double-sign at h is slashed by block h + 2 (the carried certificate)


@njit(cache=True)
def _poisson(key, draw, lam):
    """A Poisson draw from the counter generator (Knuth; normal approximation above 60)."""
    if lam <= 0.0:
        return 0
    if lam > 60.0:
        u1 = max(compute_uniform(key, STREAM_TXS, draw, 0), 1e-300)
        u2 = compute_uniform(key, STREAM_TXS, draw, 1)
        z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        return max(int(lam + np.sqrt(lam) * z + 0.5), 0)
    limit = np.exp(-lam)
    k, p = 0, 1.0
    while True:
        p *= compute_uniform(key, STREAM_TXS, draw, 2 + k)
        if p <= limit:
            return k
        k += 1


@njit(cache=True)
def run_heights(  # noqa: PLR0915
    carry,
    height_end,
    key,
    # validator state (state_i columns): 0 stake, 1 balance, 2 timetoke hours, 3 consensus
    # successes, 4 tier, 5 the score's last recompute (s), 6 last credited proof (s, −1 none),
    # 7 credit pending, 8 slash height (−1 none, −2 slashed), 9 the timetoke's last decay (s,
    # −1 none); state_f column 0: the score
    state_i,
    state_f,
    zsi,
    misses,
    down,
    prev_member,
    prev_voted,
    submitted,
    # schedules
    ev_time,
    ev_node,
    ev_delta,
    byz_start,
    byz_end,
    # parameters
    iparams,
    weights,
    thresholds,
    fparams,
    ext_randomness,
    ext_offsets,
    ext_lower,
    tables,
    # outputs
    b_int,
    b_float,
    s_ms,
    s_int,
    s_float,
    e_int,
    v_int,
):
    """Step heights; see the module docstring. Returns nothing; ``carry`` holds where it is."""
    n = state_i.shape[0]
    block_ms = iparams[0]
    timeout_ms = iparams[1]
    duration_ms = iparams[2]
    target = iparams[3]
    rotate = iparams[4]
    check_declared = iparams[5]
    caps = iparams[6]
    allow_empty = iparams[7]
    cap_hours = iparams[8]
    vote_thr = iparams[9]
    inact_thr = iparams[10]
    base_reward = iparams[11]
    bonus_pct = iparams[12]
    genesis_s = iparams[13]
    cadence_ms = iparams[14]
    sample_ms = iparams[15]
    elect_stride = iparams[16]
    decay_ms = iparams[17]
    decay_interval_s = iparams[18]
    decay_step = iparams[19]
    use_ext = iparams[20]
    has_byz = iparams[21]
    tx_per_ms, cens_factor, inact_factor = fparams[0], fparams[1], fparams[2]
    # scratch, allocated once: by validator ...
    tiers_d = np.empty(n, np.int64)
    hours_d = np.empty(n, np.int64)
    weights_all = np.empty(n, np.int64)
    r_u = np.empty(n)
    wr_all = np.empty(n)
    eligible = np.zeros(n, np.bool_)
    member = np.zeros(n, np.bool_)
    voted = np.zeros(n, np.bool_)
    withheld = np.zeros(n, np.bool_)
    found = np.zeros(3, np.bool_)
    updated = np.empty(n, np.int64)
    # ... by pool position ...
    members_idx = np.empty(n, np.int64)
    wr_buf = np.empty(n)
    accepted_buf = np.zeros(n, np.bool_)
    bits_buf = np.empty(n, np.uint64)
    offsets = np.empty(n)
    lowers = np.zeros(n, np.bool_)
    # ... and by committee position
    committee_buf = np.empty(n, np.int64)
    powers_buf = np.empty(n, np.int64)
    c_tiers = np.empty(n, np.int64)
    c_hours = np.empty(n, np.int64)
    c_weights = np.empty(n, np.int64)
    c_wr = np.empty(n)
    c_r = np.empty(n)

    while carry[H] < height_end and carry[T] < duration_ms:
        h = carry[H]
        t = carry[T]
        # -- the committee of h (first round) --
        _advance_events(carry, t, ev_time, ev_node, ev_delta, down)
        if use_ext:
            r_u[:] = ext_randomness
        else:
            for i in range(n):  # a loop of its own, so that it vectorises
                r_u[i] = compute_uniform(key, STREAM_RANDOMNESS, h, i)
        for i in range(n):  # the declared tier and hours, and who may submit
            lie_tier = has_byz and _byz(byz_start, byz_end, i, INFLATE_TIER, t)
            lie_hours = has_byz and _byz(byz_start, byz_end, i, INFLATE_HOURS, t)
            tiers_d[i] = 5 if lie_tier else state_i[i, 4]
            hours_d[i] = cap_hours if lie_hours else state_i[i, 2]
            forged = has_byz and _byz(byz_start, byz_end, i, FORGED_PROOF, t)
            grinds = has_byz and _byz(byz_start, byz_end, i, GRIND, t) and r_u[i] >= 0.5
            eligible[i] = (
                submitted[i]
                and zsi[i]
                and tiers_d[i] >= rules.MIN_VALIDATOR_TIER
                and hours_d[i] > 0
                and not forged
                and not grinds
                and not (check_declared and (lie_tier or lie_hours))
            )
        for i in range(n):  # a loop of its own, so that it vectorises
            weights_all[i] = rules.compute_weight(tiers_d[i], hours_d[i])
            wr_all[i] = r_u[i] / weights_all[i]
        m_pool = 0
        for i in range(n):
            members_idx[m_pool] = i
            wr_buf[m_pool] = wr_all[i]
            m_pool += eligible[i]
        wr_pool = wr_buf[:m_pool]
        accepted = accepted_buf[:m_pool]
        base_u, span_u = rules.compute_threshold_base_u(wr_pool, target)
        # the jitter moves a threshold only when there is a span (else thr = base)
        jitter = base_u != 0.0 and span_u != 0.0
        if jitter and use_ext:
            for j in range(m_pool):
                offsets[j] = ext_offsets[members_idx[j]] * span_u
                lowers[j] = ext_lower[members_idx[j]]
        elif jitter:
            for j in range(m_pool):  # loops of their own, so that they vectorise
                bits_buf[j] = compute_hash(key, STREAM_JITTER, h, members_idx[j])
            for j in range(m_pool):
                bits = bits_buf[j]
                offsets[j] = float(bits >> np.uint64(11)) / 9007199254740992.0 * span_u
                lowers[j] = (bits & np.uint64(1)) == np.uint64(1)
        n_accepted = 0
        for j in range(m_pool):
            if jitter:
                thr = rules.compute_threshold_u(base_u, span_u, offsets[j], lowers[j])
            else:
                thr = rules.compute_threshold_u(base_u, span_u, 0.0, False)
            accepted[j] = wr_pool[j] < thr
            n_accepted += accepted[j]
        if caps and n_accepted > target:
            ranked = np.argsort(np.where(accepted, wr_pool, 2.0), kind="mergesort")
            accepted[:] = False
            accepted[ranked[: max(target, 0)]] = True
        accepted_weight = 0
        for i in range(n):
            member[i] = False
        n_member = 0
        for j in range(m_pool):
            if accepted[j]:
                i = members_idx[j]
                accepted_weight += weights_all[i]
                if state_i[i, 4] >= rules.MIN_VALIDATOR_TIER:
                    member[i] = True
                    n_member += 1
        fallback = n_accepted < m_pool
        if n_member == 0 and m_pool > n_accepted:
            mi = members_idx[:m_pool][np.flatnonzero(~accepted)]
            best = rules.compute_fallback_index(
                tiers_d[mi], hours_d[mi], weights_all[mi], wr_all[mi]
            )
            if state_i[mi[best], 4] >= rules.MIN_VALIDATOR_TIER:
                member[mi[best]] = True
                n_member += 1
        if n_member == 0:
            for i in range(n):
                member[i] = prev_member[i] and state_i[i, 4] >= rules.MIN_VALIDATOR_TIER
                n_member += member[i]
        if n_member == 0:
            for i in range(n):
                member[i] = state_i[i, 4] >= rules.MIN_VALIDATOR_TIER and zsi[i]
                n_member += member[i]
        m = 0
        for i in range(n):
            if member[i]:
                committee_buf[m] = i
                c_tiers[m] = tiers_d[i]
                c_hours[m] = hours_d[i]
                c_weights[m] = weights_all[i]
                c_wr[m] = wr_all[i]
                c_r[m] = r_u[i]
                powers_buf[m] = rules.compute_voting_power(
                    state_i[i, 0], state_f[i, 0], state_i[i, 2]
                )
                m += 1
        committee = committee_buf[:m]
        powers = powers_buf[:m]
        first = rules.compute_leader_index(c_tiers[:m], c_hours[:m], c_weights[:m], c_wr[:m])
        order = np.zeros(0, np.int64)
        total = rules.compute_total_power(powers)
        quorum = rules.compute_quorum(total)
        # -- rounds until a commit --
        rnd = 0
        committed = False
        for i in range(n):
            voted[i] = False
        leader = -1
        while t < duration_ms:
            _advance_events(carry, t, ev_time, ev_node, ev_delta, down)
            _uptime_ticks(carry, t, state_i, zsi, down, cap_hours, cadence_ms, genesis_s)
            if m == 0:
                t += timeout_ms
                rnd += 1
                continue
            if rotate and rnd % m != 0:
                if order.shape[0] == 0:
                    order = rules.compute_leader_order(
                        c_tiers[:m], c_hours[:m], c_weights[:m], c_wr[:m]
                    )
                leader = committee[order[rnd % m]]
            else:
                leader = committee[first]
            power = 0
            for j in range(m):
                i = committee[j]
                votes = down[i] == 0 and not (has_byz and _byz(byz_start, byz_end, i, WITHHOLD, t))
                voted[i] = votes
                if votes:
                    power += powers[j]
            if down[leader] != 0:
                t += timeout_ms
                rnd += 1
                continue
            if t > carry[ARRIVED]:
                lam = tx_per_ms * (t - carry[ARRIVED])
                carry[PENDING_TX] += _poisson(key, carry[DRAWS], lam)
                carry[DRAWS] += 1
                carry[ARRIVED] = t
            if carry[PENDING_TX] == 0 and not allow_empty:
                credits = 0
                for i in range(n):
                    credits += state_i[i, 7] > 0
                if credits == 0:
                    t += block_ms
                    continue
            if power >= quorum:
                committed = True
                break
            t += timeout_ms
            rnd += 1
        if not committed:
            carry[T] = t
            break
        # -- ledger samples up to t --
        while carry[SAMPLE] <= t + COMMIT_DELAY_MS and carry[NSAMPLES] < s_ms.shape[0]:
            _sample(carry, state_i, state_f, zsi, s_ms, s_int, s_float)
            carry[SAMPLE] += sample_ms
        now_s = genesis_s + t // 1000
        if decay_ms > 0:  # ``process_decay`` of every balance (the chain schedules none)
            while carry[DECAY] <= t:
                _decay(state_i, genesis_s + carry[DECAY] // 1000, decay_interval_s, decay_step)
                carry[DECAY] += decay_ms
        # 1. double-sign evidence carried by this block
        for i in range(n):
            if 0 <= state_i[i, 8] <= h:
                state_i[i, 0] = rules.compute_slashed_stakes(state_i[i : i + 1, 0], SLASH_PERCENT)[
                    0
                ]
                zsi[i] = False
                state_i[i, 2] = 0
                state_i[i, 3] = 0
                state_i[i, 4] = 0
                state_i[i, 5] = now_s
                state_i[i, 6] = -1
                state_i[i, 7] = 0
                state_i[i, 8] = -2  # slashed for good
                state_i[i, 9] = -1
                state_f[i, 0] = 0.0
                member[i] = False
                _evidence(carry, v_int, h, i, h - EVIDENCE_LAG, 3)
        # 2. uptime credits
        uptime = 0
        for i in range(n):
            if state_i[i, 7] > 0 and zsi[i]:
                state_i[i, 2] += state_i[i, 7]
                state_i[i, 7] = 0
                updated[uptime] = i
                uptime += 1
        if uptime:
            _recompute(updated[:uptime], state_f, state_i, zsi, now_s, weights, thresholds, tables)
        # 3. participation detectors over the previous block's certificate
        for i in range(n):
            withheld[i] = False
            if carry[NPREV] == 0 or not prev_member[i]:
                continue
            rules.compute_misses_row(
                misses[i], found, prev_voted[i], prev_voted[i], vote_thr, inact_thr
            )
            for c in range(3):
                if found[c]:
                    withheld[i] = True
                    factor = inact_factor if c == 2 else cens_factor
                    state_f[i, 0] = min(max(state_f[i, 0] * factor, 0.0), 1.0)
                    state_i[i, 4] = rules.compute_tier(
                        zsi[i], state_i[i, 2], state_i[i, 3], state_f[i, 0], thresholds
                    )
                    _evidence(carry, v_int, h, i, h - 1, c)
        # 4. rewards to the committee (the slashed and the detected are not paid)
        txs = min(carry[PENDING_TX], MAX_BLOCK_TRANSACTIONS)
        carry[PENDING_TX] -= txs
        fees = 0
        for k in range(txs):
            fees += 1 + int(compute_uniform(key, STREAM_FEES, h, k) * 10.0)
        leader_pos = -1
        for j in range(m):
            if committee[j] == leader:
                leader_pos = j
        owed = rules.compute_payouts(
            base_reward + fees, c_tiers[:m], c_hours[:m], c_r[:m], leader_pos, bonus_pct
        )
        paid = 0
        for j in range(m):
            i = committee[j]
            if withheld[i] or not zsi[i]:
                continue
            state_i[i, 1] += owed[j]
            state_i[i, 3] += 1
            updated[paid] = i
            paid += 1
        _recompute(updated[:paid], state_f, state_i, zsi, now_s, weights, thresholds, tables)
        # 5. records
        b = carry[NBLOCKS]
        if b < b_int.shape[0]:
            b_int[b, 0] = h
            b_int[b, 1] = leader
            b_int[b, 2] = rnd
            b_int[b, 3] = t
            b_int[b, 4] = txs
            b_int[b, 5] = uptime
            b_int[b, 6] = m_pool
            b_int[b, 7] = n_accepted
            b_int[b, 8] = m
            b_int[b, 9] = fallback
            b_int[b, 10] = total
            b_int[b, 11] = quorum
            b_int[b, 12] = accepted_weight
            b_float[b, 0] = base_u
            carry[NBLOCKS] = b + 1
        if h % elect_stride == 0:
            for j in range(m):
                e = carry[NELECT]
                if e < e_int.shape[0]:
                    e_int[e, 0] = h
                    e_int[e, 1] = committee[j]
                    e_int[e, 2] = powers[j]
                    carry[NELECT] = e + 1
        # 6. what the next block carries: the certificate, and the submissions of the
        # validators up now, which elect the committee of h + 1 (rppsim.node.electorate)
        for i in range(n):
            submitted[i] = down[i] == 0
            prev_member[i] = member[i] and zsi[i]
            prev_voted[i] = voted[i] and member[i]
            if (
                member[i]
                and voted[i]
                and state_i[i, 8] == -1
                and has_byz
                and _byz(byz_start, byz_end, i, DOUBLE_SIGN, t)
            ):
                state_i[i, 8] = h + EVIDENCE_LAG
        carry[NPREV] = 1
        carry[H] = h + 1
        carry[T] = t + block_ms


@njit(cache=True)
def _recompute(idx, state_f, state_i, zsi, now_s, weights, thresholds, tables):
    """Score and tier of the validators ``idx`` at now_s, then last_decay = now_s
    (``process_recompute``)."""
    w = (weights[0], weights[1], weights[2], weights[3], weights[4])  # registers, not loads
    limits = (thresholds[0], thresholds[1], thresholds[2], thresholds[3])
    for i in idx:
        score = rules.compute_score_tabled(
            zsi[i], state_i[i, 2], state_i[i, 3], state_i[i, 5], now_s, w, tables
        )
        state_f[i, 0] = score
        state_i[i, 4] = rules.compute_tier(zsi[i], state_i[i, 2], state_i[i, 3], score, limits)
        state_i[i, 5] = now_s


@njit(cache=True)
def _decay(state_i, now_s, interval_s, step):
    """``process_decay`` at now_s: the first call sets last_decay; then one step per whole
    interval since it (bounded by the balance), and last_decay = now_s."""
    n = state_i.shape[0]
    periods = np.zeros(n, np.int64)
    for i in range(n):
        last = state_i[i, 9]
        if last < 0:
            state_i[i, 9] = now_s
        elif now_s > last:
            periods[i] = (now_s - last) // interval_s
    removed = rules.compute_decay(state_i[:, 2], periods, step)
    for i in range(n):
        if periods[i] > 0:
            state_i[i, 2] -= removed[i]
            state_i[i, 9] = now_s


@njit(cache=True)
def _byz(byz_start, byz_end, i, kind, t):
    """Whether validator i runs byzantine behaviour ``kind`` at t."""
    return byz_start[i, kind] <= t < byz_end[i, kind]


@njit(cache=True)
def _advance_events(carry, t, ev_time, ev_node, ev_delta, down):
    while carry[EV] < ev_time.shape[0] and ev_time[carry[EV]] <= t:
        k = carry[EV]
        down[ev_node[k]] += ev_delta[k]
        carry[EV] = k + 1


@njit(cache=True)
def _uptime_ticks(carry, t, state_i, zsi, down, cap_hours, cadence_ms, genesis_s):
    """The uptime scheduler (every ``cadence_ms``): an up, validated validator whose last
    credited proof is ≥ 1 h old claims [tick − 1 h, tick]; the credit waits for a block."""
    while carry[TICK] <= t:
        tick_s = genesis_s + carry[TICK] // 1000
        for i in range(state_i.shape[0]):
            if down[i] != 0 or not zsi[i] or state_i[i, 7] > 0:
                continue
            last = state_i[i, 6]
            start = tick_s - 3600 if last < 0 else max(tick_s - 3600, last)
            earned = (tick_s - start) // 3600 if tick_s - start >= 3600 else 0
            credit = rules.compute_credits(
                state_i[i : i + 1, 2], np.array([earned], np.int64), cap_hours
            )[0]
            if credit > 0:
                state_i[i, 7] = credit
                state_i[i, 6] = tick_s
                if state_i[i, 9] < 0:  # the first credit also starts the decay clock
                    state_i[i, 9] = tick_s
        carry[TICK] += cadence_ms


@njit(cache=True)
def _sample(carry, state_i, state_f, zsi, s_ms, s_int, s_float):
    k = carry[NSAMPLES]
    s_ms[k] = carry[SAMPLE]
    for i in range(state_i.shape[0]):
        s_int[k, i, 0] = state_i[i, 1]
        s_int[k, i, 1] = state_i[i, 0]
        s_int[k, i, 2] = zsi[i]
        s_int[k, i, 3] = state_i[i, 4]
        s_int[k, i, 4] = state_i[i, 2]
        s_int[k, i, 5] = state_i[i, 3]
        s_float[k, i] = state_f[i, 0]
    carry[NSAMPLES] = k + 1


@njit(cache=True)
def _evidence(carry, v_int, h, i, offense_h, kind):
    k = carry[NEVID]
    if k < v_int.shape[0]:
        v_int[k, 0] = h
        v_int[k, 1] = i
        v_int[k, 2] = offense_h
        v_int[k, 3] = kind
        carry[NEVID] = k + 1
    else:  # beyond the buffer: counted (run_info ``model.evidence_dropped``), not recorded
        carry[DROPPED] += 1
