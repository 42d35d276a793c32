"""Leader frequency against weight: expected leads from each weight source, and the χ² test
against scipy's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chisquare

from rppsim.analysis.leaders import (
    compute_chi_square,
    compute_expected_leads,
    compute_leader_frequency,
)
from rppsim.node.reputation import Tier
from rppsim.node.selection import compute_submission_weight

NODES = pd.DataFrame({"node": [0, 1, 2, 3], "role": ["validator"] * 3 + ["full"]})


def _frames(proposers: list[int], tiers: list[int], hours: list[int]) -> dict[str, pd.DataFrame]:
    """Blocks 5 s apart led by ``proposers``; one ledger sample per validator at 0 ms."""
    n = len(proposers)
    blocks = pd.DataFrame(
        {
            "height": np.arange(1, n + 1),
            "proposed_ms": np.arange(1, n + 1) * 5000,
            "proposer": pd.array(proposers, dtype="Int32"),
        }
    )
    ledger = pd.DataFrame(
        {
            "node": [0, 1, 2],
            "now_ms": [0, 0, 0],
            "tier": pd.array(tiers, dtype="Int16"),
            "timetoke_hours": pd.array(hours, dtype="Int64"),
        }
    )
    electorates = pd.DataFrame(
        {
            "height": np.repeat(np.arange(1, n + 1), 2),
            "member": pd.array([0, 1] * n, dtype="Int32"),
            "power": ["1", "3"] * n,
        }
    )
    return {"blocks": blocks, "ledger": ledger, "nodes": NODES, "electorates": electorates}


def test_vrf_weights_are_the_nodes_submission_weights_of_eligible_validators() -> None:
    frames = _frames([0, 1], tiers=[3, 5, 2], hours=[1, 2, 100])
    expected = compute_expected_leads(frames, "vrf")
    w0 = compute_submission_weight(Tier.Tl3, 1)
    w1 = compute_submission_weight(Tier.Tl5, 2)
    first = expected[expected["block"] == 0].set_index("node")["probability"]
    assert first.to_dict() == pytest.approx({0: w0 / (w0 + w1), 1: w1 / (w0 + w1)})  # Tl2 out


def test_a_validator_without_a_sample_before_the_block_takes_its_first() -> None:
    frames = _frames([0], tiers=[3, 3, 3], hours=[1, 1, 1])
    frames["ledger"] = frames["ledger"].assign(now_ms=[0, 99_000, 0])
    expected = compute_expected_leads(frames, "vrf")
    assert expected["node"].tolist() == [0, 1, 2]
    assert expected["probability"].tolist() == pytest.approx([1 / 3] * 3)


def test_power_and_uniform_weights() -> None:
    frames = _frames([1, 1, 0], tiers=[3, 3, 3], hours=[1, 1, 1])
    power = compute_expected_leads(frames, "power")
    assert power.groupby("node")["probability"].sum().to_dict() == pytest.approx({0: 0.75, 1: 2.25})
    uniform = compute_expected_leads(frames, "uniform")
    assert uniform.groupby("block")["probability"].sum().tolist() == pytest.approx([1.0] * 3)
    assert set(uniform["node"]) == {0, 1, 2}
    with pytest.raises(ValueError, match="weights"):
        compute_expected_leads(frames, "stake")


def test_leader_frequency_table_and_test() -> None:
    proposers = [0, 1, 2] * 10
    result = compute_leader_frequency(_frames(proposers, [3, 3, 3], [1, 1, 1]), "vrf")
    assert result.blocks == 30 and result.dof == 2
    assert result.table["leads"].tolist() == [10, 10, 10]
    assert result.statistic == 0.0 and result.p_value == 1.0
    skewed = compute_leader_frequency(_frames([0] * 30, [3, 3, 3], [1, 1, 1]), "vrf")
    assert skewed.p_value < 1e-6
    assert skewed.table["residual"].iloc[0] > 0 > skewed.table["residual"].iloc[1]


def test_a_lead_nothing_predicted_rejects_outright() -> None:
    result = compute_leader_frequency(_frames([2, 0, 1], [3, 3, 1], [1, 1, 1]), "vrf")
    assert math.isinf(result.statistic) and result.p_value == 0.0


@given(
    st.lists(st.integers(0, 50), min_size=2, max_size=8).filter(lambda c: sum(c) > 0),
    st.data(),
)
def test_chi_square_agrees_with_scipy(observed: list[int], data: st.DataObject) -> None:
    weights = data.draw(
        st.lists(st.floats(0.1, 10.0), min_size=len(observed), max_size=len(observed))
    )
    expected = np.array(weights) * sum(observed) / sum(weights)
    statistic, p_value, dof = compute_chi_square(np.array(observed), expected)
    reference = chisquare(observed, expected)
    assert statistic == pytest.approx(reference.statistic, rel=1e-9, abs=1e-9)
    assert p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-12)
    assert dof == len(observed) - 1
