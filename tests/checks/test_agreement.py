"""``check_agreement`` (rppsim/checks/agreement.py): one state root per finalized height."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.checks.agreement import check_agreement
from rppsim.checks.safety import check_safety


def _finalized(*rows: tuple[int, int, str, int]) -> list[dict[str, object]]:
    return [{"height": h, "node": n, "hash": x, "finalized_ms": t} for h, n, x, t in rows]


def _blocks(*rows: tuple[int, str, str]) -> list[dict[str, object]]:
    return [{"height": h, "hash": x, "state_root": r} for h, x, r in rows]


def test_shared_blocks_pass(make_frames, make_context) -> None:
    frames = make_frames(
        block_finalized=_finalized(*((h, n, f"b{h}", 100 * h) for h in (1, 2) for n in range(4))),
        blocks=_blocks((1, "b1", "r1"), (2, "b2", "r2")),
    )
    verdict = check_agreement(frames, make_context(frames))
    assert verdict.passed is True and verdict.figure == 0
    assert verdict.message == "2 finalized heights, one state root each"


def test_nothing_finalized_passes_with_figure_zero(make_frames, make_context) -> None:
    frames = make_frames()
    verdict = check_agreement(frames, make_context(frames))
    assert verdict.passed is True and verdict.figure == 0


def test_two_roots_at_a_height_fail_at_the_first_other_root(make_frames, make_context) -> None:
    frames = make_frames(
        block_finalized=_finalized(
            (1, 0, "a", 10), (1, 1, "a", 12), (1, 2, "b", 30), (1, 3, "c", 20)
        ),
        blocks=_blocks((1, "a", "root-a"), (1, "b", "root-b"), (1, "c", "root-a")),
    )
    verdict = check_agreement(frames, make_context(frames))
    assert verdict.passed is False and verdict.figure == 1
    assert verdict.node == 2 and verdict.time_ms == 30
    assert verdict.message == (
        "height 1: node 2 finalized state root root-b at 30 ms, node 0 had root-a"
        " (1 heights with differing roots)"
    )


def test_a_fork_with_one_root_fails_safety_but_not_agreement(make_frames, make_context) -> None:
    frames = make_frames(
        block_finalized=_finalized((1, 0, "a", 10), (1, 1, "b", 11)),
        blocks=_blocks((1, "a", "r"), (1, "b", "r")),
    )
    context = make_context(frames)
    assert check_agreement(frames, context).passed is True
    assert check_safety(frames, context).passed is False


def test_a_byzantine_nodes_block_does_not_count(make_frames, make_context) -> None:
    frames = make_frames(
        byzantine=[3],
        block_finalized=_finalized((1, 0, "a", 10), (1, 3, "evil", 5)),
        blocks=_blocks((1, "a", "r"), (1, "evil", "other")),
    )
    assert check_agreement(frames, make_context(frames)).passed is True


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.integers(0, 3), st.sampled_from("abc"), st.integers(0, 9)),
        unique_by=lambda r: r[:2],
    ),
    st.dictionaries(st.sampled_from("abc"), st.sampled_from(["r1", "r2"]), min_size=3),
    st.randoms(use_true_random=False),
)
def test_permuting_rows_never_changes_the_verdict(
    make_frames, make_context, reorder, rows, roots, rng: random.Random
) -> None:
    blocks = _blocks(*((h, x, roots[x]) for h in (1, 2, 3) for x in "abc"))
    frames = make_frames(block_finalized=_finalized(*rows), blocks=blocks)
    verdict = check_agreement(frames, make_context(frames))
    shuffled = reorder(frames, lambda n: rng.sample(range(n), n))
    assert check_agreement(shuffled, make_context(shuffled)) == verdict
