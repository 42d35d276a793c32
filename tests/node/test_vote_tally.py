"""Running vote tallies equal a recount from scratch after any sequence of votes and reads."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.consensus import PRECOMMIT, PREVOTE, RoundVotes, ValidatorSet

VOTERS = "abcdef"
SETS = (
    ValidatorSet.create({"a": 1, "b": 2, "c": 3, "d": 5}, ["a"]),
    ValidatorSet.create({"c": 7, "d": 11, "e": 13, "f": 17}, ["f"]),
)


def _recount(votes: RoundVotes, kind: int, block_hash: str, validators: ValidatorSet) -> int:
    voters = votes.by_hash[kind].get(block_hash, {})
    if kind == PREVOTE:
        return sum(validators.power_of(v) for v in voters)
    prevoted = votes.by_hash[PREVOTE].get(block_hash, {})
    return sum(validators.power_of(v) for v in voters if v in prevoted)


steps = st.lists(
    st.tuples(
        st.sampled_from(["vote", "read"]),
        st.sampled_from([PREVOTE, PRECOMMIT]),
        st.sampled_from(VOTERS),
        st.sampled_from(["x", "y"]),
        st.integers(0, 1),
    ),
    max_size=60,
)


@settings(max_examples=100)
@given(steps)
def test_incremental_tally_equals_recount(sequence):
    """Precommits before their voter's prevote start counting once the prevote arrives."""
    votes = RoundVotes()
    for action, kind, voter, block_hash, which in sequence:
        if action == "vote":
            votes.add(
                kind,
                voter,
                block_hash,
                SimpleNamespace(vote=SimpleNamespace(block_hash=block_hash)),
            )
            continue
        validators = SETS[which]
        assert votes.prevote_power(block_hash, validators) == _recount(
            votes, PREVOTE, block_hash, validators
        )
        assert votes.precommit_power(block_hash, validators) == _recount(
            votes, PRECOMMIT, block_hash, validators
        )
    for validators in SETS:
        for block_hash in ("x", "y"):
            assert votes.precommit_power(block_hash, validators) == _recount(
                votes, PRECOMMIT, block_hash, validators
            )


def test_precommit_counts_only_after_a_prevote_for_the_same_block():
    votes = RoundVotes()
    validators = SETS[0]
    vote = SimpleNamespace(vote=SimpleNamespace(block_hash="x"))
    votes.add(PRECOMMIT, "d", "x", vote)
    votes.add(PREVOTE, "d", "y", SimpleNamespace(vote=SimpleNamespace(block_hash="y")))
    assert votes.precommit_power("x", validators) == 0  # d prevoted another block
    votes.add(PREVOTE, "c", "x", vote)
    votes.add(PRECOMMIT, "c", "x", vote)
    assert votes.precommit_power("x", validators) == 3
    assert votes.prevote_power("x", validators) == 3
