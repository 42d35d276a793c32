"""``rppsim fidelity``: the comparison flags what differs, and the fast model agrees with the
full simulator on tests/model/data (crashes, a stall, churn, withholding, slashing, and 40
minutes of uptime credits and tier changes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rppsim.cli import build_parser
from rppsim.model.fidelity import (
    KS_ALPHA,
    METRICS,
    compute_comparison,
    compute_fidelity,
    format_table,
)
from rppsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("healthy", "crash", "stall", "churn", "withhold", "double-sign", "uptime")
METRIC = METRICS[0]  # leader share, tolerance 0.05


def test_same_samples_agree_and_a_shift_beyond_tolerance_disagrees():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.2, 0.01, 200), rng.normal(0.2, 0.01, 200)
    assert compute_comparison(METRIC, a, b).agrees
    shifted = compute_comparison(METRIC, a, b + 0.2)
    assert not shifted.agrees  # KS D of disjoint samples, or |z| without scipy
    assert shifted.statistic == 1.0 if shifted.test == "ks" else shifted.statistic > 3
    assert "DISAGREE" in format_table([shifted])


def test_a_significant_difference_within_tolerance_agrees():
    a, b = np.full(500, 0.10), np.full(500, 0.12)  # D = 1 or |z| = inf, |Δ| = 0.02 ≤ 0.05
    comparison = compute_comparison(METRIC, a, b)
    assert comparison.agrees
    if comparison.test == "ks":
        assert comparison.statistic == 1.0 and comparison.p_value < KS_ALPHA
    else:
        assert comparison.statistic > 1e6


def test_empty_sides_agree_only_together():
    empty = np.zeros(0)
    assert compute_comparison(METRIC, empty, empty).agrees
    assert not compute_comparison(METRIC, empty, np.ones(3)).agrees


def test_the_cli_has_fidelity():
    args = build_parser().parse_args(["fidelity", "x.toml", "--seeds", "2"])
    assert args.scenario == "x.toml" and args.seeds == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_fast_model_agrees_with_the_full_simulator(name):
    scenario = load_scenario(ROOT / "tests" / "model" / "data" / f"fidelity-{name}.toml")
    seeds = [scenario.run.seed + k for k in range(3)]
    comparisons = compute_fidelity(scenario, seeds)
    assert len(comparisons) == len(METRICS)
    assert all(c.agrees for c in comparisons), format_table(comparisons)
