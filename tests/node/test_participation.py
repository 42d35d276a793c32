"""Participation detectors (rppsim/node/participation.py, the crate's detectors): consecutive
missed prevotes and precommits (threshold 3) and inactive rounds (threshold 4) withhold the
reward and cut the score; they run over the certificate each block carries."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from rppsim.node.blocks import compute_block_problem
from rppsim.node.building import compute_sealed_block
from rppsim.node.ledger import Ledger, LedgerGenesisAccount
from rppsim.node.messages import SignedBftVote as Vote
from rppsim.node.participation import (
    NO_MISSES,
    Detection,
    Misses,
    ParticipationParams,
    compute_misses,
)

PARAMS = ParticipationParams()


def _ledger(*addresses: str) -> Ledger:
    accounts = [LedgerGenesisAccount(a, 0, 1000, True, 24, 10) for a in addresses]
    return Ledger.from_genesis(accounts, now=0)


def test_missed_votes_trigger_censorship_at_three_and_reset() -> None:
    misses, found = NO_MISSES, ()
    for _ in range(2):
        misses, found = compute_misses(misses, False, True, PARAMS)
        assert found == ()
    assert misses == Misses(prevotes=2)
    misses, found = compute_misses(misses, False, True, PARAMS)
    assert found == ((Detection.CENSORSHIP_PREVOTE, 3),) and misses == NO_MISSES


def test_a_silent_validator_is_censored_every_third_round_and_inactive_every_fourth() -> None:
    misses, kinds = NO_MISSES, []
    for _ in range(12):
        misses, found = compute_misses(misses, False, False, PARAMS)
        kinds.append({kind for kind, _ in found})
    censored = {Detection.CENSORSHIP_PREVOTE, Detection.CENSORSHIP_PRECOMMIT}
    assert [k >= censored for k in kinds] == [(r + 1) % 3 == 0 for r in range(12)]
    assert [Detection.INACTIVITY in k for k in kinds] == [(r + 1) % 4 == 0 for r in range(12)]


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=30))
def test_participating_resets_and_zero_thresholds_disable(rounds: list[tuple[bool, bool]]) -> None:
    off = ParticipationParams(censorship_vote_threshold=0, inactivity_threshold=0)
    misses = NO_MISSES
    for prevoted, precommitted in rounds:
        misses, _ = compute_misses(misses, prevoted, precommitted, PARAMS)
        assert misses.prevotes < 3 and misses.precommits < 3 and misses.inactive < 4
        if prevoted:
            assert misses.prevotes == 0
        if prevoted or precommitted:
            assert misses.inactive == 0
        assert compute_misses(NO_MISSES, prevoted, precommitted, off) == (NO_MISSES, ())


def test_detections_cut_the_score_and_withhold_the_reward() -> None:
    ledger = _ledger("aa", "bb")
    before = ledger.get_account("bb").reputation
    voted = (frozenset({"aa"}), frozenset({"aa"}))
    for height in (2, 3):
        assert ledger.process_participation(height, height - 1, 0, ["aa", "bb"], voted) == set()
    fork = ledger.fork()
    withheld = fork.process_participation(4, 3, 0, ["aa", "bb"], voted)
    assert withheld == {"bb"} and ledger.get_misses("bb") == Misses(2, 2, 2)
    after = fork.get_account("bb").reputation
    assert after.score == before.score * 0.9 * 0.9 and after.tier == before.tier
    assert after.consensus_success == before.consensus_success
    assert [(e.height, e.offense_height, e.address, e.kind) for e in fork.participation_log] == [
        (4, 3, "bb", Detection.CENSORSHIP_PREVOTE),
        (4, 3, "bb", Detection.CENSORSHIP_PRECOMMIT),
    ]
    assert ledger.participation_log == [] and fork.get_account("aa") == ledger.get_account("aa")


def test_withheld_validators_are_not_paid() -> None:
    ledger = _ledger("aa", "bb", "treasury-validator")
    profiles = [ledger.get_account(a).reputation for a in ("aa", "bb")]

    class Payee:
        def __init__(self, address: str) -> None:
            self.address, self.tier, self.timetoke_hours, self.randomness = address, 3, 24, 0

    outcome = ledger.process_consensus_rewards(
        [Payee("aa"), Payee("bb")], "bb", 0, 10, withheld=frozenset({"bb"})
    )
    assert [address for address, _, _ in outcome.payouts] == ["aa"]
    paid = ledger.get_account("aa").reputation
    assert paid.consensus_success == profiles[0].consensus_success + 1
    assert ledger.get_account("bb").reputation == profiles[1]


def test_a_silent_validator_is_detected_and_honest_ones_never_are(make_cluster) -> None:
    """One of 7 validators never sends its votes (it still submits its VRF, so it stays
    elected): every block's carried certificate lacks it, so the detectors flag it every
    third/fourth block and it falls behind in rewards; the leaders' certificates name every
    other validator (late votes included), so no honest validator is ever flagged."""
    cluster = make_cluster(validators=7, seed=3, tx_rate_per_s=2.0)
    apply = cluster._apply

    def withhold(i: int, effects: list[object]) -> None:
        if i == 6:
            effects = [e for e in effects if not isinstance(getattr(e, "message", None), Vote)]
        apply(i, effects)

    cluster._apply = withhold
    cluster.run(60_000)
    node = cluster.node(0)
    assert node.height >= 10
    offenders = {event.address for event in node.ledger.participation_log}
    assert offenders == {cluster.keys[6].address}
    kinds = [event.kind for event in node.ledger.participation_log]
    assert kinds.count(Detection.INACTIVITY) >= 2 and kinds.count(Detection.CENSORSHIP_PREVOTE) >= 3
    successes = [
        node.ledger.get_account(k.address).reputation.consensus_success for k in cluster.keys
    ]
    assert successes[6] < min(successes[:6]) and len(set(successes[:6])) == 1
    for commit in node.chain[2:]:
        certificate = commit.block.last_certificate
        assert certificate is not None
        voters = {r.vote.vote.voter for r in certificate.pre_commits}
        assert voters == {k.address for k in cluster.keys[:6]}
    assert {cluster.node(i).ledger.get_state_root() for i in range(7)} == {
        node.ledger.get_state_root()
    }


def test_a_block_with_a_forged_transfer_is_rejected(make_cluster) -> None:
    """``process_block`` applies what it is given; block validation checks every transfer's
    signature first, so a leader cannot spend from a wallet it holds no key of."""
    cluster = make_cluster(validators=4, seed=5, tx_rate_per_s=4.0)
    cluster.run(9_000)
    address = cluster.node(0).get_voting_set().validators.get_leader(0, False)
    node = cluster.node([k.address for k in cluster.keys].index(address))
    block = node._build_block(cluster.now, node.hs.round)
    assert block is not None and block.transactions
    tx = block.transactions[0]
    forged = replace(tx, signature=bytes(b ^ 1 for b in tx.signature))
    draft = replace(block, transactions=(forged, *block.transactions[1:]))
    bad = compute_sealed_block(draft, block.header.state_root, block.proofs)
    verdict = compute_block_problem(
        node.ledger,
        bad,
        node._context(),
        node.verifier,
        node.previous_set,
        node.previous_epoch,
        round_set=node._voting_set_of(bad),
    )
    assert verdict == f"transaction {forged.hash[:16]} rejected: invalid signature"
