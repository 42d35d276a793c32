"""The conduct verdicts (rppsim/checks/conduct.py and its modules): ``evidence``,
``leader-share``, ``censorship`` and ``lag`` on hand-made frames."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.checks.censorship import check_censorship
from rppsim.checks.conduct import CONDUCT_IDS, evaluate_conduct
from rppsim.checks.evidence import check_evidence
from rppsim.checks.fault_windows import NEVER, FaultWindow, compute_fault_windows, is_excused
from rppsim.checks.lag import check_lag
from rppsim.checks.leader_share import check_leader_share, compute_lead_bound
from rppsim.verdicts import VERDICT_IDS

from .conftest import build_context, build_frames


def _fault(at_ms: int, kind: str, phase: str, nodes: str = "") -> dict[str, object]:
    return {"at_ms": at_ms, "kind": kind, "phase": phase, "nodes": nodes}


def _blocks(proposers: list[int]) -> list[dict[str, object]]:
    """One block a height from 1, 1 s apart, led by ``proposers[h - 1]``."""
    return [
        {"height": h, "hash": f"b{h}", "proposer": p, "proposed_ms": 1000 * h}
        for h, p in enumerate(proposers, start=1)
    ]


def _electorate(height: int, members: list[int]) -> list[dict[str, object]]:
    total = str(len(members))
    return [
        {"height": height, "member": m, "address": f"addr{m}", "power": "1",
         "total_power": total, "quorum": "0"}
        for m in members
    ]  # fmt: skip


def _ledger(tiers: dict[int, int]) -> list[dict[str, object]]:
    return [{"node": n, "now_ms": 0, "tier": t, "timetoke_hours": 24} for n, t in tiers.items()]


# --- fault windows ------------------------------------------------------------------------------


def test_fault_windows_pair_starts_with_their_ends_per_node() -> None:
    frames = build_frames(
        faults=[
            _fault(5000, "restart", "end", "1"),
            _fault(1000, "crash", "start", "1"),
            _fault(2000, "partition_start", "start"),
            _fault(9000, "crash", "start", "2"),
        ]
    )
    windows = compute_fault_windows(frames["faults"])
    assert windows == (
        FaultWindow(1000, 5000, frozenset({1})),
        FaultWindow(2000, NEVER, frozenset()),
        FaultWindow(9000, NEVER, frozenset({2})),
    )
    assert is_excused(windows[:1], 1, 5500, 5500, 1000)
    assert not is_excused(windows[:1], 1, 6500, 6500, 1000)
    assert not is_excused(windows[:1], 2, 3000, 3000, 1000)
    assert is_excused(windows[1:2], 3, 3000, 3000, 0)  # a partition concerns every node


# --- evidence -----------------------------------------------------------------------------------


def _evidence(offender: int, height: int, kind: str = "inactivity") -> dict[str, object]:
    return {"height": height, "block_hash": f"b{height}", "offender": offender,
            "offense_height": height - 1, "round": 0, "kind": kind}  # fmt: skip


def test_evidence_against_a_validator_without_a_fault_fails() -> None:
    frames = build_frames(
        blocks=_blocks([0] * 10),
        evidence=[_evidence(3, 8), _evidence(3, 9, "double_sign_prevote"), _evidence(2, 9)],
    )
    verdict = check_evidence(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.node, verdict.figure, verdict.time_ms) == (3, 3, 8000)
    assert "double_sign_prevote ×1" in verdict.message and "[2, 3]" in verdict.message


def test_evidence_inside_or_just_after_a_fault_of_the_offender_is_excused() -> None:
    crash = [_fault(2000, "crash", "start", "3"), _fault(4000, "restart", "end", "3")]
    frames = build_frames(blocks=_blocks([0] * 20), evidence=[_evidence(3, 8)], faults=crash)
    assert check_evidence(frames, build_context(frames)).passed is True
    late = build_frames(blocks=_blocks([0] * 20), evidence=[_evidence(3, 18)], faults=crash)
    assert check_evidence(late, build_context(late)).passed is False  # 14 s after the restart


def test_no_evidence_passes() -> None:
    frames = build_frames(blocks=_blocks([0, 1, 2]))
    assert check_evidence(frames, build_context(frames)).passed is True


# --- leader share -------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
    st.floats(1e-6, 0.5),
)
def test_lead_bound_tail_is_at_most_alpha_and_the_count_below_it_above(
    chances: list[float], alpha: float
) -> None:
    p = np.array(chances)
    bound = compute_lead_bound(p, alpha)
    rng = np.random.default_rng(0)
    draws = (rng.random((20_000, len(p))) < p).sum(axis=1)
    assert np.mean(draws >= bound) <= alpha + 0.01
    assert compute_lead_bound(p, alpha / 10) >= bound


def test_a_validator_leading_every_height_fails_and_round_robin_passes() -> None:
    members = _electorate(1, [0, 1, 2, 3])
    ledger = _ledger({0: 3, 1: 3, 2: 3, 3: 3})
    greedy = build_frames(blocks=_blocks([1] * 30), electorates=members, ledger=ledger)
    verdict = check_leader_share(greedy, build_context(greedy))
    assert verdict.passed is False and verdict.node == 1 and verdict.figure == 30
    assert verdict.threshold is not None and 7 < verdict.threshold < 30
    fair = build_frames(blocks=_blocks([0, 1, 2, 3] * 8), electorates=members, ledger=ledger)
    assert check_leader_share(fair, build_context(fair)).passed is True


def test_two_validators_sharing_every_lead_fail_as_a_group() -> None:
    members = _electorate(1, list(range(9)))
    ledger = _ledger(dict.fromkeys(range(9), 3))
    frames = build_frames(blocks=_blocks([1, 2] * 10), electorates=members, ledger=ledger)
    verdict = check_leader_share(frames, build_context(frames))
    assert verdict.passed is False and verdict.figure == 20 and verdict.node in (1, 2)
    assert "nodes [1, 2]" in verdict.message


def test_the_only_validator_of_the_highest_ledger_tier_may_lead_every_height() -> None:
    members = _electorate(1, [0, 1, 2, 3])
    frames = build_frames(
        blocks=_blocks([2] * 30), electorates=members, ledger=_ledger({0: 3, 1: 3, 2: 4, 3: 3})
    )
    assert check_leader_share(frames, build_context(frames)).passed is True


# --- censorship ---------------------------------------------------------------------------------


def _snapshots(pending: dict[int, list[int]]) -> list[dict[str, object]]:
    return [
        {"node": n, "now_ms": 15_000 * (k + 1), "pending_transactions": count}
        for n, counts in pending.items()
        for k, count in enumerate(counts)
    ]


def test_a_node_trailing_the_median_at_most_instants_fails() -> None:
    pending = {0: [10, 12, 9, 14, 11], 1: [10, 12, 9, 14, 11], 2: [7, 9, 9, 10, 8], 3: [10] * 5}
    frames = build_frames(snapshots=_snapshots(pending))
    verdict = check_censorship(frames, build_context(frames, duration_ms=90_000))
    assert verdict.passed is False and verdict.node == 2 and verdict.figure == 0.8
    assert verdict.time_ms == 15_000


def test_nodes_agreeing_within_noise_pass_and_lone_samples_do_not_apply() -> None:
    pending = {0: [10, 12, 9, 14, 11], 1: [10, 11, 9, 14, 11], 2: [10, 12, 9, 13, 11]}
    frames = build_frames(snapshots=_snapshots(pending))
    assert check_censorship(frames, build_context(frames)).passed is True
    lone = build_frames(snapshots=_snapshots({0: [5] * 5}))
    assert check_censorship(lone, build_context(lone)).passed is None


# --- lag ----------------------------------------------------------------------------------------


def _finalized(stop: dict[int, int], heights: int = 12) -> list[dict[str, object]]:
    """Every node finalizes height h at h s, but node n not above ``stop[n]``."""
    return [
        {"height": h, "node": n, "hash": f"b{h}", "finalized_ms": 1000 * h}
        for n in range(4)
        for h in range(1, heights + 1)
        if h <= stop.get(n, heights)
    ]


def test_a_node_falling_behind_without_a_fault_fails_lag() -> None:
    frames = build_frames(block_finalized=_finalized({2: 3}))
    verdict = check_lag(frames, build_context(frames))
    assert verdict.passed is False and verdict.node == 2
    assert (verdict.time_ms, verdict.figure) == (7000, 9)


def test_a_crashed_node_behind_is_excused() -> None:
    crash = [_fault(3500, "crash", "start", "2")]
    frames = build_frames(block_finalized=_finalized({2: 3}), faults=crash)
    assert check_lag(frames, build_context(frames)).passed is True


# --- registration -------------------------------------------------------------------------------


def test_conduct_verdicts_are_registered_and_not_applicable_without_their_frames() -> None:
    assert set(CONDUCT_IDS) <= set(VERDICT_IDS)
    facts = {"block_time_ms": "1000", "round_timeout_ms": "1000", "allow_empty_blocks": "false",
             "has_work": "true", "duration_ms": "60000"}  # fmt: skip
    frames = build_frames(
        block_finalized=_finalized({}),
        run_info=[{"key": k, "value": v} for k, v in facts.items()],
    )
    for name in ("evidence", "snapshots", "ledger"):
        del frames[name]
    got = {v.id: v for v in evaluate_conduct(frames, None)}
    assert list(got) == list(CONDUCT_IDS)
    assert got["evidence"].passed is None and "evidence frame" in got["evidence"].message
    assert got["leader-share"].passed is None and got["censorship"].passed is None
    assert got["lag"].passed is True
    assert [v.id for v in evaluate_conduct(frames, None, only=["lag"])] == ["lag"]
