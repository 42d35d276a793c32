"""``check_liveness`` (rppsim/checks/liveness.py): honest nodes finalize after the last fault."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.checks.liveness import (
    check_liveness,
    compute_crashed_nodes,
    compute_last_fault_end,
    get_open_faults,
)

W = 6000  # 3 × (1000 ms block time + 1000 ms round timeout), the test context


def _finalized(*rows: tuple[int, int, int]) -> list[dict[str, object]]:
    return [{"height": h, "node": n, "hash": f"b{h}", "finalized_ms": t} for h, n, t in rows]


def _fault(at_ms: int, kind: str, phase: str, nodes: str = "") -> dict[str, object]:
    return {"at_ms": at_ms, "kind": kind, "phase": phase, "nodes": nodes}


CRASH_1 = [_fault(1000, "crash", "start", "1"), _fault(5000, "restart", "end", "1")]


def _electorate(height: int, powers: dict[int, int]) -> list[dict[str, object]]:
    total = str(sum(powers.values()))
    return [
        {"height": height, "member": m, "address": f"addr{m}", "power": str(p),
         "total_power": total, "quorum": "0"}
        for m, p in powers.items()
    ]  # fmt: skip


def test_every_node_finalizing_within_the_window_passes(make_frames, make_context) -> None:
    rows = _finalized((1, 0, 2000), (1, 1, 2500), (1, 2, 2100), (1, 3, 3000), (2, 0, 7000))
    frames = make_frames(block_finalized=rows)
    verdict = check_liveness(frames, make_context(frames))
    assert verdict.passed is True and verdict.figure == 3000 and verdict.threshold == W
    assert verdict.message == (
        "4 running honest nodes finalized within 3000 ms of the last fault end 0 ms"
    )


def test_a_node_silent_after_the_last_fault_fails_at_the_window_end(
    make_frames, make_context
) -> None:
    rows = _finalized(
        (1, 0, 800), (1, 1, 900), (1, 2, 900), (1, 3, 900),
        (2, 0, 6000), (2, 1, 7000), (2, 3, 12_000),
    )  # fmt: skip
    frames = make_frames(block_finalized=rows, faults=CRASH_1)
    verdict = check_liveness(frames, make_context(frames))
    assert verdict.passed is False
    assert verdict.node == 2 and verdict.time_ms == 5000 + W
    assert verdict.figure == 60_000 - 5000  # node 2 never finalizes again
    assert verdict.message == (
        "node 2 finalized no block within 6000 ms after the last fault end 5000 ms"
        " (none by the end of the run; 2 of 4 nodes late)"
    )


def test_a_late_finalization_is_named(make_frames, make_context) -> None:
    rows = _finalized(*((2, n, 6000) for n in (0, 1, 3)), (2, 2, 11_001))
    frames = make_frames(block_finalized=rows, faults=CRASH_1)
    verdict = check_liveness(frames, make_context(frames))
    assert verdict.passed is False and verdict.node == 2 and verdict.figure == 6001
    assert "(first at 11001 ms; 1 of 4 nodes late)" in verdict.message


def test_byzantine_nodes_may_stall(make_frames, make_context) -> None:
    rows = _finalized(*((1, n, 1000) for n in range(4)))
    frames = make_frames(nodes=5, byzantine=[4], block_finalized=rows)
    assert check_liveness(frames, make_context(frames)).passed is True


def test_a_fault_that_never_ends_makes_it_not_applicable(make_frames, make_context) -> None:
    frames = make_frames(faults=[*CRASH_1, _fault(8000, "crash", "start", "3")])
    verdict = check_liveness(frames, make_context(frames))
    assert verdict.passed is None and verdict.node is None
    assert verdict.message == "fault crash at 8000 ms (nodes 3) never ends"


def test_a_run_ending_inside_the_window_is_not_applicable(make_frames, make_context) -> None:
    frames = make_frames(faults=CRASH_1)
    verdict = check_liveness(frames, make_context(frames, duration_ms=10_999))
    assert verdict.passed is None
    assert verdict.message == (
        "the run ends at 10999 ms, before the last fault end 5000 ms + 6000 ms"
    )


def test_no_work_without_empty_blocks_is_not_applicable(make_frames, make_context) -> None:
    frames = make_frames()
    verdict = check_liveness(frames, make_context(frames, has_work=False))
    assert verdict.passed is None
    assert verdict.message == "nothing is submitted and empty blocks are off"
    empty = make_context(frames, has_work=False, allow_empty_blocks=True)
    assert check_liveness(frames, empty).passed is False


def test_honest_running_power_at_most_two_thirds_is_not_applicable(
    make_frames, make_context
) -> None:
    electorates = _electorate(1, {0: 1, 1: 1, 2: 1}) + _electorate(2, {0: 1, 1: 1, 2: 4})
    rows = _finalized((1, 0, 900), (1, 1, 900))
    frames = make_frames(
        byzantine=[2], block_finalized=rows, electorates=electorates, faults=CRASH_1
    )
    verdict = check_liveness(frames, make_context(frames))
    assert verdict.passed is None
    assert verdict.message == (
        "honest running validators hold 2 of 6 power (≤ 2/3) at 5000 ms"
        " (electorate of height 2, deciding height 2)"
    )


def test_power_of_an_address_that_is_no_node_counts_in_the_total_only(
    make_frames, make_context
) -> None:
    """A member null in ``electorates`` (no node of the run) is never honest running power."""
    electorates = _electorate(1, {0: 1, 1: 1, 2: 1, None: 3})  # type: ignore[dict-item]
    rows = _finalized((1, 0, 900), (1, 1, 900))
    frames = make_frames(block_finalized=rows, electorates=electorates, faults=CRASH_1)
    assert frames["electorates"]["member"].isna().sum() == 1
    verdict = check_liveness(frames, make_context(frames))
    assert verdict.passed is None
    assert verdict.message == (
        "honest running validators hold 3 of 6 power (≤ 2/3) at 5000 ms"
        " (electorate of height 1, deciding height 2)"
    )


def test_the_electorate_falls_back_to_the_latest_height_below(make_frames, make_context) -> None:
    electorates = _electorate(1, {0: 5, 1: 1, 2: 1, 3: 1})
    rows = _finalized(*((h, n, 1000 * h) for h in range(1, 9) for n in range(4)))
    frames = make_frames(block_finalized=rows, electorates=electorates, faults=CRASH_1)
    assert check_liveness(frames, make_context(frames)).passed is True
    unfair = make_frames(
        byzantine=[0], block_finalized=rows, electorates=electorates, faults=CRASH_1
    )
    verdict = check_liveness(unfair, make_context(unfair))
    assert verdict.passed is None and "electorate of height 1, deciding height 6" in verdict.message


def test_without_electorates_genesis_validators_count_equally(make_frames, make_context) -> None:
    frames = make_frames(nodes=6, validators=3, byzantine=[2])
    verdict = check_liveness(frames, make_context(frames))
    assert verdict.passed is None
    assert verdict.message == (
        "honest running validators hold 2 of 3 power (≤ 2/3) at 0 ms"
        " (equal genesis powers, deciding height 1)"
    )


def test_fault_bookkeeping(make_frames) -> None:
    faults = make_frames(
        faults=[
            *CRASH_1,
            _fault(2000, "partition_start", "start"),
            _fault(9000, "heal", "instant"),
            _fault(9000, "partition_end", "end"),
            _fault(3000, "churn_down", "start", "2"),
            _fault(4000, "churn_up", "end", "2"),
            _fault(3500, "pause", "start", "0"),
        ]
    )["faults"]
    assert get_open_faults(faults) == [(3500, "pause", "0")]
    assert compute_last_fault_end(faults) == 9000
    assert compute_crashed_nodes(faults, 999) == frozenset()
    assert compute_crashed_nodes(faults, 3000) == {1, 2}
    assert compute_crashed_nodes(faults, 4000) == {1}
    assert compute_crashed_nodes(faults, 5000) == frozenset()


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.integers(0, 3), st.integers(0, 20_000)),
        unique_by=lambda r: r[:2],
    ),
    st.randoms(use_true_random=False),
)
def test_permuting_rows_never_changes_the_verdict(
    make_frames, make_context, reorder, rows, rng: random.Random
) -> None:
    frames = make_frames(block_finalized=_finalized(*rows), faults=CRASH_1)
    verdict = check_liveness(frames, make_context(frames))
    shuffled = reorder(frames, lambda n: rng.sample(range(n), n))
    assert check_liveness(shuffled, make_context(shuffled)) == verdict
