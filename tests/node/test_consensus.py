"""Vote bookkeeping: quorum, tallies, locks, conflicts (docs/protocol.md#rounds-and-quorum)."""

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.node.consensus import (
    PRECOMMIT,
    PREVOTE,
    Lock,
    RoundVotes,
    ValidatorSet,
    VoteOutcome,
    compute_quorum,
)


def _vote(block_hash: str):
    return SimpleNamespace(vote=SimpleNamespace(block_hash=block_hash))


def test_quorum_example_from_spec():
    """Stake 1000, score 1.0, 720 h: T = 1,442,000,000 gives quorum 961,333,335."""
    assert compute_quorum(1_442_000_000) == 961_333_335


def test_quorum_of_zero_power_is_zero():
    assert compute_quorum(0) == 0


@given(st.integers(1, 10**30))
def test_quorum_is_strictly_more_than_two_thirds(total):
    quorum = compute_quorum(total)
    assert 3 * quorum > 2 * total
    assert 3 * (quorum - 2) < 2 * total


def test_lone_validator_commits_only_with_power_three():
    """⌈2T/3⌉ + 1 ≤ T only when T ≥ 3 (docs/protocol.md#rounds-and-quorum)."""
    assert compute_quorum(2) > 2
    assert compute_quorum(3) <= 3


def test_validator_set_powers_and_leaders():
    vs = ValidatorSet.create({"b": 2, "a": 1, "c": 3}, ["c", "a", "b"])
    assert vs.total_power == 6
    assert vs.quorum == 5
    assert vs.power_of("a") == 1
    assert vs.power_of("zz") == 0
    assert vs.get_leader(0, rotate=False) == "c"
    assert vs.get_leader(5, rotate=False) == "c"
    assert [vs.get_leader(r, rotate=True) for r in range(4)] == ["c", "a", "b", "c"]
    assert ValidatorSet.create({}, []).get_leader(0, rotate=True) is None


def test_round_votes_duplicate_and_conflict():
    votes = RoundVotes()
    first = _vote("h1")
    assert votes.add(PREVOTE, "a", "h1", first) == (VoteOutcome.ADDED, None)
    assert votes.add(PREVOTE, "a", "h1", _vote("h1"))[0] is VoteOutcome.DUPLICATE
    outcome, earlier = votes.add(PREVOTE, "a", "h2", _vote("h2"))
    assert outcome is VoteOutcome.CONFLICT
    assert earlier is first
    assert votes.votes_for(PREVOTE, "h2") == []


def test_precommit_counts_only_after_prevote():
    vs = ValidatorSet.create({"a": 5, "b": 5}, ["a", "b"])
    votes = RoundVotes()
    votes.add(PRECOMMIT, "a", "h", _vote("h"))
    assert votes.precommit_power("h", vs) == 0
    votes.add(PREVOTE, "a", "h", _vote("h"))
    assert votes.prevote_power("h", vs) == 5
    assert votes.precommit_power("h", vs) == 5


def test_votes_of_non_members_have_no_power():
    vs = ValidatorSet.create({"a": 5}, ["a"])
    votes = RoundVotes()
    votes.add(PREVOTE, "x", "h", _vote("h"))
    assert votes.prevote_power("h", vs) == 0


@pytest.mark.parametrize(
    ("locked", "locked_round", "candidate", "polka_round", "allowed"),
    [
        (None, -1, "b", -1, True),
        ("a", 1, "a", -1, True),
        ("a", 1, "b", -1, False),
        ("a", 1, "b", 1, False),
        ("a", 1, "b", 2, True),
    ],
)
def test_lock_rule(locked, locked_round, candidate, polka_round, allowed):
    lock = Lock(locked, locked_round)
    assert lock.is_prevote_allowed(candidate, polka_round) is allowed
