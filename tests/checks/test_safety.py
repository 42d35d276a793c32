"""``check_safety`` (rppsim/checks/safety.py): one honest block per height."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.checks.safety import check_safety


def _finalized(*rows: tuple[int, int, str, int]) -> list[dict[str, object]]:
    return [{"height": h, "node": n, "hash": x, "finalized_ms": t} for h, n, x, t in rows]


def test_one_block_per_height_passes(make_frames, make_context) -> None:
    rows = _finalized(*((h, n, f"b{h}", 1000 * h + n) for h in (1, 2, 3) for n in range(4)))
    frames = make_frames(block_finalized=rows)
    verdict = check_safety(frames, make_context(frames))
    assert verdict.passed is True and verdict.figure == 0 and verdict.threshold == 0
    assert verdict.id == "safety" and verdict.kind == "checker"
    assert verdict.message == "3 heights finalized by 4 honest nodes, one block each"


def test_nothing_finalized_passes_with_figure_zero(make_frames, make_context) -> None:
    frames = make_frames()
    verdict = check_safety(frames, make_context(frames))
    assert verdict.passed is True and verdict.figure == 0 and verdict.node is None


def test_a_second_honest_block_fails_at_its_first_finalizer(make_frames, make_context) -> None:
    rows = _finalized(
        (1, 0, "a1", 50), (1, 1, "a1", 60),
        (2, 0, "a2", 100), (2, 1, "a2", 110), (2, 2, "b2", 105), (2, 3, "b2", 104),
        (3, 0, "a3", 200), (3, 3, "b3", 190),
    )  # fmt: skip
    frames = make_frames(block_finalized=rows)
    verdict = check_safety(frames, make_context(frames))
    assert verdict.passed is False and verdict.figure == 2
    assert verdict.node == 3 and verdict.time_ms == 104
    assert verdict.message == (
        "height 2: node 3 finalized b2 at 104 ms, node 0 had finalized a2 at 100 ms"
        " (2 heights with conflicting honest blocks)"
    )


def test_byzantine_nodes_blocks_do_not_count(make_frames, make_context) -> None:
    rows = _finalized((1, 0, "a", 10), (1, 1, "a", 11), (1, 2, "evil", 5), (1, 3, "a", 12))
    frames = make_frames(byzantine=[2], block_finalized=rows)
    verdict = check_safety(frames, make_context(frames))
    assert verdict.passed is True
    assert verdict.message == "1 heights finalized by 3 honest nodes, one block each"


@st.composite
def _runs(draw: st.DrawFn) -> tuple[list[dict[str, object]], list[int], int]:
    """Honest nodes share each height's hash; byzantine ones finalize anything."""
    nodes = draw(st.integers(1, 6))
    byzantine = draw(st.lists(st.integers(0, nodes - 1), unique=True))
    rows = []
    for height in range(1, draw(st.integers(0, 6)) + 1):
        for node in range(nodes):
            if draw(st.booleans()):
                block = draw(st.sampled_from(["x", "y"])) if node in byzantine else f"h{height}"
                rows.append((height, node, block, draw(st.integers(0, 10_000))))
    return _finalized(*rows), byzantine, nodes


@settings(max_examples=40)
@given(_runs(), st.randoms(use_true_random=False))
def test_shared_honest_hashes_always_pass_in_any_row_order(
    make_frames, make_context, reorder, run, rng: random.Random
) -> None:
    rows, byzantine, nodes = run
    frames = make_frames(nodes=nodes, byzantine=byzantine, block_finalized=rows)
    verdict = check_safety(frames, make_context(frames))
    assert verdict.passed is True
    shuffled = reorder(frames, lambda n: rng.sample(range(n), n))
    assert check_safety(shuffled, make_context(shuffled)) == verdict


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 3), st.sampled_from("ab"), st.integers(0, 99)),
        unique_by=lambda r: r[:2],
    ),
    st.randoms(use_true_random=False),
)
def test_permuting_rows_never_changes_the_verdict(
    make_frames, make_context, reorder, rows, rng: random.Random
) -> None:
    frames = make_frames(block_finalized=_finalized(*rows))
    verdict = check_safety(frames, make_context(frames))
    shuffled = reorder(frames, lambda n: rng.sample(range(n), n))
    assert check_safety(shuffled, make_context(shuffled)) == verdict
