"""A run's sweep metrics, from its frames."""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from rppsim.model import run_fast
from rppsim.scenario import load_scenario
from rppsim.sweep.metrics import METRIC_NAMES, compute_gini, compute_metrics
from tests.sweep.conftest import BASE

counts = st.lists(st.integers(0, 1000), min_size=1, max_size=40)


@given(counts)
def test_gini_is_between_zero_and_its_maximum(values: list[int]):
    gini = compute_gini(np.array(values))
    if sum(values) == 0:
        assert np.isnan(gini)
    else:
        n = len(values)
        assert -1e-12 <= gini <= (n - 1) / n + 1e-12


@given(st.integers(1, 50), st.integers(1, 100))
def test_gini_of_equal_counts_is_zero_and_of_one_holder_maximal(n: int, value: int):
    assert abs(compute_gini(np.full(n, value))) < 1e-12
    one = np.zeros(n)
    one[0] = value
    assert abs(compute_gini(one) - (n - 1) / n) < 1e-12


@given(counts, st.integers(2, 9))
def test_gini_is_scale_invariant(values: list[int], factor: int):
    if sum(values):
        scaled = compute_gini(np.array(values) * factor)
        assert abs(compute_gini(np.array(values)) - scaled) < 1e-9


def test_metrics_of_a_fast_run():
    frames = run_fast(load_scenario(BASE), duration_ms=300_000)
    metrics = compute_metrics(frames)
    assert tuple(metrics) == METRIC_NAMES
    blocks = frames["blocks"]
    assert metrics["blocks_finalized"] == len(blocks) > 0
    times = np.diff(blocks["proposed_ms"].to_numpy(float), prepend=0.0)
    assert metrics["finality_lag_mean_ms"] == times.mean() and times.min() >= 0
    assert metrics["finality_lag_p95_ms"] >= metrics["finality_lag_mean_ms"] * 0.5
    shares = [metrics[f"tier_share.tl{t}"] for t in range(6)]
    assert abs(sum(shares) - 1.0) < 1e-12
    assert 0 <= metrics["participation_rate"] <= 1 and 0 <= metrics["fallback_rate"] <= 1
    assert metrics["slashes_count"] == 0 and metrics["rewards_total"] > 0
    led = blocks["proposer"].value_counts().reindex(range(7), fill_value=0).to_numpy()
    assert metrics["leader_share_gini"] == compute_gini(led)


def test_metrics_without_blocks_are_nan_not_zero():
    frames = {"nodes": pd.DataFrame({"node": [0], "role": ["validator"]})}
    metrics = compute_metrics(frames)
    assert metrics["blocks_finalized"] == 0
    assert all(np.isnan(metrics[m]) for m in METRIC_NAMES if m != "blocks_finalized")
