"""``check_accountability`` (rppsim/checks/accountability.py): equivocations get slashed."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.checks.accountability import check_accountability, compute_equivocations


def _votes(*rows: tuple[int, int, str, int, str, int]) -> list[dict[str, object]]:
    keys = ("height", "round", "kind", "voter", "block_hash", "sent_ms")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _chain(top: int, nodes: range = range(3)) -> list[dict[str, object]]:
    """Heights 1..top finalized by ``nodes``, block ``b<h>`` at 100·h ms."""
    return [
        {"height": h, "node": n, "hash": f"b{h}", "finalized_ms": 100 * h}
        for h in range(1, top + 1)
        for n in nodes
    ]


def _evidence(height: int, offender: int, offense: int, round_: int = 0) -> dict[str, object]:
    return {
        "height": height, "block_hash": f"b{height}", "offender": offender,
        "offense_height": offense, "round": round_, "kind": "double_sign_prevote",
    }  # fmt: skip


DOUBLE = _votes(
    (2, 0, "prevote", 3, "b2", 200), (2, 0, "prevote", 3, "evil", 210),
    (2, 0, "prevote", 0, "b2", 190), (2, 0, "precommit", 0, "b2", 220),
)  # fmt: skip


def test_no_equivocation_passes_with_figure_zero(make_frames, make_context) -> None:
    frames = make_frames(votes=DOUBLE[2:], block_finalized=_chain(20))
    verdict = check_accountability(frames, make_context(frames))
    assert verdict.passed is True and verdict.figure == 0
    assert verdict.message == "no equivocation in the votes frame"


def test_evidence_within_ten_heights_passes(make_frames, make_context) -> None:
    frames = make_frames(
        byzantine=[3], votes=DOUBLE, block_finalized=_chain(20), evidence=[_evidence(12, 3, 2)]
    )
    verdict = check_accountability(frames, make_context(frames))
    assert verdict.passed is True and verdict.figure == 0 and verdict.threshold == 0
    assert verdict.message == (
        "1 equivocations: 1 slashed, 0 covered, 0 pending, 0 missed (honest height 20)"
    )


def test_missing_evidence_fails_at_the_conflicting_vote(make_frames, make_context) -> None:
    frames = make_frames(byzantine=[3], votes=DOUBLE, block_finalized=_chain(12))
    verdict = check_accountability(frames, make_context(frames))
    assert verdict.passed is False and verdict.figure == 1
    assert verdict.node == 3 and verdict.time_ms == 210
    assert verdict.message == (
        "node 3 equivocated (prevote, height 2, round 0) and was not slashed by height 12;"
        " 1 equivocations: 0 slashed, 0 covered, 0 pending, 1 missed (honest height 12)"
    )


def test_late_evidence_or_a_byzantine_only_block_does_not_count(make_frames, make_context) -> None:
    late = make_frames(votes=DOUBLE, block_finalized=_chain(20), evidence=[_evidence(13, 3, 2)])
    assert check_accountability(late, make_context(late)).passed is False
    chain = [*_chain(12), {"height": 5, "node": 3, "hash": "fork5", "finalized_ms": 1}]
    evidence = [{**_evidence(5, 3, 2), "block_hash": "fork5"}]
    forked = make_frames(byzantine=[3], votes=DOUBLE, block_finalized=chain, evidence=evidence)
    assert check_accountability(forked, make_context(forked)).passed is False


def test_a_participation_detection_is_no_slash(make_frames, make_context) -> None:
    """The ``evidence`` frame also holds the participation detectors' findings; they cut
    rewards, not stake, so they neither slash nor cover an equivocation."""
    evidence = [
        {**_evidence(4, 3, 3), "kind": kind} for kind in ("censorship_prevote", "inactivity")
    ]
    frames = make_frames(byzantine=[3], votes=DOUBLE, block_finalized=_chain(12), evidence=evidence)
    verdict = check_accountability(frames, make_context(frames))
    assert verdict.passed is False and verdict.figure == 1


def test_a_deadline_not_reached_is_pending(make_frames, make_context) -> None:
    frames = make_frames(votes=DOUBLE, block_finalized=_chain(11))
    verdict = check_accountability(frames, make_context(frames))
    assert verdict.passed is None and verdict.node is None
    assert verdict.message == (
        "1 equivocations: 0 slashed, 0 covered, 1 pending, 0 missed (honest height 11)"
    )


def test_an_offender_slashed_once_is_covered_for_its_other_offenses(
    make_frames, make_context
) -> None:
    votes = DOUBLE + _votes((4, 1, "precommit", 3, "x", 400), (4, 1, "precommit", 3, "y", 401))
    frames = make_frames(votes=votes, block_finalized=_chain(30), evidence=[_evidence(3, 3, 2)])
    verdict = check_accountability(frames, make_context(frames))
    assert verdict.passed is True
    assert "1 slashed, 1 covered, 0 pending, 0 missed" in verdict.message


def test_equivocations_are_found_by_voter_height_round_and_kind(make_frames) -> None:
    votes = make_frames(votes=DOUBLE + _votes((2, 0, "prevote", 3, "third", 205)))["votes"]
    (offense,) = compute_equivocations(votes)
    assert (offense.height, offense.round, offense.kind, offense.voter) == (2, 0, "prevote", 3)
    assert offense.hashes == 3 and offense.time_ms == 205 and offense.deadline == 12


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 3), st.integers(0, 1), st.sampled_from(["prevote", "precommit"]),
            st.integers(0, 2), st.sampled_from("abc"), st.integers(0, 999),
        ),
        max_size=12,
    ),
    st.lists(st.tuples(st.integers(1, 15), st.integers(0, 2), st.integers(1, 3)), max_size=3),
    st.integers(0, 15),
    st.randoms(use_true_random=False),
)  # fmt: skip
def test_permuting_rows_never_changes_the_verdict(
    make_frames, make_context, reorder, votes, evidence, top, rng: random.Random
) -> None:
    frames = make_frames(
        votes=_votes(*votes),
        block_finalized=_chain(top),
        evidence=[_evidence(h, o, x) for h, o, x in evidence],
    )
    verdict = check_accountability(frames, make_context(frames))
    shuffled = reorder(frames, lambda n: rng.sample(range(n), n))
    assert check_accountability(shuffled, make_context(shuffled)) == verdict
