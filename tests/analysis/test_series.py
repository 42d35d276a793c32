"""Derived series on small frames built by hand, and properties on random ledgers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from rppsim.analysis.runs import build_run, concat_runs
from rppsim.analysis.series import (
    TIERS,
    compute_bin_ms,
    compute_finality_lag,
    compute_participation,
    compute_reason_label,
    compute_rejections,
    compute_tier_occupancy,
    compute_timetoke,
    compute_timetoke_band,
    compute_vrf_rejections,
)
from rppsim.node.selection import RejectionKind, RejectionReason

NODES = pd.DataFrame({"node": [0, 1, 2], "role": ["validator", "validator", "full"]})


def _ledger(rows: list[tuple[int, int, int, int]]) -> pd.DataFrame:
    """(node, now_ms, tier, hours) rows as a ledger frame."""
    node, now, tier, hours = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "node": np.array(node, np.int32),
            "now_ms": np.array(now, np.int64),
            "tier": pd.array(tier, dtype="Int16"),
            "timetoke_hours": pd.array(hours, dtype="Int64"),
            "score": pd.array([0.5] * len(node), dtype="Float64"),
        }
    )


def test_finality_lag_is_finalized_minus_proposed_of_the_same_block() -> None:
    blocks = pd.DataFrame({"height": [1, 2], "hash": ["a", "b"], "proposed_ms": [1000, 2000]})
    finalized = pd.DataFrame(
        {"height": [2, 1, 1, 2], "node": [0, 0, 1, 1], "hash": ["b", "a", "a", "x"],
         "finalized_ms": [2300, 1100, 1500, 2600]}
    )  # fmt: skip
    lag = compute_finality_lag({"blocks": blocks, "block_finalized": finalized})
    rows = lag[["node", "height", "lag_ms"]].values.tolist()
    assert rows == [[0, 1, 100], [0, 2, 300], [1, 1, 500]]


def test_participation_takes_the_median_over_nodes_and_the_fallback_share() -> None:
    vrf = pd.DataFrame(
        {
            "node": [0, 1, 2, 0],
            "now_ms": [10, 12, 11, 20],
            "height": [1, 1, 1, 2],
            "round": [0, 0, 0, 0],
            "pool_entries": pd.array([4, 4, 6, 5], dtype="Int64"),
            "accepted_validators": pd.array([2, 3, 3, 5], dtype="Int64"),
            "rejected_candidates": pd.array([2, 1, 3, 0], dtype="Int64"),
            "participation_rate": pd.array([0.5, 0.75, 0.5, 1.0], dtype="Float64"),
            "fallback_selected": pd.array([True, False, None, False], dtype="boolean"),
        }
    )
    result = compute_participation({"vrf_rounds": vrf})
    first = result.iloc[0]
    assert (first["nodes"], first["now_ms"], first["pool_entries"]) == (3, 10, 4.0)
    assert first["participation_rate"] == 0.5 and first["fallback_share"] == 0.5
    assert result["height"].tolist() == [1, 2]


@given(st.integers(min_value=0, max_value=2**256))
def test_every_threshold_miss_text_falls_under_one_label(threshold: int) -> None:
    reason = RejectionReason(RejectionKind.THRESHOLD_NOT_MET, "", threshold)
    assert compute_reason_label(str(reason)) == "threshold_not_met"


def test_reason_texts_and_labels_map_to_their_kind() -> None:
    for kind in RejectionKind:
        reason = RejectionReason(kind, "x", 7)
        assert compute_reason_label(str(reason)) == kind.value
        assert compute_reason_label(kind.value) == kind.value
    assert compute_reason_label("something new") == "other"


def test_vrf_rejections_sum_per_label_and_share_per_run() -> None:
    reasons = [
        "randomness above threshold 5",
        "randomness above threshold 9",
        "tier too low (required Committed, received New)",
    ]
    frames = {"vrf_rejections": pd.DataFrame({"reason": reasons, "count": [2, 1, 1]})}
    runs = [build_run(frames, {"seed": s}, label=f"r{s}") for s in (1, 2)]
    result = compute_vrf_rejections(concat_runs(runs))
    first = result[result["run"] == "r1"].set_index("label")
    assert first.loc["threshold_not_met", "count"] == 3
    assert first.loc["threshold_not_met", "reports"] == 2
    assert first["share"].sum() == 1.0


def test_rejections_take_each_nodes_last_cumulative_count() -> None:
    rejections = pd.DataFrame(
        {"node": [0, 0, 1], "now_ms": [1, 2, 1], "reason": ["vrf: x", "vrf: x", "vrf: x"],
         "count": [3, 5, 2]}
    )  # fmt: skip
    result = compute_rejections({"rejections": rejections})
    assert result[["reason", "count"]].values.tolist() == [["vrf: x", 7]]


def test_tier_occupancy_counts_each_validators_last_sample_in_the_bin() -> None:
    ledger = _ledger([(0, 100, 3, 1), (0, 900, 4, 1), (1, 500, 3, 1), (2, 500, 5, 1)])
    occupancy = compute_tier_occupancy({"ledger": ledger, "nodes": NODES}, bin_ms=1000)
    counts = dict(zip(occupancy["tier"], occupancy["nodes"], strict=True))
    assert counts == {0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 0}  # node 2 is no validator
    everyone = compute_tier_occupancy({"ledger": ledger, "nodes": NODES}, role=None, bin_ms=1000)
    assert everyone.set_index("tier").loc[5, "nodes"] == 1


ledgers = st.lists(
    st.tuples(
        st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 5), st.integers(0, 720)
    ),
    min_size=1,
    max_size=40,
)


@given(ledgers)
def test_tier_shares_sum_to_one_in_every_bin(rows: list[tuple[int, int, int, int]]) -> None:
    occupancy = compute_tier_occupancy({"ledger": _ledger(rows), "nodes": NODES}, role=None)
    for _, group in occupancy.groupby("time_ms"):
        assert sorted(group["tier"]) == list(TIERS)
        assert abs(group["share"].sum() - 1.0) < 1e-12


@given(ledgers)
def test_timetoke_band_is_ordered(rows: list[tuple[int, int, int, int]]) -> None:
    band = compute_timetoke_band({"ledger": _ledger(rows), "nodes": NODES}, role=None)
    columns = ["min", "q25", "median", "q75", "max"]
    values = band[columns].to_numpy()
    assert (np.diff(values, axis=1) >= -1e-9).all()
    assert (band["nodes"] >= 1).all() and (band["mean"] <= band["max"] + 1e-9).all()


def test_timetoke_keeps_validators_in_sample_order() -> None:
    ledger = _ledger([(1, 200, 3, 2), (0, 100, 3, 1), (2, 100, 3, 9), (0, 50, 3, 0)])
    result = compute_timetoke({"ledger": ledger, "nodes": NODES})
    assert result[["node", "now_ms", "timetoke_hours"]].values.tolist() == [
        [0, 50, 0], [0, 100, 1], [1, 200, 2],
    ]  # fmt: skip


def test_bin_is_the_median_sample_gap() -> None:
    ledger = _ledger([(0, 0, 3, 1), (0, 15, 3, 1), (0, 30, 3, 1), (1, 0, 3, 1), (1, 100, 3, 1)])
    assert compute_bin_ms(ledger) == 15
    assert compute_bin_ms(_ledger([(0, 5, 3, 1)])) == 1000
