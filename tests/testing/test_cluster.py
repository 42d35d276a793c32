"""The in-memory cluster: progress, safety, determinism, faults, slashing and rule knobs.

Every cluster comes from the ``make_cluster`` fixture, which asserts the safety invariant
again at teardown; each test also calls ``safety`` explicitly at its end.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from rppsim.node.config import NodeConfig
from rppsim.node.ledger import SlashingReason
from rppsim.node.messages import (
    BftVote,
    Commit,
    EvidenceKind,
    VoteKind,
    sign_vote,
)
from rppsim.node.reputation import Tier
from rppsim.node.rules import Rules
from rppsim.testing.cluster import InMemoryCluster

BLOCK_TIME_MS = 5000


def _index(cluster: InMemoryCluster, address: str) -> int:
    return next(i for i, keys in enumerate(cluster.keys) if keys.address == address)


def _propose_at(cluster: InMemoryCluster, observer: int = 0) -> int:
    return cluster.node(observer).hs.started_ms + BLOCK_TIME_MS


# --- progress, agreement, determinism ---------------------------------------------------------


@pytest.mark.parametrize("validators", [4, 7, 10])
def test_progress_and_agreement(make_cluster, safety, validators):
    """4, 7 and 10 honest validators finalize ≥ 20 heights in 120 s and agree."""
    c = make_cluster(validators=validators, seed=3, tx_rate_per_s=1.0, latency_ms=50)
    c.run(until_ms=120_000)
    chains = [c.finalized_chain(i) for i in range(validators)]
    assert len(chains[0]) >= 20
    assert all(chain == chains[0] for chain in chains)
    assert all(c.node(i).height == len(chains[0]) for i in range(validators))
    safety(c)


def test_single_validator_commits_alone(make_cluster, safety):
    """A lone validator's own precommit completes the quorum (T ≥ 3,
    docs/protocol.md#rounds-and-quorum)."""
    c = make_cluster(validators=1, seed=2)
    c.run(until_ms=30_000)
    assert len(c.finalized_chain(0)) >= 4
    safety(c)


def test_determinism_same_seed_same_run_other_seed_other_chain(make_cluster, safety):
    """Same seed → identical chains and status payloads; another seed → another chain."""
    runs = []
    for seed in (11, 11, 12):
        c = make_cluster(validators=4, seed=seed, tx_rate_per_s=2.0)
        c.run(until_ms=40_000)
        runs.append(
            ([c.finalized_chain(i) for i in range(4)], [c.node(i).status_node() for i in range(4)])
        )
        safety(c)
    assert runs[0] == runs[1]
    assert len(runs[0][0][0]) >= 5
    assert runs[0][0][0] != runs[2][0][0]
    assert runs[0][0][0][0] != runs[2][0][0][0]


_DIGEST_SCRIPT = """
import hashlib, json
from rppsim.testing.cluster import InMemoryCluster
c = InMemoryCluster(validators=4, seed=13, tx_rate_per_s=2.0)
c.run(until_ms=20_000)
payload = [c.finalized_chain(i) for i in range(4)] + [c.node(i).status_node() for i in range(4)]
print(hashlib.blake2s(json.dumps(payload, sort_keys=True).encode()).hexdigest())
"""


def test_determinism_across_processes_and_hash_seeds():
    """docs/architecture.md#determinism: the same run in two processes with different
    PYTHONHASHSEED."""
    digests = set()
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1
    assert len(digests.pop()) == 64


def test_safety_helper_detects_a_fork(make_cluster, safety):
    """The invariant itself can fail: two nodes with different blocks at one height."""
    c = make_cluster(validators=4, seed=5)
    c.run(until_ms=12_000)
    assert c.finalized_chain(0)
    honest = c.node(1).chain[0]
    other = replace(honest.block, header=replace(honest.block.header, round=9))
    c.node(1).chain[0] = Commit(other, honest.certificate)
    with pytest.raises(AssertionError, match="height 1"):
        safety(c)
    c.node(1).chain[0] = honest
    safety(c)


# --- crash, restart, leader crash and round knobs ----------------------------------------------


def test_follower_crash_and_restart_catches_up(make_cluster, safety):
    """A restarted follower replays its persisted commits, syncs the rest and agrees.

    The follower is not the current height's proposer: crashing that one stalls the height
    under chain rules (see the leader-crash tests below)."""
    c = make_cluster(validators=7, seed=5)
    c.run(until_ms=30_000)
    leader = _index(c, c.node(0).status_node()["consensus"]["proposer"])
    k = next(i for i in (3, 4, 5, 6) if i != leader)
    c.crash(k)
    c.run(until_ms=60_000)
    behind = len(c.finalized_chain(k))
    assert len(c.finalized_chain(0)) >= behind + 4
    c.restart(k)
    assert len(c.finalized_chain(k)) == behind  # replayed from what it persisted
    c.run(until_ms=90_000)
    assert c.finalized_chain(k) == c.finalized_chain(0)
    assert len(c.finalized_chain(k)) > behind + 4
    assert c.node(k).ledger.get_state_root() == c.node(0).ledger.get_state_root()
    safety(c)


def _crash_leader(
    rules: Rules, make_cluster, fresh_height
) -> tuple[InMemoryCluster, int, int, int]:
    """Crash the leader of a fresh height after its submission spread; (cluster, height,
    leader index, propose time)."""
    c = make_cluster(validators=7, seed=5, rules=rules)
    c.run(until_ms=20_000)
    height = fresh_height(c)
    leader = _index(c, c.node(0).status_node()["consensus"]["proposer"])
    propose_at = _propose_at(c)
    c.crash(leader)
    return c, height, leader, propose_at


def test_leader_crash_stalls_the_height_with_chain_rules(make_cluster, safety, fresh_height):
    """Default rules: the leader is the same in every round, so the height stalls
    (docs/protocol.md#known-weaknesses)."""
    rules = Rules()
    c, height, leader, propose_at = _crash_leader(rules, make_cluster, fresh_height)
    c.run(until_ms=propose_at + 4 * rules.round_timeout_ms + 100)
    observer = 0 if leader != 0 else 1
    status = c.node(observer).status_node()
    assert status["height"] == height - 1
    assert status["consensus"]["height"] == height
    assert status["consensus"]["round"] == 4
    assert status["consensus"]["proposer"] == c.keys[leader].address
    assert status["consensus"]["leader_changes"] == 0
    safety(c)


@pytest.mark.parametrize("timeout_ms", [2000, 6000])
def test_leader_crash_recovers_with_rotation_within_three_timeouts(
    make_cluster, safety, fresh_height, timeout_ms
):
    """rotate_leader_on_round_change: round 1 has another leader; the height commits."""
    rules = Rules(round_timeout_ms=timeout_ms, rotate_leader_on_round_change=True)
    c, height, leader, propose_at = _crash_leader(rules, make_cluster, fresh_height)
    observer = 0 if leader != 0 else 1
    c.run(until_ms=propose_at + timeout_ms - 100)
    assert c.node(observer).height == height - 1  # still waiting in round 0
    c.run(until_ms=propose_at + 3 * timeout_ms)
    assert c.node(observer).height >= height
    assert c.node(observer).chain[height - 1].certificate.round >= 1
    status = c.node(observer).status_node()["consensus"]
    assert status["leader_changes"] >= 1
    c.run(until_ms=c.now + 30_000)
    live = [i for i in range(7) if i != leader]
    assert all(c.finalized_chain(i) == c.finalized_chain(observer) for i in live)
    safety(c, live)


def test_round_timeout_knob_sets_the_round_pace(make_cluster, safety, fresh_height):
    """With a dead leader and chain rules, rounds advance every ``round_timeout_ms``."""
    rounds = {}
    for timeout_ms in (2000, 6000):
        c, _, leader, propose_at = _crash_leader(
            Rules(round_timeout_ms=timeout_ms), make_cluster, fresh_height
        )
        c.run(until_ms=propose_at + 12_000 + 100)
        rounds[timeout_ms] = c.node(0 if leader else 1).status_node()["consensus"]["round"]
        safety(c)
    assert rounds == {2000: 6, 6000: 2}


# --- double signing and slashing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("vote_kind", "evidence_kind"),
    [
        (VoteKind.PRE_VOTE, EvidenceKind.DOUBLE_SIGN_PREVOTE),
        (VoteKind.PRE_COMMIT, EvidenceKind.DOUBLE_SIGN_PRECOMMIT),
    ],
)
def test_double_sign_is_slashed_and_the_validator_leaves_for_good(
    make_cluster, safety, fresh_height, vote_kind, evidence_kind
):
    """Two votes of one kind for one (height, round): 10 % slash (ConsensusFault), ZSI
    revoked, never in a validator set again; the chain keeps going (docs/protocol.md#evidence,
    docs/protocol.md#slashing)."""
    c = make_cluster(validators=7, seed=5)
    c.run(until_ms=20_000)
    height = fresh_height(c)
    k = 2
    offender = c.keys[k].address
    conflicting = sign_vote(BftVote(0, height, "ab" * 32, offender, vote_kind), c.keys[k].keypair)
    c.inject(k, conflicting)
    c.run(until_ms=c.now + 40_000)
    chain = c.node(0).chain
    with_evidence = [commit for commit in chain if commit.block.evidence]
    assert len(with_evidence) == 1
    (evidence,) = with_evidence[0].block.evidence
    assert (evidence.kind, evidence.address, evidence.height) == (evidence_kind, offender, height)
    slashed_at = with_evidence[0].block.header.height
    assert slashed_at in (height, height + 1)
    for i in range(7):
        ledger = c.node(i).ledger
        account = ledger.get_account(offender)
        assert account.stake == 900
        assert not account.reputation.zsi_validated
        assert account.tier == Tier.Tl0
        assert account.timetoke.hours_online == 0
        (event,) = ledger.slashing_log
        assert (event.reason, event.penalty_percent) == (SlashingReason.ConsensusFault, 10)
        assert c.node(i).status_node()["consensus"]["slashing_events"] == 1
    later = [commit for commit in chain if commit.block.header.height > slashed_at]
    assert len(later) >= 5
    for commit in later:
        assert offender not in {m.address for m in commit.block.vrf_submissions}
        assert offender not in {r.vote.vote.voter for r in commit.certificate.pre_votes}
        assert commit.block.header.proposer != offender
    assert c.node(k).status_node()["vrf_metrics"]["pool_entries"] == 6
    node = c.node(0)
    late_vote = sign_vote(
        BftVote(0, node.hs.height, "cd" * 32, offender, VoteKind.PRE_VOTE), c.keys[k].keypair
    )
    node.on_message(c.now, offender, late_vote)
    assert node.rejections["vote: publish tier too low"] == 1
    resubmitted = next(m for m in chain[0].block.vrf_submissions if m.address == offender)
    node.on_message(c.now, offender, replace(resubmitted, height=node.hs.height))
    assert node.rejections["vrf: publish tier too low"] == 1
    safety(c)


# --- rule knobs -------------------------------------------------------------------------------


@pytest.mark.parametrize("allow", [False, True])
def test_allow_empty_blocks_knob(make_cluster, safety, allow):
    """No traffic: the chain produces no block; with allow_empty_blocks it keeps going."""
    c = make_cluster(validators=4, seed=6, tx_rate_per_s=0.0, rules=Rules(allow_empty_blocks=allow))
    c.run(until_ms=40_000)
    heights = len(c.finalized_chain(0))
    if allow:
        assert heights >= 6
        assert all(not commit.block.transactions for commit in c.node(0).chain)
    else:
        assert heights == 0
        assert c.node(0).status_node()["consensus"]["round"] >= 4
    safety(c)


@pytest.mark.parametrize(("cap", "members"), [(False, 7), (True, 3)])
def test_threshold_caps_committee_knob(make_cluster, safety, cap, members):
    """target 3 of 7: the chain's threshold barely binds (all 7 vote); capped → 3 vote."""
    config = replace(NodeConfig(), target_validator_count=3)
    c = make_cluster(validators=7, seed=7, config=config, rules=Rules(threshold_caps_committee=cap))
    c.run(until_ms=40_000)
    chain = c.node(0).chain
    assert len(chain) >= 5
    for commit in chain:
        assert len(commit.block.vrf_submissions) == members
        assert len(commit.certificate.pre_votes) == members
    safety(c)


# --- rewards, reputation, timetoke, identities ------------------------------------------------


def _payout_order_key(account, randomness: int):
    return (-account.tier, -account.timetoke.hours_online, -randomness, account.address)


def test_block_reward_split_and_leader_bonus(make_cluster, safety):
    """R = 5 + fees split ⌊R/n⌋ with the remainder to the first in payout order, leader
    bonus ⌈R·20/100⌉, consensus_success + 1, paid from treasury-validator
    (docs/protocol.md#rewards-and-treasury)."""
    from rppsim.node.genesis import TREASURY_VALIDATOR
    from rppsim.node.node import Node

    c = make_cluster(validators=4, seed=8, tx_rate_per_s=3.0)
    c.run(until_ms=40_000)
    chain = c.node(0).chain
    index = next(i for i, commit in enumerate(chain) if commit.block.transactions and i > 0)
    before = Node(c.config, c.keys[0], commits=chain[:index]).ledger
    after = Node(c.config, c.keys[0], commits=chain[: index + 1]).ledger
    block = chain[index].block
    reward = 5 + sum(tx.fee for tx in block.transactions)
    bonus = -(-reward * 20 // 100)
    members = [before.get_account(m.address) for m in block.vrf_submissions]
    randomness = {m.address: m.randomness for m in block.vrf_submissions}
    order = sorted(members, key=lambda a: _payout_order_key(a, randomness[a.address]))
    share, remainder = divmod(reward, len(order))
    for position, account in enumerate(order):
        expected = share + (position < remainder)
        if account.address == block.header.proposer:
            expected += bonus
        new = after.get_account(account.address)
        assert new.balance - account.balance == expected
        assert new.reputation.consensus_success == account.reputation.consensus_success + 1
    paid = reward + bonus
    treasury = before.get_account(TREASURY_VALIDATOR).balance
    assert treasury - after.get_account(TREASURY_VALIDATOR).balance == paid
    assert after.reward_shortfall == before.reward_shortfall
    safety(c)


def test_tiers_move_with_consensus_success(make_cluster, safety):
    """Each reward adds one consensus success; at the Tl4 threshold validators move up
    (docs/protocol.md#reputation)."""
    base = NodeConfig()
    thresholds = replace(base.reputation.tier_thresholds, tier4_min_consensus_success=16)
    config = replace(base, reputation=replace(base.reputation, tier_thresholds=thresholds))
    c = make_cluster(validators=4, seed=9, config=config, tx_rate_per_s=2.0)
    assert {c.node(0).ledger.get_account(k.address).tier for k in c.keys} == {Tier.Tl3}
    c.run(until_ms=25_000)
    ledger = c.node(0).ledger
    for keys in c.keys:
        account = ledger.get_account(keys.address)
        successes = account.reputation.consensus_success
        assert successes == 10 + len(c.finalized_chain(0))
        assert account.tier == (Tier.Tl4 if successes >= 16 else Tier.Tl3)
    c.run(until_ms=60_000)
    ledger = c.node(0).ledger
    assert {ledger.get_account(k.address).tier for k in c.keys} == {Tier.Tl4}
    assert c.node(1).status_node()["reputation"]["tier"] == "Tl4"
    safety(c)


@pytest.mark.slow
def test_uptime_proofs_credit_one_hour_per_hour(make_cluster, safety):
    """Over 2 h 10 min validators claim uptime every 600 s; only one claim per ≥ 1 h credits
    (+1 h each), the proofs land in blocks and the hours grow (docs/protocol.md#timetoke)."""
    config = replace(NodeConfig(), block_time_ms=60_000)
    c = make_cluster(validators=4, seed=10, config=config, tx_rate_per_s=0.05)
    c.run(until_ms=8_000_000)
    chain = c.node(0).chain
    for keys in c.keys:
        proofs = [
            proof
            for commit in chain
            for proof in commit.block.uptime_proofs
            if proof.wallet_address == keys.address
        ]
        assert len(proofs) == 3
        ends = [proof.window_end for proof in proofs]
        assert all(b - a >= 3600 for a, b in itertools.pairwise(ends))
        account = c.node(0).ledger.get_account(keys.address)
        assert account.timetoke.hours_online == 24 + 3
    safety(c)


def test_identity_registers_through_a_block(make_cluster, safety, identity_request):
    """An IdentityRequest with a valid VRF over (epoch nonce, 0, tier_seed(addr, 0)) is
    included in a block and becomes a validated Tl1 account with stake 0
    (docs/protocol.md#rewards-and-treasury)."""
    c = make_cluster(validators=4, seed=12, tx_rate_per_s=0.0)
    request = identity_request(c.node(2).ledger, bytes([77]) * 32)
    assert c.node(2).ledger.get_account(request.wallet_address) is None
    c.submit(2, request)
    c.run(until_ms=15_000)
    blocks = [commit.block for commit in c.node(0).chain if commit.block.identities]
    assert [b.identities for b in blocks] == [(request,)]
    for i in range(4):
        account = c.node(i).ledger.get_account(request.wallet_address)
        assert account.tier == Tier.Tl1
        assert account.reputation.zsi_validated
        assert (account.stake, account.balance) == (0, 0)
        assert c.node(i).ledger.is_vrf_tag_used(request.vrf_tag)
        assert c.node(i).status_node()["pending_identities"] == 0
    again = identity_request(c.node(0).ledger, bytes([77]) * 32)
    c.node(0).submit(c.now, again)
    assert c.node(0).rejections["identity: address already registered"] == 1
    safety(c)
